//! Data-driven tests of the reachability engine.
//!
//! `testdata/engine/<case>.yaml`: manifests plus one document of `kind: PalisadeTestCase` (no
//! apiVersion, so the loader skips it):
//!
//! ```yaml
//! kind: PalisadeTestCase
//! description: what the case shows
//! connections: |            # optional: the exact connectivity list, one connection a line
//!   x/a[Pod] => x/b[Pod] : TCP 80
//! evals:                    # optional: single connections and their verdicts
//! - src: x/a                # ns/name of a workload, or an address outside the cluster
//!   dst: x/b
//!   port: 80/TCP            # 80, 80/UDP, or a named port of the destination (http, dns/UDP)
//!   allowed: true
//!   egress_by: []           # optional: exactly the rules deciding the egress side
//!   ingress_by: ["NetworkPolicy x/allow spec.ingress[0]"]
//!   egress_decided: default # optional: not-applicable, admin-network-policy,
//!   ingress_decided: network-policy  #  network-policy, baseline-admin-network-policy, default
//! ```
//!
//! A case needs `connections` or `evals` (or both). Every case is also checked against the
//! pairwise reference computation.

use palisade_model::{DiagLevel, Inventory, LoadOptions};
use palisade_netpol::output;
use palisade_netpol::{
    Cluster, Endpoint, Protocol, RuleRef, SideExplanation, connectivity, connectivity_pairwise,
    evaluate,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    kind: String,
    description: String,
    #[serde(default)]
    connections: Option<String>,
    #[serde(default)]
    evals: Vec<Eval>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Eval {
    src: String,
    dst: String,
    port: serde_json::Value,
    allowed: bool,
    #[serde(default)]
    egress_by: Option<Vec<String>>,
    #[serde(default)]
    ingress_by: Option<Vec<String>>,
    #[serde(default)]
    egress_decided: Option<String>,
    #[serde(default)]
    ingress_decided: Option<String>,
}

fn header(text: &str) -> Result<Case, String> {
    let mut found = Vec::new();
    for doc in palisade_model::yaml::parse_stream(text, &Default::default()) {
        let doc = doc.map_err(|e| format!("YAML error: {e}"))?;
        let Some(root) = doc.root else { continue };
        if root.get("kind").and_then(|k| k.as_str()) == Some("PalisadeTestCase") {
            found.push(root);
        }
    }
    if found.len() != 1 {
        return Err(format!(
            "expected one PalisadeTestCase document, found {}",
            found.len()
        ));
    }
    serde_json::from_value(found[0].to_json()).map_err(|e| format!("PalisadeTestCase: {e}"))
}

fn endpoint(c: &Cluster, s: &str) -> Result<Endpoint, String> {
    if let Ok(a) = s.parse::<std::net::IpAddr>() {
        return Ok(Endpoint::External(a.into()));
    }
    c.find_workload(s)
        .map(Endpoint::Workload)
        .ok_or_else(|| format!("no workload {s}"))
}

fn port(c: &Cluster, v: &serde_json::Value, dst: &Endpoint) -> Result<(Protocol, u16), String> {
    let s = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => return Err(format!("port: {other}")),
    };
    let (p, proto) = match s.split_once('/') {
        Some((p, pr)) => (
            p.to_string(),
            Some(Protocol::parse(pr).ok_or("bad protocol")?),
        ),
        None => (s.clone(), None),
    };
    if let Ok(n) = p.parse::<u16>() {
        return Ok((proto.unwrap_or(Protocol::TCP), n));
    }
    let Endpoint::Workload(i) = dst else {
        return Err("named port towards an address".into());
    };
    c.workloads[*i]
        .ports
        .iter()
        .find(|np| np.name == p && proto.is_none_or(|x| x == np.protocol))
        .map(|np| (np.protocol, np.port))
        .ok_or_else(|| format!("no port named {s} on {}", c.workloads[*i].name))
}

fn rule_text(r: &RuleRef) -> String {
    let mut s = format!("{} {}", r.kind, r.policy);
    if !r.rule.is_empty() {
        s.push(' ');
        s.push_str(&r.rule);
    }
    s
}

