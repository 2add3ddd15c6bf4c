//! Network exposure: NetworkPolicy coverage (evaluated against the NetworkPolicies in the
//! inventory), Ingress TLS, and Services reachable from outside the cluster.
//!
//! NetworkPolicies do not apply to `hostNetwork` pods, so those are not reported as
//! unselected. A NetworkPolicy whose `podSelector` cannot be parsed selects nothing here (the
//! API server would reject it).

use super::Check;
use super::util::{namespace, render_labels, spec_true, workloads};
use crate::sink::Sink;
use palisade_model::selector::LabelSelector;
use palisade_model::{CheckId, FieldPath, Node, Object, Severity};
use std::collections::{BTreeMap, BTreeSet};

const NP_DOC: &str = "https://kubernetes.io/docs/concepts/services-networking/network-policies/";
const SVC_DOC: &str = "https://kubernetes.io/docs/concepts/services-networking/service/";
const LATERAL: &str = "https://attack.mitre.org/techniques/T1210/";

/// `hardening/network-policy-missing`.
pub static NETWORK_POLICY_MISSING: Check = Check {
    id: CheckId::new("hardening/network-policy-missing"),
    title: "No NetworkPolicy selects the pod",
    severity: Severity::Medium,
    category: "network",
    rationale: "Pods that no NetworkPolicy selects accept traffic from, and send traffic to, every pod in the cluster. A single compromised pod can then reach databases, internal admin interfaces and cloud metadata endpoints.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\nspec:\n  podSelector:\n    matchLabels:\n      app: web\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          app: frontend\n    ports:\n    - port: 8080\n",
    references: &[NP_DOC, "CIS Kubernetes Benchmark v1.9 §5.3.2", LATERAL],
};

/// `hardening/namespace-default-deny-missing`.
pub static DEFAULT_DENY_MISSING: Check = Check {
    id: CheckId::new("hardening/namespace-default-deny-missing"),
    title: "Namespace has no default-deny ingress NetworkPolicy",
    severity: Severity::Medium,
    category: "network",
    rationale: "A default-deny policy (empty podSelector, policyTypes Ingress, no ingress rules) makes every new pod of the namespace closed until a policy opens it. Without it, each new workload is open to the whole cluster until someone remembers to write its policy.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-ingress\n  namespace: shop\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic",
        "CIS Kubernetes Benchmark v1.9 §5.3.2",
        LATERAL,
    ],
};

/// `hardening/network-policy-selects-nothing`.
pub static POLICY_SELECTS_NOTHING: Check = Check {
    id: CheckId::new("hardening/network-policy-selects-nothing"),
    title: "NetworkPolicy selects none of the namespace's workloads",
    severity: Severity::Low,
    category: "network",
    rationale: "A NetworkPolicy whose podSelector matches no pod protects nothing; usually a label was renamed on the workload but not in the policy, leaving the pods it was written for unprotected. Checked only against namespaces whose workloads are in the scanned manifests.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\nspec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: web\n",
    references: &[NP_DOC],
};

/// `hardening/ingress-tls-missing`.
pub static INGRESS_TLS_MISSING: Check = Check {
    id: CheckId::new("hardening/ingress-tls-missing"),
    title: "Ingress serves hosts without TLS",
    severity: Severity::Medium,
    category: "network",
    rationale: "Without a tls section the Ingress serves plain HTTP: credentials, session cookies and data cross the network readable and modifiable by anyone on the path.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  tls:\n  - hosts: [shop.example.com]\n    secretName: shop-example-com-tls\n  rules:\n  - host: shop.example.com\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
        "https://attack.mitre.org/techniques/T1557/",
    ],
};

/// `hardening/service-type-node-port`.
pub static SERVICE_NODE_PORT: Check = Check {
    id: CheckId::new("hardening/service-type-node-port"),
    title: "Service of type NodePort",
    severity: Severity::Low,
    category: "network",
    rationale: "A NodePort Service opens the same port on every node's address, bypassing Ingress controllers, load-balancer firewalls and TLS termination. Node ports are easy to forget and are often reachable from wider networks than intended.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: ClusterIP\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport",
        "https://attack.mitre.org/techniques/T1190/",
    ],
};

