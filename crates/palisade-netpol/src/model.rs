//! The cluster as the engine sees it: namespaces with labels, workloads (pods and pod
//! templates) with labels and container ports, NetworkPolicies with their rules, and the
//! AdminNetworkPolicy / BaselineAdminNetworkPolicy tiers.
//!
//! What is modelled, and the choices made where Kubernetes leaves behaviour to the network
//! plugin:
//! - A workload is a Pod or any object with a pod template (Deployment, StatefulSet, CronJob,
//!   ...); its labels are the template's labels. `PodTemplate` objects are not workloads.
//! - Pods created by a controller (`ownerReferences`) are one workload named after it, as
//!   netpol-analyzer lists them; mirror pods (owned by a Node) stay pods.
//! - Pod IPs are not modelled. `ipBlock` peers (and ANP `networks`) therefore only match
//!   addresses outside the cluster, never pods, as most offline analyzers do.
//! - `hostNetwork` pods: NetworkPolicies and AdminNetworkPolicies never select them (they are
//!   never isolated) and pod/namespace selector peers never match them; their traffic reaches
//!   isolated pods only through rules that admit every source or destination (a missing
//!   `from`/`to`).

use crate::anp::{self, AdminPolicy};
use ipnet::IpNet;
use palisade_model::selector::LabelSelector;
use palisade_model::{
    DiagCode, DiagLevel, Diagnostic, FieldPath, Inventory, Node, Object, ObjectId, pod_template,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A transport protocol NetworkPolicies can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Protocol {
    /// TCP (the default).
    TCP,
    /// UDP.
    UDP,
    /// SCTP.
    SCTP,
}

impl Protocol {
    /// Position of the protocol in per-protocol arrays.
    pub fn index(self) -> usize {
        match self {
            Protocol::TCP => 0,
            Protocol::UDP => 1,
            Protocol::SCTP => 2,
        }
    }

    /// Parses `TCP`, `UDP` or `SCTP` (case-insensitive).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::TCP),
            "UDP" => Some(Protocol::UDP),
            "SCTP" => Some(Protocol::SCTP),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::TCP => "TCP",
            Protocol::UDP => "UDP",
            Protocol::SCTP => "SCTP",
        })
    }
}

/// A container port of a workload (`name` is empty for unnamed ports).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    /// `name`.
    pub name: String,
    /// `containerPort`.
    pub port: u16,
    /// `protocol` (TCP by default).
    pub protocol: Protocol,
}

/// A Pod, or the pods of a workload (all replicas share labels and ports).
#[derive(Clone, Debug)]
pub struct Workload {
    /// Namespace.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// Kind of the object (`Deployment`, `Pod`, ...).
    pub kind: String,
    /// Pod labels (the template's labels for workloads).
    pub labels: BTreeMap<String, String>,
    /// Container ports of every container.
    pub ports: Vec<NamedPort>,
    /// `spec.hostNetwork`.
    pub host_network: bool,
    /// The object in the inventory.
    pub object: ObjectId,
}

/// Which directions a policy isolates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PolicyTypes {
    /// Ingress is in the (defaulted) policyTypes.
    pub ingress: bool,
    /// Egress is in the (defaulted) policyTypes.
    pub egress: bool,
    /// policyTypes was written (not defaulted).
    pub explicit: bool,
}

/// A peer of a NetworkPolicy rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Peer {
    /// Pods selected by labels. `namespace_selector: None` means the policy's namespace;
    /// `pod_selector: None` means every pod of the selected namespaces.
    Pods {
        /// `namespaceSelector`.
        namespace_selector: Option<LabelSelector>,
        /// `podSelector`.
        pod_selector: Option<LabelSelector>,
    },
    /// Addresses outside the cluster: `cidr` minus the `except` ranges.
    IpBlock {
        /// `cidr`.
        cidr: IpNet,
        /// `except`.
        except: Vec<IpNet>,
    },
}

