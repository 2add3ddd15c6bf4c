//! Table-driven filter tests: every `testdata/filter/*.yaml` holds events and cases (filter
//! flags and the names of the events they keep, or the error they give).
//!
//! Fixture format:
//!
//! ```yaml
//! existing:            # optional: processes that existed when tracing started (snapshot)
//!   - {pid: 1, comm: systemd}
//! events:              # fed in order to the process tree, then to the filter
//!   - name: cat_shadow # the name cases refer to
//!     event: openat    # catalog name
//!     pid: 100         # host pid (and ns pid unless ns_pid is given); tid = pid
//!     ppid: 1
//!     comm: cat
//!     uid: 0
//!     container: a     # a container id; fewer than 12 characters are repeated to 64
//!     ret: -2
//!     args: {pathname: /etc/shadow, flags: 0}
//! cases:
//!   - name: comm
//!     flags: [{trace: comm=cat}]   # trace, filter, scope, events
//!     keep: [cat_shadow]
//!   - name: broken
//!     flags: [{trace: 'uid>x'}]
//!     error: "is not an integer"   # a substring of the error message
//! ```

use palisade_events::catalog::{ArgKind, EventId};
use palisade_events::filter::{Filter, Flag, ProcInfo, ProcessTree};
use palisade_events::{ArgValue, Event, SockAddr};
use serde::Deserialize;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    existing: Vec<ExistingSpec>,
    #[serde(default)]
    host_mntns: Option<u32>,
    events: Vec<EventSpec>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExistingSpec {
    pid: u32,
    #[serde(default)]
    ppid: u32,
    #[serde(default)]
    comm: String,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    container: String,
    #[serde(default)]
    exe: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    name: String,
    event: String,
    #[serde(default = "d_pid")]
    pid: u32,
    tid: Option<u32>,
    ns_pid: Option<u32>,
    #[serde(default = "d_ppid")]
    ppid: u32,
    #[serde(default)]
    uid: u32,
    #[serde(default = "d_comm")]
    comm: String,
    #[serde(default = "d_uts")]
    uts: String,
    #[serde(default = "d_mntns")]
    mntns: u32,
    #[serde(default = "d_pidns")]
    pidns: u32,
    #[serde(default)]
    container: String,
    #[serde(default)]
    ret: i64,
    #[serde(default)]
    ts: u64,
    #[serde(default)]
    args: BTreeMap<String, J>,
}

fn d_pid() -> u32 {
    100
}
fn d_ppid() -> u32 {
    1
}
fn d_comm() -> String {
    "sh".into()
}
fn d_uts() -> String {
    "node-1".into()
}
fn d_mntns() -> u32 {
    4026531840
}
fn d_pidns() -> u32 {
    4026531836
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    flags: Vec<BTreeMap<String, String>>,
    #[serde(default)]
    keep: Option<Vec<String>>,
    #[serde(default)]
    error: Option<String>,
}

fn container_id(s: &str) -> String {
    if s.is_empty() || s.len() >= 12 {
        s.to_owned()
    } else {
        s.repeat(64).chars().take(64).collect()
    }
}

fn arg_value(kind: ArgKind, v: &J, what: &str) -> Result<ArgValue, String> {
    Ok(match (kind, v) {
        (_, J::Null) => ArgValue::None,
        (ArgKind::SockAddr, J::String(s)) => ArgValue::Sock(sock(s).ok_or(format!(
            "{what}: {s:?} is not ip:port, [ip6]:port or unix:path"
        ))?),
        (ArgKind::StrArray, J::Array(items)) => ArgValue::StrList(
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or(format!("{what}: not a string"))
                })
                .collect::<Result<_, _>>()?,
        ),
        (_, J::String(s)) => ArgValue::Str(s.clone()),
        (ArgKind::UInt | ArgKind::Ptr, J::Number(n)) => {
            ArgValue::UInt(n.as_u64().ok_or(format!("{what}: not unsigned"))?)
        }
        (_, J::Number(n)) => ArgValue::Int(n.as_i64().ok_or(format!("{what}: not an integer"))?),
        (_, J::Bool(b)) => ArgValue::Int(*b as i64),
        _ => return Err(format!("{what}: unsupported value {v}")),
    })
}

fn sock(s: &str) -> Option<SockAddr> {
    if let Some(path) = s.strip_prefix("unix:") {
        return Some(SockAddr::Unix { path: path.into() });
    }
    if let Ok(a) = s.parse::<std::net::SocketAddr>() {
        return Some(match a {
            std::net::SocketAddr::V4(v) => SockAddr::Inet {
                addr: *v.ip(),
                port: v.port(),
            },
            std::net::SocketAddr::V6(v) => SockAddr::Inet6 {
                addr: *v.ip(),
                port: v.port(),
                flowinfo: 0,
                scope_id: 0,
            },
        });
    }
    None
}

fn build_event(spec: &EventSpec) -> Result<Event, String> {
    let id = EventId::from_name(&spec.event).ok_or(format!("unknown event {}", spec.event))?;
    let def = id.def().ok_or("no definition")?;
    let mut args = vec![ArgValue::None; def.args.len()];
    for (name, v) in &spec.args {
        let i = def
            .arg_index(name)
            .ok_or(format!("{} has no argument {name}", spec.event))?;
        args[i] = arg_value(def.args[i].kind, v, name)?;
    }
    let tid = spec.tid.unwrap_or(spec.pid);
    Ok(Event {
        ts: spec.ts,
        id,
        cpu: 0,
        pid: spec.ns_pid.unwrap_or(spec.pid),
        tid,
        ppid: spec.ppid,
        host_pid: spec.pid,
        host_tid: tid,
        host_ppid: spec.ppid,
        uid: spec.uid,
        gid: spec.uid,
        comm: spec.comm.clone(),
        uts: spec.uts.clone(),
        mntns: spec.mntns,
        pidns: spec.pidns,
        cgroup_id: 0,
        container_id: container_id(&spec.container),
        ret: spec.ret,
        args,
    })
}

