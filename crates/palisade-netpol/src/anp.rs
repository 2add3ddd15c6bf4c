//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).
//!
//! Evaluation, per direction of a connection (egress at the source, ingress at the
//! destination):
//! 1. The admin tier: among the AdminNetworkPolicies whose subject selects the pod, ordered by
//!    `priority` (lower first; equal priorities by name, which the API leaves undefined), and
//!    their rules in order, the first rule matching the peer and port decides: `Allow` admits
//!    whatever NetworkPolicies say, `Deny` refuses, `Pass` hands the decision to the next tier.
//! 2. The NetworkPolicy tier: if some NetworkPolicy isolates the pod in that direction, the
//!    connection is admitted iff one of their rules admits it.
//! 3. Otherwise the baseline tier: the first matching rule of the BaselineAdminNetworkPolicy
//!    (`Allow` or `Deny`) decides; no match admits.
//!
//! Modelling choices: `networks` peers match addresses outside the cluster only (pod IPs are
//! not modelled); `nodes` and `domainNames` peers are reported and match nothing; host-network
//! pods are never subjects nor matched by `namespaces`/`pods` peers. A `namedPort` matches a
//! destination container port of that name whatever its protocol.

use crate::PortSet;
use crate::model::{Diags, NamedPort, Protocol, line_of, parse_cidr, selector_at};
use ipnet::IpNet;
use palisade_model::selector::LabelSelector;
use palisade_model::{DiagLevel, FieldPath, Node, Object, ObjectId};
use std::fmt;

/// What a matching admin rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    /// Admit, whatever NetworkPolicies say.
    Allow,
    /// Refuse.
    Deny,
    /// Skip to the NetworkPolicy tier (AdminNetworkPolicy only).
    Pass,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        })
    }
}

/// A subject or peer of an admin policy.
#[derive(Clone, Debug, PartialEq)]
pub enum AdminPeer {
    /// Every pod of the namespaces matching the selector.
    Namespaces(LabelSelector),
    /// Pods matching `pod_selector` in namespaces matching `namespace_selector`.
    Pods {
        /// `namespaceSelector`.
        namespace_selector: LabelSelector,
        /// `podSelector`.
        pod_selector: LabelSelector,
    },
    /// Address ranges (egress only); they match addresses outside the cluster.
    Networks(Vec<IpNet>),
}

/// A port item of an admin rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminPort {
    /// `portNumber`.
    Number {
        /// Protocol.
        protocol: Protocol,
        /// Port.
        port: u16,
    },
    /// `namedPort`: a destination container port of that name (any protocol).
    Named(String),
    /// `portRange`.
    Range {
        /// Protocol.
        protocol: Protocol,
        /// First port.
        start: u16,
        /// Last port.
        end: u16,
    },
}

/// One ingress or egress rule of an admin policy.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminRule {
    /// `name`.
    pub name: String,
    /// `action`.
    pub action: Action,
    /// `from` / `to` (ORed).
    pub peers: Vec<AdminPeer>,
    /// `ports`; `None` = every port.
    pub ports: Option<Vec<AdminPort>>,
    /// Path of the rule in the object.
    pub path: FieldPath,
    /// Line of the rule in its file.
    pub line: u32,
}

/// An AdminNetworkPolicy or the BaselineAdminNetworkPolicy.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminPolicy {
    /// Name.
    pub name: String,
    /// The object in the inventory.
    pub object: ObjectId,
    /// True for the BaselineAdminNetworkPolicy.
    pub baseline: bool,
    /// `priority` (0 for the baseline).
    pub priority: i64,
    /// `subject`: `Namespaces` or `Pods`.
    pub subject: AdminPeer,
    /// Ingress rules in order.
    pub ingress: Vec<AdminRule>,
    /// Egress rules in order.
    pub egress: Vec<AdminRule>,
    /// File the policy was loaded from.
    pub file: String,
    /// Line of the policy in its file.
    pub line: u32,
}

impl AdminPolicy {
    /// `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy`.
    pub fn kind(&self) -> &'static str {
        if self.baseline {
            "BaselineAdminNetworkPolicy"
        } else {
            "AdminNetworkPolicy"
        }
    }
}

/// The ports of an admin rule towards a destination with container ports `dst` (`None` for
/// an address outside the cluster, where named ports resolve to nothing).
pub fn resolve_admin_ports(items: Option<&[AdminPort]>, dst: Option<&[NamedPort]>) -> PortSet {
    let Some(items) = items else {
        return PortSet::all();
    };
    let mut out = PortSet::empty();
    for it in items {
        match it {
            AdminPort::Number { protocol, port } => out.add(&PortSet::single(*protocol, *port)),
            AdminPort::Range {
                protocol,
                start,
                end,
            } => out.add(&PortSet::range(*protocol, *start, *end)),
            AdminPort::Named(name) => {
                for np in dst.unwrap_or(&[]) {
                    if np.name == *name {
                        out.add(&PortSet::single(np.protocol, np.port));
                    }
                }
            }
        }
    }
    out
}

fn selector(
    obj: &Object,
    n: Option<&Node>,
    path: &FieldPath,
    d: &mut Diags<'_>,
) -> Option<LabelSelector> {
    selector_at(obj, n, path, d)
        .ok()
        .map(Option::unwrap_or_default)
}

