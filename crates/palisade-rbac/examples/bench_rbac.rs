//! RBAC engine benchmark on a synthetic cluster (issue 3, item 7). Run it through
//! `scripts/bench-rbac` (release build). It prints figures and asserts nothing.
//!
//! The cluster, generated in code as manifests and then loaded like user input: 2,000
//! namespaces, 20,000 ServiceAccounts (10 per namespace), 10,000 roles (500 ClusterRoles of
//! which 20 aggregate, 9,500 Roles), 50,000 bindings (1,000 ClusterRoleBindings, 49,000
//! RoleBindings to Roles and ClusterRoles, subjects mixing service accounts, users and groups)
//! and one Deployment per namespace. `--scale F` multiplies every count (e.g. 0.1 for a quick
//! run); `--queries N` sets the number of can-i questions; `--analysis-timeout S` (default 300)
//! stops waiting for the full analysis.

use palisade_model::{Inventory, LoadOptions};
use palisade_rbac::rule::{Request, ResourceAttributes};
use palisade_rbac::whocan::{self, Namespaces};
use palisade_rbac::{Authorizer, RbacStore, UserInfo};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "pods/log"),
    ("", "pods/exec"),
    ("", "secrets"),
    ("", "configmaps"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("", "events"),
    ("apps", "deployments"),
    ("apps", "deployments/scale"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("coordination.k8s.io", "leases"),
    ("example.com", "widgets"),
];
const VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

struct Counts {
    namespaces: usize,
    sas_per_ns: usize,
    cluster_roles: usize,
    aggregated: usize,
    roles: usize,
    crbs: usize,
    rbs: usize,
}

fn rule(rng: &mut Rng, out: &mut String) {
    let (g, _) = RESOURCES[rng.below(RESOURCES.len())];
    let mut res: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let (g2, r) = RESOURCES[rng.below(RESOURCES.len())];
        if g2 == g && !res.contains(&r) {
            res.push(r);
        }
    }
    if res.is_empty() {
        res.push(
            RESOURCES
                .iter()
                .find(|(g2, _)| *g2 == g)
                .map_or("pods", |x| x.1),
        );
    }
    let mut verbs: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let v = rng.pick(VERBS);
        if !verbs.contains(&v) {
            verbs.push(v);
        }
    }
    let names = if rng.below(10) == 0 {
        ", resourceNames: [n-1, n-2]"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "- {{apiGroups: [\"{g}\"], resources: [{}], verbs: [{}]{names}}}",
        res.join(", "),
        verbs.join(", ")
    );
}

