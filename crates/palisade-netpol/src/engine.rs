//! Reachability: which connections the policies admit, and why.
//!
//! A connection from `src` to `dst` on a port is allowed iff the egress side of `src` admits
//! it and the ingress side of `dst` admits it. Addresses outside the cluster are never
//! isolated (their side always admits). One side is decided in tiers (see [`crate::anp`]):
//! AdminNetworkPolicy rules, then NetworkPolicies (when some policy isolates the pod in that
//! direction, only their rules admit; policies are unions), then the
//! BaselineAdminNetworkPolicy; with no decision the connection is admitted. Named ports
//! resolve against the destination's container ports (for egress as for ingress); towards an
//! address outside the cluster they resolve to nothing. Connections, not packets: replies are
//! implied. A workload's connections to itself are not listed.
//!
//! [`connectivity`] groups workloads into equivalence classes (namespace, namespace labels,
//! pod labels and named ports, restricted to what the selectors and port names in use can
//! tell apart), computes on classes, and expands the result to workloads.
//! [`connectivity_pairwise`] is the direct pair-by-pair computation, kept as the reference
//! the class computation is tested against.

use crate::PortSet;
use crate::anp::{Action, AdminPeer, AdminPolicy, AdminRule, resolve_admin_ports};
use crate::model::{
    Cluster, Connection, Endpoint, NamedPort, Peer, Policy, Rule, Workload, resolve_ports,
};
use ipnet::IpNet;
use palisade_model::selector::LabelSelector;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A direction of traffic, seen from a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Direction {
    /// Traffic into the pod.
    Ingress,
    /// Traffic out of the pod.
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        })
    }
}