/// One port item of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// A port number, or the range `port..=end_port`.
    Number {
        /// Protocol.
        protocol: Protocol,
        /// `port`.
        port: u16,
        /// `endPort`.
        end_port: Option<u16>,
    },
    /// A named port, resolved against the destination pod's container ports.
    Named {
        /// Protocol (must match the container port's).
        protocol: Protocol,
        /// Port name.
        name: String,
    },
    /// Every port of a protocol (`port` omitted).
    AllOfProtocol(Protocol),
}

/// One ingress or egress rule of a NetworkPolicy.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `from` / `to`; `None` when missing or empty (every source or destination, inside the
    /// cluster or not).
    pub peers: Option<Vec<Peer>>,
    /// `ports`; `None` when missing or empty (every port).
    pub ports: Option<Vec<PortSpec>>,
    /// Path of the rule in the policy object (`spec.ingress[0]`).
    pub path: FieldPath,
    /// Line of the rule in its file.
    pub line: u32,
}

/// A networking.k8s.io/v1 NetworkPolicy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The object in the inventory.
    pub object: ObjectId,
    /// `spec.podSelector` (pods of the policy's namespace).
    pub pod_selector: LabelSelector,
    /// Ingress rules when the policy isolates ingress (`Some(vec![])` allows nothing); `None`
    /// when it does not isolate ingress.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules, likewise.
    pub egress: Option<Vec<Rule>>,
    /// The (defaulted) policyTypes.
    pub policy_types: PolicyTypes,
    /// File the policy was loaded from.
    pub file: String,
    /// Line of the policy in its file.
    pub line: u32,
}

/// The cluster model.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Namespace name -> labels, including `kubernetes.io/metadata.name`.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Workloads, in load order.
    pub workloads: Vec<Workload>,
    /// NetworkPolicies, in load order.
    pub policies: Vec<Policy>,
    /// AdminNetworkPolicies, in load order.
    pub admin_policies: Vec<AdminPolicy>,
    /// The BaselineAdminNetworkPolicy (`default`), if any.
    pub baseline: Option<AdminPolicy>,
}

/// One end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// A workload, by index in [`Cluster::workloads`].
    Workload(usize),
    /// Addresses outside the cluster.
    External(IpNet),
}

/// An allowed connection and the ports it may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Where the connection starts.
    pub src: Endpoint,
    /// Where it goes.
    pub dst: Endpoint,
    /// What it may carry.
    pub ports: crate::PortSet,
}

/// Builds diagnostics about one object.
pub(crate) struct Diags<'a> {
    pub(crate) inv: &'a Inventory,
    pub(crate) out: Vec<Diagnostic>,
}

impl Diags<'_> {
    pub(crate) fn push(
        &mut self,
        obj: &Object,
        level: DiagLevel,
        path: &FieldPath,
        message: String,
    ) {
        let (pos, _) = path.locate(&obj.node);
        self.out.push(Diagnostic {
            level,
            code: DiagCode::InvalidField,
            file: self.inv.file_of(obj).to_string(),
            pos: Some(pos),
            field: (!path.is_root()).then(|| path.to_string()),
            message: format!("{} {}: {message}", obj.id.kind, obj.id.name),
        });
    }
}

/// Line of a path in an object.
pub(crate) fn line_of(obj: &Object, path: &FieldPath) -> u32 {
    path.locate(&obj.node).0.line
}

