//! Every fuzz target, as a plain function of the input bytes, shared by the libFuzzer targets
//! (`fuzz_targets/*.rs`) and the stable driver (`src/bin/mutate.rs`).
//!
//! Each function returns a short signature of what the input produced (`None` when the input was
//! skipped, e.g. not UTF-8); the stable driver keeps inputs whose signature is new. Any panic is a
//! bug; so is an input that runs for seconds or eats memory out of proportion to its size.

use palisade_events::Event;
use palisade_events::capture::CaptureReader;
use palisade_events::filter::{Filter, Flag, ProcessTree};
use palisade_model::{Inventory, LoadOptions};
use palisade_rules::state::{State, StateOptions};
use palisade_rules::{Engine, MemState, RuleSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// One fuzz target: its name (also the libFuzzer binary's), what it exercises, its seed
/// directory under `fuzz/seeds/`, mutation tokens for the stable driver, and the function.
pub struct Target {
    /// Name (`scripts/fuzz NAME`, `cargo fuzz run NAME`).
    pub name: &'static str,
    /// One line: what the target feeds the input to.
    pub about: &'static str,
    /// Whether inputs are text (the stable driver then uses text mutations and tokens).
    pub text: bool,
    /// File extension of saved inputs (`fuzz/regressions/NAME-panic-HASH.EXT`).
    pub ext: &'static str,
    /// Tokens the stable driver inserts.
    pub tokens: &'static [&'static [u8]],
    /// The target itself.
    pub run: fn(&[u8]) -> Option<String>,
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target {
        name: "load",
        about: "manifest loader, pod templates and the posture scan (palisade-model, palisade-posture)",
        text: true,
        ext: "yaml",
        tokens: crate::tokens::YAML,
        run: load,
    },
    Target {
        name: "admission_review",
        about: "AdmissionReview bodies through /validate and /mutate (palisade-admission)",
        text: true,
        ext: "json",
        tokens: crate::tokens::REVIEW,
        run: admission_review,
    },
    Target {
        name: "rules",
        about: "Falco rules files: YAML lists/macros/rules, compile, a few events (palisade-rules)",
        text: true,
        ext: "yaml",
        tokens: crate::tokens::RULES,
        run: rules,
    },
    Target {
        name: "condition",
        about: "one Falco condition (and output template): parser, compiler, evaluation (palisade-rules)",
        text: true,
        ext: "txt",
        tokens: crate::tokens::CONDITION,
        run: condition,
    },
    Target {
        name: "capture",
        about: "capture files as trace/detect --replay read them: reader, filter, rules state (palisade-events, palisade-rules)",
        text: false,
        ext: "cap",
        tokens: crate::tokens::CAPTURE,
        run: capture,
    },
    Target {
        name: "trace_filter",
        about: "--trace/--filter/--scope/--events values, one per line (palisade-events filter)",
        text: true,
        ext: "txt",
        tokens: crate::tokens::FILTER,
        run: trace_filter,
    },
    Target {
        name: "gatekeeper",
        about: "ConstraintTemplates and Constraints (palisade-admission gatekeeper loading)",
        text: true,
        ext: "yaml",
        tokens: crate::tokens::GATEKEEPER,
        run: gatekeeper,
    },
    Target {
        name: "gator_suite",
        about: "gator verify Suite files with fixed template/constraint/object files (palisade-admission)",
        text: true,
        ext: "yaml",
        tokens: crate::tokens::SUITE,
        run: gator_suite,
    },
    Target {
        name: "rbac_netpol",
        about: "manifests through the RBAC and NetworkPolicy models (palisade-rbac, palisade-netpol)",
        text: true,
        ext: "yaml",
        tokens: crate::tokens::RBAC_NETPOL,
        run: rbac_netpol,
    },
    Target {
        name: "memo_reads",
        about: "Rego sources through the verdict memo's input-read analysis (palisade-admission)",
        text: true,
        ext: "rego",
        tokens: crate::tokens::REGO,
        run: memo_reads,
    },
    Target {
        name: "native_rego",
        about: "Rego sources through the native evaluator's compiler and evaluator (palisade-admission)",
        text: true,
        ext: "rego",
        tokens: crate::tokens::REGO,
        run: native_rego,
    },
];