/// `ns/name[Kind]` for a workload, the CIDR for an address range.
pub fn endpoint_name(c: &Cluster, e: &Endpoint) -> String {
    match e {
        Endpoint::Workload(i) => match c.workloads.get(*i) {
            Some(w) => format!("{}/{}[{}]", w.namespace, w.name, w.kind),
            None => format!("#{i}"),
        },
        Endpoint::External(n) => n.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Tier decision, shared by every computation.

/// Decides one side over ports: `admin` are the matching admin rules in precedence order with
/// their ports, `isolated`/`np_allowed` the NetworkPolicy tier, `baseline` the matching
/// baseline rules in order.
fn decide(
    admin: impl Iterator<Item = (Action, PortSet)>,
    isolated: bool,
    np_allowed: &PortSet,
    baseline: impl Iterator<Item = (Action, PortSet)>,
) -> PortSet {
    let mut allowed = PortSet::empty();
    let mut open = PortSet::all();
    let mut passed = PortSet::empty();
    for (action, ports) in admin {
        let hit = open.intersection(&ports);
        if hit.is_empty() {
            continue;
        }
        match action {
            Action::Allow => allowed.add(&hit),
            Action::Deny => {}
            Action::Pass => passed.add(&hit),
        }
        open = open.difference(&hit);
        if open.is_empty() {
            break;
        }
    }
    let rest = open.union(&passed);
    if rest.is_empty() {
        return allowed;
    }
    if isolated {
        allowed.add(&rest.intersection(np_allowed));
        return allowed;
    }
    let mut rest = rest;
    for (action, ports) in baseline {
        let hit = rest.intersection(&ports);
        if hit.is_empty() {
            continue;
        }
        if action == Action::Allow {
            allowed.add(&hit);
        }
        rest = rest.difference(&hit);
    }
    allowed.add(&rest);
    allowed
}

/// Admin policies in precedence order: priority, then name.
fn admin_order(c: &Cluster) -> Vec<usize> {
    let mut v: Vec<usize> = (0..c.admin_policies.len()).collect();
    v.sort_by(|&a, &b| {
        let (x, y) = (&c.admin_policies[a], &c.admin_policies[b]);
        (x.priority, &x.name).cmp(&(y.priority, &y.name))
    });
    v
}

fn rules_of(p: &AdminPolicy, dir: Direction) -> &[AdminRule] {
    match dir {
        Direction::Ingress => &p.ingress,
        Direction::Egress => &p.egress,
    }
}

fn np_rules(p: &Policy, dir: Direction) -> Option<&[Rule]> {
    match dir {
        Direction::Ingress => p.ingress.as_deref(),
        Direction::Egress => p.egress.as_deref(),
    }
}

fn net_contains(n: &IpNet, a: IpAddr) -> bool {
    n.contains(&a)
}

// ---------------------------------------------------------------------------------------
// Direct evaluation (one pod, one counterpart), with the details explanations need.

/// The other end of a side evaluation.
#[derive(Clone, Copy, Debug)]
enum Other {
    Pod(usize),
    Ext(IpAddr),
}

struct Direct<'a> {
    c: &'a Cluster,
    order: Vec<usize>,
    /// Namespace labels as borrowed maps, built when first needed.
    ns_labels: std::cell::RefCell<HashMap<&'a str, std::rc::Rc<BTreeMap<&'a str, &'a str>>>>,
    /// Pod labels as borrowed maps, built when first needed.
    pod_labels: std::cell::RefCell<HashMap<usize, std::rc::Rc<BTreeMap<&'a str, &'a str>>>>,
}

impl<'a> Direct<'a> {
    fn new(c: &'a Cluster) -> Self {
        Direct {
            c,
            order: admin_order(c),
            ns_labels: std::cell::RefCell::new(HashMap::new()),
            pod_labels: std::cell::RefCell::new(HashMap::new()),
        }
    }

    fn ns(&self, name: &str) -> std::rc::Rc<BTreeMap<&'a str, &'a str>> {
        if let Some(m) = self.ns_labels.borrow().get(name) {
            return m.clone();
        }
        let (key, map) = match self.c.namespaces.get_key_value(name) {
            Some((k, l)) => (
                k.as_str(),
                l.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<BTreeMap<&str, &str>>(),
            ),
            None => return std::rc::Rc::new(BTreeMap::new()),
        };
        let m = std::rc::Rc::new(map);
        self.ns_labels.borrow_mut().insert(key, m.clone());
        m
    }

    fn pod(&self, i: usize) -> std::rc::Rc<BTreeMap<&'a str, &'a str>> {
        self.pod_labels
            .borrow_mut()
            .entry(i)
            .or_insert_with(|| std::rc::Rc::new(labels_of(&self.c.workloads[i])))
            .clone()
    }

    fn selects(&self, p: &Policy, w: usize) -> bool {
        let wl = &self.c.workloads[w];
        !wl.host_network && wl.namespace == p.namespace && p.pod_selector.matches(&self.pod(w))
    }

    fn np_peer(&self, policy_ns: &str, peer: &Peer, o: Other) -> bool {
        match (peer, o) {
            (
                Peer::Pods {
                    namespace_selector,
                    pod_selector,
                },
                Other::Pod(i),
            ) => {
                let w = &self.c.workloads[i];
                if w.host_network {
                    return false;
                }
                let ns_ok = match namespace_selector {
                    None => w.namespace == policy_ns,
                    Some(s) => s.matches(&self.ns(&w.namespace)),
                };
                ns_ok
                    && pod_selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&self.pod(i)))
            }
            (Peer::IpBlock { cidr, except }, Other::Ext(a)) => {
                net_contains(cidr, a) && !except.iter().any(|e| net_contains(e, a))
            }
            _ => false,
        }
    }

    fn admin_peer(&self, peer: &AdminPeer, o: Other) -> bool {
        match (peer, o) {
            (AdminPeer::Namespaces(s), Other::Pod(i)) => {
                let w = &self.c.workloads[i];
                !w.host_network && s.matches(&self.ns(&w.namespace))
            }
            (
                AdminPeer::Pods {
                    namespace_selector,
                    pod_selector,
                },
                Other::Pod(i),
            ) => {
                let w = &self.c.workloads[i];
                !w.host_network
                    && namespace_selector.matches(&self.ns(&w.namespace))
                    && pod_selector.matches(&self.pod(i))
            }
            (AdminPeer::Networks(nets), Other::Ext(a)) => nets.iter().any(|n| net_contains(n, a)),
            _ => false,
        }
    }

    fn dst_ports(&self, pod: usize, dir: Direction, o: Other) -> Option<&'a [NamedPort]> {
        match (dir, o) {
            (Direction::Ingress, _) => Some(&self.c.workloads[pod].ports),
            (Direction::Egress, Other::Pod(i)) => Some(&self.c.workloads[i].ports),
            (Direction::Egress, Other::Ext(_)) => None,
        }
    }

    /// The side of `pod` in direction `dir` towards `o`, with every rule that matched.
    fn side(&self, pod: usize, dir: Direction, o: Other) -> SideDetail {
        let c = self.c;
        let dst_ports = self.dst_ports(pod, dir, o);
        let mut d = SideDetail::default();
        let hostnet = c.workloads[pod].host_network;
        for &ai in &self.order {
            let ap = &c.admin_policies[ai];
            if hostnet || !self.admin_peer(&ap.subject, Other::Pod(pod)) {
                continue;
            }
            for (ri, r) in rules_of(ap, dir).iter().enumerate() {
                if r.peers.iter().any(|p| self.admin_peer(p, o)) {
                    let ports = resolve_admin_ports(r.ports.as_deref(), dst_ports);
                    d.admin.push((ai, ri, r.action, ports));
                }
            }
        }
        for (pi, p) in c.policies.iter().enumerate() {
            let Some(rules) = np_rules(p, dir) else {
                continue;
            };
            if !self.selects(p, pod) {
                continue;
            }
            d.isolating.push(pi);
            for (ri, r) in rules.iter().enumerate() {
                let peer_ok = match &r.peers {
                    None => true,
                    Some(peers) => peers.iter().any(|x| self.np_peer(&p.namespace, x, o)),
                };
                if peer_ok {
                    let ports = resolve_ports(r.ports.as_deref(), dst_ports);
                    d.np.push((pi, ri, ports));
                }
            }
        }
        if let Some(b) = &c.baseline
            && !hostnet
            && self.admin_peer(&b.subject, Other::Pod(pod))
        {
            for (ri, r) in rules_of(b, dir).iter().enumerate() {
                if r.peers.iter().any(|p| self.admin_peer(p, o)) {
                    let ports = resolve_admin_ports(r.ports.as_deref(), dst_ports);
                    d.baseline.push((ri, r.action, ports));
                }
            }
        }
        let mut np_allowed = PortSet::empty();
        for (_, _, p) in &d.np {
            np_allowed.add(p);
        }
        d.allowed = decide(
            d.admin.iter().map(|(_, _, a, p)| (*a, p.clone())),
            !d.isolating.is_empty(),
            &np_allowed,
            d.baseline.iter().map(|(_, a, p)| (*a, p.clone())),
        );
        d
    }
}

fn labels_of(w: &Workload) -> BTreeMap<&str, &str> {
    w.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[derive(Default)]
struct SideDetail {
    /// (admin policy, rule, action, ports) in precedence order.
    admin: Vec<(usize, usize, Action, PortSet)>,
    /// NetworkPolicies isolating the pod in this direction.
    isolating: Vec<usize>,
    /// (policy, rule, ports) of NetworkPolicy rules whose peers match.
    np: Vec<(usize, usize, PortSet)>,
    /// (rule, action, ports) of matching baseline rules in order.
    baseline: Vec<(usize, Action, PortSet)>,
    allowed: PortSet,
}

// ---------------------------------------------------------------------------------------
// External address space.

/// Every CIDR any policy names.
fn all_nets(c: &Cluster) -> Vec<IpNet> {
    let mut v = Vec::new();
    for p in &c.policies {
        for r in p.ingress.iter().chain(&p.egress).flatten() {
            for peer in r.peers.iter().flatten() {
                if let Peer::IpBlock { cidr, except } = peer {
                    v.push(*cidr);
                    v.extend(except.iter().copied());
                }
            }
        }
    }
    for ap in c.admin_policies.iter().chain(&c.baseline) {
        for r in ap.ingress.iter().chain(&ap.egress) {
            for peer in &r.peers {
                if let AdminPeer::Networks(n) = peer {
                    v.extend(n.iter().copied());
                }
            }
        }
    }
    v
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(x) => u128::from(u32::from(x)),
        IpAddr::V6(x) => u128::from(x),
    }
}

fn from_u128(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(x).unwrap_or(u32::MAX)))
    }
}

