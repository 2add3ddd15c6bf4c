//! Renderers of a connectivity list: the allowed connections of [`crate::connectivity`] as
//! `src => dst : TCP 6379,UDP 53` text, JSON, CSV, Markdown, Graphviz DOT, or a self-contained
//! HTML page with a colour grid.
//!
//! The shapes follow np-guard/netpol-analyzer's connectivity list: workloads are written
//! `ns/name[Kind]`, address ranges outside the cluster `first-last[External]`, lines are sorted
//! by source then destination (as strings), and a connection allowing every protocol and port
//! reads `All Connections`.
//!
//! Address ranges are canonical: for one workload and direction, the ranges the engine returns
//! are split on every boundary, the ports of overlapping ranges are united, and neighbouring
//! ranges with the same ports are merged. The listing therefore does not depend on how the
//! engine cut the address space.

use crate::{Cluster, Connection, Endpoint, PortSet};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    v6: bool,
    start: u128,
    end: u128,
}

impl IpRange {
    /// The addresses of a network, from its first to its last address.
    pub fn from_net(n: &IpNet) -> Self {
        let v6 = matches!(n, IpNet::V6(_));
        IpRange {
            v6,
            start: addr_to_u128(n.network()),
            end: addr_to_u128(n.broadcast()),
        }
    }

    /// The range from `start` to `end` (inclusive); `None` when the families differ or
    /// `start > end`.
    pub fn new(start: IpAddr, end: IpAddr) -> Option<Self> {
        if start.is_ipv6() != end.is_ipv6() {
            return None;
        }
        let (s, e) = (addr_to_u128(start), addr_to_u128(end));
        (s <= e).then_some(IpRange {
            v6: start.is_ipv6(),
            start: s,
            end: e,
        })
    }

    /// The first address.
    pub fn start(&self) -> IpAddr {
        u128_to_addr(self.v6, self.start)
    }

    /// The last address.
    pub fn end(&self) -> IpAddr {
        u128_to_addr(self.v6, self.end)
    }

    /// Whether the range holds IPv6 addresses.
    pub fn is_ipv6(&self) -> bool {
        self.v6
    }

    fn family_max(v6: bool) -> u128 {
        if v6 { u128::MAX } else { u128::from(u32::MAX) }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start(), self.end())
    }
}

fn addr_to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn u128_to_addr(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        // Ranges of IPv4 addresses never exceed u32::MAX (they come from IPv4 networks).
        IpAddr::V4(Ipv4Addr::from(u32::try_from(x).unwrap_or(u32::MAX)))
    }
}

/// Splits possibly overlapping ranges (each carrying a value) into disjoint, sorted pieces; a
/// piece covered by several ranges carries the values combined with `combine`. Addresses no
/// range covers are left out.
pub fn refine<T: Clone>(
    ranges: &[(IpRange, T)],
    combine: impl Fn(&T, &T) -> T,
) -> Vec<(IpRange, T)> {
    let mut out = Vec::new();
    for v6 in [false, true] {
        let max = IpRange::family_max(v6);
        // (point, range index, starts here?): a range is active on [start, end + 1).
        let mut events: Vec<(u128, usize, bool)> = Vec::new();
        for (i, (r, _)) in ranges.iter().enumerate().filter(|(_, (r, _))| r.v6 == v6) {
            events.push((r.start, i, true));
            if let Some(p) = r.end.checked_add(1).filter(|p| *p <= max) {
                events.push((p, i, false));
            }
        }
        if events.is_empty() {
            continue;
        }
        events.sort_unstable();
        let mut active: BTreeSet<usize> = BTreeSet::new();
        let mut k = 0;
        while k < events.len() {
            let point = events[k].0;
            while k < events.len() && events[k].0 == point {
                let (_, i, starts) = events[k];
                if starts {
                    active.insert(i);
                } else {
                    active.remove(&i);
                }
                k += 1;
            }
            let end = events.get(k).map_or(max, |e| e.0 - 1);
            let mut value: Option<T> = None;
            for &i in &active {
                let t = &ranges[i].1;
                value = Some(match value {
                    None => t.clone(),
                    Some(v) => combine(&v, t),
                });
            }
            if let Some(v) = value {
                out.push((
                    IpRange {
                        v6,
                        start: point,
                        end,
                    },
                    v,
                ));
            }
        }
    }
    out
}