fn generate(c: &Counts, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut s = String::with_capacity(32 << 20);
    for n in 0..c.namespaces {
        let _ = writeln!(
            s,
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{n}}}"
        );
        for a in 0..c.sas_per_ns {
            let _ = writeln!(
                s,
                "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sa-{a}, namespace: ns-{n}}}"
            );
        }
        let _ = writeln!(
            s,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: ns-{n}}}\nspec:\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata: {{labels: {{app: a}}}}\n    spec: {{serviceAccountName: sa-0, containers: [{{name: c, image: nginx}}]}}"
        );
    }
    for r in 0..c.cluster_roles {
        let label = if r % 7 == 0 {
            format!("\n  labels: {{agg-{}: \"true\"}}", r % c.aggregated.max(1))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cr-{r}{label}"
        );
        if r < c.aggregated {
            let _ = writeln!(
                s,
                "aggregationRule:\n  clusterRoleSelectors: [{{matchLabels: {{agg-{r}: \"true\"}}}}]"
            );
        } else {
            s.push_str("rules:\n");
            for _ in 0..2 + rng.below(5) {
                rule(&mut rng, &mut s);
            }
        }
    }
    for r in 0..c.roles {
        let ns = r % c.namespaces;
        let _ = writeln!(
            s,
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: role-{r}, namespace: ns-{ns}}}\nrules:"
        );
        for _ in 0..1 + rng.below(4) {
            rule(&mut rng, &mut s);
        }
    }
    let subject = |rng: &mut Rng, ns: Option<usize>| -> String {
        match rng.below(10) {
            0 => format!(
                "{{apiGroup: rbac.authorization.k8s.io, kind: User, name: user-{}}}",
                rng.below(5000)
            ),
            1 => format!(
                "{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: group-{}}}",
                rng.below(200)
            ),
            _ => {
                let sa_ns = match ns {
                    Some(n) if rng.below(4) != 0 => n,
                    _ => rng.below(c.namespaces),
                };
                format!(
                    "{{kind: ServiceAccount, name: sa-{}, namespace: ns-{sa_ns}}}",
                    rng.below(c.sas_per_ns)
                )
            }
        }
    };
    for b in 0..c.crbs {
        let role = rng.below(c.cluster_roles);
        let subs: Vec<String> = (0..1 + rng.below(2))
            .map(|_| subject(&mut rng, None))
            .collect();
        let _ = writeln!(
            s,
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: crb-{b}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr-{role}}}\nsubjects: [{}]",
            subs.join(", ")
        );
    }
    for b in 0..c.rbs {
        let ns = b % c.namespaces;
        let role_ref = if rng.below(2) == 0 {
            // A Role of this namespace (roles are spread round-robin over namespaces).
            let per_ns = c.roles / c.namespaces.max(1);
            let k = rng.below(per_ns.max(1));
            format!("kind: Role, name: role-{}", ns + k * c.namespaces)
        } else {
            format!("kind: ClusterRole, name: cr-{}", rng.below(c.cluster_roles))
        };
        let subs: Vec<String> = (0..1 + rng.below(3))
            .map(|_| subject(&mut rng, Some(ns)))
            .collect();
        let _ = writeln!(
            s,
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: rb-{b}, namespace: ns-{ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, {role_ref}}}\nsubjects: [{}]",
            subs.join(", ")
        );
    }
    s
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn stats(name: &str, mut t: Vec<Duration>) {
    t.sort();
    let total: Duration = t.iter().sum();
    let mean = total / t.len().max(1) as u32;
    println!(
        "{name}: {} queries, mean {:.2} µs, p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        t.len(),
        mean.as_secs_f64() * 1e6,
        percentile(&t, 0.5).as_secs_f64() * 1e6,
        percentile(&t, 0.99).as_secs_f64() * 1e6,
        t.last().copied().unwrap_or_default().as_secs_f64() * 1e6
    );
}

