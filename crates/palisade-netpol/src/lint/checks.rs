//! The checks themselves, over a [`View`].

use super::subsume::{rule_covers, selector_equal};
use super::view::{
    Dir, NAME_LABEL, Peer, PeerKind, Pod, Policy, Port, PortVal, Proto, Rule, View, borrow,
    render_labels,
};
use super::*;
use ipnet::IpNet;
use palisade_model::Node;
use palisade_model::selector::{LabelSelector, Operator};
use std::collections::{BTreeMap, BTreeSet};

/// Runs every check.
pub(super) fn run(v: &View<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    policy_selects_no_pods(v, &mut out);
    peer_selects_nothing(v, &mut out);
    egress_dns(v, &mut out);
    and_or_confusion(v, &mut out);
    rule_allows_all(v, &mut out);
    named_ports(v, &mut out);
    ip_blocks(v, &mut out);
    port_ranges(v, &mut out);
    pods_not_selected(v, &mut out);
    default_deny(v, &mut out);
    policy_types(v, &mut out);
    redundancy(v, &mut out);
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Every rule of the directions a policy isolates, with the direction.
fn effective_rules<'p, 'a>(p: &'p Policy<'a>) -> impl Iterator<Item = (Dir, &'p Rule<'a>)> {
    Dir::BOTH
        .into_iter()
        .filter(|d| p.isolates(*d))
        .flat_map(move |d| p.rules(d).iter().map(move |r| (d, r)))
}

fn policy_selects_no_pods(v: &View<'_>, out: &mut Vec<Finding>) {
    for p in &v.policies {
        let Some(sel) = &p.selector else { continue };
        let pods: Vec<&Pod<'_>> = v.pods_in(p.ns).collect();
        if pods.is_empty() || pods.iter().any(|pod| p.selects(pod)) {
            continue;
        }
        out.push(POLICY_SELECTS_NO_PODS.finding(
            v.inv,
            p.obj,
            &FieldPath::parse("spec.podSelector"),
            format!(
                "podSelector {sel} matches none of the {} in namespace {} in the input",
                plural(pods.len(), "workload", "workloads"),
                p.ns
            ),
        ));
    }
}

/// True when a namespace selector names its namespaces by `kubernetes.io/metadata.name` (they
/// may simply not be in the input).
fn selects_by_name(sel: &LabelSelector) -> bool {
    sel.match_labels.iter().any(|(k, _)| k == NAME_LABEL)
        || sel
            .match_expressions
            .iter()
            .any(|r| r.key == NAME_LABEL && r.operator == Operator::In)
}

/// The namespace names a selector restricts itself to through `kubernetes.io/metadata.name`
/// (all of them, from `matchLabels` and `In` expressions).
fn pinned_names(sel: &LabelSelector) -> Vec<&str> {
    let mut names: Vec<&str> = sel
        .match_labels
        .iter()
        .filter(|(k, _)| k == NAME_LABEL)
        .map(|(_, v)| v.as_str())
        .collect();
    for r in &sel.match_expressions {
        if r.key == NAME_LABEL && r.operator == Operator::In {
            names.extend(r.values.iter().map(String::as_str));
        }
    }
    names
}

fn peer_selects_nothing(v: &View<'_>, out: &mut Vec<Finding>) {
    let declared: Vec<&String> = v
        .namespaces
        .iter()
        .filter(|(_, n)| n.declared)
        .map(|(k, _)| k)
        .collect();
    for p in &v.policies {
        for d in Dir::BOTH {
            for r in p.rules(d) {
                for peer in r.peers.iter().flatten() {
                    let PeerKind::Pods { ns, pods } = &peer.kind else {
                        continue;
                    };
                    let namespaces = v.peer_namespaces(p.ns, ns.as_ref());
                    if let Some(sel) = ns.as_ref().filter(|s| !s.is_empty())
                        && namespaces.is_empty()
                        && !declared.is_empty()
                        && !selects_by_name(sel)
                    {
                        out.push(PEER_SELECTS_NOTHING.finding(
                                v.inv,
                                p.obj,
                                &peer.path.key("namespaceSelector"),
                                format!(
                                    "namespaceSelector {sel} matches none of the namespaces in the input ({}); select a namespace by its name with the {NAME_LABEL} label",
                                    declared.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                                ),
                            ));
                        continue;
                    }
                    let Some(psel) = pods.as_ref().filter(|s| !s.is_empty()) else {
                        continue;
                    };
                    // Judged only when the namespaces are known to be complete: the policy's
                    // own, or namespaces named one by one, each with workloads in the input.
                    // A label or empty namespaceSelector may reach namespaces (kube-system and
                    // its kube-dns pods) that the input does not contain.
                    let pinned = match ns {
                        None => true,
                        Some(sel) => {
                            let names = pinned_names(sel);
                            !names.is_empty() && names.iter().all(|n| v.pods_in(n).next().is_some())
                        }
                    };
                    if !pinned {
                        continue;
                    }
                    let candidates: Vec<&Pod<'_>> = v.pods_in_all(&namespaces).collect();
                    if candidates.is_empty()
                        || candidates.iter().any(|pod| psel.matches(&pod.labels))
                    {
                        continue;
                    }
                    out.push(PEER_SELECTS_NOTHING.finding(
                        v.inv,
                        p.obj,
                        &peer.path.key("podSelector"),
                        format!(
                            "podSelector {psel} matches none of the {} of namespace {} in the input",
                            plural(candidates.len(), "workload", "workloads"),
                            namespaces.join(", ")
                        ),
                    ));
                }
            }
        }
    }
}

/// A possible DNS server: namespace, namespace labels, pod labels, named ports.
struct DnsTarget {
    ns: String,
    ns_labels: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    ports: Vec<(String, i64, Proto)>,
}

fn dns_targets(v: &View<'_>) -> Vec<DnsTarget> {
    let mut t = vec![DnsTarget {
        ns: "kube-system".into(),
        ns_labels: v.ns_labels("kube-system"),
        labels: BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]),
        ports: vec![
            ("dns".into(), 53, Proto::Udp),
            ("dns-tcp".into(), 53, Proto::Tcp),
        ],
    }];
    for pod in v.pods.iter().filter(|p| p.ports.iter().any(|x| x.1 == 53)) {
        t.push(DnsTarget {
            ns: pod.ns.to_owned(),
            ns_labels: v.ns_labels(pod.ns),
            labels: pod
                .labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ports: pod
                .ports
                .iter()
                .map(|(n, p, x)| ((*n).to_owned(), *p, *x))
                .collect(),
        });
    }
    t
}

