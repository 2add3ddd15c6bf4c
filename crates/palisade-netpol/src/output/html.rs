//! The connectivity list as a self-contained HTML page: a grid with a row per source and a
//! column per destination, each cell coloured by what the source may open to the destination
//! (every port, some ports, nothing). Hovering a cell shows the ports and why, from
//! [`crate::evaluate`] on one representative port. The page carries its CSS and script inline
//! and loads nothing.

use super::{IpRange, Line, Peer};
use crate::{Cluster, Endpoint, Protocol};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The peers of the grid: the ends of every line, plus every workload of the cluster when the
/// list is not focused (a workload with no connection is a row and a column of empty cells),
/// or the focused workloads when it is. Workloads first, then external ranges, each sorted as
/// written.
pub fn grid_peers(c: &Cluster, lines: &[Line], focus: Option<&str>) -> Vec<Peer> {
    let mut set: BTreeSet<Peer> = BTreeSet::new();
    for l in lines {
        set.insert(l.src.clone());
        set.insert(l.dst.clone());
    }
    for i in 0..c.workloads.len() {
        let p = Peer::of(c, &Endpoint::Workload(i));
        if focus.is_none_or(|f| p.matches_workload(f)) {
            set.insert(p);
        }
    }
    let mut peers: Vec<Peer> = set.into_iter().collect();
    peers.sort_by_cached_key(|p| (!p.is_workload(), p.to_string()));
    peers
}

/// A protocol and port to ask the engine about for a cell: the first port of the allowed set,
/// else the first port the destination declares, else TCP 80.
fn probe(c: &Cluster, dst: &Peer, conn: Option<&str>, index: &BTreeMap<String, usize>) -> (Protocol, u16) {
    if let Some((proto, ports)) = conn
        .and_then(|s| s.split(',').next())
        .and_then(|first| first.split_once(' '))
    {
        let start = ports.split('-').next().and_then(|p| p.parse::<u16>().ok());
        let proto = match proto {
            "TCP" => Some(Protocol::TCP),
            "UDP" => Some(Protocol::UDP),
            "SCTP" => Some(Protocol::SCTP),
            _ => None,
        };
        if let (Some(p), Some(n)) = (proto, start) {
            return (p, n);
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
        "{proto:?} {port}: {}. Egress: {}. Ingress: {}.",
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
table.grid td { width: 18px; height: 18px; border: 1px solid #fff; padding: 0; }
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

/// The page. `focus` is the `--focus-workload` the lines were filtered with, if any.
pub fn page(c: &Cluster, lines: &[Line], focus: Option<&str>) -> String {
    let peers = grid_peers(c, lines, focus);
    let index: BTreeMap<String, usize> = (0..c.workloads.len())
        .map(|i| (Peer::of(c, &Endpoint::Workload(i)).to_string(), i))
        .collect();
    let by_pair: BTreeMap<(String, String), &Line> = lines
        .iter()
        .map(|l| ((l.src.to_string(), l.dst.to_string()), l))
        .collect();
    let names: Vec<String> = peers.iter().map(ToString::to_string).collect();
    let explain = peers.len() * peers.len() <= EXPLAIN_LIMIT;

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
        focus.map(|f| format!(" (focus: {})", escape(f))).unwrap_or_default()
    );
    s.push_str("<p class=\"legend\"><span style=\"background:#c62828\"></span>all connections<span style=\"background:#f9a825\"></span>some ports<span style=\"background:#e8f5e9\"></span>none<span style=\"background:#bdbdbd\"></span>itself</p>\n");
    s.push_str("<table class=\"grid\" id=\"grid\">\n<thead><tr><th class=\"corner\">source \\ destination</th>");
    for n in &names {
        let _ = write!(s, "<th class=\"col\" scope=\"col\">{}</th>", escape(n));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (ri, src) in peers.iter().enumerate() {
        let _ = write!(s, "<tr><th class=\"row\" scope=\"row\">{}</th>", escape(&names[ri]));
        for (ci, dst) in peers.iter().enumerate() {
            let line = by_pair.get(&(names[ri].clone(), names[ci].clone()));
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
            let reason = if explain
                && matches!(state, CellState::All | CellState::Some | CellState::None)
            {
                match (endpoint(src, &index), endpoint(dst, &index)) {
                    (Some(a), Some(b)) => {
                        let conn_text = line.map(|l| l.conn());
                        let (proto, port) = probe(c, dst, conn_text.as_deref(), &index);
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
