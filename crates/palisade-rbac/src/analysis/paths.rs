//! Escalation paths: what each subject (and each pod, through the token it mounts) reaches
//! transitively, and the shortest way to cluster-admin rights or to reading Secrets.
//!
//! The graph has a node per pod, principal, and target (`cluster-admin`, `secrets in N`,
//! `secrets in all namespaces`). Edges, each labelled with the grant that makes it:
//!
//! * pod -> its service account, when the token is mounted;
//! * create pods or pod controllers in N -> every service account of N (a pod may mount any);
//! * exec, attach, ephemeral containers or pod updates in N -> the service accounts of the pods
//!   of N that mount their token; `nodes/proxy` -> those of every pod (kubelet exec);
//! * `serviceaccounts/token` create in N -> the service accounts of N (the named ones when
//!   limited by `resourceNames`);
//! * impersonate -> the impersonated users, groups and service accounts; any group (so
//!   `system:masters`) -> cluster-admin;
//! * bind (with binding writes) and escalate -> cluster-admin cluster-wide, or every right of
//!   the namespace;
//! * approve CSRs for any signer with create -> cluster-admin (a client certificate for
//!   `system:masters`);
//! * read Secrets in N -> `secrets in N`, and from there every service account with a legacy
//!   token Secret in N.
//!
//! Shortest paths come from one breadth-first search backwards from the targets, so the whole
//! analysis is linear in the size of the graph.

use super::catalog::{self, Hit};
use super::held::{MASTERS, Principal};
use crate::objects::RbacStore;
use palisade_model::Severity;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;

/// A node of the escalation graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Node {
    /// A pod or workload (its pods).
    Pod {
        /// Kind of the object (`Deployment`, `Pod`, ...).
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A user, group or service account.
    Principal {
        /// Who.
        principal: Principal,
    },
    /// Every right in the cluster.
    ClusterAdmin,
    /// Reading Secrets: in one namespace, or in all (`None`).
    Secrets {
        /// Namespace.
        namespace: Option<String>,
    },
    /// A set of identities reached together (kept out of printed paths): one edge to the hub
    /// instead of one per member keeps the graph linear in size.
    Hub {
        /// Which set.
        kind: HubKind,
        /// Namespace (`None`: every namespace).
        namespace: Option<String>,
    },
}

/// The sets of identities [`Node::Hub`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HubKind {
    /// Every service account (of the manifests, of the pods, and `default`).
    ServiceAccounts,
    /// The service accounts of the pods that mount their token.
    PodServiceAccounts,
    /// Every user and service account.
    Users,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Pod {
                kind,
                namespace,
                name,
            } => {
                if kind == "Pod" {
                    write!(f, "pod {namespace}/{name}")
                } else {
                    write!(f, "pod {namespace}/{name} ({kind})")
                }
            }
            Node::Principal { principal } => principal.fmt(f),
            Node::ClusterAdmin => f.write_str("cluster-admin"),
            Node::Secrets { namespace: Some(n) } => write!(f, "secrets in {n}"),
            Node::Secrets { namespace: None } => f.write_str("secrets in all namespaces"),
            Node::Hub { kind, namespace } => {
                let what = match kind {
                    HubKind::ServiceAccounts => "any service account",
                    HubKind::PodServiceAccounts => "the service account of any pod",
                    HubKind::Users => "any user",
                };
                match namespace {
                    Some(n) => write!(f, "{what} in {n}"),
                    None => f.write_str(what),
                }
            }
        }
    }
}

/// The grant behind an edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Via {
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub binding: String,
    /// What it allows (`create pods`, `*`).
    pub what: String,
    /// The risk behind the edge.
    pub risk: String,
    /// Index of the binding's object in the inventory, when it comes from the manifests.
    #[serde(skip)]
    pub object: Option<usize>,
    /// The subject of the binding that matched.
    #[serde(skip)]
    pub subject: Option<crate::objects::Subject>,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.binding, self.what)
    }
}

/// An edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Source node index.
    pub from: usize,
    /// Target node index.
    pub to: usize,
    /// The grant, `None` for pod -> service account and other structural edges.
    pub via: Option<Via>,
    /// A note for structural edges (`legacy token Secret x`).
    pub note: Option<String>,
}

/// The escalation graph.
#[derive(Debug, Default)]
pub struct Graph {
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
    index: HashMap<Node, usize>,
    pairs: HashSet<(usize, usize)>,
}