fn flag(key: &str) -> Result<Flag, String> {
    Ok(match key {
        "trace" | "t" => Flag::Trace,
        "filter" => Flag::Filter,
        "scope" => Flag::Scope,
        "events" | "e" => Flag::Events,
        _ => return Err(format!("unknown flag {key}")),
    })
}

fn run_file(path: &Path, failures: &mut Vec<String>) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = palisade_model::yaml::parse_stream(&text, &Default::default());
    let root = match docs.into_iter().next() {
        Some(Ok(doc)) => doc.root.expect("empty fixture"),
        Some(Err(e)) => panic!("{}: {e}", path.display()),
        None => panic!("{}: empty", path.display()),
    };
    let fx: Fixture = serde_json::from_value(root.to_json())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let events: Vec<(String, Event)> = fx
        .events
        .iter()
        .map(|s| {
            build_event(s)
                .map(|e| (s.name.clone(), e))
                .unwrap_or_else(|e| panic!("{}: event {}: {e}", path.display(), s.name))
        })
        .collect();
    for (i, (n, _)) in events.iter().enumerate() {
        assert!(
            !events[..i].iter().any(|(m, _)| m == n),
            "{}: event name {n} twice",
            path.display()
        );
    }
    for case in &fx.cases {
        let where_ = format!("{}: case {:?}", path.display(), case.name);
        let flags: Vec<(Flag, String)> = case
            .flags
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| {
                (
                    flag(k).unwrap_or_else(|e| panic!("{where_}: {e}")),
                    v.clone(),
                )
            })
            .collect();
        let parsed = Filter::parse(flags.iter().map(|(f, v)| (*f, v.as_str())));
        match (&case.error, &case.keep, parsed) {
            (Some(want), None, Err(e)) => {
                if !e.to_string().contains(want.as_str()) {
                    failures.push(format!(
                        "{where_}: error {:?} lacks {want:?}",
                        e.to_string()
                    ));
                }
            }
            (Some(_), None, Ok(_)) => failures.push(format!("{where_}: parsed, expected an error")),
            (None, Some(keep), Ok(filter)) => {
                let mut tree = ProcessTree::new();
                if let Some(m) = fx.host_mntns {
                    tree.set_host_mntns(m);
                }
                for p in &fx.existing {
                    tree.insert_existing(
                        p.pid,
                        ProcInfo {
                            ppid: p.ppid,
                            comm: p.comm.clone(),
                            uid: p.uid,
                            container_id: container_id(&p.container),
                            exe: p.exe.clone(),
                            ..ProcInfo::default()
                        },
                    );
                }
                let mut kept = Vec::new();
                for (name, ev) in &events {
                    tree.observe(ev);
                    if filter.matches(ev, &tree) {
                        kept.push(name.clone());
                    }
                }
                for k in keep {
                    assert!(
                        events.iter().any(|(n, _)| n == k),
                        "{where_}: keep names unknown event {k}"
                    );
                }
                if &kept != keep {
                    failures.push(format!("{where_}: kept {kept:?}, expected {keep:?}"));
                }
                check_kernel_plan_is_sound(&where_, &filter, &events, keep, failures);
            }
            (None, Some(_), Err(e)) => failures.push(format!("{where_}: unexpected error: {e}")),
            _ => panic!("{where_}: give exactly one of keep and error"),
        }
    }
    fx.cases.len()
}

/// The kernel plan must let through every event the filter keeps (a stand-in for the BPF side:
/// event set, uid/pid ranges and sets, namespaces, container-only/host-only).
fn check_kernel_plan_is_sound(
    where_: &str,
    filter: &Filter,
    events: &[(String, Event)],
    keep: &[String],
    failures: &mut Vec<String>,
) {
    let plan = filter.kernel_plan();
    for (name, ev) in events.iter().filter(|(n, _)| keep.contains(n)) {
        let in_range = |r: Option<(u32, u32)>, v: u32| r.is_none_or(|(lo, hi)| lo <= v && v <= hi);
        let in_set = |s: &std::collections::BTreeSet<u32>, v: u32| s.is_empty() || s.contains(&v);
        let follow_ok = plan.follow; // descendants are kept by the kernel's follow marking
        let ok = plan.events.contains(&ev.id)
            && (follow_ok
                || (in_range(plan.uid_range, ev.uid)
                    && in_range(plan.pid_range, ev.host_pid)
                    && in_set(&plan.pids, ev.host_pid)
                    && !plan.not_pids.contains(&ev.host_pid)
                    && in_set(&plan.mntns, ev.mntns)
                    && !plan.not_mntns.contains(&ev.mntns)
                    && in_set(&plan.pidns, ev.pidns)
                    && !plan.not_pidns.contains(&ev.pidns)
                    && plan.container.is_none_or(|c| c == ev.in_container())));
        if !ok {
            failures.push(format!(
                "{where_}: kernel plan {plan:?} would drop kept event {name}"
            ));
        }
    }
}

#[test]
fn filter_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/filter");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "fixtures missing in {}", dir.display());
    let mut failures = Vec::new();
    let mut cases = 0;
    for f in &files {
        cases += run_file(f, &mut failures);
    }
    assert!(cases >= 60, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{cases} filter cases in {} files", files.len());
}
