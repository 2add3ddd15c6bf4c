//! Differences between two connectivity lists: connections added, removed, or whose ports
//! changed between an old and a new version of the manifests.
//!
//! Workloads are matched across versions by `ns/name[Kind]`. Address ranges outside the cluster
//! are compared address by address: both versions' ranges for a workload and direction are
//! split on every boundary, and neighbouring pieces with the same change are merged again, so a
//! narrowed `ipBlock` shows as the addresses that lost the connection, not as a removed range and
//! an added one.
//!
//! The text, CSV and Markdown shapes follow np-guard/netpol-analyzer's `diff` (`Connectivity
//! diff:` then `diff-type: ..., source: ..., destination: ..., old: ..., new: ...` lines; changed
//! first, then added, then removed, each sorted by source and destination).

use crate::output::{self, IpRange, Line, Peer, csv_field, md_cell, refine};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

/// The ports text of a connection that is not allowed.
pub const NO_CONNECTIONS: &str = "No Connections";

/// What happened to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Allowed in both versions, on different ports.
    Changed,
    /// Allowed only in the new version.
    Added,
    /// Allowed only in the old version.
    Removed,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Changed => "changed",
            Kind::Added => "added",
            Kind::Removed => "removed",
        })
    }
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Added, removed or changed.
    pub kind: Kind,
    /// Source.
    pub src: Peer,
    /// Destination.
    pub dst: Peer,
    /// Ports in the old version (`None`: not allowed).
    pub old: Option<String>,
    /// Ports in the new version (`None`: not allowed).
    pub new: Option<String>,
    /// Workloads of this connection that exist in one version only, e.g.
    /// `workload ns/a[Deployment] added`.
    pub info: Option<String>,
}

impl Change {
    /// The old ports, or `No Connections`.
    pub fn old_text(&self) -> &str {
        self.old.as_deref().unwrap_or(NO_CONNECTIONS)
    }

    /// The new ports, or `No Connections`.
    pub fn new_text(&self) -> &str {
        self.new.as_deref().unwrap_or(NO_CONNECTIONS)
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "diff-type: {}, source: {}, destination: {}, old: {}, new: {}",
            self.kind,
            self.src,
            self.dst,
            self.old_text(),
            self.new_text()
        )?;
        if let Some(i) = &self.info {
            write!(f, ", workloads-diff-info: {i}")?;
        }
        Ok(())
    }
}

/// Which end of an external connection is the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    /// Outside -> workload.
    In,
    /// Workload -> outside.
    Out,
}

type Ports = (Option<String>, Option<String>);

/// The differences between the old and new connectivity lists (as [`output::lines`] returns
/// them). `old_workloads` and `new_workloads` are every workload of each version, so that a
/// change can say that a workload was added or removed (a workload with no connection in one
/// version is still present in it).
pub fn diff(
    old: &[Line],
    new: &[Line],
    old_workloads: &BTreeSet<Peer>,
    new_workloads: &BTreeSet<Peer>,
) -> Vec<Change> {
    diff_core(
        old,
        new,
        |l| (&l.src, &l.dst, &l.ports),
        old_workloads,
        new_workloads,
    )
}

/// A connection as source, destination and ports text (unit tests).
#[cfg(test)]
type Row = (Peer, Peer, String);

#[cfg(test)]
fn diff_rows(
    old: &[Row],
    new: &[Row],
    old_workloads: &BTreeSet<Peer>,
    new_workloads: &BTreeSet<Peer>,
) -> Vec<Change> {
    diff_core(
        old,
        new,
        |r| (&r.0, &r.1, &r.2),
        old_workloads,
        new_workloads,
    )
}

