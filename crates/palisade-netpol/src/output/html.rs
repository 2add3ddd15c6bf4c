//! The connectivity list as a self-contained HTML page: a grid with a row per source and a
//! column per destination, each cell coloured by what the source may open to the destination
//! (every port, some ports, nothing). Hovering a cell shows the ports and why, from
//! [`crate::evaluate`] on one representative port. The page carries its CSS and script inline
//! and loads nothing.

use super::{IpRange, Line, Peer};
use crate::{Cluster, Endpoint, PortSet, Protocol};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// With more endpoints than this the page leaves the grid out (it would not be readable, and
/// would weigh megabytes) and says so; the connection table is still there. `--focus-workload`
/// brings a large cluster under the limit.
pub const GRID_LIMIT: usize = 250;

/// Cells beyond this many are rendered without the per-cell explanation (it costs an
/// evaluation each).
pub const EXPLAIN_LIMIT: usize = 40_000;

/// What a cell shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellState {
    /// Every protocol and port.
    All,
    /// Some ports.
    Some,
    /// Nothing.
    None,
    /// A workload and itself: not analysed (a pod cannot be kept from itself).
    SelfCell,
    /// Between two outside ranges: not the cluster's business.
    NotApplicable,
}

impl CellState {
    /// The CSS class of the cell.
    pub fn class(self) -> &'static str {
        match self {
            CellState::All => "all",
            CellState::Some => "some",
            CellState::None => "none",
            CellState::SelfCell => "self",
            CellState::NotApplicable => "na",
        }
    }
}

/// Escapes text for HTML content and attribute values (line breaks too, so that a row of
/// the grid stays on one line of the page).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

/// The peers of the grid: the workload ends of every line, plus every workload of the cluster
/// when the list is not focused (a workload with no connection is a row and a column of empty
/// cells), or the focused workloads when it is; and the outside ranges of the lines, cut on
/// each other's boundaries so that every cell has one answer (`0.0.0.0/0` for one workload and
/// `10.0.0.0/8` for another become `0.0.0.0-9.255.255.255`, `10.0.0.0-10.255.255.255` and
/// `11.0.0.0-255.255.255.255`). Workloads first, then outside ranges, each sorted as written.
pub fn grid_peers(c: &Cluster, lines: &[Line], focus: Option<&str>) -> Vec<Peer> {
    let mut set: BTreeSet<Peer> = BTreeSet::new();
    let mut ranges: Vec<(IpRange, ())> = Vec::new();
    for l in lines {
        for p in [&l.src, &l.dst] {
            match p {
                Peer::External(r) => ranges.push((*r, ())),
                w => {
                    set.insert(w.clone());
                }
            }
        }
    }
    for i in 0..c.workloads.len() {
        let p = Peer::of(c, &Endpoint::Workload(i));
        if focus.is_none_or(|f| p.matches_workload(f)) {
            set.insert(p);
        }
    }
    for (r, ()) in super::refine(&ranges, |_, _| ()) {
        set.insert(Peer::External(r));
    }
    let mut peers: Vec<Peer> = set.into_iter().collect();
    peers.sort_by_cached_key(|p| (!p.is_workload(), p.to_string()));
    peers
}

/// The lines of a grid, looked up by cell.
struct Cells<'a> {
    /// Workload to workload, by names.
    pairs: BTreeMap<(String, String), &'a Line>,
    /// Workload name and direction (true: the workload is the source) to its lines with an
    /// outside end.
    outside: BTreeMap<(String, bool), Vec<(IpRange, &'a Line)>>,
}