/// The input `native_rego` evaluates templates on: a Pod review with parameters.
const NATIVE_INPUT: &str = r#"{"review": {"operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "object": {"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"hostPID": true,
  "containers": [{"name": "app", "image": "nginx", "securityContext": {"privileged": true}, "ports": [{"containerPort": 80}]},
                 {"name": "side", "image": "registry.example/side:1"}]}}},
  "parameters": {"exemptImages": ["nginx"], "ranges": [{"min": 1, "max": 10}], "n": 2}}"#;

/// `native_rego`: Rego text (a template in package `fuzz.pkg` and, after a line `---`, libs)
/// through `gatekeeper::native`: regorus's parser, the native compiler, and, when it compiles,
/// two evaluations on a fixed Pod review, which must agree. It must never panic, whatever the
/// text (the parser reads templates from the cluster).
pub fn native_rego(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let sources: Vec<&str> = text.split("\n---\n").collect();
    Some(palisade_admission::gatekeeper::native::fuzz_check(
        &sources,
        "fuzz.pkg",
        NATIVE_INPUT,
    ))
}

/// `memo_reads`: Rego text (a template and, after a line `---`, a lib) through
/// `gatekeeper::memo::input_reads`, with no Rego compile first so that any text reaches the
/// analysis. Its promise is checked: no read is below another one (a prefix covers the paths
/// under it).
pub fn memo_reads(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let sources: Vec<&str> = text.split("\n---\n").collect();
    let reads = palisade_admission::gatekeeper::memo::input_reads(&sources, "fuzz.pkg");
    Some(match reads {
        None => "none".into(),
        Some(r) => {
            for p in &r {
                assert!(
                    !r.iter().any(|q| q.len() < p.len() && p.starts_with(q)),
                    "{p:?} is below another read in {r:?}"
                );
            }
            format!(
                "{} reads, deepest {}",
                r.len().min(8),
                r.iter().map(Vec::len).max().unwrap_or(0).min(8)
            )
        }
    })
}

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// [`crate::max_flow_depth_from_env`], read once.
fn flow_cap() -> usize {
    static CAP: OnceLock<usize> = OnceLock::new();
    *CAP.get_or_init(crate::max_flow_depth_from_env)
}

/// `load`: see [`crate::load_and_scan`].
pub fn load(data: &[u8]) -> Option<String> {
    let cap = flow_cap();
    if cap > 0 && crate::flow_depth(data) > cap {
        return None;
    }
    crate::load_and_scan(data).map(|o| format!("{o:?}"))
}

/// `admission_review`: the body as `/validate` and `/mutate` get it; the answer to a body that
/// parses is always a well-formed review echoing a uid.
pub fn admission_review(data: &[u8]) -> Option<String> {
    use palisade_admission::{Admission, Endpoint, ServerConfig};
    static ADMISSION: OnceLock<Admission> = OnceLock::new();
    let adm = ADMISSION.get_or_init(|| {
        let cfg = ServerConfig::from_yaml(
            "fuzz.yaml",
            "podSecurity:\n  defaults: {enforce: baseline, warn: restricted, audit: restricted}\n  exemptions: {usernames: [admin], runtimeClasses: [kata]}\nmutation: {enabled: true, nonRootImages: [\"app*\"]}\n",
        )
        .expect("valid fuzz configuration");
        Admission::from_config(&cfg).expect("admission").0
    });
    let mut sig = String::new();
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        match adm.handle(endpoint, data) {
            Ok(out) => {
                let v: serde_json::Value = serde_json::from_slice(&out).expect("response is JSON");
                assert!(v["response"]["uid"].is_string(), "response without a uid");
                let r = &v["response"];
                let _ = write!(
                    sig,
                    "ok:{}:{}:{};",
                    r["allowed"],
                    r["status"]["code"],
                    r.get("patch").is_some()
                );
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = write!(sig, "err:{};", msg.split(':').next().unwrap_or(""));
            }
        }
    }
    Some(sig)
}