/// Orders peers as written (`ns/name[Kind]`, `first-last[External]`) without writing
/// workloads out.
pub(crate) fn written_cmp(a: &Peer, b: &Peer) -> Ordering {
    match (a, b) {
        (
            Peer::Workload {
                namespace: n1,
                name: m1,
                kind: k1,
            },
            Peer::Workload {
                namespace: n2,
                name: m2,
                kind: k2,
            },
        ) => {
            let bytes = |n: &str, m: &str, k: &str| -> Vec<u8> {
                let mut v = Vec::with_capacity(n.len() + m.len() + k.len() + 3);
                v.extend_from_slice(n.as_bytes());
                v.push(b'/');
                v.extend_from_slice(m.as_bytes());
                v.push(b'[');
                v.extend_from_slice(k.as_bytes());
                v.push(b']');
                v
            };
            if n1 == n2 && m1 == m2 {
                k1.cmp(k2)
            } else if n1 == n2 {
                bytes("", m1, k1).cmp(&bytes("", m2, k2))
            } else {
                bytes(n1, m1, k1).cmp(&bytes(n2, m2, k2))
            }
        }
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn pair_cmp(a: (&Peer, &Peer), b: (&Peer, &Peer)) -> Ordering {
    written_cmp(a.0, b.0).then_with(|| written_cmp(a.1, b.1))
}

/// Sends the connections with an outside end to `ext` and returns the others in written order.
fn split<'a, L, P: fmt::Display>(
    lines: &'a [L],
    is_new: bool,
    get: &impl Fn(&L) -> (&Peer, &Peer, &P),
    ext: &mut BTreeMap<(Side, Peer), Vec<(IpRange, Ports)>>,
) -> Vec<(&'a Peer, &'a Peer, &'a P)> {
    let mut pairs = Vec::with_capacity(lines.len());
    for l in lines {
        let (src, dst, ports) = get(l);
        let text = || Some(ports.to_string());
        let entry = if is_new {
            (None, text())
        } else {
            (text(), None)
        };
        match (src, dst) {
            (Peer::External(r), w) => ext
                .entry((Side::In, w.clone()))
                .or_default()
                .push((*r, entry)),
            (w, Peer::External(r)) => ext
                .entry((Side::Out, w.clone()))
                .or_default()
                .push((*r, entry)),
            _ => pairs.push((src, dst, ports)),
        }
    }
    if !pairs.is_sorted_by(|a, b| pair_cmp((a.0, a.1), (b.0, b.1)).is_le()) {
        pairs.sort_by(|a, b| pair_cmp((a.0, a.1), (b.0, b.1)));
    }
    pairs
}

/// The diff of two connection lists read through `get` (source, destination, ports).
/// Workload-to-workload connections are merge-joined in written order (the order
/// [`output::lines`] returns; other input is sorted first); outside ranges are compared
/// address by address.
fn diff_core<L, P: PartialEq + fmt::Display>(
    old: &[L],
    new: &[L],
    get: impl Fn(&L) -> (&Peer, &Peer, &P),
    old_workloads: &BTreeSet<Peer>,
    new_workloads: &BTreeSet<Peer>,
) -> Vec<Change> {
    let mut ext: BTreeMap<(Side, Peer), Vec<(IpRange, Ports)>> = BTreeMap::new();
    let old_pairs = split(old, false, &get, &mut ext);
    let new_pairs = split(new, true, &get, &mut ext);
    let mut out = Vec::new();
    let mut push = |src: &Peer, dst: &Peer, (old, new): Ports| {
        let kind = match (&old, &new) {
            (Some(_), Some(_)) => Kind::Changed,
            (None, _) => Kind::Added,
            (_, None) => Kind::Removed,
        };
        let info = workloads_info(kind, src, dst, old_workloads, new_workloads);
        out.push(Change {
            kind,
            src: src.clone(),
            dst: dst.clone(),
            old,
            new,
            info,
        });
    };
    let (mut i, mut j) = (0, 0);
    while i < old_pairs.len() || j < new_pairs.len() {
        let ord = match (old_pairs.get(i), new_pairs.get(j)) {
            (Some(o), Some(n)) => pair_cmp((o.0, o.1), (n.0, n.1)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                let (s, d, p) = old_pairs[i];
                push(s, d, (Some(p.to_string()), None));
                i += 1;
            }
            Ordering::Greater => {
                let (s, d, p) = new_pairs[j];
                push(s, d, (None, Some(p.to_string())));
                j += 1;
            }
            Ordering::Equal => {
                let ((s, d, po), (_, _, pn)) = (old_pairs[i], new_pairs[j]);
                if po != pn {
                    push(s, d, (Some(po.to_string()), Some(pn.to_string())));
                }
                i += 1;
                j += 1;
            }
        }
    }
    for ((side, w), ranges) in ext {
        // Each version's ranges are disjoint, so a piece has at most one old and one new value.
        let pieces = refine(&ranges, |a, b| {
            (a.0.clone().or(b.0.clone()), a.1.clone().or(b.1.clone()))
        });
        let changed: Vec<(IpRange, Ports)> =
            pieces.into_iter().filter(|(_, (o, n))| o != n).collect();
        for (r, ports) in output::merge_adjacent(changed, |a, b| a == b) {
            let r = Peer::External(r);
            match side {
                Side::In => push(&r, &w, ports),
                Side::Out => push(&w, &r, ports),
            }
        }
    }
    out.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| pair_cmp((&a.src, &a.dst), (&b.src, &b.dst)))
    });
    out
}