/// Merges neighbouring pieces (sorted and disjoint, as [`refine`] returns them) whose values
/// are equal under `same`.
pub fn merge_adjacent<T>(
    pieces: Vec<(IpRange, T)>,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<(IpRange, T)> {
    let mut out: Vec<(IpRange, T)> = Vec::with_capacity(pieces.len());
    for (r, t) in pieces {
        if let Some((last, lt)) = out.last_mut()
            && last.v6 == r.v6
            && last.end.checked_add(1) == Some(r.start)
            && same(lt, &t)
        {
            last.end = r.end;
            continue;
        }
        out.push((r, t));
    }
    out
}

/// One end of a rendered connection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    /// A workload (or a bare Pod).
    Workload {
        /// Namespace.
        namespace: Arc<str>,
        /// Name of the workload.
        name: Arc<str>,
        /// Kind of the workload (`Deployment`, `Pod`, ...).
        kind: Arc<str>,
    },
    /// Addresses outside the cluster.
    External(IpRange),
}

impl Peer {
    /// The peer of an engine endpoint.
    pub fn of(c: &Cluster, e: &Endpoint) -> Peer {
        match e {
            Endpoint::Workload(i) => match c.workloads.get(*i) {
                Some(w) => Peer::Workload {
                    namespace: w.namespace.as_str().into(),
                    name: w.name.as_str().into(),
                    kind: w.kind.as_str().into(),
                },
                None => Peer::Workload {
                    namespace: "".into(),
                    name: format!("#{i}").into(),
                    kind: "".into(),
                },
            },
            Endpoint::External(n) => Peer::External(IpRange::from_net(n)),
        }
    }

    /// Whether this is a workload.
    pub fn is_workload(&self) -> bool {
        matches!(self, Peer::Workload { .. })
    }

    /// Whether `spec` (`name` or `namespace/name`) names this workload.
    pub fn matches_workload(&self, spec: &str) -> bool {
        match self {
            Peer::Workload {
                namespace, name, ..
            } => match spec.split_once('/') {
                Some((ns, n)) => ns == &**namespace && n == &**name,
                None => spec == &**name,
            },
            Peer::External(_) => false,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Workload {
                namespace,
                name,
                kind,
            } => write!(f, "{namespace}/{name}[{kind}]"),
            Peer::External(r) => write!(f, "{r}[External]"),
        }
    }
}

/// A connection ready to render: named ends and the allowed ports.
#[derive(Clone, Debug)]
pub struct Line {
    /// Where the connection starts.
    pub src: Peer,
    /// Where it goes.
    pub dst: Peer,
    /// What it may carry.
    pub ports: PortSet,
}

impl Line {
    /// The ports as text: `TCP 6379,UDP 53` or `All Connections`.
    pub fn conn(&self) -> String {
        self.ports.to_string()
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} => {} : {}", self.src, self.dst, self.ports)
    }
}

/// Direction of a connection between a workload and outside addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dir {
    /// From outside to the workload.
    In,
    /// From the workload to outside.
    Out,
}