impl Cluster {
    /// Builds the model from loaded manifests. Problems (invalid selectors, CIDRs, ports) are
    /// returned as diagnostics; the offending policy, rule or peer is left out (an invalid
    /// peer matches nothing), never guessed.
    pub fn from_inventory(inv: &Inventory) -> (Cluster, Vec<Diagnostic>) {
        let mut d = Diags {
            inv,
            out: Vec::new(),
        };
        let mut c = Cluster::default();
        let mut owned: HashMap<(String, String, String), usize> = HashMap::new();
        for (id, obj) in inv.objects.iter().enumerate() {
            let kind = obj.id.kind.as_str();
            let group = obj.group();
            match (group, kind) {
                ("", "Namespace") => {
                    let mut labels: BTreeMap<String, String> = obj
                        .labels()
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    labels.insert(NAMESPACE_NAME_LABEL.into(), obj.id.name.clone());
                    c.namespaces.insert(obj.id.name.clone(), labels);
                }
                ("networking.k8s.io", "NetworkPolicy") => {
                    if let Some(p) = parse_policy(obj, id, &mut d) {
                        c.policies.push(p);
                    }
                }
                ("policy.networking.k8s.io", "AdminNetworkPolicy") => {
                    if let Some(p) = anp::parse(obj, id, false, &mut d) {
                        c.admin_policies.push(p);
                    }
                }
                ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy") => {
                    if obj.id.name != "default" {
                        d.push(
                            obj,
                            DiagLevel::Warning,
                            &FieldPath::parse("metadata.name"),
                            "a BaselineAdminNetworkPolicy must be named `default`; ignored".into(),
                        );
                    } else if c.baseline.is_some() {
                        d.push(
                            obj,
                            DiagLevel::Warning,
                            &FieldPath::root(),
                            "a second BaselineAdminNetworkPolicy; ignored".into(),
                        );
                    } else if let Some(p) = anp::parse(obj, id, true, &mut d) {
                        c.baseline = Some(p);
                    }
                }
                _ => {
                    if kind != "PodTemplate"
                        && let Some(w) = workload(obj, id)
                    {
                        // Pods of one controller are one workload, named after it.
                        if w.kind != kind || w.name != obj.id.name {
                            let key = (w.namespace.clone(), w.kind.clone(), w.name.clone());
                            if let Some(&i) = owned.get(&key) {
                                let existing: &mut Workload = &mut c.workloads[i];
                                for p in w.ports {
                                    if !existing.ports.contains(&p) {
                                        existing.ports.push(p);
                                    }
                                }
                                continue;
                            }
                            owned.insert(key, c.workloads.len());
                        }
                        c.workloads.push(w);
                    }
                }
            }
        }
        let referenced: Vec<String> = c
            .workloads
            .iter()
            .map(|w| w.namespace.clone())
            .chain(c.policies.iter().map(|p| p.namespace.clone()))
            .collect();
        for ns in referenced {
            c.namespaces.entry(ns.clone()).or_insert_with(|| {
                BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.clone())])
            });
        }
        (c, d.out)
    }

    /// Index of the workload `ns/name` (or `name` when unique in all namespaces).
    pub fn find_workload(&self, spec: &str) -> Option<usize> {
        match spec.split_once('/') {
            Some((ns, n)) => self
                .workloads
                .iter()
                .position(|w| w.namespace == ns && w.name == n),
            None => {
                let mut it = self
                    .workloads
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.name == spec);
                let first = it.next()?;
                it.next().is_none().then_some(first.0)
            }
        }
    }

    /// Labels of a namespace as a borrowed map (empty for an unknown namespace).
    pub fn namespace_labels(&self, ns: &str) -> BTreeMap<&str, &str> {
        self.namespaces
            .get(ns)
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
            .unwrap_or_default()
    }
}