/// A `namespaces` / `pods` / `networks` peer (or subject); `None` with a diagnostic when it
/// cannot be used.
fn admin_peer(obj: &Object, n: &Node, path: &FieldPath, d: &mut Diags<'_>) -> Option<AdminPeer> {
    if let Some(ns) = n.get("namespaces").filter(|x| !x.is_null()) {
        return selector(obj, Some(ns), &path.key("namespaces"), d).map(AdminPeer::Namespaces);
    }
    if let Some(p) = n.get("pods").filter(|x| !x.is_null()) {
        let pp = path.key("pods");
        let namespace_selector = selector(
            obj,
            p.get("namespaceSelector"),
            &pp.key("namespaceSelector"),
            d,
        )?;
        let pod_selector = selector(obj, p.get("podSelector"), &pp.key("podSelector"), d)?;
        return Some(AdminPeer::Pods {
            namespace_selector,
            pod_selector,
        });
    }
    if let Some(nets) = n.get("networks").filter(|x| !x.is_null()) {
        let mut out = Vec::new();
        for (i, c) in nets.items().iter().enumerate() {
            match c.as_str().and_then(parse_cidr) {
                Some(net) => out.push(net),
                None => d.push(
                    obj,
                    DiagLevel::Error,
                    &path.key("networks").index(i),
                    "invalid CIDR; ignored".into(),
                ),
            }
        }
        return Some(AdminPeer::Networks(out));
    }
    let what = ["nodes", "domainNames"]
        .into_iter()
        .find(|k| n.get(k).is_some())
        .unwrap_or("an empty peer");
    d.push(
        obj,
        DiagLevel::Warning,
        path,
        format!("{what} peers are not modelled; the peer matches nothing"),
    );
    None
}

fn admin_port(obj: &Object, n: &Node, path: &FieldPath, d: &mut Diags<'_>) -> Option<AdminPort> {
    let proto = |m: &Node| {
        m.get("protocol")
            .and_then(Node::as_str)
            .map_or(Some(Protocol::TCP), Protocol::parse)
    };
    let num = |m: &Node, k: &str| {
        m.get(k)
            .and_then(Node::as_i64)
            .and_then(|x| u16::try_from(x).ok())
    };
    let got = if let Some(m) = n.get("portNumber") {
        proto(m)
            .zip(num(m, "port"))
            .map(|(protocol, port)| AdminPort::Number { protocol, port })
    } else if let Some(m) = n.get("portRange") {
        match (proto(m), num(m, "start"), num(m, "end")) {
            (Some(protocol), Some(start), Some(end)) => Some(AdminPort::Range {
                protocol,
                start,
                end,
            }),
            _ => None,
        }
    } else {
        n.get("namedPort")
            .and_then(Node::as_str)
            .map(|s| AdminPort::Named(s.to_string()))
    };
    if got.is_none() {
        d.push(
            obj,
            DiagLevel::Error,
            path,
            "expected portNumber {protocol, port}, portRange {protocol, start, end} or namedPort; the item matches nothing".into(),
        );
    }
    got
}

fn admin_rules(
    obj: &Object,
    node: Option<&Node>,
    path: &FieldPath,
    peers_key: &str,
    baseline: bool,
    d: &mut Diags<'_>,
) -> Vec<AdminRule> {
    let mut out = Vec::new();
    for (i, r) in node.map(Node::items).unwrap_or(&[]).iter().enumerate() {
        let rp = path.index(i);
        let action = match r.get("action").and_then(Node::as_str) {
            Some("Allow") => Action::Allow,
            Some("Deny") => Action::Deny,
            Some("Pass") if !baseline => Action::Pass,
            other => {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &rp.key("action"),
                    format!(
                        "invalid action {:?}; the rule is ignored",
                        other.unwrap_or("")
                    ),
                );
                continue;
            }
        };
        let peers = r
            .get(peers_key)
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter_map(|(j, p)| admin_peer(obj, p, &rp.key(peers_key).index(j), d))
            .collect();
        let ports = r.get("ports").filter(|n| !n.is_null()).map(|ps| {
            ps.items()
                .iter()
                .enumerate()
                .filter_map(|(j, p)| admin_port(obj, p, &rp.key("ports").index(j), d))
                .collect()
        });
        out.push(AdminRule {
            name: r
                .get("name")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string(),
            action,
            peers,
            ports,
            line: line_of(obj, &rp),
            path: rp,
        });
    }
    out
}

/// Parses an AdminNetworkPolicy (`baseline: false`) or BaselineAdminNetworkPolicy.
pub(crate) fn parse(
    obj: &Object,
    id: ObjectId,
    baseline: bool,
    d: &mut Diags<'_>,
) -> Option<AdminPolicy> {
    let spec = obj.node.get("spec").unwrap_or(Node::empty());
    let sp = FieldPath::parse("spec");
    let priority = if baseline {
        0
    } else {
        match spec.get("priority").and_then(Node::as_i64) {
            Some(p) => p,
            None => {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &sp.key("priority"),
                    "missing or invalid priority; the policy is ignored".into(),
                );
                return None;
            }
        }
    };
    let subject = match spec.get("subject") {
        Some(s) => match admin_peer(obj, s, &sp.key("subject"), d) {
            Some(AdminPeer::Networks(_)) | None => return None,
            Some(p) => p,
        },
        None => {
            d.push(
                obj,
                DiagLevel::Error,
                &sp.key("subject"),
                "missing subject; the policy is ignored".into(),
            );
            return None;
        }
    };
    Some(AdminPolicy {
        name: obj.id.name.clone(),
        object: id,
        baseline,
        priority,
        subject,
        ingress: admin_rules(
            obj,
            spec.get("ingress"),
            &sp.key("ingress"),
            "from",
            baseline,
            d,
        ),
        egress: admin_rules(
            obj,
            spec.get("egress"),
            &sp.key("egress"),
            "to",
            baseline,
            d,
        ),
        file: d.inv.file_of(obj).to_string(),
        line: obj.pos().line,
    })
}