/// A few events and the state they run against, for the rules targets: a small synthetic
/// workload (processes in and out of containers, file, network and exec events).
struct Workload {
    state: MemState,
    events: Vec<Event>,
}

fn workload() -> &'static Workload {
    static W: OnceLock<Workload> = OnceLock::new();
    W.get_or_init(|| {
        let w = palisade_rules::synth::generate(48, 30, 7);
        let mut state = MemState::default();
        for p in w.processes {
            state.processes.insert(p.pid, p);
        }
        for c in w.containers {
            state.containers.insert(c.id.clone(), c);
        }
        state.users.insert((String::new(), 0), "root".into());
        state.groups.insert((String::new(), 0), "root".into());
        Workload {
            state,
            events: w.events,
        }
    })
}

/// Runs the workload's events through the rules; returns the number of alerts.
fn run_rules(set: RuleSet) -> usize {
    let w = workload();
    let mut engine = Engine::new(set);
    engine.set_hostname("fuzz");
    engine.set_suggested_output(true);
    engine.set_rule_matching(palisade_rules::RuleMatching::All);
    let mut alerts = 0;
    for ev in &w.events {
        engine.process(ev, &w.state, &mut |a| {
            let _ = a.output.len();
            alerts += 1;
        });
    }
    alerts
}

fn rules_signature(
    result: Result<(RuleSet, Vec<palisade_rules::Warning>), palisade_rules::LoadErrors>,
) -> String {
    match result {
        Ok((set, warnings)) => {
            for w in &warnings {
                let _ = w.to_string();
            }
            let counts = (
                set.rules().len(),
                set.macro_count(),
                set.list_count(),
                set.active_count(),
            );
            let alerts = run_rules(set);
            format!("ok {counts:?} {} warnings, {alerts} alerts", warnings.len())
        }
        Err(e) => {
            // Rendering the errors is part of the contract (file, line, field).
            let _ = e.to_string();
            let mut first: Vec<String> = e
                .errors
                .iter()
                .map(|e| {
                    let _ = e.to_string();
                    e.message.chars().take(24).collect()
                })
                .collect();
            first.sort();
            first.dedup();
            format!("err {first:?}")
        }
    }
}

/// `rules`: a rules file through the loader (YAML, lists, macros, rules, exceptions, appends,
/// overrides), the compiler, and a few events.
pub fn rules(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let opts = palisade_rules::LoadOptions::default();
    Some(rules_signature(RuleSet::load_strs(
        &[("fuzz.yaml", text)],
        &opts,
    )))
}

/// `condition`: one condition through the parser directly, then as the condition and output of
/// a rule that can use a macro and a list, compiled and run on a few events.
pub fn condition(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let parsed = palisade_rules::condition::parse(text);
    let _ = palisade_rules::condition::parse_operand_prefix(text);
    let _ = palisade_rules::condition::unquote_item(text);
    if let Ok(e) = &parsed {
        let _ = format!("{e:?}");
    }
    let quoted = serde_json::to_string(text).expect("a string serialises");
    let file = format!(
        "- list: shells\n  items: [bash, sh, \"zsh\"]\n\
         - macro: spawned\n  condition: evt.type in (execve, execveat) and evt.dir = <\n\
         - macro: opened\n  condition: evt.type in (open, openat, openat2) and fd.typechar = f\n\
         - rule: fuzz\n  desc: fuzz\n  condition: {quoted}\n  output: {quoted}\n  priority: warning\n"
    );
    let opts = palisade_rules::LoadOptions::default();
    let sig = rules_signature(RuleSet::load_strs(&[("fuzz.yaml", &file)], &opts));
    Some(format!("{} {sig}", parsed.is_ok()))
}