fn workload(obj: &Object, id: ObjectId) -> Option<Workload> {
    let pt = pod_template(obj)?;
    let mut ports = Vec::new();
    for c in pt.containers() {
        for p in c.node.get("ports").map(Node::items).unwrap_or(&[]) {
            let Some(num) = p
                .get("containerPort")
                .and_then(Node::as_i64)
                .and_then(|n| u16::try_from(n).ok())
            else {
                continue;
            };
            let protocol = p
                .get("protocol")
                .and_then(Node::as_str)
                .and_then(Protocol::parse)
                .unwrap_or(Protocol::TCP);
            let name = p.get("name").and_then(Node::as_str).unwrap_or("");
            ports.push(NamedPort {
                name: name.to_string(),
                port: num,
                protocol,
            });
        }
    }
    // A Pod created by a controller is shown as that controller (`ns/owner[OwnerKind]`), as
    // netpol-analyzer does; the controller reference wins over other owners. Mirror pods (owned
    // by a Node) keep their own name.
    let owner = pt
        .is_pod
        .then(|| {
            let refs = obj.node.at(&["metadata", "ownerReferences"])?.items();
            let r = refs
                .iter()
                .find(|r| r.get("controller").and_then(Node::as_bool) == Some(true))
                .or_else(|| refs.first())?;
            let name = r.get("name").and_then(Node::as_str)?;
            let kind = r.get("kind").and_then(Node::as_str).unwrap_or("Pod");
            // Static (mirror) pods are owned by their Node: they stay pods.
            (kind != "Node").then(|| (name.to_string(), kind.to_string()))
        })
        .flatten();
    let (name, kind) = owner.unwrap_or_else(|| (obj.id.name.clone(), obj.id.kind.clone()));
    Some(Workload {
        namespace: obj.id.namespace.clone().unwrap_or_else(|| "default".into()),
        name,
        kind,
        labels: pt
            .labels()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ports,
        host_network: pt.spec.get("hostNetwork").and_then(Node::as_bool) == Some(true),
        object: id,
    })
}

/// Parses a selector field; `None` when absent. An invalid selector is a diagnostic and
/// `Err(())`.
pub(crate) fn selector_at(
    obj: &Object,
    node: Option<&Node>,
    path: &FieldPath,
    d: &mut Diags<'_>,
) -> Result<Option<LabelSelector>, ()> {
    let Some(n) = node else { return Ok(None) };
    match LabelSelector::parse(n) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            d.push(obj, DiagLevel::Error, path, e.message);
            Err(())
        }
    }
}

/// Parses a CIDR the way the API server accepts it (host bits are cleared).
pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    s.trim().parse::<IpNet>().ok().map(|n| n.trunc())
}

fn parse_policy(obj: &Object, id: ObjectId, d: &mut Diags<'_>) -> Option<Policy> {
    let spec = obj.node.get("spec").unwrap_or(Node::empty());
    let sp = FieldPath::parse("spec");
    let pod_selector = selector_at(obj, spec.get("podSelector"), &sp.key("podSelector"), d).ok()?;
    let ingress_node = spec.get("ingress").filter(|n| !n.is_null());
    let egress_node = spec.get("egress").filter(|n| !n.is_null());
    let mut types = PolicyTypes::default();
    match spec.get("policyTypes").filter(|n| !n.is_null()) {
        Some(pt) if pt.is_seq() && !pt.items().is_empty() => {
            types.explicit = true;
            for (i, t) in pt.items().iter().enumerate() {
                match t.as_str() {
                    Some("Ingress") => types.ingress = true,
                    Some("Egress") => types.egress = true,
                    other => d.push(
                        obj,
                        DiagLevel::Error,
                        &sp.key("policyTypes").index(i),
                        format!("unknown policy type {:?}", other.unwrap_or("")),
                    ),
                }
            }
        }
        _ => {
            // SetDefaults_NetworkPolicy: Ingress always, Egress when egress rules exist.
            types.ingress = true;
            types.egress = egress_node.is_some_and(|n| !n.items().is_empty());
        }
    }
    let ingress = types
        .ingress
        .then(|| rules(obj, ingress_node, &sp.key("ingress"), "from", d));
    let egress = types
        .egress
        .then(|| rules(obj, egress_node, &sp.key("egress"), "to", d));
    Some(Policy {
        namespace: obj.id.namespace.clone().unwrap_or_else(|| "default".into()),
        name: obj.id.name.clone(),
        object: id,
        pod_selector: pod_selector.unwrap_or_default(),
        ingress,
        egress,
        policy_types: types,
        file: d.inv.file_of(obj).to_string(),
        line: obj.pos().line,
    })
}

