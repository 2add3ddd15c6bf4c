//! The lint's reading of the manifests: NetworkPolicies as written (every rule, peer and port
//! with its field path, including the parts the API server would reject or ignore), the pods
//! they can select and the namespaces with their labels.

use palisade_model::selector::LabelSelector;
use palisade_model::{FieldPath, Inventory, Node, Object, pod_template};
use std::collections::BTreeMap;

/// A transport protocol of a NetworkPolicy port or container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// Parses a protocol name; a missing value is TCP (the API default).
    pub(crate) fn parse(n: Option<&Node>) -> Option<Proto> {
        match n.and_then(Node::as_str) {
            None => Some(Proto::Tcp),
            Some("TCP") => Some(Proto::Tcp),
            Some("UDP") => Some(Proto::Udp),
            Some("SCTP") => Some(Proto::Sctp),
            Some(_) => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
        }
    }
}

/// A pod (or the pods of a workload template) that NetworkPolicies can select.
pub(crate) struct Pod<'a> {
    pub obj: &'a Object,
    pub ns: &'a str,
    pub labels: BTreeMap<&'a str, &'a str>,
    /// Named container ports: name, number, protocol.
    pub ports: Vec<(&'a str, i64, Proto)>,
    pub host_network: bool,
    pub labels_path: FieldPath,
}

impl Pod<'_> {
    /// `ns/name (Kind)`.
    pub(crate) fn display(&self) -> String {
        format!("{}/{} ({})", self.ns, self.obj.id.name, self.obj.id.kind)
    }
}

/// The value of a NetworkPolicy port's `port` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortVal<'a> {
    Num(i64),
    Name(&'a str),
}

/// One entry of a rule's `ports`.
#[derive(Debug, Clone)]
pub(crate) struct Port<'a> {
    pub path: FieldPath,
    /// `None` for an unknown protocol name.
    pub proto: Option<Proto>,
    pub port: Option<PortVal<'a>>,
    pub end_port: Option<i64>,
}

/// What a peer selects.
#[derive(Debug, Clone)]
pub(crate) enum PeerKind<'a> {
    /// `namespaceSelector` and/or `podSelector` (`None` = field absent).
    Pods {
        ns: Option<LabelSelector>,
        pods: Option<LabelSelector>,
    },
    /// `ipBlock`, as written.
    Block {
        cidr: Option<&'a str>,
        except: Vec<&'a str>,
    },
    /// Neither, or selectors that cannot be parsed (the API server rejects it).
    Invalid,
}

/// One entry of a rule's `from`/`to`.
#[derive(Debug, Clone)]
pub(crate) struct Peer<'a> {
    pub path: FieldPath,
    pub kind: PeerKind<'a>,
}

/// One ingress or egress rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule<'a> {
    pub path: FieldPath,
    /// `None`: `from`/`to` missing or empty (every peer).
    pub peers: Option<Vec<Peer<'a>>>,
    /// `None`: `ports` missing or empty (every port).
    pub ports: Option<Vec<Port<'a>>>,
}

/// A direction of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Ingress,
    Egress,
}

impl Dir {
    pub(crate) const BOTH: [Dir; 2] = [Dir::Ingress, Dir::Egress];

    /// `ingress` / `egress`: the spec field.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Dir::Ingress => "ingress",
            Dir::Egress => "egress",
        }
    }

    /// `Ingress` / `Egress`: the policyTypes value.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Dir::Ingress => "Ingress",
            Dir::Egress => "Egress",
        }
    }

    /// `from` / `to`.
    pub(crate) fn peers_field(self) -> &'static str {
        match self {
            Dir::Ingress => "from",
            Dir::Egress => "to",
        }
    }
}

/// A NetworkPolicy as written.
pub(crate) struct Policy<'a> {
    pub obj: &'a Object,
    pub ns: &'a str,
    /// `None` when the podSelector cannot be parsed (it then selects nothing here).
    pub selector: Option<LabelSelector>,
    /// The `policyTypes` items with their index, when the list is given and not empty.
    pub explicit_types: Option<Vec<(&'a str, usize)>>,
    pub ingress: Vec<Rule<'a>>,
    pub egress: Vec<Rule<'a>>,
    pub isolates_ingress: bool,
    pub isolates_egress: bool,
}

impl<'a> Policy<'a> {
    pub(crate) fn rules(&self, d: Dir) -> &[Rule<'a>] {
        match d {
            Dir::Ingress => &self.ingress,
            Dir::Egress => &self.egress,
        }
    }