/// The address space cut at every boundary of `nets`: disjoint inclusive intervals covering
/// all of IPv4 (and all of IPv6 when `v6`), as (is IPv6, first, last).
fn atoms(nets: &[IpNet], v6: bool) -> Vec<(bool, u128, u128)> {
    let mut out = Vec::new();
    for fam6 in [false, true] {
        if fam6 && !v6 {
            continue;
        }
        let max: u128 = if fam6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        let mut points: Vec<u128> = vec![0];
        for n in nets.iter().filter(|n| matches!(n, IpNet::V6(_)) == fam6) {
            points.push(to_u128(n.network()));
            if let Some(p) = to_u128(n.broadcast()).checked_add(1).filter(|p| *p <= max) {
                points.push(p);
            }
        }
        points.sort_unstable();
        points.dedup();
        for (i, &s) in points.iter().enumerate() {
            let e = points.get(i + 1).map_or(max, |n| n - 1);
            out.push((fam6, s, e));
        }
    }
    out
}

/// The fewest CIDRs covering exactly `first..=last`.
fn interval_nets(v6: bool, first: u128, last: u128) -> Vec<IpNet> {
    let bits: u32 = if v6 { 128 } else { 32 };
    let mut out = Vec::new();
    let mut cur = first;
    loop {
        // Largest block aligned at `cur` that fits.
        let mut size_log = if cur == 0 {
            bits
        } else {
            cur.trailing_zeros().min(bits)
        };
        while size_log > 0 {
            let span = if size_log >= 128 {
                u128::MAX
            } else {
                (1u128 << size_log) - 1
            };
            if cur.checked_add(span).is_some_and(|end| end <= last) {
                break;
            }
            size_log -= 1;
        }
        let prefix = u8::try_from(bits - size_log).unwrap_or(0);
        if let Ok(n) = IpNet::new(from_u128(v6, cur), prefix) {
            out.push(n);
        }
        let span = if size_log >= 128 {
            u128::MAX
        } else {
            (1u128 << size_log) - 1
        };
        match cur.checked_add(span).and_then(|e| e.checked_add(1)) {
            Some(next) if next <= last => cur = next,
            _ => break,
        }
    }
    out
}

fn any_v6(nets: &[IpNet]) -> bool {
    nets.iter().any(|n| matches!(n, IpNet::V6(_)))
}

// ---------------------------------------------------------------------------------------
// Pairwise reference computation.