/// `workload X added`, `workloads X and Y removed`, or `None` when both ends exist in both
/// versions (external ranges always do).
fn workloads_info(
    kind: Kind,
    src: &Peer,
    dst: &Peer,
    old_workloads: &BTreeSet<Peer>,
    new_workloads: &BTreeSet<Peer>,
) -> Option<String> {
    let (verb, missing_from) = match kind {
        Kind::Added => ("added", old_workloads),
        Kind::Removed => ("removed", new_workloads),
        Kind::Changed => return None,
    };
    let gone: Vec<String> = [src, dst]
        .into_iter()
        .filter(|p| p.is_workload() && !missing_from.contains(*p))
        .map(ToString::to_string)
        .collect();
    match gone.as_slice() {
        [] => None,
        [one] => Some(format!("workload {one} {verb}")),
        [a, b] => Some(format!("workloads {a} and {b} {verb}")),
        _ => None,
    }
}

/// Output formats of a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `Connectivity diff:` and a line per change.
    Txt,
    /// A JSON array of objects.
    Json,
    /// CSV with a header.
    Csv,
    /// A Markdown table.
    Md,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "txt" | "text" => Format::Txt,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "md" | "markdown" => Format::Md,
            other => {
                return Err(format!(
                    "unknown format {other:?} (expected txt, json, csv or md)"
                ));
            }
        })
    }
}

/// Renders the changes in `format`.
pub fn render(changes: &[Change], format: Format) -> String {
    match format {
        Format::Txt => txt(changes),
        Format::Json => json(changes),
        Format::Csv => csv(changes),
        Format::Md => md(changes),
    }
}

/// `Connectivity diff:` then one line per change, or `No connectivity changes` when there is
/// none.
pub fn txt(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No connectivity changes\n".into();
    }
    let mut s = String::from("Connectivity diff:\n");
    for c in changes {
        let _ = writeln!(s, "{c}");
    }
    s
}

const HEADER: [&str; 6] = [
    "diff-type",
    "source",
    "destination",
    "old",
    "new",
    "workloads-diff-info",
];

fn fields(c: &Change) -> [String; 6] {
    [
        c.kind.to_string(),
        c.src.to_string(),
        c.dst.to_string(),
        c.old_text().to_string(),
        c.new_text().to_string(),
        c.info.clone().unwrap_or_default(),
    ]
}

/// CSV: `diff-type,source,destination,old,new,workloads-diff-info` and a row per change.
pub fn csv(changes: &[Change]) -> String {
    let mut s = HEADER.join(",");
    s.push('\n');
    for c in changes {
        let row: Vec<String> = fields(c).iter().map(|f| csv_field(f)).collect();
        s.push_str(&row.join(","));
        s.push('\n');
    }
    s
}

/// A Markdown table with the CSV columns.
pub fn md(changes: &[Change]) -> String {
    let mut s = format!("| {} |\n", HEADER.join(" | "));
    let rule: Vec<String> = HEADER.iter().map(|h| "-".repeat(h.len())).collect();
    let _ = writeln!(
        s,
        "|{}|",
        rule.iter()
            .map(|r| format!("-{r}-"))
            .collect::<Vec<_>>()
            .join("|")
    );
    for c in changes {
        let row: Vec<String> = fields(c).iter().map(|f| md_cell(f)).collect();
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s
}

#[derive(Serialize)]
struct JsonChange<'a> {
    #[serde(rename = "diff-type")]
    kind: Kind,
    source: String,
    destination: String,
    old: &'a str,
    new: &'a str,
    #[serde(
        rename = "workloads-diff-info",
        skip_serializing_if = "Option::is_none"
    )]
    info: Option<&'a str>,
}