/// The connections with their ends named, external ranges canonical (split, united and merged,
/// see the module documentation), connections with no ports left out, sorted by source then
/// destination as written.
pub fn lines(c: &Cluster, conns: &[Connection]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    // (direction, workload) -> external ranges with their ports.
    let mut ext: BTreeMap<(Dir, usize), Vec<(IpRange, PortSet)>> = BTreeMap::new();
    let mut pairs: Vec<(usize, usize, &PortSet)> = Vec::new();
    for conn in conns {
        if conn.ports.is_empty() {
            continue;
        }
        match (&conn.src, &conn.dst) {
            (Endpoint::Workload(s), Endpoint::Workload(d)) => pairs.push((*s, *d, &conn.ports)),
            (Endpoint::External(n), Endpoint::Workload(d)) => ext
                .entry((Dir::In, *d))
                .or_default()
                .push((IpRange::from_net(n), conn.ports.clone())),
            (Endpoint::Workload(s), Endpoint::External(n)) => ext
                .entry((Dir::Out, *s))
                .or_default()
                .push((IpRange::from_net(n), conn.ports.clone())),
            // Outside to outside is not the cluster's business.
            (Endpoint::External(_), Endpoint::External(_)) => {}
        }
    }
    let peers: Vec<Peer> = (0..c.workloads.len())
        .map(|i| Peer::of(c, &Endpoint::Workload(i)))
        .collect();
    let peer = |i: usize| {
        peers
            .get(i)
            .cloned()
            .unwrap_or_else(|| Peer::of(c, &Endpoint::Workload(i)))
    };
    // Outside ranges per workload and direction, canonical.
    let mut outside: Vec<(Dir, usize, IpRange, PortSet)> = Vec::new();
    for ((dir, w), ranges) in ext {
        let pieces = refine(&ranges, |a, b| a.union(b));
        for (r, ports) in merge_adjacent(pieces, |a, b| a == b) {
            outside.push((dir, w, r, ports));
        }
    }
    // Rank every end by its written name, once: lines are then ordered by ranks.
    let mut names: Vec<(String, Option<usize>, Option<IpRange>)> = Vec::new();
    let mut seen: BTreeSet<IpRange> = BTreeSet::new();
    for i in 0..c
        .workloads
        .len()
        .max(pairs.iter().map(|p| p.0.max(p.1) + 1).max().unwrap_or(0))
    {
        names.push((peer(i).to_string(), Some(i), None));
    }
    for (_, _, r, _) in &outside {
        if seen.insert(*r) {
            names.push((Peer::External(*r).to_string(), None, Some(*r)));
        }
    }
    names.sort_unstable();
    let mut wrank: Vec<u32> = vec![0; names.len()];
    let mut erank: HashMap<IpRange, u32> = HashMap::new();
    for (k, (_, w, r)) in names.iter().enumerate() {
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        if let Some(w) = w {
            wrank[*w] = k;
        }
        if let Some(r) = r {
            erank.insert(*r, k);
        }
    }
    drop(names);
    let wr = |i: usize| wrank.get(i).copied().unwrap_or(u32::MAX);
    pairs.sort_unstable_by_key(|&(s, d, _)| (wr(s), wr(d)));
    let mut keyed_outside: Vec<((u32, u32), Line)> = outside
        .into_iter()
        .map(|(dir, w, r, ports)| {
            let (er, wl) = (erank.get(&r).copied().unwrap_or(u32::MAX), wr(w));
            match dir {
                Dir::In => (
                    (er, wl),
                    Line {
                        src: Peer::External(r),
                        dst: peer(w),
                        ports,
                    },
                ),
                Dir::Out => (
                    (wl, er),
                    Line {
                        src: peer(w),
                        dst: Peer::External(r),
                        ports,
                    },
                ),
            }
        })
        .collect();
    keyed_outside.sort_unstable_by_key(|(k, _)| *k);
    let mut outside_iter = keyed_outside.into_iter().peekable();
    out.reserve(pairs.len() + outside_iter.len());
    let mut k = 0;
    while k < pairs.len() {
        let (s, d, first) = pairs[k];
        let key = (wr(s), wr(d));
        let mut ports = first.clone();
        k += 1;
        while k < pairs.len() && (pairs[k].0, pairs[k].1) == (s, d) {
            ports = ports.union(pairs[k].2);
            k += 1;
        }
        while let Some((_, l)) = outside_iter.next_if(|(ok, _)| *ok < key) {
            out.push(l);
        }
        out.push(Line {
            src: peer(s),
            dst: peer(d),
            ports,
        });
    }
    out.extend(outside_iter.map(|(_, l)| l));
    out
}