fn main() {
    let mut scale = 1.0f64;
    let mut queries = 100_000usize;
    let mut analysis_timeout = 300.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => scale = args.next().and_then(|v| v.parse().ok()).unwrap_or(1.0),
            "--queries" => queries = args.next().and_then(|v| v.parse().ok()).unwrap_or(queries),
            "--analysis-timeout" => {
                analysis_timeout = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(analysis_timeout)
            }
            other => {
                eprintln!(
                    "unknown argument {other:?}; expected --scale F, --queries N, --analysis-timeout SECONDS"
                );
                std::process::exit(2);
            }
        }
    }
    let n = |x: usize| ((x as f64 * scale).round() as usize).max(1);
    let c = Counts {
        namespaces: n(2000),
        sas_per_ns: 10,
        cluster_roles: n(500),
        aggregated: n(20),
        roles: n(9500),
        crbs: n(1000),
        rbs: n(49_000),
    };
    println!(
        "synthetic cluster: {} namespaces, {} service accounts, {} roles ({} ClusterRoles, {} aggregated), {} bindings ({} ClusterRoleBindings), {} deployments",
        c.namespaces,
        c.namespaces * c.sas_per_ns,
        c.cluster_roles + c.roles,
        c.cluster_roles,
        c.aggregated,
        c.crbs + c.rbs,
        c.crbs,
        c.namespaces
    );
    let t = Instant::now();
    let text = generate(&c, 0x5EED_1234);
    println!(
        "generate manifests: {:.3} s ({:.1} MB)",
        t.elapsed().as_secs_f64(),
        text.len() as f64 / 1e6
    );

    let t0 = Instant::now();
    let mut inv = Inventory::new();
    inv.add_text("synthetic.yaml", &text, &LoadOptions::default());
    let t_parse = t0.elapsed();
    let (mut store, diags) = RbacStore::from_inventory(&inv);
    assert!(
        diags.is_empty() && !inv.has_errors(),
        "generator bug: {diags:?}"
    );
    let t_store = t0.elapsed();
    store.add_bootstrap();
    let passes = store.aggregate();
    let t_agg = t0.elapsed();
    let authz = Authorizer::new(&store);
    let t_index = t0.elapsed();
    println!(
        "load + index: {:.3} s total (parse {:.3} s, RBAC objects {:.3} s, bootstrap + aggregation {:.3} s in {passes} passes, authorizer index {:.3} s); {} objects",
        t_index.as_secs_f64(),
        t_parse.as_secs_f64(),
        (t_store - t_parse).as_secs_f64(),
        (t_agg - t_store).as_secs_f64(),
        (t_index - t_agg).as_secs_f64(),
        inv.objects.len()
    );

    // can-i: random service accounts, users and group members asking random questions.
    let mut rng = Rng(42);
    let mut qs: Vec<(UserInfo, Request)> = Vec::with_capacity(queries);
    for _ in 0..queries {
        let ns = rng.below(c.namespaces);
        let user = match rng.below(4) {
            0 => UserInfo::user(
                format!("user-{}", rng.below(5000)),
                [format!("group-{}", rng.below(200))],
            ),
            _ => UserInfo::service_account(
                &format!("ns-{ns}"),
                &format!("sa-{}", rng.below(c.sas_per_ns)),
            ),
        };
        let (g, r) = RESOURCES[rng.below(RESOURCES.len())];
        let (res, sub) = r.split_once('/').unwrap_or((r, ""));
        let req = Request::Resource(ResourceAttributes {
            verb: rng.pick(VERBS).to_owned(),
            group: g.to_owned(),
            resource: res.to_owned(),
            subresource: sub.to_owned(),
            name: if rng.below(3) == 0 {
                "n-1".to_owned()
            } else {
                String::new()
            },
            namespace: format!(
                "ns-{}",
                if rng.below(4) == 0 {
                    rng.below(c.namespaces)
                } else {
                    ns
                }
            ),
        });
        qs.push((user, req));
    }
    let mut times = Vec::with_capacity(queries);
    let mut allowed = 0usize;
    let t = Instant::now();
    for (u, r) in &qs {
        let s = Instant::now();
        let d = authz.authorize(u, r);
        times.push(s.elapsed());
        allowed += usize::from(d.allowed);
    }
    let wall = t.elapsed();
    println!(
        "can-i: {allowed} of {} allowed; {:.2} µs per query including timer overhead ({:.3} s wall)",
        qs.len(),
        wall.as_secs_f64() * 1e6 / qs.len().max(1) as f64,
        wall.as_secs_f64()
    );
    stats("can-i latency", times);

    // who-can: random namespaced questions.
    let mut times = Vec::new();
    let mut subjects = 0usize;
    for (_, r) in qs.iter().take(500) {
        let s = Instant::now();
        let w = whocan::who_can(&authz, r, Namespaces::Request, false);
        times.push(s.elapsed());
        subjects += w.allowed.len();
    }
    println!("who-can: {subjects} subjects listed in total");
    stats("who-can latency", times);
    // Cluster-scoped questions also look at every RoleBinding (to report the inert ones).
    let mut times = Vec::new();
    for verb in ["get", "list", "delete", "patch", "create"] {
        let req = Request::Resource(ResourceAttributes {
            verb: verb.to_owned(),
            resource: "nodes".to_owned(),
            ..Default::default()
        });
        let s = Instant::now();
        let _ = whocan::who_can(&authz, &req, Namespaces::Request, true);
        times.push(s.elapsed());
    }
    stats(
        "who-can latency (cluster-scoped, all RoleBindings scanned)",
        times,
    );

    // The analysis runs on its own thread so that a slow one can be given up on (--analysis-timeout).
    drop(authz);
    let store: &'static RbacStore = Box::leak(Box::new(store));
    let (tx, rx) = std::sync::mpsc::channel();
    let t = Instant::now();
    std::thread::spawn(move || {
        let analysis = palisade_rbac::analysis::analyze(store, &[]);
        let _ = tx.send((analysis.subjects.len(), analysis.paths.len()));
        std::mem::forget(analysis);
    });
    match rx.recv_timeout(Duration::from_secs_f64(analysis_timeout)) {
        Ok((subjects, sources)) => println!(
            "full analysis: {:.3} s ({subjects} principals with risks, {sources} path sources)",
            t.elapsed().as_secs_f64()
        ),
        Err(_) => println!("full analysis: did not finish within {analysis_timeout} s (given up)"),
    }
    // The process ends now; freeing everything piece by piece is not part of any figure.
    std::mem::forget(inv);
    std::process::exit(0);
}