/// True when a port entry admits `proto`/53 on a destination with `named` ports.
fn port_admits_53(p: &Port<'_>, proto: Proto, named: &[(String, i64, Proto)]) -> bool {
    if p.proto != Some(proto) {
        return false;
    }
    match &p.port {
        None => true,
        Some(PortVal::Num(n)) => *n <= 53 && 53 <= p.end_port.unwrap_or(*n).max(*n),
        Some(PortVal::Name(name)) => named
            .iter()
            .any(|(n, num, x)| n == name && *num == 53 && *x == proto),
    }
}

/// True when the egress rule `r` of a policy in `policy_ns` allows `proto`/53 to DNS.
fn rule_allows_dns(r: &Rule<'_>, policy_ns: &str, targets: &[DnsTarget], proto: Proto) -> bool {
    let ports_for = |named: &[(String, i64, Proto)]| match &r.ports {
        None => true,
        Some(ps) => ps.iter().any(|p| port_admits_53(p, proto, named)),
    };
    let Some(peers) = &r.peers else {
        return targets.iter().any(|t| ports_for(&t.ports));
    };
    peers.iter().any(|peer| match &peer.kind {
        // The cluster DNS address is not in the manifests: an ipBlock with port 53 listed is
        // taken as the DNS server (node-local caches, upstream resolvers).
        PeerKind::Block { .. } => r.ports.is_some() && ports_for(&[]),
        PeerKind::Pods { ns, pods } => targets.iter().any(|t| {
            let ns_ok = match ns {
                None => t.ns == policy_ns,
                Some(s) => s.matches(&borrow(&t.ns_labels)),
            };
            ns_ok
                && pods.as_ref().is_none_or(|s| s.matches(&borrow(&t.labels)))
                && ports_for(&t.ports)
        }),
        PeerKind::Invalid => false,
    })
}