/// Every address block a policy names in rules of one direction (`ingress`: sources, else
/// destinations): `ipBlock` cidrs and excepts of NetworkPolicies, and `networks` of
/// AdminNetworkPolicies and the BaselineAdminNetworkPolicy.
pub fn policy_blocks(c: &Cluster, ingress: bool) -> Vec<IpRange> {
    let mut out = Vec::new();
    let np_rules = c.policies.iter().flat_map(|p| {
        if ingress { &p.ingress } else { &p.egress }
            .iter()
            .flatten()
    });
    for r in np_rules {
        for peer in r.peers.iter().flatten() {
            if let crate::Peer::IpBlock { cidr, except } = peer {
                out.push(IpRange::from_net(cidr));
                out.extend(except.iter().map(IpRange::from_net));
            }
        }
    }
    let admin_rules = c
        .admin_policies
        .iter()
        .chain(c.baseline.iter())
        .flat_map(|p| if ingress { &p.ingress } else { &p.egress });
    for r in admin_rules {
        for peer in &r.peers {
            if let crate::AdminPeer::Networks(nets) = peer {
                out.extend(nets.iter().map(IpRange::from_net));
            }
        }
    }
    out
}

fn cut_points(blocks: Vec<IpRange>) -> Vec<(bool, u128)> {
    let mut cuts: Vec<(bool, u128)> = Vec::new();
    for b in blocks {
        cuts.push((b.v6, b.start));
        if let Some(p) = b.end.checked_add(1) {
            cuts.push((b.v6, p));
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Cuts the outside ranges of `lines` at the first and past-the-last address of every block
/// the policies name for that direction ([`policy_blocks`]: ingress blocks for connections
/// from outside, egress blocks for connections to outside), the way np-guard/netpol-analyzer
/// writes them (it lists the pieces of the address space the policies tell apart, without
/// merging neighbours with the same ports). The result is sorted.
pub fn split_at_policy_blocks(c: &Cluster, lines: Vec<Line>) -> Vec<Line> {
    let in_cuts = cut_points(policy_blocks(c, true));
    let out_cuts = cut_points(policy_blocks(c, false));
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        let (range, outside_is_src) = match (&l.src, &l.dst) {
            (Peer::External(r), _) => (*r, true),
            (_, Peer::External(r)) => (*r, false),
            _ => {
                out.push(l);
                continue;
            }
        };
        let cuts = if outside_is_src { &in_cuts } else { &out_cuts };
        let mut start = range.start;
        let inner = cuts
            .iter()
            .filter(|(v6, p)| *v6 == range.v6 && *p > range.start && *p <= range.end)
            .map(|(_, p)| *p);
        for p in inner.chain(std::iter::once(range.end.wrapping_add(1))) {
            let piece = Peer::External(IpRange {
                v6: range.v6,
                start,
                end: p.wrapping_sub(1),
            });
            let mut nl = l.clone();
            if outside_is_src {
                nl.src = piece;
            } else {
                nl.dst = piece;
            }
            out.push(nl);
            start = p;
        }
    }
    sort_lines(&mut out);
    out
}

/// Sorts lines by source, then destination, as written (the order netpol-analyzer uses).
/// Each distinct end is written once and ranked; lines are then ordered by ranks, moving each
/// line once.
pub fn sort_lines(lines: &mut Vec<Line>) {
    let mut rank: HashMap<&Peer, u32> = HashMap::new();
    for l in lines.iter() {
        rank.entry(&l.src).or_insert(0);
        rank.entry(&l.dst).or_insert(0);
    }
    let mut named: Vec<(String, &Peer)> = rank.keys().map(|p| (p.to_string(), *p)).collect();
    named.sort_unstable();
    for (i, (_, p)) in named.iter().enumerate() {
        rank.insert(p, u32::try_from(i).unwrap_or(u32::MAX));
    }
    let mut order: Vec<(u32, u32, usize)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (rank[&l.src], rank[&l.dst], i))
        .collect();
    drop(named);
    drop(rank);
    order.sort_unstable();
    let mut slots: Vec<Option<Line>> = lines.drain(..).map(Some).collect();
    lines.extend(order.iter().filter_map(|&(_, _, i)| slots[i].take()));
}

/// Keeps the lines with a workload named `spec` (`name` or `namespace/name`) at either end.
pub fn focus(lines: &[Line], spec: &str) -> Vec<Line> {
    lines
        .iter()
        .filter(|l| l.src.matches_workload(spec) || l.dst.matches_workload(spec))
        .cloned()
        .collect()
}

/// Output formats of a connectivity list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `src => dst : conn` lines.
    Txt,
    /// A JSON array of `{"src", "dst", "conn"}` objects.
    Json,
    /// `src,dst,conn` rows under a header.
    Csv,
    /// A Markdown table.
    Md,
    /// A Graphviz digraph with a cluster per namespace.
    Dot,
    /// A self-contained HTML page with a colour grid.
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "txt" | "text" => Format::Txt,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "md" | "markdown" => Format::Md,
            "dot" => Format::Dot,
            "html" => Format::Html,
            other => {
                return Err(format!(
                    "unknown format {other:?} (expected txt, json, csv, md, dot or html)"
                ));
            }
        })
    }
}

