//! Connectivity benchmark on a synthetic cluster (issue 4, item 3): 200 namespaces, 5,000
//! workloads, 1,000 NetworkPolicies (plus one AdminNetworkPolicy and a baseline), written as
//! manifests and loaded like user input. Prints load, model and connectivity times, the
//! number of connections and the peak resident memory. It prints figures and never asserts.
//!
//!   cargo run --release -p palisade-netpol --example bench_netpol -- [--scale F] [--runs N] [--open] [--check]
//!
//! `--open` leaves the NetworkPolicies out: nothing is isolated, every pair of workloads is
//! listed (the densest output).
//!
//! `--check` also runs the pair-by-pair reference and reports whether both agree (slow: use a
//! small `--scale`).

use palisade_model::{Inventory, LoadOptions};
use palisade_netpol::{
    Cluster, Endpoint, Protocol, connectivity, connectivity_pairwise, evaluate, output,
};
use std::fmt::Write as _;
use std::time::Instant;

const TIERS: &[&str] = &["web", "api", "db", "worker", "cache"];

/// The synthetic manifests. Per namespace: 25 Deployments (`app`, `tier` labels, named
/// container ports), and 5 policies: a default deny of both directions, DNS egress, egress
/// inside the namespace, ingress by tier (web from the ingress namespace, api from web on a
/// named port, db from api), and metrics scraping from the monitoring namespaces.
fn manifests(namespaces: usize, per_ns: usize) -> String {
    let mut s = String::with_capacity(namespaces * per_ns * 700);
    for n in 0..namespaces {
        let team = n % 20;
        let role = if n % 50 == 0 { "monitoring" } else { "apps" };
        let _ = write!(
            s,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{n}\n  labels: {{team: t{team}, role: {role}}}\n---\n"
        );
        for w in 0..per_ns {
            let tier = TIERS[w % TIERS.len()];
            let _ = write!(
                s,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{w}, namespace: ns{n}}}\nspec:\n  selector: {{matchLabels: {{app: app{w}}}}}\n  template:\n    metadata: {{labels: {{app: app{w}, tier: {tier}}}}}\n    spec:\n      containers:\n      - name: c\n        image: registry.example/app:{w}\n        ports:\n        - {{name: http, containerPort: {}}}\n        - {{name: metrics, containerPort: 9090}}\n---\n",
                8000 + w % 7
            );
        }
        let _ = write!(
            s,
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: default-deny, namespace: ns{n}}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress, Egress]\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: dns, namespace: ns{n}}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{{port: 53, protocol: UDP}}, {{port: 53, protocol: TCP}}]\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: same-namespace-egress, namespace: ns{n}}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{podSelector: {{}}}}]\n  - to: [{{namespaceSelector: {{matchLabels: {{team: t{team}}}}}, podSelector: {{matchLabels: {{tier: api}}}}}}]\n    ports: [{{port: http}}]\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: tiers, namespace: ns{n}}}\nspec:\n  podSelector: {{matchExpressions: [{{key: tier, operator: In, values: [web, api, db]}}]}}\n  ingress:\n  - from: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: ns0}}}}}}]\n    ports: [{{port: http}}]\n  - from: [{{podSelector: {{matchLabels: {{tier: web}}}}}}]\n    ports: [{{port: http}}]\n  - from: [{{podSelector: {{matchLabels: {{app: app{}}}}}}}, {{ipBlock: {{cidr: 10.{}.0.0/16, except: [10.{}.1.0/24]}}}}]\n    ports: [{{port: 5432}}, {{port: 6379, endPort: 6390}}]\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: metrics, namespace: ns{n}}}\nspec:\n  podSelector: {{}}\n  ingress:\n  - from: [{{namespaceSelector: {{matchLabels: {{role: monitoring}}}}}}, {{namespaceSelector: {{matchLabels: {{team: t{team}}}}}, podSelector: {{matchLabels: {{tier: worker}}}}}}]\n    ports: [{{port: metrics}}]\n---\n",
            n % per_ns.max(1),
            n % 250,
            n % 250
        );
    }
    s.push_str(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: no-metadata}\nspec:\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - {name: deny, action: Deny, to: [{networks: [169.254.169.254/32]}]}\n---\n\
apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {matchLabels: {role: apps}}}\n  ingress:\n  - {name: deny-other-teams, action: Deny, from: [{namespaces: {matchLabels: {role: apps}}}]}\n",
    );
    s
}

/// Peak resident memory in KiB (`VmHWM`), when the platform tells.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let mut scale = 1.0f64;
    let mut runs = 3usize;
    let mut check = false;
    let mut open = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => scale = args.next().and_then(|v| v.parse().ok()).unwrap_or(1.0),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(3),
            "--check" => check = true,
            "--open" => open = true,
            other => {
                eprintln!(
                    "usage: bench_netpol [--scale F] [--runs N] [--open] [--check] (unknown {other})"
                );
                std::process::exit(2);
            }
        }
    }
    let namespaces = ((200.0 * scale).round() as usize).max(1);
    let per_ns = 25;
    let t = Instant::now();
    let mut text = manifests(namespaces, per_ns);
    if open {
        text = text
            .split("---\n")
            .filter(|d| !d.contains("NetworkPolicy"))
            .collect::<Vec<_>>()
            .join("---\n");
    }
    let gen_time = t.elapsed();
    let t = Instant::now();
    let mut inv = Inventory::new();
    inv.add_text("synthetic.yaml", &text, &LoadOptions::default());
    let load_time = t.elapsed();
    let t = Instant::now();
    let (c, diags): (Cluster, _) = Cluster::from_inventory(&inv);
    let model_time = t.elapsed();
    println!(
        "synthetic cluster: {} namespaces, {} workloads, {} NetworkPolicies, {} AdminNetworkPolicies, baseline {} ({} KiB of YAML, generated in {:.3} s)",
        c.namespaces.len(),
        c.workloads.len(),
        c.policies.len(),
        c.admin_policies.len(),
        if c.baseline.is_some() { "yes" } else { "no" },
        text.len() / 1024,
        gen_time.as_secs_f64()
    );
    if !diags.is_empty() {
        println!("model diagnostics: {} (first: {})", diags.len(), diags[0]);
    }
    println!("load (parse): {:.3} s", load_time.as_secs_f64());
    println!(
        "model (Cluster::from_inventory): {:.3} s",
        model_time.as_secs_f64()
    );
    for run in 1..=runs.max(1) {
        let t = Instant::now();
        let conns = connectivity(&c);
        let el = t.elapsed();
        println!(
            "connectivity run {run}: {:.3} s, {} connections",
            el.as_secs_f64(),
            conns.len()
        );
    }
    let queries = 1000usize;
    let t = Instant::now();
    let mut allowed = 0usize;
    let w = c.workloads.len().max(1);
    for q in 0..queries {
        // Half the queries stay inside a namespace (25 workloads each), where some paths are open.
        let s = (q * 7919) % w;
        let d = if q % 2 == 0 {
            ((s / 25) * 25 + (s + 1 + q % 24) % 25) % w
        } else {
            (q * 104_729 + 1) % w
        };
        let v = evaluate(
            &c,
            &Endpoint::Workload(s),
            &Endpoint::Workload(d),
            Protocol::TCP,
            8000 + (q % 8) as u16,
        );
        allowed += usize::from(v.allowed);
    }
    println!(
        "evaluate: {:.1} us per query ({queries} queries, {allowed} allowed)",
        t.elapsed().as_secs_f64() * 1e6 / queries as f64
    );
    if check {
        let t = Instant::now();
        let reference = connectivity_pairwise(&c);
        let el = t.elapsed();
        let a: Vec<String> = output::lines(&c, &connectivity(&c))
            .iter()
            .map(ToString::to_string)
            .collect();
        let b: Vec<String> = output::lines(&c, &reference)
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "pairwise reference: {:.3} s, {} lines, {}",
            el.as_secs_f64(),
            b.len(),
            if a == b {
                "same as the class computation"
            } else {
                "DIFFERENT from the class computation"
            }
        );
    }
    match peak_rss_kib() {
        Some(k) => println!("peak RSS: {:.1} MiB", k as f64 / 1024.0),
        None => println!("peak RSS: unavailable on this platform"),
    }
}