impl<'a> Cells<'a> {
    fn new(lines: &'a [Line]) -> Self {
        let mut pairs = BTreeMap::new();
        let mut outside: BTreeMap<(String, bool), Vec<(IpRange, &'a Line)>> = BTreeMap::new();
        for l in lines {
            match (&l.src, &l.dst) {
                (Peer::External(r), w) => outside
                    .entry((w.to_string(), false))
                    .or_default()
                    .push((*r, l)),
                (w, Peer::External(r)) => outside
                    .entry((w.to_string(), true))
                    .or_default()
                    .push((*r, l)),
                (s, d) => {
                    pairs.insert((s.to_string(), d.to_string()), l);
                }
            }
        }
        Cells { pairs, outside }
    }

    /// The line from `src` to `dst`; for an outside end, the line whose range holds the cell's
    /// range (grid ranges are cut on every line's boundaries, so one holds it or none).
    fn get(&self, src: &Peer, dst: &Peer) -> Option<&'a Line> {
        let within = |w: &Peer, out: bool, r: &IpRange| {
            self.outside.get(&(w.to_string(), out)).and_then(|v| {
                v.iter()
                    .find(|(lr, _)| lr.v6 == r.v6 && lr.start <= r.start && lr.end >= r.end)
                    .map(|(_, l)| *l)
            })
        };
        match (src, dst) {
            (Peer::External(_), Peer::External(_)) => None,
            (Peer::External(r), w) => within(w, false, r),
            (w, Peer::External(r)) => within(w, true, r),
            (s, d) => self.pairs.get(&(s.to_string(), d.to_string())).copied(),
        }
    }
}

/// A protocol and port to ask the engine about for a cell: the first allowed port (TCP, then
/// UDP, then SCTP), else the first port the destination declares, else TCP 80.
fn probe(
    c: &Cluster,
    dst: &Peer,
    ports: Option<&PortSet>,
    index: &BTreeMap<String, usize>,
) -> (Protocol, u16) {
    if let Some(ps) = ports.filter(|p| !p.is_all()) {
        for proto in [Protocol::TCP, Protocol::UDP, Protocol::SCTP] {
            if let Some(&(lo, _)) = ps.ranges(proto).first() {
                return (proto, lo);
            }
        }
    }
    if let Some(np) = index
        .get(&dst.to_string())
        .and_then(|i| c.workloads.get(*i))
        .and_then(|w| w.ports.first())
    {
        return (np.protocol, np.port);
    }
    (Protocol::TCP, 80)
}

fn endpoint(p: &Peer, index: &BTreeMap<String, usize>) -> Option<Endpoint> {
    match p {
        Peer::Workload { .. } => index.get(&p.to_string()).map(|i| Endpoint::Workload(*i)),
        Peer::External(r) => host_net(r).map(Endpoint::External),
    }
}

/// The first address of a range as a host network.
fn host_net(r: &IpRange) -> Option<IpNet> {
    let a = r.start();
    IpNet::new(a, if a.is_ipv4() { 32 } else { 128 }).ok()
}