/// Every allowed connection, computed pair by pair without equivalence classes (slow; the
/// reference [`connectivity`] is tested against). External address ranges are cut at every
/// CIDR boundary any policy names.
pub fn connectivity_pairwise(c: &Cluster) -> Vec<Connection> {
    let d = Direct::new(c);
    let n = c.workloads.len();
    let mut out = Vec::new();
    for s in 0..n {
        for t in 0..n {
            if s == t {
                continue;
            }
            let e = d.side(s, Direction::Egress, Other::Pod(t)).allowed;
            if e.is_empty() {
                continue;
            }
            let ports = e.intersection(&d.side(t, Direction::Ingress, Other::Pod(s)).allowed);
            if !ports.is_empty() {
                out.push(Connection {
                    src: Endpoint::Workload(s),
                    dst: Endpoint::Workload(t),
                    ports,
                });
            }
        }
    }
    let nets = all_nets(c);
    for (v6, first, last) in atoms(&nets, any_v6(&nets)) {
        let rep = Other::Ext(from_u128(v6, first));
        for w in 0..n {
            for (dir, is_src) in [(Direction::Egress, true), (Direction::Ingress, false)] {
                let ports = d.side(w, dir, rep).allowed;
                if ports.is_empty() {
                    continue;
                }
                for net in interval_nets(v6, first, last) {
                    let (src, dst) = if is_src {
                        (Endpoint::Workload(w), Endpoint::External(net))
                    } else {
                        (Endpoint::External(net), Endpoint::Workload(w))
                    };
                    out.push(Connection {
                        src,
                        dst,
                        ports: ports.clone(),
                    });
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Equivalence classes.

/// Which counterparts a rule matches, at class level.
#[derive(Default)]
struct Matcher {
    /// Everything (a NetworkPolicy rule without peers).
    all: bool,
    /// Every pod that is not on the host network.
    all_pods: bool,
    /// These classes (sorted).
    classes: Vec<u32>,
    /// Address ranges with exceptions.
    nets: Vec<(IpNet, Vec<IpNet>)>,
}

impl Matcher {
    fn class(&self, x: u32, hostnet: bool) -> bool {
        self.all || (self.all_pods && !hostnet) || self.classes.binary_search(&x).is_ok()
    }

    fn addr(&self, a: IpAddr) -> bool {
        self.all
            || self
                .nets
                .iter()
                .any(|(n, ex)| net_contains(n, a) && !ex.iter().any(|e| net_contains(e, a)))
    }
}

enum RuleBody<'a> {
    Np(&'a Rule),
    Admin(&'a AdminRule),
}

struct FlatRule<'a> {
    body: RuleBody<'a>,
    m: Matcher,
    named: bool,
}

impl FlatRule<'_> {
    fn ports(&self, dst: Option<&[NamedPort]>) -> PortSet {
        match self.body {
            RuleBody::Np(r) => resolve_ports(r.ports.as_deref(), dst),
            RuleBody::Admin(r) => resolve_admin_ports(r.ports.as_deref(), dst),
        }
    }

    fn action(&self) -> Action {
        match self.body {
            RuleBody::Np(_) => Action::Allow,
            RuleBody::Admin(r) => r.action,
        }
    }
}

/// The rules that decide one side of one class.
#[derive(Default, Clone, PartialEq, Eq, Hash)]
struct SideRules {
    admin: Vec<usize>,
    isolated: bool,
    np: Vec<usize>,
    baseline: Vec<usize>,
}

struct Class {
    rep: usize,
    members: Vec<usize>,
    hostnet: bool,
    sig: usize,
}

fn selector_keys(s: &LabelSelector, out: &mut BTreeSet<String>) {
    out.extend(s.match_labels.iter().map(|(k, _)| k.clone()));
    out.extend(s.match_expressions.iter().map(|r| r.key.clone()));
}

struct Classes {
    classes: Vec<Class>,
    /// Namespace -> classes with a member there (sorted).
    by_ns: HashMap<String, Vec<u32>>,
}

fn build_classes(c: &Cluster) -> Classes {
    let mut pod_keys = BTreeSet::new();
    let mut ns_keys = BTreeSet::new();
    let mut port_names: BTreeSet<&str> = BTreeSet::new();
    let mut np_namespaces: BTreeSet<&str> = BTreeSet::new();
    for p in &c.policies {
        np_namespaces.insert(&p.namespace);
        selector_keys(&p.pod_selector, &mut pod_keys);
        for r in p.ingress.iter().chain(&p.egress).flatten() {
            for peer in r.peers.iter().flatten() {
                if let Peer::Pods {
                    namespace_selector,
                    pod_selector,
                } = peer
                {
                    if let Some(s) = namespace_selector {
                        selector_keys(s, &mut ns_keys);
                    }
                    if let Some(s) = pod_selector {
                        selector_keys(s, &mut pod_keys);
                    }
                }
            }
            for ps in r.ports.iter().flatten() {
                if let crate::model::PortSpec::Named { name, .. } = ps {
                    port_names.insert(name);
                }
            }
        }
    }
    for ap in c.admin_policies.iter().chain(&c.baseline) {
        for peer in std::iter::once(&ap.subject)
            .chain(ap.ingress.iter().chain(&ap.egress).flat_map(|r| &r.peers))
        {
            match peer {
                AdminPeer::Namespaces(s) => selector_keys(s, &mut ns_keys),
                AdminPeer::Pods {
                    namespace_selector,
                    pod_selector,
                } => {
                    selector_keys(namespace_selector, &mut ns_keys);
                    selector_keys(pod_selector, &mut pod_keys);
                }
                AdminPeer::Networks(_) => {}
            }
        }
        for r in ap.ingress.iter().chain(&ap.egress) {
            for ps in r.ports.iter().flatten() {
                if let crate::anp::AdminPort::Named(n) = ps {
                    port_names.insert(n);
                }
            }
        }
    }
    type Key<'a> = (
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        usize,
        bool,
    );
    let mut sigs: HashMap<Vec<&NamedPort>, usize> = HashMap::new();
    let mut keys: HashMap<Key<'_>, u32> = HashMap::new();
    let mut classes: Vec<Class> = Vec::new();
    let mut by_ns: HashMap<String, Vec<u32>> = HashMap::new();
    let empty = BTreeMap::new();
    for (i, w) in c.workloads.iter().enumerate() {
        let ns_labels = c.namespaces.get(&w.namespace).unwrap_or(&empty);
        let ns_part: Vec<(&str, &str)> = ns_labels
            .iter()
            .filter(|(k, _)| ns_keys.contains(*k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let pod_part: Vec<(&str, &str)> = w
            .labels
            .iter()
            .filter(|(k, _)| pod_keys.contains(*k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut ports: Vec<&NamedPort> = w
            .ports
            .iter()
            .filter(|p| port_names.contains(p.name.as_str()))
            .collect();
        ports.sort();
        ports.dedup();
        let next_sig = sigs.len();
        let sig = *sigs.entry(ports).or_insert(next_sig);
        let ns_name = np_namespaces
            .contains(w.namespace.as_str())
            .then_some(w.namespace.as_str());
        let key = (ns_name, ns_part, pod_part, sig, w.host_network);
        let next = u32::try_from(classes.len()).unwrap_or(u32::MAX);
        let id = *keys.entry(key).or_insert_with(|| {
            classes.push(Class {
                rep: i,
                members: Vec::new(),
                hostnet: w.host_network,
                sig,
            });
            next
        });
        classes[id as usize].members.push(i);
        let list = by_ns.entry(w.namespace.clone()).or_default();
        if list.last() != Some(&id) && !list.contains(&id) {
            list.push(id);
        }
    }
    for v in by_ns.values_mut() {
        v.sort_unstable();
    }
    Classes { classes, by_ns }
}

/// A set of classes.
#[derive(Clone, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    fn and(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & b).collect())
    }
    fn and_not(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & !b).collect())
    }
    fn first(&self) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + b)
            })
        })
    }
}

/// One side (direction) of a group of classes sharing the same deciding rules: the
/// counterpart classes cut into parts every rule treats alike, each part's value, and the
/// values for pieces of the outside address space.
struct SideTable {
    /// Part index (into the engine-wide part list) of every counterpart class.
    part_of: Vec<u32>,
    /// Parts of this table with a non-empty value: (part index, members).
    open_parts: Vec<(u32, Bits)>,
    external: Vec<(bool, u128, u128, PortSet)>,
}

struct ClassEngine<'a> {
    c: &'a Cluster,
    cl: Classes,
    rules: Vec<FlatRule<'a>>,
    sig_rep: Vec<usize>,
    v6: bool,
}

impl<'a> ClassEngine<'a> {
    fn new(c: &'a Cluster) -> Self {
        let cl = build_classes(c);
        let mut sig_rep: Vec<usize> = Vec::new();
        for (i, k) in cl.classes.iter().enumerate() {
            if k.sig >= sig_rep.len() {
                sig_rep.resize(k.sig + 1, usize::MAX);
            }
            if sig_rep[k.sig] == usize::MAX {
                sig_rep[k.sig] = i;
            }
        }
        let nets = all_nets(c);
        ClassEngine {
            c,
            cl,
            rules: Vec::new(),
            sig_rep,
            v6: any_v6(&nets),
        }
    }

    fn ns_labels(&self, ns: &str) -> BTreeMap<&'a str, &'a str> {
        self.c.namespace_labels(ns)
    }

    /// Classes in namespaces matching `ns_sel` whose pods match `pod_sel`.
    fn pods_matching(
        &self,
        namespaces: &[&str],
        pod_sel: Option<&LabelSelector>,
        out: &mut Vec<u32>,
    ) {
        for ns in namespaces {
            for &k in self.cl.by_ns.get(*ns).map(Vec::as_slice).unwrap_or(&[]) {
                let class = &self.cl.classes[k as usize];
                if class.hostnet {
                    continue;
                }
                let ok = pod_sel.is_none_or(|s| {
                    let w = &self.c.workloads[class.rep];
                    s.matches(&labels_of(w))
                });
                if ok {
                    out.push(k);
                }
            }
        }
    }