impl Graph {
    /// The index of a node, added if new.
    pub fn node(&mut self, n: Node) -> usize {
        if let Some(&i) = self.index.get(&n) {
            return i;
        }
        self.nodes.push(n.clone());
        self.index.insert(n, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// The index of an existing node.
    pub fn find(&self, n: &Node) -> Option<usize> {
        self.index.get(n).copied()
    }

    fn edge(&mut self, from: usize, to: usize, via: Option<Via>, note: Option<String>) {
        if from == to {
            return;
        }
        // One edge per (from, to): the first (strongest, in catalogue order) is kept.
        if !self.pairs.insert((from, to)) {
            return;
        }
        self.edges.push(Edge {
            from,
            to,
            via,
            note,
        });
    }
}

/// A legacy service account token Secret of the manifests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenSecret {
    /// Namespace.
    pub namespace: String,
    /// Secret name.
    pub name: String,
    /// The service account it holds a token of.
    pub service_account: String,
}

/// One step of a path.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The node reached.
    pub node: Node,
    /// The grant that reaches it (none for the first step and structural edges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// Note on a structural edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A shortest path from a source to a target.
#[derive(Debug, Clone, Serialize)]
pub struct Path {
    /// The steps, source first (hubs left out).
    pub steps: Vec<Step>,
}

impl Path {
    /// The source.
    pub fn source(&self) -> &Node {
        &self.steps[0].node
    }

    /// The target.
    pub fn target(&self) -> &Node {
        &self.steps[self.steps.len() - 1].node
    }

    /// Number of grants used (edges with a grant).
    pub fn grants(&self) -> usize {
        self.steps.iter().filter(|s| s.via.is_some()).count()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
                if let Some(v) = &s.via {
                    write!(f, "({v}) -> ")?;
                } else if let Some(n) = &s.note {
                    write!(f, "({n}) -> ")?;
                }
            }
            write!(f, "{}", s.node)?;
        }
        Ok(())
    }
}

/// The shortest paths of one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourcePaths {
    /// The pod or principal.
    pub source: Node,
    /// Shortest path to cluster-admin, if any.
    #[serde(rename = "clusterAdmin", skip_serializing_if = "Option::is_none")]
    pub cluster_admin: Option<Path>,
    /// Shortest path to reading Secrets, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Path>,
}

fn binding_text(b: &crate::objects::Binding) -> String {
    match &b.namespace {
        Some(ns) => format!("RoleBinding {ns}/{}", b.name),
        None => format!("ClusterRoleBinding {}", b.name),
    }
}

fn via(hit: &Hit<'_>, what: String) -> Via {
    // In a namespace, the RoleBinding there is the grant that matters.
    let g = hit
        .grants
        .iter()
        .find(|g| hit.namespace.is_some() && g.namespace() == hit.namespace.as_deref())
        .unwrap_or(&hit.grants[0]);
    Via {
        binding: binding_text(g.binding),
        what,
        risk: hit.risk.id.to_string(),
        object: match &g.binding.origin {
            crate::objects::Origin::Manifest { object, .. } => Some(*object),
            crate::objects::Origin::Bootstrap => None,
        },
        subject: Some(g.subject().clone()),
    }
}

fn asks_matching<'h>(hit: &'h Hit<'_>, pred: impl Fn(&str) -> bool) -> Vec<&'h str> {
    hit.asks
        .iter()
        .map(String::as_str)
        .filter(|a| pred(a))
        .collect()
}

/// Builds the graph from the hits of every principal (all hits, not only reportable ones).
pub struct Builder<'s> {
    store: &'s RbacStore,
    /// The graph.
    pub graph: Graph,
    sas_by_ns: BTreeMap<String, BTreeSet<String>>,
    pod_sas_by_ns: BTreeMap<String, BTreeSet<String>>,
    /// Impersonation edges wait until every principal has a node.
    pending: Vec<Pending>,
}

struct Pending {
    from: usize,
    namespace: Option<String>,
    asks: Vec<(String, Via)>,
    names: Vec<String>,
}