    pub(crate) fn isolates(&self, d: Dir) -> bool {
        match d {
            Dir::Ingress => self.isolates_ingress,
            Dir::Egress => self.isolates_egress,
        }
    }

    /// `ns/name`.
    pub(crate) fn display(&self) -> String {
        format!("{}/{}", self.ns, self.obj.id.name)
    }

    /// True when the policy's podSelector matches `labels`.
    pub(crate) fn selects(&self, pod: &Pod<'_>) -> bool {
        pod.ns == self.ns
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(&pod.labels))
    }
}

/// A namespace the input declares or refers to.
pub(crate) struct Namespace {
    /// Its labels, with `kubernetes.io/metadata.name`.
    pub labels: BTreeMap<String, String>,
    /// True when a Namespace object declares it (its labels are known).
    pub declared: bool,
}

/// Everything the checks read.
pub(crate) struct View<'a> {
    pub inv: &'a Inventory,
    pub policies: Vec<Policy<'a>>,
    pub pods: Vec<Pod<'a>>,
    /// Namespace -> indices in `pods`.
    pub pods_by_ns: BTreeMap<&'a str, Vec<usize>>,
    pub namespaces: BTreeMap<String, Namespace>,
}

/// The label every namespace carries with its own name.
pub(crate) const NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn selector_at(n: Option<&Node>) -> Result<Option<LabelSelector>, ()> {
    match n.filter(|n| !n.is_null()) {
        None => Ok(None),
        Some(n) if !n.is_map() => Err(()),
        Some(n) => LabelSelector::parse(n).map(Some).map_err(|_| ()),
    }
}

fn parse_peer<'a>(n: &'a Node, path: FieldPath) -> Peer<'a> {
    if let Some(b) = n.get("ipBlock").filter(|b| !b.is_null()) {
        let kind = PeerKind::Block {
            cidr: b.get("cidr").and_then(Node::as_str),
            except: b
                .get("except")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .map(|e| e.as_str().unwrap_or(""))
                .collect(),
        };
        return Peer { path, kind };
    }
    let kind = match (
        selector_at(n.get("namespaceSelector")),
        selector_at(n.get("podSelector")),
    ) {
        (Ok(None), Ok(None)) | (Err(()), _) | (_, Err(())) => PeerKind::Invalid,
        (Ok(ns), Ok(pods)) => PeerKind::Pods { ns, pods },
    };
    Peer { path, kind }
}

fn parse_port<'a>(n: &'a Node, path: FieldPath) -> Port<'a> {
    let port = n.get("port").filter(|p| !p.is_null()).and_then(|p| {
        p.as_i64()
            .map(PortVal::Num)
            .or_else(|| p.as_str().map(PortVal::Name))
    });
    Port {
        proto: Proto::parse(n.get("protocol").filter(|p| !p.is_null())),
        port,
        end_port: n.get("endPort").and_then(Node::as_i64),
        path,
    }
}

fn parse_rules<'a>(spec: &'a Node, d: Dir) -> Vec<Rule<'a>> {
    let base = FieldPath::parse("spec").key(d.field());
    let Some(list) = spec.get(d.field()).filter(|n| n.is_seq()) else {
        return Vec::new();
    };
    list.items()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let path = base.index(i);
            let peers = r
                .get(d.peers_field())
                .map(Node::items)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    l.iter()
                        .enumerate()
                        .map(|(j, p)| parse_peer(p, path.key(d.peers_field()).index(j)))
                        .collect()
                });
            let ports = r
                .get("ports")
                .map(Node::items)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    l.iter()
                        .enumerate()
                        .map(|(j, p)| parse_port(p, path.key("ports").index(j)))
                        .collect()
                });
            Rule { path, peers, ports }
        })
        .collect()
}

fn parse_policy(obj: &Object) -> Policy<'_> {
    let spec = obj.node.get("spec").unwrap_or(Node::empty());
    let selector = match spec.get("podSelector").filter(|n| !n.is_null()) {
        None => Some(LabelSelector::default()),
        Some(n) => LabelSelector::parse(n).ok(),
    };
    let explicit_types: Option<Vec<(&str, usize)>> = spec
        .get("policyTypes")
        .map(Node::items)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.iter()
                .enumerate()
                .map(|(i, t)| (t.as_str().unwrap_or(""), i))
                .collect()
        });
    let ingress = parse_rules(spec, Dir::Ingress);
    let egress = parse_rules(spec, Dir::Egress);
    let (isolates_ingress, isolates_egress) = match &explicit_types {
        Some(t) => (
            t.iter().any(|(x, _)| *x == "Ingress"),
            t.iter().any(|(x, _)| *x == "Egress"),
        ),
        None => (true, !egress.is_empty()),
    };
    Policy {
        obj,
        ns: obj.id.namespace.as_deref().unwrap_or(""),
        selector,
        explicit_types,
        ingress,
        egress,
        isolates_ingress,
        isolates_egress,
    }
}