/// Renders `lines` in `format`. The HTML page needs the cluster to name every workload (also
/// those with no connection) and to explain cells; the other formats only read `lines`.
pub fn render(c: &Cluster, lines: &[Line], format: Format) -> String {
    match format {
        Format::Txt => txt(lines),
        Format::Json => json(lines),
        Format::Csv => csv(lines),
        Format::Md => md(lines),
        Format::Dot => dot(lines),
        Format::Html => html::page(c, lines, None),
    }
}

/// `src => dst : conn`, one line per connection.
pub fn txt(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        let _ = writeln!(s, "{l}");
    }
    s
}

#[derive(Serialize)]
struct JsonLine {
    src: String,
    dst: String,
    conn: String,
}

/// A JSON array of `{"src": ..., "dst": ..., "conn": ...}` (pretty-printed, two spaces).
pub fn json(lines: &[Line]) -> String {
    let rows: Vec<JsonLine> = lines
        .iter()
        .map(|l| JsonLine {
            src: l.src.to_string(),
            dst: l.dst.to_string(),
            conn: l.conn(),
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// One CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
pub fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// `src,dst,conn` header and rows.
pub fn csv(lines: &[Line]) -> String {
    let mut s = String::from("src,dst,conn\n");
    for l in lines {
        let _ = writeln!(
            s,
            "{},{},{}",
            csv_field(&l.src.to_string()),
            csv_field(&l.dst.to_string()),
            csv_field(&l.conn())
        );
    }
    s
}

/// One Markdown table cell: pipes escaped.
pub fn md_cell(f: &str) -> String {
    f.replace('|', "\\|")
}

/// A Markdown table `| src | dst | conn |`.
pub fn md(lines: &[Line]) -> String {
    let mut s = String::from("| src | dst | conn |\n|-----|-----|------|\n");
    for l in lines {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            md_cell(&l.src.to_string()),
            md_cell(&l.dst.to_string()),
            md_cell(&l.conn())
        );
    }
    s
}

/// A DOT string literal.
fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Graphviz digraph: a cluster per namespace holding its workloads, external ranges as red
/// nodes, an edge per connection labelled with its ports.
pub fn dot(lines: &[Line]) -> String {
    let mut namespaces: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    let mut externals: BTreeMap<String, ()> = BTreeMap::new();
    for l in lines {
        for p in [&l.src, &l.dst] {
            match p {
                Peer::Workload {
                    namespace,
                    name,
                    kind,
                } => {
                    namespaces
                        .entry(&**namespace)
                        .or_default()
                        .insert(p.to_string(), format!("{name}[{kind}]"));
                }
                Peer::External(_) => {
                    externals.insert(p.to_string(), ());
                }
            }
        }
    }
    let mut s = String::from("digraph {\n");
    for (ns, nodes) in &namespaces {
        let cluster = format!("cluster_{ns}[namespace]");
        let _ = writeln!(s, "\tsubgraph {} {{", dot_quote(&cluster));
        s.push_str("\t\tcolor=\"black\"\n\t\tfontcolor=\"black\"\n");
        for (id, label) in nodes {
            let _ = writeln!(
                s,
                "\t\t{} [label={} color=\"blue\" fontcolor=\"blue\"]",
                dot_quote(id),
                dot_quote(label)
            );
        }
        let _ = writeln!(s, "\t\tlabel={}", dot_quote(&format!("{ns}[namespace]")));
        s.push_str("\t}\n");
    }
    for id in externals.keys() {
        let _ = writeln!(
            s,
            "\t{} [label={} color=\"red2\" fontcolor=\"red2\"]",
            dot_quote(id),
            dot_quote(id)
        );
    }
    for l in lines {
        let _ = writeln!(
            s,
            "\t{} -> {} [label={} color=\"gold2\" fontcolor=\"darkgreen\"]",
            dot_quote(&l.src.to_string()),
            dot_quote(&l.dst.to_string()),
            dot_quote(&l.conn())
        );
    }
    s.push_str("}\n");
    s
}

pub mod html;

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpRange {
        IpRange::from_net(&s.parse::<IpNet>().unwrap())
    }

    #[test]
    fn ranges_print_first_and_last_address() {
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0-255.255.255.255");
        assert_eq!(net("10.20.0.0/24").to_string(), "10.20.0.0-10.20.0.255");
        assert_eq!(net("10.20.0.7/32").to_string(), "10.20.0.7-10.20.0.7");
        assert_eq!(
            net("2001:db8::/32").to_string(),
            "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(
            net("::/0").to_string(),
            "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        let a: IpAddr = "10.0.0.9".parse().unwrap();
        let b: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(IpRange::new(a, b).is_none());
        assert!(IpRange::new(b, v6).is_none());
        assert_eq!(IpRange::new(b, a).unwrap().to_string(), "10.0.0.1-10.0.0.9");
    }

    fn show(v: &[(IpRange, String)]) -> Vec<String> {
        v.iter().map(|(r, t)| format!("{r} {t}")).collect()
    }

    #[test]
    fn refine_splits_overlaps_and_combines_values() {
        let join = |a: &String, b: &String| format!("{a}+{b}");
        let got = refine(
            &[
                (net("10.0.0.0/8"), "a".to_string()),
                (net("10.1.0.0/16"), "b".to_string()),
                (net("::/0"), "v6".to_string()),
                (net("192.168.0.0/16"), "c".to_string()),
            ],
            join,
        );
        assert_eq!(
            show(&got),
            [
                "10.0.0.0-10.0.255.255 a",
                "10.1.0.0-10.1.255.255 a+b",
                "10.2.0.0-10.255.255.255 a",
                "192.168.0.0-192.168.255.255 c",
                "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff v6",
            ]
        );
        // The whole IPv4 space: the last piece ends at the last address.
        let got = refine(&[(net("0.0.0.0/0"), 1), (net("255.0.0.0/8"), 2)], |a, b| {
            a + b
        });
        let got: Vec<String> = got.iter().map(|(r, v)| format!("{r} {v}")).collect();
        assert_eq!(
            got,
            ["0.0.0.0-254.255.255.255 1", "255.0.0.0-255.255.255.255 3"]
        );
        assert!(refine::<u8>(&[], |a, _| *a).is_empty());
    }

    #[test]
    fn merge_joins_only_touching_equal_neighbours() {
        let pieces = vec![
            (net("10.0.0.0/9"), "x".to_string()),
            (net("10.128.0.0/9"), "x".to_string()),
            (net("11.0.0.0/8"), "y".to_string()),
            (net("13.0.0.0/8"), "y".to_string()),
        ];
        let got = merge_adjacent(pieces, |a, b| a == b);
        assert_eq!(
            show(&got),
            [
                "10.0.0.0-10.255.255.255 x",
                "11.0.0.0-11.255.255.255 y",
                "13.0.0.0-13.255.255.255 y",
            ]
        );
        // The end of IPv4 does not touch the start of IPv6.
        let got = merge_adjacent(vec![(net("255.0.0.0/8"), 1), (net("::/128"), 1)], |a, b| {
            a == b
        });
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn peers_print_and_match_workload_names() {
        let p = Peer::Workload {
            namespace: "shop".into(),
            name: "web".into(),
            kind: "Deployment".into(),
        };
        assert_eq!(p.to_string(), "shop/web[Deployment]");
        assert!(p.matches_workload("web"));
        assert!(p.matches_workload("shop/web"));
        assert!(!p.matches_workload("other/web"));
        assert!(!p.matches_workload("we"));
        let e = Peer::External(net("10.0.0.0/8"));
        assert_eq!(e.to_string(), "10.0.0.0-10.255.255.255[External]");
        assert!(!e.matches_workload("10.0.0.0/8"));
    }

    #[test]
    fn csv_and_markdown_escaping() {
        assert_eq!(csv_field("TCP 80"), "TCP 80");
        assert_eq!(csv_field("TCP 80,UDP 53"), "\"TCP 80,UDP 53\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(md_cell("a|b"), "a\\|b");
        assert_eq!(dot_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(
            html::escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn formats_parse() {
        for (s, f) in [
            ("txt", Format::Txt),
            ("json", Format::Json),
            ("csv", Format::Csv),
            ("md", Format::Md),
            ("dot", Format::Dot),
            ("html", Format::Html),
        ] {
            assert_eq!(s.parse::<Format>(), Ok(f));
        }
        assert!("svg".parse::<Format>().is_err());
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use palisade_model::{Inventory, LoadOptions};

    #[test]
    fn split_cuts_at_every_policy_block_boundary() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {app: a}}\nspec: {containers: [{name: c}]}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]\n  - to: [{ipBlock: {cidr: 11.0.0.0/8}}]\n";
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", yaml, &LoadOptions::default());
        let (c, _) = Cluster::from_inventory(&inv);
        let merged = lines(&c, &crate::connectivity(&c));
        let outside: Vec<String> = merged
            .iter()
            .filter(|l| l.src.is_workload())
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            outside,
            [
                "n/a[Pod] => 10.0.0.0-10.0.255.255[External] : All Connections",
                "n/a[Pod] => 10.2.0.0-11.255.255.255[External] : All Connections",
            ]
        );
        // lines() builds its order by ranks; a plain sort of the written names agrees.
        let mut resorted = merged.clone();
        resorted.reverse();
        sort_lines(&mut resorted);
        let text = |v: &[Line]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(text(&resorted), text(&merged));
        let mut by_name = text(&merged);
        by_name.sort_by(|a, b| {
            let key = |s: &str| {
                let (ends, _) = s.split_once(" : ").unwrap_or((s, ""));
                let (src, dst) = ends.split_once(" => ").unwrap_or((ends, ""));
                (src.to_string(), dst.to_string())
            };
            key(a).cmp(&key(b))
        });
        assert_eq!(by_name, text(&merged));
        let split = split_at_policy_blocks(&c, merged);
        let outside: Vec<String> = split
            .iter()
            .filter(|l| l.src.is_workload())
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            outside,
            [
                "n/a[Pod] => 10.0.0.0-10.0.255.255[External] : All Connections",
                "n/a[Pod] => 10.2.0.0-10.255.255.255[External] : All Connections",
                "n/a[Pod] => 11.0.0.0-11.255.255.255[External] : All Connections",
            ]
        );
        // Ingress from outside is unrestricted, and no ingress rule names a block: one range.
        let inbound: Vec<String> = split
            .iter()
            .filter(|l| !l.src.is_workload() && !l.src.to_string().contains(':'))
            .map(|l| l.src.to_string())
            .collect();
        assert_eq!(inbound, ["0.0.0.0-255.255.255.255[External]"]);
    }
}