    fn namespaces_matching(&self, s: &LabelSelector) -> Vec<&'a str> {
        self.c
            .namespaces
            .iter()
            .filter(|(_, l)| {
                let m: BTreeMap<&str, &str> =
                    l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                s.matches(&m)
            })
            .map(|(n, _)| n.as_str())
            .collect()
    }

    fn np_matcher(&self, policy_ns: &str, r: &Rule) -> Matcher {
        let mut m = Matcher::default();
        let Some(peers) = &r.peers else {
            m.all = true;
            return m;
        };
        for p in peers {
            match p {
                Peer::IpBlock { cidr, except } => m.nets.push((*cidr, except.clone())),
                Peer::Pods {
                    namespace_selector,
                    pod_selector,
                } => {
                    let pod_all = pod_selector.as_ref().is_none_or(LabelSelector::is_empty);
                    match namespace_selector {
                        Some(s) if s.is_empty() && pod_all => m.all_pods = true,
                        Some(s) => {
                            let nss = self.namespaces_matching(s);
                            self.pods_matching(&nss, pod_selector.as_ref(), &mut m.classes);
                        }
                        None => {
                            self.pods_matching(&[policy_ns], pod_selector.as_ref(), &mut m.classes)
                        }
                    }
                }
            }
        }
        m.classes.sort_unstable();
        m.classes.dedup();
        m
    }

    fn admin_matcher(&self, r: &AdminRule) -> Matcher {
        let mut m = Matcher::default();
        for p in &r.peers {
            match p {
                AdminPeer::Networks(n) => m.nets.extend(n.iter().map(|x| (*x, Vec::new()))),
                AdminPeer::Namespaces(s) if s.is_empty() => m.all_pods = true,
                AdminPeer::Namespaces(s) => {
                    let nss = self.namespaces_matching(s);
                    self.pods_matching(&nss, None, &mut m.classes);
                }
                AdminPeer::Pods {
                    namespace_selector,
                    pod_selector,
                } => {
                    if namespace_selector.is_empty() && pod_selector.is_empty() {
                        m.all_pods = true;
                    } else {
                        let nss = self.namespaces_matching(namespace_selector);
                        self.pods_matching(&nss, Some(pod_selector), &mut m.classes);
                    }
                }
            }
        }
        m.classes.sort_unstable();
        m.classes.dedup();
        m
    }

    fn subject_matches(&self, s: &AdminPeer, class: u32) -> bool {
        let k = &self.cl.classes[class as usize];
        if k.hostnet {
            return false;
        }
        let w = &self.c.workloads[k.rep];
        let ns = self.ns_labels(&w.namespace);
        match s {
            AdminPeer::Namespaces(sel) => sel.matches(&ns),
            AdminPeer::Pods {
                namespace_selector,
                pod_selector,
            } => namespace_selector.matches(&ns) && pod_selector.matches(&labels_of(w)),
            AdminPeer::Networks(_) => false,
        }
    }

    /// Flattens every rule and computes the side rules of every class.
    fn side_rules(&mut self) -> [Vec<SideRules>; 2] {
        let c = self.c;
        let n = self.cl.classes.len();
        let mut sides = [
            (0..n).map(|_| SideRules::default()).collect::<Vec<_>>(),
            (0..n).map(|_| SideRules::default()).collect::<Vec<_>>(),
        ];
        let dirs = [Direction::Ingress, Direction::Egress];
        // Admin tier, in precedence order.
        for ai in admin_order(c) {
            let ap = &c.admin_policies[ai];
            let subjects: Vec<u32> = (0..n as u32)
                .filter(|&k| self.subject_matches(&ap.subject, k))
                .collect();
            for (di, dir) in dirs.iter().enumerate() {
                for r in rules_of(ap, *dir) {
                    let idx = self.rules.len();
                    let named = r
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| matches!(p, crate::anp::AdminPort::Named(_)));
                    let m = self.admin_matcher(r);
                    self.rules.push(FlatRule {
                        body: RuleBody::Admin(r),
                        m,
                        named,
                    });
                    for &k in &subjects {
                        sides[di][k as usize].admin.push(idx);
                    }
                }
            }
        }
        // NetworkPolicy tier.
        let mut by_ns: HashMap<&str, Vec<&Policy>> = HashMap::new();
        for p in &c.policies {
            by_ns.entry(&p.namespace).or_default().push(p);
        }
        for (ns, policies) in by_ns {
            let members: Vec<u32> = self
                .cl
                .by_ns
                .get(ns)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|&k| !self.cl.classes[k as usize].hostnet)
                .collect();
            for p in policies {
                let selected: Vec<u32> = members
                    .iter()
                    .copied()
                    .filter(|&k| {
                        p.pod_selector
                            .matches(&labels_of(&c.workloads[self.cl.classes[k as usize].rep]))
                    })
                    .collect();
                for (di, dir) in dirs.iter().enumerate() {
                    let Some(rules) = np_rules(p, *dir) else {
                        continue;
                    };
                    for &k in &selected {
                        sides[di][k as usize].isolated = true;
                    }
                    if selected.is_empty() {
                        continue;
                    }
                    for r in rules {
                        let idx = self.rules.len();
                        let named = r
                            .ports
                            .iter()
                            .flatten()
                            .any(|p| matches!(p, crate::model::PortSpec::Named { .. }));
                        let m = self.np_matcher(&p.namespace, r);
                        self.rules.push(FlatRule {
                            body: RuleBody::Np(r),
                            m,
                            named,
                        });
                        for &k in &selected {
                            sides[di][k as usize].np.push(idx);
                        }
                    }
                }
            }
        }
        // Baseline tier.
        if let Some(b) = &c.baseline {
            let subjects: Vec<u32> = (0..n as u32)
                .filter(|&k| self.subject_matches(&b.subject, k))
                .collect();
            for (di, dir) in dirs.iter().enumerate() {
                for r in rules_of(b, *dir) {
                    let idx = self.rules.len();
                    let named = r
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| matches!(p, crate::anp::AdminPort::Named(_)));
                    let m = self.admin_matcher(r);
                    self.rules.push(FlatRule {
                        body: RuleBody::Admin(r),
                        m,
                        named,
                    });
                    for &k in &subjects {
                        sides[di][k as usize].baseline.push(idx);
                    }
                }
            }
        }
        sides
    }

    /// One side's value when the rules matching the counterpart are those `hit` accepts.
    fn value(
        &self,
        sr: &SideRules,
        hit: impl Fn(&Matcher) -> bool,
        dst: Option<&[NamedPort]>,
    ) -> PortSet {
        let admin = sr
            .admin
            .iter()
            .map(|&i| &self.rules[i])
            .filter(|r| hit(&r.m))
            .map(|r| (r.action(), r.ports(dst)));
        let mut np = PortSet::empty();
        if sr.isolated {
            for &i in &sr.np {
                let r = &self.rules[i];
                if hit(&r.m) {
                    np.add(&r.ports(dst));
                    if np.is_all() {
                        break;
                    }
                }
            }
        }
        let baseline = sr
            .baseline
            .iter()
            .map(|&i| &self.rules[i])
            .filter(|r| hit(&r.m))
            .map(|r| (r.action(), r.ports(dst)));
        decide(admin, sr.isolated, &np, baseline)
    }

    fn ports_of(&self, class: usize) -> &'a [NamedPort] {
        &self.c.workloads[self.cl.classes[class].rep].ports
    }

    /// The rule's counterparts as a class set.
    fn bits_of(&self, m: &Matcher, all: &Bits, pods: &Bits) -> Bits {
        if m.all {
            return all.clone();
        }
        if m.all_pods {
            return pods.clone();
        }
        let mut b = Bits::new(self.cl.classes.len());
        for &k in &m.classes {
            b.set(k as usize);
        }
        b
    }

    /// The table of one side group: `sr` decides, `class` is one of the group's classes.
    #[allow(clippy::too_many_arguments)]
    fn table(
        &self,
        class: usize,
        dir: Direction,
        sr: &SideRules,
        rule_bits: &[Bits],
        sig_bits: &[Bits],
        all: &Bits,
        parts: &mut Vec<PortSet>,
    ) -> SideTable {
        let ids: Vec<usize> = sr
            .admin
            .iter()
            .chain(&sr.np)
            .chain(&sr.baseline)
            .copied()
            .collect();
        let own_ports = self.ports_of(class);
        let named = dir == Direction::Egress && ids.iter().any(|&i| self.rules[i].named);
        // Cut the classes into parts no rule (and no port signature, when named ports
        // resolve on the counterpart) tells apart.
        let mut cut: Vec<Bits> = vec![all.clone()];
        let mut refine = |by: &Bits| {
            let mut next = Vec::with_capacity(cut.len() * 2);
            for p in &cut {
                let inside = p.and(by);
                let outside = p.and_not(by);
                if !inside.is_empty() {
                    next.push(inside);
                }
                if !outside.is_empty() {
                    next.push(outside);
                }
            }
            cut = next;
        };
        if named {
            for b in sig_bits {
                refine(b);
            }
        }
        for &i in &ids {
            refine(&rule_bits[i]);
        }
        let n = self.cl.classes.len();
        let mut part_of = vec![u32::MAX; n];
        let mut open_parts = Vec::new();
        for p in cut {
            let Some(x) = p.first() else { continue };
            let hn = self.cl.classes[x].hostnet;
            let dst = match dir {
                Direction::Ingress => own_ports,
                Direction::Egress => self.ports_of(x),
            };
            let v = self.value(sr, |m| m.class(x as u32, hn), Some(dst));
            let id = u32::try_from(parts.len()).unwrap_or(u32::MAX);
            for k in p.iter() {
                part_of[k] = id;
            }
            let empty = v.is_empty();
            parts.push(v);
            if !empty {
                open_parts.push((id, p));
            }
        }
        // Outside addresses.
        let mut nets: Vec<IpNet> = Vec::new();
        for &i in &ids {
            for (n, ex) in &self.rules[i].m.nets {
                nets.push(*n);
                nets.extend(ex.iter().copied());
            }
        }
        let ext_dst = match dir {
            Direction::Ingress => Some(own_ports),
            Direction::Egress => None,
        };
        let mut external = Vec::new();
        for (v6, first, last) in atoms(&nets, self.v6) {
            let a = from_u128(v6, first);
            let v = self.value(sr, |m| m.addr(a), ext_dst);
            if !v.is_empty() {
                external.push((v6, first, last, v));
            }
        }
        SideTable {
            part_of,
            open_parts,
            external,
        }
    }
}