/// `capture`: the bytes as a capture file, read as `trace --replay` (default filter, process
/// tree) and `detect --replay` (rules state and a fixed rule set) read them.
pub fn capture(data: &[u8]) -> Option<String> {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        RuleSet::load_str(
            crate::CAPTURE_RULES,
            &palisade_rules::LoadOptions::default(),
        )
        .expect("the capture target's rules load")
        .0
    });
    let mut reader = match CaptureReader::new(data, "fuzz.cap") {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            return Some(format!(
                "header err {}",
                msg.chars().take(40).collect::<String>()
            ));
        }
    };
    let _ = reader.header().hostname.len();
    let filter = Filter::default();
    let mut tree = ProcessTree::new();
    let mut state = State::new(StateOptions::isolated());
    let mut engine = Engine::new(rules.clone());
    engine.set_hostname("fuzz");
    let (mut events, mut kept, mut alerts) = (0usize, 0usize, 0usize);
    let mut end = String::from("eof");
    while let Some(ev) = reader.next_event() {
        match ev {
            Ok(ev) => {
                events += 1;
                let _ = (ev.def(), ev.errno(), ev.in_container());
                tree.observe(&ev);
                if filter.matches(&ev, &tree) {
                    kept += 1;
                }
                let _ = format!("{ev:?}");
                state.apply(&ev);
                engine.process(&ev, &state, &mut |a| {
                    let _ = a.output.len();
                    alerts += 1;
                });
                state.finish(&ev);
            }
            Err(e) => {
                let msg = e.to_string();
                end = msg
                    .split(':')
                    .nth(2)
                    .unwrap_or("")
                    .chars()
                    .take(24)
                    .collect();
                break;
            }
        }
    }
    Some(format!("{events} {kept} {alerts} {end}"))
}

/// A synthetic event from the capture target's workload, for the filter target.
fn sample_events() -> &'static [Event] {
    &workload().events
}

/// `trace_filter`: one flag value per line, `FLAG VALUE` with FLAG one of `trace`, `filter`,
/// `scope`, `events` (a line without one is a `--trace` value); the parsed filter is planned
/// for the kernel and matched against a few events.
pub fn trace_filter(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let flags: Vec<(Flag, &str)> = text
        .lines()
        .map(|line| {
            let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
            match head {
                "trace" | "-t" => (Flag::Trace, rest),
                "filter" => (Flag::Filter, rest),
                "scope" => (Flag::Scope, rest),
                "events" | "-e" => (Flag::Events, rest),
                _ => (Flag::Trace, line),
            }
        })
        .collect();
    match Filter::parse(flags) {
        Ok(f) => {
            let plan = f.kernel_plan();
            let needs_tree = f.needs_tree();
            let mut tree = ProcessTree::new();
            let mut kept = 0;
            for ev in sample_events() {
                tree.observe(ev);
                if f.matches(ev, &tree) {
                    kept += 1;
                }
            }
            Some(format!(
                "ok {} {} {needs_tree} {kept}",
                plan.events.len(),
                f.conds.len()
            ))
        }
        Err(e) => {
            let _ = e.to_string();
            Some(format!(
                "err {} {}",
                e.flag,
                variant(&format!("{:?}", e.kind))
            ))
        }
    }
}

/// Loads gatekeeper documents: a fixed template (so that Constraints in the input have a kind to
/// bind to) then the input; returns a signature.
pub fn gatekeeper(data: &[u8]) -> Option<String> {
    use palisade_admission::gatekeeper::{EnforcementPoint, PolicySet, rego::Backend};
    let text = std::str::from_utf8(data).ok()?;
    let (set, diags) = PolicySet::from_texts_with(
        [
            ("template.yaml", crate::GATEKEEPER_TEMPLATE),
            ("fuzz.yaml", text),
        ],
        Backend::Auto,
    );
    let mut codes: Vec<String> = diags
        .iter()
        .map(|d| {
            let _ = d.to_string();
            format!("{:?}", d.code)
        })
        .collect();
    codes.sort();
    codes.dedup();
    for c in set.constraints() {
        for p in [
            EnforcementPoint::Webhook,
            EnforcementPoint::Audit,
            EnforcementPoint::Gator,
        ] {
            let _ = c.action_at(p);
        }
        let _ = c.enforcement_action();
    }
    Some(format!(
        "{} {} {codes:?}",
        set.templates().len(),
        set.constraints().len()
    ))
}