/// A JSON array of `{"diff-type", "source", "destination", "old", "new",
/// "workloads-diff-info"?}` objects.
pub fn json(changes: &[Change]) -> String {
    let rows: Vec<JsonChange<'_>> = changes
        .iter()
        .map(|c| JsonChange {
            kind: c.kind,
            source: c.src.to_string(),
            destination: c.dst.to_string(),
            old: c.old_text(),
            new: c.new_text(),
            info: c.info.as_deref(),
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;

    fn w(s: &str) -> Peer {
        let (ns, name) = s.split_once('/').unwrap();
        Peer::Workload {
            namespace: ns.into(),
            name: name.into(),
            kind: "Deployment".into(),
        }
    }

    fn ext(s: &str) -> Peer {
        Peer::External(IpRange::from_net(&s.parse::<IpNet>().unwrap()))
    }

    fn row(src: Peer, dst: Peer, conn: &str) -> Row {
        (src, dst, conn.to_string())
    }

    fn all(peers: &[&str]) -> BTreeSet<Peer> {
        peers.iter().map(|p| w(p)).collect()
    }

    #[test]
    fn written_order_without_writing() {
        let p = |ns: &str, n: &str, k: &str| Peer::Workload {
            namespace: ns.into(),
            name: n.into(),
            kind: k.into(),
        };
        let peers = [
            p("a", "x", "Pod"),
            p("a-b", "x", "Pod"),
            p("a", "x-y", "Pod"),
            p("a", "x", "Deployment"),
            p("a", "xy", "Pod"),
            p("ab", "", "Pod"),
            p("a", "x", "DaemonSet"),
            ext("10.0.0.0/8"),
            ext("9.0.0.0/8"),
        ];
        for a in &peers {
            for b in &peers {
                assert_eq!(
                    written_cmp(a, b),
                    a.to_string().cmp(&b.to_string()),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn pairs_added_removed_changed_in_order() {
        let old = [
            row(w("a/x"), w("a/y"), "TCP 80"),
            row(w("a/x"), w("a/z"), "TCP 81"),
            row(w("a/y"), w("a/x"), "All Connections"),
        ];
        let new = [
            row(w("a/x"), w("a/y"), "TCP 80,UDP 53"),
            row(w("a/y"), w("a/x"), "All Connections"),
            row(w("a/z"), w("a/x"), "TCP 9"),
        ];
        let ws = all(&["a/x", "a/y", "a/z"]);
        let got: Vec<String> = diff_rows(&old, &new, &ws, &ws)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "diff-type: changed, source: a/x[Deployment], destination: a/y[Deployment], old: TCP 80, new: TCP 80,UDP 53",
                "diff-type: added, source: a/z[Deployment], destination: a/x[Deployment], old: No Connections, new: TCP 9",
                "diff-type: removed, source: a/x[Deployment], destination: a/z[Deployment], old: TCP 81, new: No Connections",
            ]
        );
    }

    #[test]
    fn external_ranges_compared_address_by_address() {
        // Old: 10.0.0.0/8 on TCP 443. New: the same space cut in two, one half also on 80,
        // and 11.0.0.0/8 added.
        let old = [row(w("a/x"), ext("10.0.0.0/8"), "TCP 443")];
        let new = [
            row(w("a/x"), ext("10.0.0.0/9"), "TCP 443"),
            row(w("a/x"), ext("10.128.0.0/9"), "TCP 443,TCP 80"),
            row(w("a/x"), ext("11.0.0.0/8"), "TCP 443"),
        ];
        let ws = all(&["a/x"]);
        let got: Vec<String> = diff_rows(&old, &new, &ws, &ws)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "diff-type: changed, source: a/x[Deployment], destination: 10.128.0.0-10.255.255.255[External], old: TCP 443, new: TCP 443,TCP 80",
                "diff-type: added, source: a/x[Deployment], destination: 11.0.0.0-11.255.255.255[External], old: No Connections, new: TCP 443",
            ]
        );
        // Cutting a range without changing its ports is no change.
        let split = [
            row(ext("10.0.0.0/9"), w("a/x"), "TCP 443"),
            row(ext("10.128.0.0/9"), w("a/x"), "TCP 443"),
        ];
        let whole = [row(ext("10.0.0.0/8"), w("a/x"), "TCP 443")];
        assert!(diff_rows(&whole, &split, &ws, &ws).is_empty());
    }

    #[test]
    fn workloads_info_names_new_and_gone_workloads() {
        let old = [row(w("a/x"), w("a/gone"), "TCP 1")];
        let new = [
            row(w("b/new1"), w("b/new2"), "TCP 2"),
            row(w("a/x"), w("b/new1"), "TCP 3"),
            row(ext("0.0.0.0/0"), w("b/new1"), "TCP 4"),
        ];
        let got = diff_rows(
            &old,
            &new,
            &all(&["a/x", "a/gone"]),
            &all(&["a/x", "b/new1", "b/new2"]),
        );
        let info: Vec<Option<&str>> = got.iter().map(|c| c.info.as_deref()).collect();
        assert_eq!(
            info,
            [
                Some("workload b/new1[Deployment] added"),
                Some("workload b/new1[Deployment] added"),
                Some("workloads b/new1[Deployment] and b/new2[Deployment] added"),
                Some("workload a/gone[Deployment] removed"),
            ]
        );
    }

    #[test]
    fn renderers_escape_and_empty_diff() {
        let c = Change {
            kind: Kind::Changed,
            src: w("a/x"),
            dst: w("a/y"),
            old: Some("TCP 1,UDP 2".into()),
            new: None,
            info: None,
        };
        assert_eq!(
            csv(std::slice::from_ref(&c)),
            "diff-type,source,destination,old,new,workloads-diff-info\nchanged,a/x[Deployment],a/y[Deployment],\"TCP 1,UDP 2\",No Connections,\n"
        );
        assert_eq!(txt(&[]), "No connectivity changes\n");
        assert_eq!(json(&[]), "[]\n");
        assert_eq!(
            md(&[]),
            "| diff-type | source | destination | old | new | workloads-diff-info |\n|-----------|--------|-------------|-----|-----|---------------------|\n"
        );
        assert!("svg".parse::<Format>().is_err());
        assert_eq!("md".parse::<Format>(), Ok(Format::Md));
    }
}