/// Groups classes with identical side rules: (group of every class, tables built once per
/// group).
fn side_tables(
    e: &ClassEngine<'_>,
    dir: Direction,
    side_rules: &[SideRules],
    rule_bits: &[Bits],
    sig_bits: &[Bits],
    all: &Bits,
    parts: &mut Vec<PortSet>,
) -> (Vec<usize>, Vec<SideTable>) {
    // Ingress values resolve named ports on the class itself: its port signature is part of
    // the group.
    let mut groups: HashMap<(&SideRules, usize), usize> = HashMap::new();
    let mut group_of = Vec::with_capacity(side_rules.len());
    let mut tables = Vec::new();
    for (k, sr) in side_rules.iter().enumerate() {
        let sig = match dir {
            Direction::Ingress => e.cl.classes[k].sig,
            Direction::Egress => 0,
        };
        let g = match groups.get(&(sr, sig)) {
            Some(g) => *g,
            None => {
                let g = tables.len();
                tables.push(e.table(k, dir, sr, rule_bits, sig_bits, all, parts));
                groups.insert((sr, sig), g);
                g
            }
        };
        group_of.push(g);
    }
    (group_of, tables)
}

/// Every allowed connection: workload to workload, workload to outside address ranges and
/// outside address ranges to workloads, with the ports they may use. Self connections are
/// left out.
pub fn connectivity(c: &Cluster) -> Vec<Connection> {
    let mut e = ClassEngine::new(c);
    let [ingress_rules, egress_rules] = e.side_rules();
    let n = e.cl.classes.len();
    let mut all = Bits::new(n);
    let mut pods = Bits::new(n);
    let mut sig_bits: Vec<Bits> = vec![Bits::new(n); e.sig_rep.len()];
    for (k, class) in e.cl.classes.iter().enumerate() {
        all.set(k);
        if !class.hostnet {
            pods.set(k);
        }
        sig_bits[class.sig].set(k);
    }
    let rule_bits: Vec<Bits> = e
        .rules
        .iter()
        .map(|r| e.bits_of(&r.m, &all, &pods))
        .collect();
    let mut parts: Vec<PortSet> = Vec::new();
    let (in_group, in_tables) = side_tables(
        &e,
        Direction::Ingress,
        &ingress_rules,
        &rule_bits,
        &sig_bits,
        &all,
        &mut parts,
    );
    let (eg_group, eg_tables) = side_tables(
        &e,
        Direction::Egress,
        &egress_rules,
        &rule_bits,
        &sig_bits,
        &all,
        &mut parts,
    );
    let mut out = Vec::new();
    let mut memo: HashMap<(u32, u32), PortSet> = HashMap::new();
    for d in 0..n {
        let it = &in_tables[in_group[d]];
        for (ip, members) in &it.open_parts {
            let iv = &parts[*ip as usize];
            for s in members.iter() {
                let ep = eg_tables[eg_group[s]].part_of[d];
                let ev = &parts[ep as usize];
                if ev.is_empty() {
                    continue;
                }
                let ports = memo.entry((ep, *ip)).or_insert_with(|| ev.intersection(iv));
                if ports.is_empty() {
                    continue;
                }
                let (sc, dc) = (&e.cl.classes[s], &e.cl.classes[d]);
                for &a in &sc.members {
                    for &b in &dc.members {
                        if a != b {
                            out.push(Connection {
                                src: Endpoint::Workload(a),
                                dst: Endpoint::Workload(b),
                                ports: ports.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    for (k, class) in e.cl.classes.iter().enumerate() {
        for (table, is_src) in [
            (&eg_tables[eg_group[k]], true),
            (&in_tables[in_group[k]], false),
        ] {
            for (v6, first, last, ports) in &table.external {
                let nets = interval_nets(*v6, *first, *last);
                for &w in &class.members {
                    for net in &nets {
                        let (src, dst) = if is_src {
                            (Endpoint::Workload(w), Endpoint::External(*net))
                        } else {
                            (Endpoint::External(*net), Endpoint::Workload(w))
                        };
                        out.push(Connection {
                            src,
                            dst,
                            ports: ports.clone(),
                        });
                    }
                }
            }
        }
    }
    e.rules.clear();
    out
}

// ---------------------------------------------------------------------------------------
// Explanations.

/// A policy rule named in an explanation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuleRef {
    /// `NetworkPolicy`, `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy`.
    pub kind: String,
    /// `ns/name` for NetworkPolicies, the name for admin policies.
    pub policy: String,
    /// Path of the rule in the policy (`spec.ingress[1]`); empty for a whole policy.
    pub rule: String,
    /// The admin rule's `name`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The admin rule's action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// File of the policy.
    pub file: String,
    /// Line of the rule (or of the policy).
    pub line: u32,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.policy)?;
        if !self.rule.is_empty() {
            write!(f, " {}", self.rule)?;
        }
        if let Some(n) = self.rule_name.as_deref().filter(|n| !n.is_empty()) {
            write!(f, " ({n})")?;
        }
        if let Some(a) = self.action {
            write!(f, " {a}")?;
        }
        write!(f, " at {}:{}", self.file, self.line)
    }
}

/// Which tier decided one side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidedBy {
    /// The other end is outside the cluster, or the side does not apply.
    NotApplicable,
    /// An AdminNetworkPolicy rule (Allow or Deny).
    AdminNetworkPolicy,
    /// NetworkPolicies isolate the pod: one of their rules admits, or none does.
    NetworkPolicy,
    /// A BaselineAdminNetworkPolicy rule.
    BaselineAdminNetworkPolicy,
    /// Nothing restricts this side.
    Default,
}

/// Why one side (egress of the source, or ingress of the destination) admits or refuses.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SideExplanation {
    /// The direction.
    pub direction: Direction,
    /// The endpoint whose side this is.
    pub endpoint: String,
    /// Whether this side admits the connection.
    pub allowed: bool,
    /// Which tier decided.
    pub decided_by: DecidedBy,
    /// The admin rule that decided or passed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_rule: Option<RuleRef>,
    /// NetworkPolicies isolating the pod in this direction.
    pub isolated_by: Vec<RuleRef>,
    /// The NetworkPolicy rules admitting the connection.
    pub admitted_by: Vec<RuleRef>,
    /// The baseline rule that decided, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_rule: Option<RuleRef>,
    /// A sentence.
    pub reason: String,
}

impl fmt::Display for SideExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The verdict on one connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// Whether the connection is allowed.
    pub allowed: bool,
    /// The source's egress side.
    pub egress: SideExplanation,
    /// The destination's ingress side.
    pub ingress: SideExplanation,
}

fn np_ref(c: &Cluster, pi: usize, rule: Option<(Direction, usize)>) -> RuleRef {
    let p = &c.policies[pi];
    let (path, line) = match rule.and_then(|(d, ri)| np_rules(p, d)?.get(ri)) {
        Some(r) => (r.path.to_string(), r.line),
        None => (String::new(), p.line),
    };
    RuleRef {
        kind: "NetworkPolicy".into(),
        policy: format!("{}/{}", p.namespace, p.name),
        rule: path,
        rule_name: None,
        action: None,
        file: p.file.clone(),
        line,
    }
}

fn admin_ref(ap: &AdminPolicy, dir: Direction, ri: usize) -> RuleRef {
    let r = &rules_of(ap, dir)[ri];
    RuleRef {
        kind: ap.kind().into(),
        policy: ap.name.clone(),
        rule: r.path.to_string(),
        rule_name: Some(r.name.clone()),
        action: Some(r.action),
        file: ap.file.clone(),
        line: r.line,
    }
}

fn explain_side(
    d: &Direct<'_>,
    pod: Option<usize>,
    dir: Direction,
    other: Other,
    endpoint: String,
    proto: crate::Protocol,
    port: u16,
) -> SideExplanation {
    let c = d.c;
    let mut x = SideExplanation {
        direction: dir,
        endpoint,
        allowed: true,
        decided_by: DecidedBy::NotApplicable,
        admin_rule: None,
        isolated_by: Vec::new(),
        admitted_by: Vec::new(),
        baseline_rule: None,
        reason: String::new(),
    };
    let Some(pod) = pod else {
        x.reason = format!(
            "{dir} of {}: addresses outside the cluster are never isolated",
            x.endpoint
        );
        return x;
    };
    let side = d.side(pod, dir, other);
    x.allowed = side.allowed.contains(proto, port);
    let mut passed = None;
    for (ai, ri, action, ports) in &side.admin {
        if ports.contains(proto, port) {
            let r = admin_ref(&c.admin_policies[*ai], dir, *ri);
            if *action == Action::Pass {
                passed = Some(r);
            } else {
                x.decided_by = DecidedBy::AdminNetworkPolicy;
                x.admin_rule = Some(r);
            }
            break;
        }
    }
    x.isolated_by = side
        .isolating
        .iter()
        .map(|&pi| np_ref(c, pi, None))
        .collect();
    if x.decided_by == DecidedBy::AdminNetworkPolicy {
        let r = x
            .admin_rule
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        x.reason = format!(
            "{dir} of {}: {} by {r}",
            x.endpoint,
            if x.allowed { "allowed" } else { "denied" }
        );
        return x;
    }
    let pass_note = passed
        .as_ref()
        .map(|r| format!(" (passed on by {r})"))
        .unwrap_or_default();
    x.admin_rule = passed;
    if !side.isolating.is_empty() {
        x.decided_by = DecidedBy::NetworkPolicy;
        x.admitted_by = side
            .np
            .iter()
            .filter(|(_, _, p)| p.contains(proto, port))
            .map(|(pi, ri, _)| np_ref(c, *pi, Some((dir, *ri))))
            .collect();
        let iso: Vec<String> = x.isolated_by.iter().map(|r| r.policy.clone()).collect();
        x.reason = if x.admitted_by.is_empty() {
            format!(
                "{dir} of {}: denied: isolated by {} and no rule admits {proto} {port}{pass_note}",
                x.endpoint,
                iso.join(", ")
            )
        } else {
            let by: Vec<String> = x.admitted_by.iter().map(ToString::to_string).collect();
            format!(
                "{dir} of {}: allowed: isolated by {}; admitted by {}{pass_note}",
                x.endpoint,
                iso.join(", "),
                by.join("; ")
            )
        };
        return x;
    }
    for (ri, _, ports) in &side.baseline {
        if ports.contains(proto, port) {
            if let Some(b) = &c.baseline {
                x.baseline_rule = Some(admin_ref(b, dir, *ri));
            }
            x.decided_by = DecidedBy::BaselineAdminNetworkPolicy;
            break;
        }
    }
    if let Some(r) = &x.baseline_rule {
        x.reason = format!(
            "{dir} of {}: {}: not isolated by any NetworkPolicy; decided by {r}{pass_note}",
            x.endpoint,
            if x.allowed { "allowed" } else { "denied" }
        );
    } else {
        x.decided_by = DecidedBy::Default;
        x.reason = format!(
            "{dir} of {}: allowed: no NetworkPolicy isolates it{pass_note}",
            x.endpoint
        );
    }
    x
}

/// Whether `src` may open a connection to `dst` on `port`/`protocol`, and why: which policies
/// isolate each side, which rule admits the connection (or that none does), and which admin
/// or baseline rule decided.
pub fn evaluate(
    c: &Cluster,
    src: &Endpoint,
    dst: &Endpoint,
    protocol: crate::Protocol,
    port: u16,
) -> Verdict {
    let d = Direct::new(c);
    let other_of = |e: &Endpoint| match e {
        Endpoint::Workload(i) => Other::Pod(*i),
        Endpoint::External(n) => Other::Ext(n.network()),
    };
    let pod_of = |e: &Endpoint| match e {
        Endpoint::Workload(i) if *i < c.workloads.len() => Some(*i),
        _ => None,
    };
    let egress = explain_side(
        &d,
        pod_of(src),
        Direction::Egress,
        other_of(dst),
        endpoint_name(c, src),
        protocol,
        port,
    );
    let ingress = explain_side(
        &d,
        pod_of(dst),
        Direction::Ingress,
        other_of(src),
        endpoint_name(c, dst),
        protocol,
        port,
    );
    Verdict {
        allowed: egress.allowed && ingress.allowed,
        egress,
        ingress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_nets_cover_exactly() {
        let n = interval_nets(false, 0, u128::from(u32::MAX));
        assert_eq!(n, vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]);
        let a = to_u128("10.0.0.0".parse().unwrap());
        let b = to_u128("10.0.2.255".parse().unwrap());
        let got: Vec<String> = interval_nets(false, a, b)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["10.0.0.0/23", "10.0.2.0/24"]);
        assert_eq!(interval_nets(true, 0, u128::MAX)[0].to_string(), "::/0");
        let one = interval_nets(false, 5, 5);
        assert_eq!(one[0].to_string(), "0.0.0.5/32");
    }

    #[test]
    fn tiers() {
        let all = PortSet::all();
        let tcp80 = PortSet::single(crate::Protocol::TCP, 80);
        // Deny 80 in the admin tier, nothing isolating: everything but 80.
        let v = decide(
            [(Action::Deny, tcp80.clone())].into_iter(),
            false,
            &PortSet::empty(),
            std::iter::empty(),
        );
        assert_eq!(v, all.difference(&tcp80));
        // Pass everything, isolated with 80 admitted: 80 only.
        let v = decide(
            [(Action::Pass, all.clone())].into_iter(),
            true,
            &tcp80,
            [(Action::Allow, all.clone())].into_iter(),
        );
        assert_eq!(v, tcp80);
        // Allow beats a later Deny; baseline deny applies only when not isolated.
        let v = decide(
            [(Action::Allow, tcp80.clone()), (Action::Deny, all.clone())].into_iter(),
            false,
            &PortSet::empty(),
            std::iter::empty(),
        );
        assert_eq!(v, tcp80);
        let v = decide(
            std::iter::empty(),
            false,
            &PortSet::empty(),
            [(Action::Deny, all.clone())].into_iter(),
        );
        assert!(v.is_empty());
    }
}