/// Why a cell is what it is, from the engine's verdict on one port.
fn why(c: &Cluster, src: &Endpoint, dst: &Endpoint, proto: Protocol, port: u16) -> String {
    let v = crate::evaluate(c, src, dst, proto, port);
    format!(
        "{proto} {port}: {}\n{}\n{}",
        if v.allowed { "allowed" } else { "denied" },
        v.egress,
        v.ingress
    )
}

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 .3em 0 1em; border: 1px solid #999; }
table.grid { border-collapse: collapse; margin-top: 1em; }
table.grid th { font-weight: normal; font-size: 12px; white-space: nowrap; padding: 2px 6px; }
table.grid thead th.col { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; vertical-align: bottom; }
table.grid th.row { text-align: right; }
table.grid td { width: 18px; height: 18px; border: 1px solid #fff; outline: 1px solid #e0e0e0; padding: 0; }
td.all { background: #c62828; }
td.some { background: #f9a825; }
td.none { background: #e8f5e9; }
td.self { background: #bdbdbd; }
td.na { background: #f5f5f5; }
th.hl { background: #fff59d; }
#tip { position: fixed; max-width: 36em; background: #263238; color: #fff; padding: .5em .7em; border-radius: 4px; font-size: 12px; pointer-events: none; white-space: pre-wrap; }
table.list { border-collapse: collapse; margin-top: .5em; }
table.list td, table.list th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; font-family: ui-monospace, monospace; font-size: 12px; }
"#;

const SCRIPT: &str = r#"
(function () {
  var tip = document.getElementById('tip');
  var grid = document.getElementById('grid');
  if (!grid) { return; }
  var lit = [];
  function clear() { lit.forEach(function (e) { e.classList.remove('hl'); }); lit = []; }
  grid.addEventListener('mouseover', function (ev) {
    var td = ev.target.closest('td');
    clear();
    if (!td) { tip.hidden = true; return; }
    var row = td.parentElement;
    var col = grid.tHead.rows[0].cells[td.cellIndex];
    [row.cells[0], col].forEach(function (e) { e.classList.add('hl'); lit.push(e); });
    tip.textContent = td.getAttribute('data-src') + ' => ' + td.getAttribute('data-dst') + '\n' +
      td.getAttribute('data-conn') + (td.getAttribute('data-why') ? '\n\n' + td.getAttribute('data-why') : '');
    tip.hidden = false;
  });
  grid.addEventListener('mousemove', function (ev) {
    tip.style.left = (ev.clientX + 14) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  });
  grid.addEventListener('mouseleave', function () { clear(); tip.hidden = true; });
})();
"#;

/// Writes the grid table and its tooltip element.
fn grid(s: &mut String, c: &Cluster, lines: &[Line], peers: &[Peer]) {
    let index: BTreeMap<String, usize> = (0..c.workloads.len())
        .map(|i| (Peer::of(c, &Endpoint::Workload(i)).to_string(), i))
        .collect();
    let cells = Cells::new(lines);
    let names: Vec<String> = peers.iter().map(ToString::to_string).collect();
    let explain = peers.len() * peers.len() <= EXPLAIN_LIMIT;
    s.push_str("<table class=\"grid\" id=\"grid\">\n<thead><tr><th class=\"corner\">source \\ destination</th>");
    for n in &names {
        let _ = write!(s, "<th class=\"col\" scope=\"col\">{}</th>", escape(n));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (ri, src) in peers.iter().enumerate() {
        let _ = write!(
            s,
            "<tr><th class=\"row\" scope=\"row\">{}</th>",
            escape(&names[ri])
        );
        for (ci, dst) in peers.iter().enumerate() {
            let line = cells.get(src, dst);
            let state = if src.is_workload() && src == dst {
                CellState::SelfCell
            } else if !src.is_workload() && !dst.is_workload() {
                CellState::NotApplicable
            } else {
                match line {
                    Some(l) if l.ports.is_all() => CellState::All,
                    Some(_) => CellState::Some,
                    None => CellState::None,
                }
            };
            let conn = match (state, line) {
                (_, Some(l)) => l.conn(),
                (CellState::SelfCell, _) => "itself (not analysed)".to_string(),
                (CellState::NotApplicable, _) => "outside to outside (not analysed)".to_string(),
                _ => "No Connections".to_string(),
            };
            let reason =
                if explain && matches!(state, CellState::All | CellState::Some | CellState::None) {
                    match (endpoint(src, &index), endpoint(dst, &index)) {
                        (Some(a), Some(b)) => {
                            let (proto, port) = probe(c, dst, line.map(|l| &l.ports), &index);
                            why(c, &a, &b, proto, port)
                        }
                        _ => String::new(),
                    }
                } else {
                    String::new()
                };
            let title = if reason.is_empty() {
                format!("{} => {} : {}", names[ri], names[ci], conn)
            } else {
                format!("{} => {} : {}\n{}", names[ri], names[ci], conn, reason)
            };
            let _ = write!(
                s,
                "<td class=\"{}\" data-src=\"{}\" data-dst=\"{}\" data-conn=\"{}\" data-why=\"{}\" title=\"{}\"></td>",
                state.class(),
                escape(&names[ri]),
                escape(&names[ci]),
                escape(&conn),
                escape(&reason),
                escape(&title)
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n<div id=\"tip\" role=\"tooltip\" hidden></div>\n");
}

/// The group of a peer in the namespace grid: its namespace, or `(outside)`.
fn group_of(p: &Peer) -> String {
    match p {
        Peer::Workload { namespace, .. } => namespace.to_string(),
        Peer::External(_) => "(outside)".to_string(),
    }
}

/// Peers grouped by namespace (outside ranges together, last), with the group sizes.
fn group_peers(peers: &[Peer]) -> Vec<(String, usize)> {
    let mut sizes: BTreeMap<(bool, String), usize> = BTreeMap::new();
    for p in peers {
        *sizes.entry((!p.is_workload(), group_of(p))).or_default() += 1;
    }
    sizes.into_iter().map(|((_, g), n)| (g, n)).collect()
}

/// The grid at namespace granularity, for clusters too large for a grid of workloads.
fn namespace_grid(s: &mut String, lines: &[Line], groups: &[(String, usize)]) {
    let index: BTreeMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, (g, _))| (g.as_str(), i))
        .collect();
    // (source group, destination group) -> (connected pairs, pairs with every port).
    let mut counts: BTreeMap<(usize, usize), (usize, usize)> = BTreeMap::new();
    for l in lines {
        let (Some(&a), Some(&b)) = (
            index.get(group_of(&l.src).as_str()),
            index.get(group_of(&l.dst).as_str()),
        ) else {
            continue;
        };
        let e = counts.entry((a, b)).or_default();
        e.0 += 1;
        if l.ports.is_all() {
            e.1 += 1;
        }
    }
    s.push_str("<table class=\"grid\" id=\"grid\">\n<thead><tr><th class=\"corner\">source \\ destination</th>");
    for (g, _) in groups {
        let _ = write!(s, "<th class=\"col\" scope=\"col\">{}</th>", escape(g));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (a, (ga, na)) in groups.iter().enumerate() {
        let _ = write!(s, "<tr><th class=\"row\" scope=\"row\">{}</th>", escape(ga));
        for (b, (gb, nb)) in groups.iter().enumerate() {
            let outside = a == b && ga == "(outside)";
            // Pairs of distinct endpoints (a workload is not paired with itself).
            let total = if a == b {
                na * na.saturating_sub(1)
            } else {
                na * nb
            };
            let (connected, all) = counts.get(&(a, b)).copied().unwrap_or((0, 0));
            let state = if outside || total == 0 {
                CellState::NotApplicable
            } else if connected == 0 {
                CellState::None
            } else if all == total {
                CellState::All
            } else {
                CellState::Some
            };
            let conn = if matches!(state, CellState::NotApplicable) {
                "not analysed".to_string()
            } else {
                format!("{connected} of {total} pairs connected, {all} with all connections")
            };
            let _ = write!(
                s,
                "<td class=\"{}\" data-src=\"{}\" data-dst=\"{}\" data-conn=\"{}\" data-why=\"\" title=\"{} => {} : {}\"></td>",
                state.class(),
                escape(ga),
                escape(gb),
                escape(&conn),
                escape(ga),
                escape(gb),
                escape(&conn)
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n<div id=\"tip\" role=\"tooltip\" hidden></div>\n");
}

/// The page. `focus` is the `--focus-workload` the lines were filtered with, if any.
pub fn page(c: &Cluster, lines: &[Line], focus: Option<&str>) -> String {
    let peers = grid_peers(c, lines, focus);

    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<title>Palisade: network connectivity</title>\n<style>");
    s.push_str(STYLE);
    s.push_str("</style>\n</head>\n<body>\n<h1>Network connectivity</h1>\n");
    let _ = writeln!(
        s,
        "<p>{} allowed connections between {} endpoints{}. Rows are sources, columns destinations.</p>",
        lines.len(),
        peers.len(),
        focus
            .map(|f| format!(" (focus: {})", escape(f)))
            .unwrap_or_default()
    );
    s.push_str("<p class=\"legend\"><span style=\"background:#c62828\"></span>all connections<span style=\"background:#f9a825\"></span>some ports<span style=\"background:#e8f5e9\"></span>none<span style=\"background:#bdbdbd\"></span>itself</p>\n");
    if peers.len() > GRID_LIMIT {
        let groups = group_peers(&peers);
        if groups.len() > GRID_LIMIT {
            let _ = writeln!(
                s,
                "<p class=\"note\" id=\"no-grid\">The grid is left out: {} endpoints in {} namespaces is more than {GRID_LIMIT}. Use --focus-workload to draw the grid around one workload.</p>",
                peers.len(),
                groups.len()
            );
        } else {
            let _ = writeln!(
                s,
                "<p class=\"note\" id=\"grouped\">{} endpoints is more than {GRID_LIMIT}: the grid shows namespaces (a cell is all connections when every pair of workloads is, none when no pair connects). Use --focus-workload for a grid of workloads.</p>",
                peers.len()
            );
            namespace_grid(&mut s, lines, &groups);
        }
    } else {
        grid(&mut s, c, lines, &peers);
    }
    s.push_str("<h2>Connections</h2>\n<table class=\"list\" id=\"list\">\n<thead><tr><th>src</th><th>dst</th><th>conn</th></tr></thead>\n<tbody>\n");
    for l in lines {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&l.src.to_string()),
            escape(&l.dst.to_string()),
            escape(&l.conn())
        );
    }
    s.push_str("</tbody>\n</table>\n<script>");
    s.push_str(SCRIPT);
    s.push_str("</script>\n</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::{Inventory, LoadOptions};

    fn cluster(yaml: &str) -> Cluster {
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", yaml, &LoadOptions::default());
        Cluster::from_inventory(&inv).0
    }

    /// The class and data-conn of the cell from `src` to `dst`.
    fn cell(html: &str, src: &str, dst: &str) -> Option<(String, String)> {
        let key = format!("data-src=\"{src}\" data-dst=\"{dst}\" data-conn=\"");
        let at = html.find(&key)?;
        let class_start = html[..at].rfind("class=\"")? + 7;
        let class = html[class_start..].split('"').next()?.to_string();
        let conn = html[at + key.len()..].split('"').next()?.to_string();
        Some((class, conn))
    }

    #[test]
    fn large_clusters_get_a_namespace_grid() {
        // 130 pods in each of `open` and `closed` (260 endpoints > GRID_LIMIT); `closed` denies
        // all ingress and egress.
        let mut yaml = String::new();
        for ns in ["open", "closed"] {
            for i in 0..130 {
                yaml.push_str(&format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: {ns}}}\nspec: {{containers: [{{name: c}}]}}\n---\n"
                ));
            }
        }
        yaml.push_str("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: closed}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n");
        let c = cluster(&yaml);
        let lines = super::super::lines(&c, &crate::connectivity(&c));
        let html = page(&c, &lines, None);
        assert!(html.contains("id=\"grouped\""));
        assert_eq!(
            html.matches("<th class=\"row\"").count(),
            3,
            "closed, open, (outside)"
        );
        assert_eq!(
            cell(&html, "open", "open"),
            Some((
                "all".into(),
                "16770 of 16770 pairs connected, 16770 with all connections".into()
            ))
        );
        assert_eq!(cell(&html, "open", "closed").unwrap().0, "none");
        assert_eq!(cell(&html, "closed", "open").unwrap().0, "none");
        assert_eq!(cell(&html, "(outside)", "open").unwrap().0, "all");
        assert_eq!(cell(&html, "(outside)", "(outside)").unwrap().0, "na");
    }

    #[test]
    fn small_clusters_get_a_workload_grid_with_explanations() {
        let c = cluster(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {app: a}}\nspec: {containers: [{name: c, ports: [{containerPort: 80}]}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: n, labels: {app: b}}\nspec: {containers: [{name: c, ports: [{containerPort: 443}]}]}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: b-in, namespace: n}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 443}]}]\n",
        );
        let lines = super::super::lines(&c, &crate::connectivity(&c));
        let html = page(&c, &lines, None);
        assert!(!html.contains("id=\"grouped\""));
        assert_eq!(
            cell(&html, "n/a[Pod]", "n/b[Pod]"),
            Some(("some".into(), "TCP 443".into()))
        );
        assert_eq!(cell(&html, "n/b[Pod]", "n/a[Pod]").unwrap().0, "all");
        assert_eq!(cell(&html, "n/a[Pod]", "n/a[Pod]").unwrap().0, "self");
        // Outside -> b is denied: b admits only a; the cell explains on b's declared port.
        let (class, conn) = cell(&html, "0.0.0.0-255.255.255.255[External]", "n/b[Pod]").unwrap();
        assert_eq!((class.as_str(), conn.as_str()), ("none", "No Connections"));
        assert!(html.contains("data-why=\"TCP 443: denied&#10;"), "{html}");
        assert!(html.contains("data-why=\"TCP 443: allowed&#10;"));
    }
}