fn rules(
    obj: &Object,
    node: Option<&Node>,
    path: &FieldPath,
    peers_key: &str,
    d: &mut Diags<'_>,
) -> Vec<Rule> {
    let Some(node) = node else { return Vec::new() };
    if !node.is_seq() {
        d.push(
            obj,
            DiagLevel::Error,
            path,
            "expected a list of rules".into(),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, item) in node.items().iter().enumerate() {
        let rp = path.index(i);
        let peers_node = item.get(peers_key).filter(|n| !n.is_null());
        let peers = match peers_node {
            Some(list) if list.is_seq() && !list.items().is_empty() => Some(
                list.items()
                    .iter()
                    .enumerate()
                    .filter_map(|(j, p)| peer(obj, p, &rp.key(peers_key).index(j), d))
                    .collect(),
            ),
            Some(list) if !list.is_seq() => {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &rp.key(peers_key),
                    "expected a list of peers; the rule matches nothing".into(),
                );
                Some(Vec::new())
            }
            _ => None,
        };
        let ports = match item.get("ports").filter(|n| !n.is_null()) {
            Some(list) if list.is_seq() && !list.items().is_empty() => Some(
                list.items()
                    .iter()
                    .enumerate()
                    .filter_map(|(j, p)| port_spec(obj, p, &rp.key("ports").index(j), d))
                    .collect(),
            ),
            Some(list) if !list.is_seq() => {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &rp.key("ports"),
                    "expected a list of ports; the rule matches nothing".into(),
                );
                Some(Vec::new())
            }
            _ => None,
        };
        out.push(Rule {
            peers,
            ports,
            line: line_of(obj, &rp),
            path: rp,
        });
    }
    out
}

fn peer(obj: &Object, p: &Node, path: &FieldPath, d: &mut Diags<'_>) -> Option<Peer> {
    if let Some(ib) = p.get("ipBlock").filter(|n| !n.is_null()) {
        let cidr_path = path.keys(&["ipBlock", "cidr"]);
        let Some(cidr) = ib.get("cidr").and_then(Node::as_str).and_then(parse_cidr) else {
            d.push(
                obj,
                DiagLevel::Error,
                &cidr_path,
                "missing or invalid CIDR; the peer matches nothing".into(),
            );
            return None;
        };
        let mut except = Vec::new();
        for (k, e) in ib
            .get("except")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            match e.as_str().and_then(parse_cidr) {
                Some(n) => except.push(n),
                None => {
                    d.push(
                        obj,
                        DiagLevel::Error,
                        &path.keys(&["ipBlock", "except"]).index(k),
                        "invalid CIDR; the peer matches nothing".into(),
                    );
                    return None;
                }
            }
        }
        return Some(Peer::IpBlock { cidr, except });
    }
    let ns = selector_at(
        obj,
        p.get("namespaceSelector").filter(|n| !n.is_null()),
        &path.key("namespaceSelector"),
        d,
    )
    .ok()?;
    let pods = selector_at(
        obj,
        p.get("podSelector").filter(|n| !n.is_null()),
        &path.key("podSelector"),
        d,
    )
    .ok()?;
    if ns.is_none() && pods.is_none() {
        d.push(
            obj,
            DiagLevel::Error,
            path,
            "a peer needs podSelector, namespaceSelector or ipBlock; it matches nothing".into(),
        );
        return None;
    }
    Some(Peer::Pods {
        namespace_selector: ns,
        pod_selector: pods,
    })
}