fn deciding(s: &SideExplanation) -> Vec<String> {
    s.admin_rule
        .iter()
        .filter(|r| r.action != Some(palisade_netpol::Action::Pass))
        .chain(&s.admitted_by)
        .chain(&s.baseline_rule)
        .map(rule_text)
        .collect()
}

fn decided_text(s: &SideExplanation) -> String {
    serde_json::to_value(s.decided_by)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn listing(c: &Cluster, conns: &[palisade_netpol::Connection]) -> String {
    output::lines(c, conns)
        .iter()
        .map(|l| format!("{l}\n"))
        .collect()
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case = header(&text)?;
    if case.kind != "PalisadeTestCase" || case.description.is_empty() {
        return Err("a case needs kind PalisadeTestCase and a description".into());
    }
    if case.connections.is_none() && case.evals.is_empty() {
        return Err("a case needs `connections` or `evals`".into());
    }
    let mut inv = Inventory::new();
    inv.add_text(&path.to_string_lossy(), &text, &LoadOptions::default());
    if let Some(d) = inv.diagnostics.iter().find(|d| d.level == DiagLevel::Error) {
        return Err(format!("input error: {d}"));
    }
    let (c, diags) = Cluster::from_inventory(&inv);
    if let Some(d) = diags.iter().find(|d| d.level == DiagLevel::Error) {
        return Err(format!("engine error: {d}"));
    }
    let mut failures = Vec::new();
    let got = listing(&c, &connectivity(&c));
    let reference = listing(&c, &connectivity_pairwise(&c));
    if got != reference {
        failures.push(format!(
            "classes and pairwise differ:\n--- classes\n{got}--- pairwise\n{reference}"
        ));
    }
    if let Some(want) = &case.connections
        && *want != got
    {
        failures.push(format!("connections:\n--- want\n{want}--- got\n{got}"));
    }
    for (i, e) in case.evals.iter().enumerate() {
        let what = format!("evals[{i}] {} -> {} {}", e.src, e.dst, e.port);
        let src = endpoint(&c, &e.src).map_err(|m| format!("{what}: {m}"))?;
        let dst = endpoint(&c, &e.dst).map_err(|m| format!("{what}: {m}"))?;
        let (proto, number) = port(&c, &e.port, &dst).map_err(|m| format!("{what}: {m}"))?;
        let v = evaluate(&c, &src, &dst, proto, number);
        if v.allowed != e.allowed {
            failures.push(format!(
                "{what}: allowed {} (want {})\n  {}\n  {}",
                v.allowed, e.allowed, v.egress, v.ingress
            ));
        }
        for (want, side) in [(&e.egress_by, &v.egress), (&e.ingress_by, &v.ingress)] {
            if let Some(w) = want
                && *w != deciding(side)
            {
                failures.push(format!(
                    "{what}: {} decided by {:?}, want {w:?}",
                    side.direction,
                    deciding(side)
                ));
            }
        }
        for (want, side) in [
            (&e.egress_decided, &v.egress),
            (&e.ingress_decided, &v.ingress),
        ] {
            if let Some(w) = want
                && *w != decided_text(side)
            {
                failures.push(format!(
                    "{what}: {} tier {}, want {w}",
                    side.direction,
                    decided_text(side)
                ));
            }
        }
        // The verdict agrees with the connectivity list.
        let listed = connectivity(&c).iter().any(|conn| {
            conn.src == src && conn.dst == dst && conn.ports.contains(proto, number)
                || matches!((&conn.src, &src), (Endpoint::External(n), Endpoint::External(a)) if n.contains(&a.network()) && conn.dst == dst && conn.ports.contains(proto, number))
                || matches!((&conn.dst, &dst), (Endpoint::External(n), Endpoint::External(a)) if n.contains(&a.network()) && conn.src == src && conn.ports.contains(proto, number))
        });
        if listed != v.allowed {
            failures.push(format!(
                "{what}: evaluate says {} but the connectivity list {}",
                v.allowed,
                if listed { "has it" } else { "does not" }
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/engine");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("testdata/engine")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn engine_cases() {
    let all = cases();
    assert!(all.len() >= 25, "only {} cases", all.len());
    let mut failed = Vec::new();
    for p in &all {
        if let Err(e) = run_case(p) {
            failed.push(format!("{}: {e}", p.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failed.len(),
        all.len(),
        failed.join("\n\n")
    );
}