impl<'s> Builder<'s> {
    /// A builder with a node per pod (and its service account edge) and the legacy token
    /// edges.
    pub fn new(store: &'s RbacStore, tokens: &[TokenSecret]) -> Self {
        let mut sas_by_ns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (ns, n) in store.service_accounts.keys() {
            sas_by_ns.entry(ns.clone()).or_default().insert(n.clone());
        }
        for ns in &store.namespaces {
            sas_by_ns
                .entry(ns.clone())
                .or_default()
                .insert("default".into());
        }
        let mut pod_sas_by_ns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut graph = Graph::default();
        for p in &store.pods {
            sas_by_ns
                .entry(p.namespace.clone())
                .or_default()
                .insert(p.service_account.clone());
            if !p.token_mounted {
                continue;
            }
            pod_sas_by_ns
                .entry(p.namespace.clone())
                .or_default()
                .insert(p.service_account.clone());
            let from = graph.node(Node::Pod {
                kind: p.kind.clone(),
                namespace: p.namespace.clone(),
                name: p.name.clone(),
            });
            let to = graph.node(Node::Principal {
                principal: Principal::sa(&p.namespace, &p.service_account),
            });
            graph.edge(from, to, None, None);
        }
        for t in tokens {
            let from = graph.node(Node::Secrets {
                namespace: Some(t.namespace.clone()),
            });
            let to = graph.node(Node::Principal {
                principal: Principal::sa(&t.namespace, &t.service_account),
            });
            let note = Some(format!("legacy token Secret {}", t.name));
            graph.edge(from, to, None, note.clone());
            let all = graph.node(Node::Secrets { namespace: None });
            graph.edge(all, to, None, note);
        }
        if let Some(m) = graph.find(&Node::Principal {
            principal: Principal::group(MASTERS),
        }) {
            let admin = graph.node(Node::ClusterAdmin);
            graph.edge(m, admin, None, Some("bypasses RBAC".into()));
        }
        Builder {
            store,
            graph,
            sas_by_ns,
            pod_sas_by_ns,
            pending: Vec::new(),
        }
    }

    fn sas(&self, ns: Option<&str>, pods_only: bool) -> Vec<Principal> {
        let map = if pods_only {
            &self.pod_sas_by_ns
        } else {
            &self.sas_by_ns
        };
        map.iter()
            .filter(|(n, _)| ns.is_none_or(|x| x == n.as_str()))
            .flat_map(|(n, names)| names.iter().map(move |s| Principal::sa(n, s)))
            .collect()
    }

    fn link(&mut self, from: usize, to: Node, v: &Via) {
        let to = self.graph.node(to);
        self.graph.edge(from, to, Some(v.clone()), None);
    }

    fn link_sas(&mut self, from: usize, sas: Vec<Principal>, v: &Via) {
        for s in sas {
            self.link(from, Node::Principal { principal: s }, v);
        }
    }

    /// The hub of a set of identities, created with its member edges on first use.
    fn hub(&mut self, kind: HubKind, ns: Option<&str>) -> usize {
        let node = Node::Hub {
            kind,
            namespace: ns.map(str::to_owned),
        };
        if let Some(i) = self.graph.find(&node) {
            return i;
        }
        let i = self.graph.node(node);
        let members: Vec<Principal> = match kind {
            HubKind::ServiceAccounts => self.sas(ns, false),
            HubKind::PodServiceAccounts => self.sas(ns, true),
            HubKind::Users => self
                .graph
                .nodes
                .iter()
                .filter_map(|n| match n {
                    Node::Principal {
                        principal: p @ (Principal::User { .. } | Principal::ServiceAccount { .. }),
                    } => Some(p.clone()),
                    _ => None,
                })
                .collect(),
        };
        for m in members {
            let j = self.graph.node(Node::Principal { principal: m });
            self.graph.edge(i, j, None, None);
        }
        i
    }

    fn link_hub(&mut self, from: usize, kind: HubKind, ns: Option<&str>, v: &Via) {
        let to = self.hub(kind, ns);
        self.graph.edge(from, to, Some(v.clone()), None);
    }