/// Labels a pod selected by `sel` would have, for a policy whose pods are not in the input;
/// `None` when no simple label set satisfies it.
fn synthetic_labels(sel: &LabelSelector) -> Option<BTreeMap<String, String>> {
    let mut labels: BTreeMap<String, String> = sel.match_labels.iter().cloned().collect();
    for r in &sel.match_expressions {
        match r.operator {
            Operator::In => {
                labels
                    .entry(r.key.clone())
                    .or_insert_with(|| r.values.first().cloned().unwrap_or_default());
            }
            Operator::Exists => {
                labels.entry(r.key.clone()).or_default();
            }
            _ => {}
        }
    }
    sel.matches(&borrow(&labels)).then_some(labels)
}

/// The protocols an AdminNetworkPolicy `Allow` egress rule admits DNS for, whatever its
/// subject (coarse, so that a cluster-wide allowance is never reported as missing). Such a
/// rule overrides NetworkPolicy isolation.
fn admin_dns_allowed(v: &View<'_>, targets: &[DnsTarget]) -> Vec<Proto> {
    let mut out = Vec::new();
    let anps = v
        .inv
        .of_kind("AdminNetworkPolicy")
        .filter(|o| o.group() == "policy.networking.k8s.io");
    for anp in anps {
        let rules = anp
            .node
            .at(&["spec", "egress"])
            .map(Node::items)
            .unwrap_or(&[]);
        for r in rules {
            if r.get("action").and_then(Node::as_str) != Some("Allow") {
                continue;
            }
            for proto in [Proto::Udp, Proto::Tcp] {
                let ports = r.get("ports").map(Node::items).unwrap_or(&[]);
                let admits = ports.is_empty()
                    || ports.iter().any(|p| {
                        if let Some(n) = p.get("portNumber") {
                            Proto::parse(n.get("protocol")) == Some(proto)
                                && n.get("port").and_then(Node::as_i64) == Some(53)
                        } else if let Some(n) = p.get("portRange") {
                            Proto::parse(n.get("protocol")) == Some(proto)
                                && n.get("start")
                                    .and_then(Node::as_i64)
                                    .is_some_and(|a| a <= 53)
                                && n.get("end").and_then(Node::as_i64).is_some_and(|b| b >= 53)
                        } else if let Some(name) = p.get("namedPort").and_then(Node::as_str) {
                            targets.iter().any(|t| {
                                t.ports
                                    .iter()
                                    .any(|(n, num, x)| n == name && *num == 53 && *x == proto)
                            })
                        } else {
                            false
                        }
                    });
                if admits && !out.contains(&proto) {
                    out.push(proto);
                }
            }
        }
    }
    out
}