fn port_spec(obj: &Object, p: &Node, path: &FieldPath, d: &mut Diags<'_>) -> Option<PortSpec> {
    let protocol = match p.get("protocol").filter(|n| !n.is_null()) {
        None => Protocol::TCP,
        Some(n) => match n.as_str().and_then(Protocol::parse) {
            Some(pr) => pr,
            None => {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &path.key("protocol"),
                    "unknown protocol; the port item matches nothing".into(),
                );
                return None;
            }
        },
    };
    let end_port = p.get("endPort").filter(|n| !n.is_null());
    match p.get("port").filter(|n| !n.is_null()) {
        None => {
            if end_port.is_some() {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &path.key("endPort"),
                    "endPort needs a numeric port; the port item matches nothing".into(),
                );
                return None;
            }
            Some(PortSpec::AllOfProtocol(protocol))
        }
        Some(n) => {
            if let Some(num) = n.as_i64() {
                let Ok(port) = u16::try_from(num) else {
                    d.push(
                        obj,
                        DiagLevel::Error,
                        &path.key("port"),
                        "port out of range; the port item matches nothing".into(),
                    );
                    return None;
                };
                let end = match end_port {
                    None => None,
                    Some(e) => match e.as_i64().and_then(|x| u16::try_from(x).ok()) {
                        Some(x) => Some(x),
                        None => {
                            d.push(
                                obj,
                                DiagLevel::Error,
                                &path.key("endPort"),
                                "invalid endPort; the port item matches nothing".into(),
                            );
                            return None;
                        }
                    },
                };
                Some(PortSpec::Number {
                    protocol,
                    port,
                    end_port: end,
                })
            } else if let Some(name) = n.as_str() {
                if end_port.is_some() {
                    d.push(
                        obj,
                        DiagLevel::Error,
                        &path.key("endPort"),
                        "endPort needs a numeric port; the port item matches nothing".into(),
                    );
                    return None;
                }
                Some(PortSpec::Named {
                    protocol,
                    name: name.to_string(),
                })
            } else {
                d.push(
                    obj,
                    DiagLevel::Error,
                    &path.key("port"),
                    "expected a number or a name".into(),
                );
                None
            }
        }
    }
}