    /// Adds the edges a principal's hits give it.
    pub fn add(&mut self, p: &Principal, hits: &[Hit<'_>]) {
        if p.is_master() {
            let from = self.graph.node(Node::Principal {
                principal: p.clone(),
            });
            let admin = self.graph.node(Node::ClusterAdmin);
            self.graph
                .edge(from, admin, None, Some("bypasses RBAC".into()));
            return;
        }
        if hits.is_empty() {
            return;
        }
        let from = self.graph.node(Node::Principal {
            principal: p.clone(),
        });
        for hit in hits {
            let ns = hit.namespace.as_deref();
            let id = hit.risk.id.as_str();
            let first = |h: &Hit<'_>| h.asks.first().cloned().unwrap_or_default();
            if id == catalog::CLUSTER_ADMIN.id.as_str() {
                let v = via(hit, "*".into());
                self.link(from, Node::ClusterAdmin, &v);
            } else if id == catalog::SECRETS_READ_CLUSTER.id.as_str()
                || id == catalog::SECRETS_READ.id.as_str()
            {
                let v = via(hit, first(hit));
                self.link(
                    from,
                    Node::Secrets {
                        namespace: ns.map(str::to_owned),
                    },
                    &v,
                );
            } else if id == catalog::POD_CREATE.id.as_str()
                || id == catalog::WORKLOAD_CREATE.id.as_str()
            {
                let v = via(hit, first(hit));
                self.link_hub(from, HubKind::ServiceAccounts, ns, &v);
            } else if id == catalog::POD_EXEC.id.as_str()
                || id == catalog::POD_ATTACH.id.as_str()
                || id == catalog::POD_EPHEMERAL.id.as_str()
                || id == catalog::POD_UPDATE.id.as_str()
            {
                if !hit.names.is_empty() {
                    continue;
                }
                let v = via(hit, first(hit));
                self.link_hub(from, HubKind::PodServiceAccounts, ns, &v);
            } else if id == catalog::NODE_PROXY.id.as_str() {
                let v = via(hit, first(hit));
                self.link_hub(from, HubKind::PodServiceAccounts, None, &v);
            } else if id == catalog::TOKEN_REQUEST.id.as_str() && hit.names.is_empty() {
                let v = via(hit, first(hit));
                self.link_hub(from, HubKind::ServiceAccounts, ns, &v);
            } else if id == catalog::TOKEN_REQUEST.id.as_str() {
                let v = via(hit, first(hit));
                let sas: Vec<Principal> = self
                    .sas(ns, false)
                    .into_iter()
                    .filter(|s| {
                        hit.names.is_empty()
                            || matches!(s, Principal::ServiceAccount { name, .. } if hit.names.contains(name))
                    })
                    .collect();
                self.link_sas(from, sas, &v);
            } else if id == catalog::IMPERSONATE.id.as_str() {
                let asks = asks_matching(hit, |a| a.starts_with("impersonate "))
                    .into_iter()
                    .map(|a| (a.to_string(), via(hit, a.to_string())))
                    .collect();
                self.pending.push(Pending {
                    from,
                    namespace: hit.namespace.clone(),
                    asks,
                    names: hit.names.clone(),
                });
            } else if (id == catalog::BIND.id.as_str()
                && hit.severity == Severity::Critical
                && hit.names.is_empty())
                || (id == catalog::ESCALATE.id.as_str() && hit.names.is_empty())
            {
                let v = via(hit, first(hit));
                match ns {
                    None => self.link(from, Node::ClusterAdmin, &v),
                    Some(n) => {
                        self.link(
                            from,
                            Node::Secrets {
                                namespace: Some(n.into()),
                            },
                            &v,
                        );
                        self.link_hub(from, HubKind::ServiceAccounts, Some(n), &v);
                    }
                }
            } else if id == catalog::CSR_APPROVE.id.as_str()
                && hit.severity == Severity::Critical
                && hit.names.is_empty()
            {
                let v = via(hit, "approve CSRs for any signer".into());
                self.link(from, Node::ClusterAdmin, &v);
            }
        }
    }

    /// Adds the impersonation edges and returns the graph.
    pub fn finish(mut self) -> Graph {
        for p in std::mem::take(&mut self.pending) {
            self.impersonation(p);
        }
        self.graph
    }

    fn impersonation(&mut self, p: Pending) {
        let Pending {
            from,
            namespace,
            asks,
            names,
        } = p;
        for (ask, v) in asks {
            match ask.as_str() {
                "impersonate groups" if names.is_empty() => {
                    self.link(from, Node::ClusterAdmin, &v);
                }
                "impersonate groups" => {
                    for n in &names {
                        let target = if n == MASTERS {
                            Node::ClusterAdmin
                        } else {
                            Node::Principal {
                                principal: Principal::group(n),
                            }
                        };
                        self.link(from, target, &v);
                    }
                }
                "impersonate users" if names.is_empty() => {
                    self.link_hub(from, HubKind::Users, None, &v);
                }
                "impersonate users" => {
                    for n in &names {
                        self.link(
                            from,
                            Node::Principal {
                                principal: Principal::user(n),
                            },
                            &v,
                        );
                    }
                }
                "impersonate serviceaccounts" if names.is_empty() => {
                    self.link_hub(from, HubKind::ServiceAccounts, namespace.as_deref(), &v);
                }
                "impersonate serviceaccounts" => {
                    let sas: Vec<Principal> = self
                        .sas(namespace.as_deref(), false)
                        .into_iter()
                        .filter(|s| {
                            names.is_empty()
                                || matches!(s, Principal::ServiceAccount { name, .. } if names.contains(name))
                        })
                        .collect();
                    self.link_sas(from, sas, &v);
                }
                _ => {}
            }
        }
    }

    /// The store the graph is built from.
    pub fn store(&self) -> &RbacStore {
        self.store
    }
}

/// For every node, the next edge on a shortest path to one of `targets` (`None`: unreachable
/// or a target).
fn towards(graph: &Graph, targets: &[usize]) -> Vec<Option<usize>> {
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    for (i, e) in graph.edges.iter().enumerate() {
        incoming[e.to].push(i);
    }
    let mut next: Vec<Option<usize>> = vec![None; graph.nodes.len()];
    let mut seen = vec![false; graph.nodes.len()];
    let mut queue = VecDeque::new();
    for &t in targets {
        seen[t] = true;
        queue.push_back(t);
    }
    while let Some(v) = queue.pop_front() {
        for &ei in &incoming[v] {
            let u = graph.edges[ei].from;
            if !seen[u] {
                seen[u] = true;
                next[u] = Some(ei);
                queue.push_back(u);
            }
        }
    }
    next
}

fn walk(graph: &Graph, next: &[Option<usize>], from: usize) -> Option<Path> {
    next[from]?;
    let mut steps = vec![Step {
        node: graph.nodes[from].clone(),
        via: None,
        note: None,
    }];
    let mut at = from;
    // A hub is left out: the member after it takes the grant of the edge into the hub.
    let mut carried: (Option<Via>, Option<String>) = (None, None);
    while let Some(ei) = next[at] {
        let e = &graph.edges[ei];
        let node = &graph.nodes[e.to];
        let via = e.via.clone().or(carried.0.take());
        let note = e.note.clone().or(carried.1.take());
        if matches!(node, Node::Hub { .. }) {
            carried = (via, note);
        } else {
            steps.push(Step {
                node: node.clone(),
                via,
                note,
            });
        }
        at = e.to;
    }
    Some(Path { steps })
}

/// The shortest paths to cluster-admin and to Secrets from every pod and from the principals
/// in `sources`; sources reaching neither are left out. Pods first, then principals, sorted.
pub fn shortest_paths(graph: &Graph, sources: &[Principal]) -> Vec<SourcePaths> {
    let admin: Vec<usize> = graph.find(&Node::ClusterAdmin).into_iter().collect();
    let secrets: Vec<usize> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n, Node::Secrets { .. }))
        .map(|(i, _)| i)
        .collect();
    let to_admin = towards(graph, &admin);
    let to_secrets = towards(graph, &secrets);
    let mut starts: Vec<usize> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n, Node::Pod { .. }))
        .map(|(i, _)| i)
        .collect();
    starts.sort_by(|a, b| graph.nodes[*a].cmp(&graph.nodes[*b]));
    let mut principals: Vec<usize> = sources
        .iter()
        .filter_map(|p| {
            graph.find(&Node::Principal {
                principal: p.clone(),
            })
        })
        .collect();
    principals.sort_by(|a, b| graph.nodes[*a].cmp(&graph.nodes[*b]));
    principals.dedup();
    starts.extend(principals);
    starts
        .into_iter()
        .filter_map(|s| {
            let cluster_admin = walk(graph, &to_admin, s);
            let secrets = walk(graph, &to_secrets, s);
            (cluster_admin.is_some() || secrets.is_some()).then(|| SourcePaths {
                source: graph.nodes[s].clone(),
                cluster_admin,
                secrets,
            })
        })
        .collect()
}