fn egress_dns(v: &View<'_>, out: &mut Vec<Finding>) {
    let targets = dns_targets(v);
    let admin_allowed = admin_dns_allowed(v, &targets);
    // Per egress-isolating policy (index), the subjects lacking DNS it is blamed for.
    let mut blamed: BTreeMap<usize, Vec<(String, Vec<Proto>)>> = BTreeMap::new();
    let missing_for = |ns: &str, labels: &BTreeMap<&str, &str>| -> (Option<usize>, Vec<Proto>) {
        let isolating: Vec<(usize, &Policy<'_>)> = v
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.ns == ns
                    && p.isolates_egress
                    && p.selector.as_ref().is_some_and(|s| s.matches(labels))
            })
            .collect();
        let Some(first) = isolating.first().map(|(i, _)| *i) else {
            return (None, Vec::new());
        };
        let missing = [Proto::Udp, Proto::Tcp]
            .into_iter()
            .filter(|proto| !admin_allowed.contains(proto))
            .filter(|proto| {
                !isolating.iter().any(|(_, p)| {
                    p.egress
                        .iter()
                        .any(|r| rule_allows_dns(r, ns, &targets, *proto))
                })
            })
            .collect();
        (Some(first), missing)
    };
    for pod in v.pods.iter().filter(|p| !p.host_network) {
        if let (Some(i), missing) = missing_for(pod.ns, &pod.labels)
            && !missing.is_empty()
        {
            blamed.entry(i).or_default().push((pod.display(), missing));
        }
    }
    // Policies of namespaces without workloads in the input: judge a pod with the labels the
    // selector asks for.
    for (i, p) in v.policies.iter().enumerate() {
        if !p.isolates_egress || v.pods_in(p.ns).next().is_some() {
            continue;
        }
        let Some(labels) = p.selector.as_ref().and_then(synthetic_labels) else {
            continue;
        };
        if let (Some(first), missing) = missing_for(p.ns, &borrow(&labels))
            && first == i
            && !missing.is_empty()
        {
            let lbl = borrow(&labels);
            blamed
                .entry(i)
                .or_default()
                .push((format!("pods labelled {}", render_labels(&lbl)), missing));
        }
    }
    for (i, subjects) in blamed {
        let p = &v.policies[i];
        let path = match &p.explicit_types {
            Some(t) => t
                .iter()
                .find(|(x, _)| *x == "Egress")
                .map(|(_, j)| FieldPath::parse("spec.policyTypes").index(*j))
                .unwrap_or_else(|| FieldPath::parse("spec.policyTypes")),
            None => FieldPath::parse("spec.egress"),
        };
        let parts: Vec<String> = subjects
            .iter()
            .map(|(who, missing)| {
                let m: Vec<String> = missing.iter().map(|x| format!("{} 53", x.name())).collect();
                format!("{who} (no {})", m.join(", "))
            })
            .collect();
        out.push(EGRESS_DNS_BLOCKED.finding(
            v.inv,
            p.obj,
            &path,
            format!(
                "isolates egress, and no policy selecting these pods allows DNS (UDP and TCP 53) to kube-dns: {}",
                parts.join("; ")
            ),
        ));
    }
}

fn and_or_confusion(v: &View<'_>, out: &mut Vec<Finding>) {
    let ns_only = |p: &Peer<'_>| matches!(&p.kind, PeerKind::Pods { ns: Some(n), pods: None } if !n.is_empty());
    let pods_only = |p: &Peer<'_>| {
        matches!(
            &p.kind,
            PeerKind::Pods {
                ns: None,
                pods: Some(_)
            }
        )
    };
    for p in &v.policies {
        for d in Dir::BOTH {
            for r in p.rules(d) {
                let Some(peers) = &r.peers else { continue };
                for w in peers.windows(2) {
                    let (a, b) = (&w[0], &w[1]);
                    if (ns_only(a) && pods_only(b)) || (pods_only(a) && ns_only(b)) {
                        let (nsel, psel) = match (&a.kind, &b.kind) {
                            (
                                PeerKind::Pods { ns: Some(n), .. },
                                PeerKind::Pods { pods: Some(s), .. },
                            )
                            | (
                                PeerKind::Pods { pods: Some(s), .. },
                                PeerKind::Pods { ns: Some(n), .. },
                            ) => (n.to_string(), s.to_string()),
                            _ => continue,
                        };
                        out.push(AND_OR_CONFUSION.finding(
                            v.inv,
                            p.obj,
                            &b.path,
                            format!(
                                "{} and {} are separate peers: every pod of the namespaces {nsel} OR the pods {psel} of namespace {}; for the pods {psel} in the namespaces {nsel}, put both selectors in one peer",
                                a.path, b.path, p.ns
                            ),
                        ));
                    }
                }
            }
        }
    }
}

fn rule_allows_all(v: &View<'_>, out: &mut Vec<Finding>) {
    for p in &v.policies {
        for (d, r) in effective_rules(p) {
            if r.peers.is_none() && r.ports.is_none() {
                let what = match d {
                    Dir::Ingress => {
                        "from every source (all pods of all namespaces and all addresses)"
                    }
                    Dir::Egress => {
                        "to every destination (all pods of all namespaces and all addresses)"
                    }
                };
                out.push(RULE_ALLOWS_ALL.finding(
                    v.inv,
                    p.obj,
                    &r.path,
                    format!(
                        "{} allows all {} traffic {what} on every port",
                        r.path,
                        d.field()
                    ),
                ));
            }
        }
    }
}