fn parse_pod(obj: &Object) -> Option<Pod<'_>> {
    if obj.id.kind == "PodTemplate" {
        return None;
    }
    let t = pod_template(obj)?;
    let mut ports = Vec::new();
    for c in t.containers() {
        for p in c.node.get("ports").map(Node::items).unwrap_or(&[]) {
            let (Some(name), Some(num)) = (
                p.get("name").and_then(Node::as_str),
                p.get("containerPort").and_then(Node::as_i64),
            ) else {
                continue;
            };
            if let Some(proto) = Proto::parse(p.get("protocol").filter(|n| !n.is_null())) {
                ports.push((name, num, proto));
            }
        }
    }
    Some(Pod {
        obj,
        ns: obj.id.namespace.as_deref().unwrap_or(""),
        labels: t.labels(),
        ports,
        host_network: t.spec.get("hostNetwork").and_then(Node::as_bool) == Some(true),
        labels_path: t.meta_path.key("labels"),
    })
}

impl<'a> View<'a> {
    /// Reads the inventory.
    pub(crate) fn new(inv: &'a Inventory) -> View<'a> {
        let policies: Vec<Policy<'a>> = inv
            .of_kind("NetworkPolicy")
            .filter(|o| o.group() == "networking.k8s.io")
            .map(parse_policy)
            .collect();
        let pods: Vec<Pod<'a>> = inv.objects.iter().filter_map(parse_pod).collect();
        let mut namespaces = BTreeMap::new();
        for o in inv.of_kind("Namespace").filter(|o| o.group().is_empty()) {
            let mut labels: BTreeMap<String, String> = o
                .labels()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            labels.insert(NAME_LABEL.into(), o.id.name.clone());
            namespaces.entry(o.id.name.clone()).or_insert(Namespace {
                labels,
                declared: true,
            });
        }
        for o in &inv.objects {
            if let Some(ns) = &o.id.namespace {
                namespaces.entry(ns.clone()).or_insert_with(|| Namespace {
                    labels: BTreeMap::from([(NAME_LABEL.to_owned(), ns.clone())]),
                    declared: false,
                });
            }
        }
        let mut pods_by_ns: BTreeMap<&'a str, Vec<usize>> = BTreeMap::new();
        for (i, p) in pods.iter().enumerate() {
            pods_by_ns.entry(p.ns).or_default().push(i);
        }
        View {
            inv,
            policies,
            pods,
            pods_by_ns,
            namespaces,
        }
    }

    /// Labels of a namespace: the known ones, or only its name label.
    pub(crate) fn ns_labels(&self, ns: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(ns)
            .map(|n| n.labels.clone())
            .unwrap_or_else(|| BTreeMap::from([(NAME_LABEL.to_owned(), ns.to_owned())]))
    }

    /// Pods of a namespace.
    pub(crate) fn pods_in<'s>(&'s self, ns: &str) -> impl Iterator<Item = &'s Pod<'a>> + 's {
        self.pods_by_ns
            .get(ns)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|i| &self.pods[*i])
    }

    /// Pods of several namespaces.
    pub(crate) fn pods_in_all<'s, 'n>(
        &'s self,
        namespaces: &'n [String],
    ) -> impl Iterator<Item = &'s Pod<'a>> + 'n
    where
        's: 'n,
    {
        namespaces.iter().flat_map(|n| self.pods_in(n))
    }

    /// Namespaces (known to the input) that a peer's namespace part designates: the policy's
    /// own namespace without a namespaceSelector.
    pub(crate) fn peer_namespaces(
        &self,
        policy_ns: &str,
        ns: Option<&LabelSelector>,
    ) -> Vec<String> {
        match ns {
            None => vec![policy_ns.to_owned()],
            Some(sel) => self
                .namespaces
                .iter()
                .filter(|(_, n)| sel.matches(&borrow(&n.labels)))
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }
}

/// A `String` map as the `&str` map selectors match against.
pub(crate) fn borrow(m: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Labels rendered as `a=b,c=d` (`<none>` when empty).
pub(crate) fn render_labels(labels: &BTreeMap<&str, &str>) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