/// The ports a rule's port items admit towards a destination with container ports `dst`
/// (named ports resolve on the destination, name and protocol). `None` items = every port.
/// `dst: None` (an address outside the cluster) resolves no named port.
pub fn resolve_ports(items: Option<&[PortSpec]>, dst: Option<&[NamedPort]>) -> crate::PortSet {
    use crate::PortSet;
    let Some(items) = items else {
        return PortSet::all();
    };
    let mut out = PortSet::empty();
    for it in items {
        match it {
            PortSpec::AllOfProtocol(p) => out.add(&PortSet::protocol(*p)),
            PortSpec::Number {
                protocol,
                port,
                end_port,
            } => out.add(&PortSet::range(*protocol, *port, end_port.unwrap_or(*port))),
            PortSpec::Named { protocol, name } => {
                for np in dst.unwrap_or(&[]) {
                    if np.name == *name && np.protocol == *protocol {
                        out.add(&PortSet::single(*protocol, np.port));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::LoadOptions;

    fn load(text: &str) -> (Cluster, Vec<Diagnostic>) {
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", text, &LoadOptions::default());
        Cluster::from_inventory(&inv)
    }

    #[test]
    fn policy_types_defaulting_and_missing_vs_empty() {
        let (c, d) = load(concat!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec:\n  podSelector: {}\n  egress: [{}]\n---\n",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: b}\nspec:\n  podSelector: {}\n  egress: []\n  ingress:\n  - from: []\n    ports: []\n---\n",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: c}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  ingress: [{}]\n",
        ));
        assert!(d.is_empty(), "{d:?}");
        let t = |i: usize| c.policies[i].policy_types;
        assert_eq!(
            (t(0).ingress, t(0).egress, t(0).explicit),
            (true, true, false)
        );
        assert_eq!((t(1).ingress, t(1).egress), (true, false));
        assert_eq!(
            (t(2).ingress, t(2).egress, t(2).explicit),
            (false, true, true)
        );
        assert_eq!(c.policies[0].ingress.as_deref().map(<[Rule]>::len), Some(0));
        assert_eq!(c.policies[0].egress.as_ref().unwrap()[0].peers, None);
        let b = &c.policies[1].ingress.as_ref().unwrap()[0];
        assert_eq!((b.peers.as_ref(), b.ports.as_ref()), (None, None));
        assert!(c.policies[2].ingress.is_none());
        assert_eq!(c.policies[2].egress.as_deref().map(<[Rule]>::len), Some(0));
        assert_eq!(
            c.namespaces["default"][NAMESPACE_NAME_LABEL], "default",
            "namespaces referenced by policies get their name label"
        );
    }

    #[test]
    fn bad_input_is_a_diagnostic_not_a_panic() {
        let (c, d) = load(concat!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec:\n  podSelector: {matchExpressions: [{key: k, operator: Has}]}\n---\n",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: b}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Sideways]\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/33}}, {}, {podSelector: [x]}, {ipBlock: {cidr: 10.0.0.0/8, except: [nope]}}]\n    ports: [{port: 80, endPort: 70000}, {protocol: ICMP}, {port: [1]}, {endPort: 9}, {port: 65536}, {port: http, endPort: 90}]\n  - from: 3\n    ports: 4\n---\n",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: c}\nspec: [1, 2]\n---\n",
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: x}\nspec: {subject: {namespaces: {}}}\n---\n",
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: y}\nspec:\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - {action: Explode, to: [{namespaces: {}}]}\n  - {action: Deny, to: [{nodes: {}}, {networks: [bad]}], ports: [{portNumber: {port: x}}]}\n---\n",
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: other}\nspec: {subject: {namespaces: {}}}\n---\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: c, ports: [{containerPort: 99999}, {containerPort: 80, protocol: SCTP, name: s}]}]}\n",
        ));
        // a: invalid selector, dropped; b: kept with the valid parts; c: kept, selects all.
        assert_eq!(
            c.policies
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
        let b = &c.policies[0];
        let rules = b.ingress.as_ref().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].peers.as_ref().map(Vec::len), Some(0));
        // Every port item is invalid: the rule admits nothing rather than every port.
        assert_eq!(rules[0].ports.as_ref().map(Vec::len), Some(0));
        assert_eq!(rules[1].peers.as_ref().map(Vec::len), Some(0));
        assert_eq!(rules[1].ports.as_ref().map(Vec::len), Some(0));
        assert_eq!(c.admin_policies.len(), 1);
        assert_eq!(c.admin_policies[0].egress.len(), 1);
        assert!(
            c.admin_policies[0].egress[0]
                .peers
                .iter()
                .all(|p| matches!(p, crate::AdminPeer::Networks(n) if n.is_empty()))
        );
        assert!(c.baseline.is_none());
        let w = &c.workloads[0];
        assert!(w.host_network);
        assert_eq!(
            w.ports,
            [NamedPort {
                name: "s".into(),
                port: 80,
                protocol: Protocol::SCTP
            }]
        );
        for needle in [
            "Has",
            "Sideways",
            "missing or invalid CIDR",
            "needs podSelector, namespaceSelector or ipBlock",
            "selector: expected a mapping",
            "invalid CIDR; the peer matches nothing",
            "invalid endPort",
            "unknown protocol",
            "expected a number or a name",
            "endPort needs a numeric port",
            "port out of range",
            "expected a list of peers",
            "expected a list of ports",
            "missing or invalid priority",
            "invalid action",
            "nodes peers are not modelled",
            "invalid CIDR; ignored",
            "expected portNumber",
            "must be named `default`",
        ] {
            assert!(
                d.iter().any(|x| x.message.contains(needle)),
                "no diagnostic with {needle:?}: {d:#?}"
            );
        }
    }
}