fn named_ports(v: &View<'_>, out: &mut Vec<Finding>) {
    for p in &v.policies {
        for (d, r) in effective_rules(p) {
            let Some(ports) = &r.ports else { continue };
            if !ports
                .iter()
                .any(|x| matches!(x.port, Some(PortVal::Name(_))))
            {
                continue;
            }
            // Destination pods in the input; `only_blocks` when every peer is an ipBlock.
            let (dests, only_blocks): (Vec<&Pod<'_>>, bool) = match d {
                Dir::Ingress => (
                    v.pods_in(p.ns).filter(|pod| p.selects(pod)).collect(),
                    false,
                ),
                Dir::Egress => match &r.peers {
                    None => (v.pods.iter().collect(), false),
                    Some(peers) => {
                        let mut dests = Vec::new();
                        for peer in peers {
                            if let PeerKind::Pods { ns, pods } = &peer.kind {
                                let nss = v.peer_namespaces(p.ns, ns.as_ref());
                                dests.extend(v.pods_in_all(&nss).filter(|pod| {
                                    pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
                                }));
                            }
                        }
                        let blocks = peers
                            .iter()
                            .all(|x| matches!(x.kind, PeerKind::Block { .. }));
                        (dests, blocks)
                    }
                },
            };
            let dests: Vec<&Pod<'_>> = dests.into_iter().filter(|x| !x.host_network).collect();
            for port in ports {
                let (Some(PortVal::Name(name)), Some(proto)) = (&port.port, port.proto) else {
                    continue;
                };
                let path = port.path.key("port");
                if only_blocks {
                    out.push(NAMED_PORT_NOT_EXPOSED.finding(
                        v.inv,
                        p.obj,
                        &path,
                        format!("named port {name}/{} in a rule whose peers are all ipBlocks: named ports only resolve against pods, so this entry matches nothing", proto.name()),
                    ));
                    continue;
                }
                if dests.is_empty()
                    || dests
                        .iter()
                        .any(|x| x.ports.iter().any(|(n, _, pr)| n == name && *pr == proto))
                {
                    continue;
                }
                let other: Vec<String> = dests
                    .iter()
                    .flat_map(|x| x.ports.iter().filter(|(n, _, _)| n == name))
                    .map(|(_, num, pr)| format!("{num}/{}", pr.name()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let hint = if other.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (a port of that name exists with another protocol: {})",
                        other.join(", ")
                    )
                };
                let whose = match d {
                    Dir::Ingress => "selected",
                    Dir::Egress => "destination",
                };
                out.push(NAMED_PORT_NOT_EXPOSED.finding(
                    v.inv,
                    p.obj,
                    &path,
                    format!(
                        "none of the {} {whose} pod templates in the input ({}) declares a container port named {name} with protocol {}{hint}",
                        dests.len(),
                        dests.iter().map(|x| x.display()).collect::<Vec<_>>().join(", "),
                        proto.name()
                    ),
                ));
            }
        }
    }
}

fn ip_blocks(v: &View<'_>, out: &mut Vec<Finding>) {
    for p in &v.policies {
        for d in Dir::BOTH {
            for r in p.rules(d) {
                for peer in r.peers.iter().flatten() {
                    let PeerKind::Block { cidr, except } = &peer.kind else {
                        continue;
                    };
                    let block = peer.path.key("ipBlock");
                    let mut emit = |path: FieldPath, msg: String| {
                        out.push(IPBLOCK_INVALID.finding(v.inv, p.obj, &path, msg));
                    };
                    let net = match cidr.map(|c| (c, c.parse::<IpNet>())) {
                        None => {
                            emit(block.clone(), "ipBlock has no cidr".into());
                            continue;
                        }
                        Some((c, Err(_))) => {
                            emit(
                                block.key("cidr"),
                                format!("cidr {c:?} is not a CIDR (address/prefix length)"),
                            );
                            continue;
                        }
                        Some((c, Ok(n))) => {
                            if n.trunc() != n {
                                emit(
                                    block.key("cidr"),
                                    format!(
                                        "cidr {c} has host bits set; it means the whole network {}",
                                        n.trunc()
                                    ),
                                );
                            }
                            n.trunc()
                        }
                    };
                    for (i, e) in except.iter().enumerate() {
                        let path = block.key("except").index(i);
                        match e.parse::<IpNet>() {
                            Err(_) => emit(path, format!("except {e:?} is not a CIDR")),
                            Ok(x) if !net.contains(&x) || x.prefix_len() <= net.prefix_len() => {
                                emit(
                                    path,
                                    format!(
                                        "except {e} is not a strict subset of cidr {net}; the API server rejects the policy"
                                    ),
                                )
                            }
                            Ok(_) => {}
                        }
                    }
                }
            }
        }
    }
}