/// `hardening/service-type-load-balancer`.
pub static SERVICE_LOAD_BALANCER: Check = Check {
    id: CheckId::new("hardening/service-type-load-balancer"),
    title: "LoadBalancer Service open to any source address",
    severity: Severity::Low,
    category: "network",
    rationale: "A LoadBalancer Service without loadBalancerSourceRanges is reachable from every address the cloud load balancer listens on, usually the whole internet. It also allocates node ports on every node unless allocateLoadBalancerNodePorts is false.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges:\n  - 203.0.113.0/24\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer",
        "https://attack.mitre.org/techniques/T1190/",
    ],
};

/// `hardening/service-external-ips`.
pub static SERVICE_EXTERNAL_IPS: Check = Check {
    id: CheckId::new("hardening/service-external-ips"),
    title: "Service sets externalIPs",
    severity: Severity::Medium,
    category: "network",
    rationale: "externalIPs make every node route traffic for arbitrary addresses to the Service. Anyone who can create Services can intercept traffic meant for other destinations (CVE-2020-8554); clusters should deny the field with the DenyServiceExternalIPs admission plugin.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: ClusterIP\n",
    references: &[
        SVC_DOC,
        "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#denyserviceexternalips",
        "https://attack.mitre.org/techniques/T1557/",
    ],
};

struct Policy<'a> {
    obj: &'a Object,
    selector: Option<LabelSelector>,
}

fn is_default_deny_ingress(np: &Object) -> bool {
    let spec = np.node.get("spec");
    let empty_selector = spec
        .and_then(|s| s.get("podSelector"))
        .is_none_or(|n| LabelSelector::parse(n).is_ok_and(|s| s.is_empty()));
    let types = spec
        .and_then(|s| s.get("policyTypes"))
        .filter(|n| !n.is_null());
    let ingress_type = match types {
        None => true,
        Some(t) => t.items().iter().any(|x| x.as_str() == Some("Ingress")),
    };
    let no_rules = spec
        .and_then(|s| s.get("ingress"))
        .is_none_or(|n| n.items().is_empty());
    empty_selector && ingress_type && no_rules
}

/// Runs the network checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    let mut policies: BTreeMap<&str, Vec<Policy<'_>>> = BTreeMap::new();
    for np in inv
        .of_kind("NetworkPolicy")
        .filter(|o| o.group() == "networking.k8s.io")
    {
        let selector = np
            .node
            .at(&["spec", "podSelector"])
            .map_or(Ok(LabelSelector::default()), LabelSelector::parse)
            .ok();
        policies
            .entry(namespace(np))
            .or_default()
            .push(Policy { obj: np, selector });
    }
    // Namespace -> workloads in it, in load order.
    let mut ns_workloads: BTreeMap<&str, Vec<&Object>> = BTreeMap::new();
    let mut selected_any: BTreeSet<(&str, usize)> = BTreeSet::new();
    for (obj, t) in workloads(inv) {
        let ns = namespace(obj);
        ns_workloads.entry(ns).or_default().push(obj);
        let labels = t.labels();
        let nps = policies.get(ns).map(Vec::as_slice).unwrap_or(&[]);
        let mut selected = false;
        for (i, p) in nps.iter().enumerate() {
            if p.selector.as_ref().is_some_and(|s| s.matches(&labels)) {
                selected = true;
                selected_any.insert((ns, i));
            }
        }
        if !selected && !spec_true(&t, "hostNetwork") {
            let path = t.meta_path.key("labels");
            NETWORK_POLICY_MISSING.emit(
                sink,
                obj,
                &path,
                None,
                format!(
                    "no NetworkPolicy in namespace {ns} selects its pods (labels {}; {} polic{} in the namespace)",
                    render_labels(&labels),
                    nps.len(),
                    if nps.len() == 1 { "y" } else { "ies" }
                ),
            );
        }
    }
    for (ns, objs) in &ns_workloads {
        let nps = policies.get(ns).map(Vec::as_slice).unwrap_or(&[]);
        if nps.iter().any(|p| is_default_deny_ingress(p.obj)) {
            continue;
        }
        let msg = format!(
            "namespace {ns} has {} workload{} but no default-deny ingress NetworkPolicy (podSelector: {{}}, policyTypes: [Ingress], no ingress rules)",
            objs.len(),
            if objs.len() == 1 { "" } else { "s" }
        );
        match inv.namespace(ns) {
            Some(nsobj) => DEFAULT_DENY_MISSING.emit(
                sink,
                nsobj,
                &FieldPath::parse("metadata.name"),
                None,
                msg,
            ),
            None => DEFAULT_DENY_MISSING.emit(
                sink,
                objs[0],
                &FieldPath::parse("metadata.namespace"),
                None,
                msg,
            ),
        }
    }
    for (ns, nps) in &policies {
        if !ns_workloads.contains_key(ns) {
            continue;
        }
        for (i, p) in nps.iter().enumerate() {
            let Some(sel) = &p.selector else { continue };
            if sel.is_empty() || selected_any.contains(&(*ns, i)) {
                continue;
            }
            POLICY_SELECTS_NOTHING.emit(
                sink,
                p.obj,
                &FieldPath::parse("spec.podSelector"),
                None,
                format!("podSelector {sel} matches none of the {} workloads of namespace {ns} in the scanned manifests", ns_workloads[ns].len()),
            );
        }
    }
    for ing in inv
        .of_kind("Ingress")
        .filter(|o| matches!(o.group(), "networking.k8s.io" | "extensions"))
    {
        ingress_tls(sink, ing);
    }
    for svc in inv.of_kind("Service").filter(|o| o.group().is_empty()) {
        services(sink, svc);
    }
}