/// The directory the suite target runs in: a template, a constraint and objects for the suite
/// to name (`template.yaml`, `constraint.yaml`, `allowed.yaml`, `denied.yaml`,
/// `inventory.yaml`, `review.yaml`).
fn suite_dir() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("palisade-fuzz-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the suite directory");
        for (name, text) in crate::SUITE_FILES {
            std::fs::write(dir.join(name), text).expect("write a suite file");
        }
        dir
    })
}

/// `gator_suite`: the input as a `kind: Suite` file next to fixed template, constraint and
/// object files, run as `palisade admission verify` runs it. Inputs naming `..` are skipped
/// (a suite may name any file below its directory; reading the rest of the machine is not
/// what is being tested).
pub fn gator_suite(data: &[u8]) -> Option<String> {
    use palisade_admission::gatekeeper::rego::Backend;
    use palisade_admission::gatekeeper::suite::{CaseOutcome, RunFilter, run_suite_with};
    let text = std::str::from_utf8(data).ok()?;
    if text.contains("..") {
        return None;
    }
    let path = suite_dir().join("suite.yaml");
    std::fs::write(&path, text).expect("write the suite");
    let sig = match run_suite_with(&path, &RunFilter::default(), Backend::Auto) {
        Ok(report) => {
            let mut s = format!("{:?}", report.counts());
            for t in &report.tests {
                let _ = write!(s, " {}", t.error.is_some());
                for c in &t.cases {
                    s.push(match c.outcome {
                        CaseOutcome::Pass => 'p',
                        CaseOutcome::Fail(_) => 'f',
                        CaseOutcome::Skip => 's',
                    });
                }
            }
            s
        }
        Err(e) => {
            let msg = e.to_string();
            format!(
                "err {}",
                msg.rsplit(':')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(24)
                    .collect::<String>()
            )
        }
    };
    Some(sig)
}

/// `rbac_netpol`: manifests loaded, then read by the RBAC store (roles, bindings, rules,
/// ServiceAccounts) and the NetworkPolicy model (policies, admin policies, selectors, CIDRs,
/// ports).
pub fn rbac_netpol(data: &[u8]) -> Option<String> {
    let cap = flow_cap();
    if cap > 0 && crate::flow_depth(data) > cap {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let mut inv = Inventory::new();
    inv.add_text("fuzz.yaml", text, &LoadOptions::default());
    let (store, rbac_diags) = palisade_rbac::RbacStore::from_inventory(&inv);
    let (cluster, np_diags) = palisade_netpol::Cluster::from_inventory(&inv);
    let mut codes: Vec<String> = rbac_diags
        .iter()
        .chain(np_diags.iter())
        .map(|d| {
            let _ = d.to_string();
            format!("{:?}", d.code)
        })
        .collect();
    codes.sort();
    codes.dedup();
    Some(format!(
        "{} {} {} {} {} {} {codes:?}",
        inv.objects.len(),
        store.cluster_roles.len() + store.roles.len(),
        store.cluster_role_bindings.len() + store.role_bindings.len(),
        cluster.workloads.len(),
        cluster.policies.len(),
        cluster.admin_policies.len() + usize::from(cluster.baseline.is_some()),
    ))
}

/// The variant name at the start of a `Debug` rendering (`UnknownKey("x")` -> `UnknownKey`).
fn variant(debug: &str) -> &str {
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
}