fn port_ranges(v: &View<'_>, out: &mut Vec<Finding>) {
    for p in &v.policies {
        for d in Dir::BOTH {
            for r in p.rules(d) {
                for port in r.ports.iter().flatten() {
                    let mut emit = |key: &str, msg: String| {
                        out.push(PORT_RANGE_INVALID.finding(
                            v.inv,
                            p.obj,
                            &port.path.key(key),
                            msg,
                        ));
                    };
                    if let Some(PortVal::Num(n)) = port.port
                        && !(1..=65535).contains(&n)
                    {
                        emit("port", format!("port {n} is outside 1-65535"));
                    }
                    let Some(end) = port.end_port else { continue };
                    match &port.port {
                        None => emit("endPort", format!("endPort {end} without a port")),
                        Some(PortVal::Name(name)) => emit(
                            "endPort",
                            format!(
                                "endPort {end} with the named port {name}; a range needs a numeric port"
                            ),
                        ),
                        Some(PortVal::Num(n)) if end < *n => emit(
                            "endPort",
                            format!(
                                "endPort {end} is below port {n}; the range is empty and the API server rejects it"
                            ),
                        ),
                        Some(PortVal::Num(_)) if end > 65535 => {
                            emit("endPort", format!("endPort {end} is outside 1-65535"))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

fn pods_not_selected(v: &View<'_>, out: &mut Vec<Finding>) {
    for pod in v.pods.iter().filter(|p| !p.host_network) {
        if v.policies.iter().any(|p| p.selects(pod)) {
            continue;
        }
        let n = v.policies.iter().filter(|p| p.ns == pod.ns).count();
        out.push(POD_NOT_SELECTED.finding(
            v.inv,
            pod.obj,
            &pod.labels_path,
            format!(
                "no NetworkPolicy in namespace {} selects its pods (labels {}; {} in the namespace): all ingress and egress is allowed",
                pod.ns,
                render_labels(&pod.labels),
                plural(n, "policy", "policies")
            ),
        ));
    }
}

/// True when `p` isolates every pod of its namespace in direction `d` without a rule that
/// allows everything.
fn is_default_deny(p: &Policy<'_>, d: Dir) -> bool {
    p.selector.as_ref().is_some_and(LabelSelector::is_empty)
        && p.isolates(d)
        && !p
            .rules(d)
            .iter()
            .any(|r| r.peers.is_none() && r.ports.is_none())
}

fn default_deny(v: &View<'_>, out: &mut Vec<Finding>) {
    let mut by_ns: BTreeMap<&str, Vec<&Pod<'_>>> = BTreeMap::new();
    for pod in v.pods.iter().filter(|p| !p.host_network) {
        by_ns.entry(pod.ns).or_default().push(pod);
    }
    for (ns, pods) in by_ns {
        let missing: Vec<&str> = Dir::BOTH
            .into_iter()
            .filter(|d| {
                !v.policies
                    .iter()
                    .any(|p| p.ns == ns && is_default_deny(p, *d))
            })
            .map(Dir::field)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let msg = format!(
            "namespace {ns} has {} but no default-deny {} NetworkPolicy (podSelector: {{}}, policyTypes: [{}], no rule allowing everything)",
            plural(pods.len(), "workload", "workloads"),
            missing.join(" or "),
            missing
                .iter()
                .map(|m| if *m == "ingress" { "Ingress" } else { "Egress" })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (obj, path) = match v.inv.namespace(ns) {
            Some(o) => (o, FieldPath::parse("metadata.name")),
            None => (pods[0].obj, FieldPath::parse("metadata.namespace")),
        };
        out.push(NAMESPACE_DEFAULT_DENY_MISSING.finding(v.inv, obj, &path, msg));
    }
}

fn policy_types(v: &View<'_>, out: &mut Vec<Finding>) {
    for p in &v.policies {
        let Some(types) = &p.explicit_types else {
            continue;
        };
        for d in Dir::BOTH {
            let n = p.rules(d).len();
            if n == 0 || p.isolates(d) {
                continue;
            }
            let listed: Vec<&str> = types.iter().map(|(t, _)| *t).collect();
            out.push(POLICY_TYPES_MISSING_DIRECTION.finding(
                v.inv,
                p.obj,
                &FieldPath::parse("spec.policyTypes"),
                format!(
                    "spec.{} has {} but policyTypes [{}] does not list {}: the rules are ignored and the pods are not isolated for {}",
                    d.field(),
                    plural(n, "rule", "rules"),
                    listed.join(", "),
                    d.type_name(),
                    d.field()
                ),
            ));
        }
    }
}

/// True when policy `q` makes `p` redundant: same podSelector, isolates every direction `p`
/// does, and covers each of `p`'s rules.
fn policy_covers(q: &Policy<'_>, p: &Policy<'_>, own: &BTreeMap<&str, &str>) -> bool {
    let (Some(qs), Some(ps)) = (&q.selector, &p.selector) else {
        return false;
    };
    q.ns == p.ns
        && selector_equal(qs, ps)
        && Dir::BOTH.into_iter().all(|d| {
            !p.isolates(d)
                || (q.isolates(d)
                    && p.rules(d)
                        .iter()
                        .all(|r| q.rules(d).iter().any(|s| rule_covers(s, r, own))))
        })
}

fn redundancy(v: &View<'_>, out: &mut Vec<Finding>) {
    let mut redundant = vec![false; v.policies.len()];
    for (i, p) in v.policies.iter().enumerate() {
        let own_labels = v.ns_labels(p.ns);
        let own = borrow(&own_labels);
        let cover = v.policies.iter().enumerate().find(|(j, q)| {
            *j != i
                && !redundant[*j]
                && policy_covers(q, p, &own)
                // Mutually covering policies: only the later one is redundant.
                && !(policy_covers(p, q, &own) && *j > i)
        });
        if let Some((_, q)) = cover {
            redundant[i] = true;
            out.push(REDUNDANT_POLICY.finding(
                v.inv,
                p.obj,
                &FieldPath::parse("metadata.name"),
                format!(
                    "every direction it isolates and every connection it allows is already isolated and allowed by NetworkPolicy {} (same podSelector)",
                    q.display()
                ),
            ));
        }
    }
    for (i, p) in v.policies.iter().enumerate() {
        if redundant[i] {
            continue;
        }
        let own_labels = v.ns_labels(p.ns);
        let own = borrow(&own_labels);
        for d in Dir::BOTH.into_iter().filter(|d| p.isolates(*d)) {
            let rules = p.rules(d);
            for (k, r) in rules.iter().enumerate() {
                // Within the policy: a later duplicate is the redundant one.
                let inner = rules.iter().enumerate().find(|(m, s)| {
                    *m != k && rule_covers(s, r, &own) && !(rule_covers(r, s, &own) && *m > k)
                });
                let by = match inner {
                    Some((_, s)) => Some(format!("{} of this policy", s.path)),
                    None => v
                        .policies
                        .iter()
                        .enumerate()
                        .filter(|(j, q)| {
                            *j != i
                                && !redundant[*j]
                                && q.ns == p.ns
                                && q.isolates(d)
                                && matches!((&q.selector, &p.selector), (Some(a), Some(b)) if selector_equal(a, b))
                        })
                        .find_map(|(j, q)| {
                            q.rules(d)
                                .iter()
                                .find(|s| {
                                    rule_covers(s, r, &own)
                                        && !(rule_covers(r, s, &own) && j > i)
                                })
                                .map(|s| format!("{} of NetworkPolicy {} (same podSelector)", s.path, q.display()))
                        }),
                };
                if let Some(by) = by {
                    out.push(REDUNDANT_RULE.finding(
                        v.inv,
                        p.obj,
                        &r.path,
                        format!("{} allows nothing that {by} does not already allow", r.path),
                    ));
                }
            }
        }
    }
}