fn ingress_tls(sink: &mut Sink<'_>, ing: &Object) {
    let Some(spec) = ing.node.get("spec") else {
        return;
    };
    let tls = spec.get("tls").map(Node::items).unwrap_or(&[]);
    let rules = spec.get("rules").map(Node::items).unwrap_or(&[]);
    if tls.is_empty() {
        let hosts: Vec<&str> = rules
            .iter()
            .filter_map(|r| r.get("host").and_then(Node::as_str))
            .collect();
        let what = if hosts.is_empty() {
            "all hosts".to_string()
        } else {
            hosts.join(", ")
        };
        INGRESS_TLS_MISSING.emit(
            sink,
            ing,
            &FieldPath::parse("spec.tls"),
            None,
            format!(
                "Ingress {} has no spec.tls; {what} served over plain HTTP",
                ing.id.name
            ),
        );
        return;
    }
    let covered: Vec<&str> = tls
        .iter()
        .flat_map(|t| t.get("hosts").map(Node::items).unwrap_or(&[]))
        .filter_map(Node::as_str)
        .collect();
    for (i, r) in rules.iter().enumerate() {
        let Some(host) = r.get("host").and_then(Node::as_str) else {
            continue;
        };
        let ok = covered.iter().any(|c| {
            *c == host
                || c.strip_prefix("*.")
                    .is_some_and(|d| host.split_once('.').is_some_and(|(_, rest)| rest == d))
        });
        if !ok {
            INGRESS_TLS_MISSING.emit(
                sink,
                ing,
                &FieldPath::parse("spec.rules").index(i).key("host"),
                None,
                format!("host {host} of Ingress {} is not listed in any spec.tls[].hosts; it is served over plain HTTP", ing.id.name),
            );
        }
    }
}

fn services(sink: &mut Sink<'_>, svc: &Object) {
    let Some(spec) = svc.node.get("spec") else {
        return;
    };
    let ty = spec
        .get("type")
        .and_then(Node::as_str)
        .unwrap_or("ClusterIP");
    let ports: Vec<String> = spec
        .get("ports")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| {
            p.get("nodePort")
                .or_else(|| p.get("port"))
                .and_then(Node::as_str)
                .map(str::to_owned)
        })
        .collect();
    match ty {
        "NodePort" => SERVICE_NODE_PORT.emit(
            sink,
            svc,
            &FieldPath::parse("spec.type"),
            None,
            format!("Service {} is of type NodePort and opens port(s) {} on every node", svc.id.name, if ports.is_empty() { "?".into() } else { ports.join(", ") }),
        ),
        "LoadBalancer" if spec.get("loadBalancerSourceRanges").is_none_or(|n| n.items().is_empty()) => SERVICE_LOAD_BALANCER.emit(
            sink,
            svc,
            &FieldPath::parse("spec.type"),
            None,
            format!("Service {} is of type LoadBalancer with no loadBalancerSourceRanges; any address can reach it", svc.id.name),
        ),
        _ => {}
    }
    let ips: Vec<&str> = spec
        .get("externalIPs")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect();
    if !ips.is_empty() {
        SERVICE_EXTERNAL_IPS.emit(
            sink,
            svc,
            &FieldPath::parse("spec.externalIPs"),
            None,
            format!("Service {} claims externalIPs {}; nodes will route traffic for them to this Service", svc.id.name, ips.join(", ")),
        );
    }
}
