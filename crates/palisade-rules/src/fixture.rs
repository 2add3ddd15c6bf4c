//! Data-driven engine fixtures (test support): a YAML document holds rules, a state (processes,
//! fds, containers, users), load options, and cases (an event and the alerts it must raise), or
//! the load errors and warnings the rules must produce. Used by the crate's tests
//! (`testdata/conditions/*.yaml`) and by `scripts/conformance-falco` (scenarios run against
//! rule files given on the command line).

use crate::state::{ContainerInfo, Fd, FdKind, L4Proto, Process};
use crate::{Engine, LoadOptions, MemState, Priority, RuleMatching, RuleSet};
use palisade_events::{ArgKind, ArgValue, Event, EventId, SockAddr};
use serde::Deserialize;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    description: String,
    #[serde(default)]
    rules: String,
    /// More rules files loaded after `rules`, in order.
    #[serde(default)]
    more_rules: Vec<String>,
    #[serde(default)]
    state: StateSpec,
    #[serde(default)]
    options: OptionsSpec,
    #[serde(default)]
    cases: Vec<Case>,
    /// Substrings each expected load error must contain (in order); empty = load must succeed.
    #[serde(default)]
    errors: Vec<String>,
    /// Substrings of warnings that must be present.
    #[serde(default)]
    warnings: Vec<String>,
    /// Rule listing expectations: name -> {enabled, event_types, priority}.
    #[serde(default)]
    listing: BTreeMap<String, ListingSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListingSpec {
    enabled: Option<bool>,
    skipped: Option<bool>,
    event_types: Option<Option<Vec<String>>>,
    priority: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OptionsSpec {
    #[serde(default)]
    disabled_tags: Vec<String>,
    #[serde(default)]
    enabled_tags: Vec<String>,
    #[serde(default)]
    disabled_rule_patterns: Vec<String>,
    min_priority: Option<String>,
    /// `first` (default) or `all`.
    matching: Option<String>,
    /// Falco's default suggested output (container and pod fields appended).
    #[serde(default)]
    suggested_output: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StateSpec {
    #[serde(default)]
    processes: Vec<ProcSpec>,
    #[serde(default)]
    containers: Vec<ContainerSpec>,
    #[serde(default)]
    users: Vec<NameSpec>,
    #[serde(default)]
    groups: Vec<NameSpec>,
    #[serde(default)]
    ip_names: BTreeMap<String, String>,
    #[serde(default)]
    env: BTreeMap<u32, Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NameSpec {
    id: u32,
    name: String,
    #[serde(default)]
    container: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProcSpec {
    pid: u32,
    #[serde(default)]
    ppid: u32,
    #[serde(default)]
    vpid: Option<u32>,
    name: String,
    #[serde(default)]
    exe: Option<String>,
    #[serde(default)]
    exepath: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    cwd: String,
    #[serde(default)]
    tty: u32,
    #[serde(default)]
    sid: u32,
    #[serde(default)]
    pgid: u32,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    gid: u32,
    #[serde(default)]
    loginuid: Option<u32>,
    #[serde(default)]
    start_ts: u64,
    #[serde(default)]
    container_id: String,
    #[serde(default)]
    exe_from_memfd: bool,
    #[serde(default)]
    exe_upper_layer: bool,
    #[serde(default)]
    cap_effective: u64,
    #[serde(default)]
    fds: Vec<FdSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FdSpec {
    num: i32,
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    l4proto: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    is_server: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContainerSpec {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    privileged: bool,
    #[serde(default)]
    pod_name: String,
    #[serde(default)]
    pod_namespace: String,
    #[serde(default)]
    pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    start_ts: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    event: EventSpec,
    /// Rule names expected to alert, in order.
    alerts: Vec<String>,
    /// Exact output text of the first alert.
    #[serde(default)]
    output: Option<String>,
    /// Subset of the first alert's output_fields.
    #[serde(default)]
    fields: BTreeMap<String, J>,
    /// Priority of the first alert.
    #[serde(default)]
    priority: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    ts: Option<u64>,
    pid: u32,
    #[serde(default)]
    tid: Option<u32>,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    gid: u32,
    #[serde(default)]
    comm: Option<String>,
    #[serde(default)]
    container_id: String,
    #[serde(default)]
    ret: i64,
    #[serde(default)]
    args: BTreeMap<String, J>,
}

fn sock(s: &str) -> SockAddr {
    if let Some(p) = s.strip_prefix("unix:") {
        return SockAddr::Unix { path: p.into() };
    }
    let sa: std::net::SocketAddr = s.parse().unwrap_or_else(|e| panic!("bad address {s}: {e}"));
    match sa {
        std::net::SocketAddr::V4(a) => SockAddr::Inet {
            addr: *a.ip(),
            port: a.port(),
        },
        std::net::SocketAddr::V6(a) => SockAddr::Inet6 {
            addr: *a.ip(),
            port: a.port(),
            flowinfo: 0,
            scope_id: 0,
        },
    }
}

fn ip_port(s: &str) -> (IpAddr, u16) {
    match sock(s) {
        SockAddr::Inet { addr, port } => (IpAddr::V4(addr), port),
        SockAddr::Inet6 { addr, port, .. } => (IpAddr::V6(addr), port),
        _ => panic!("not an ip:port: {s}"),
    }
}

fn num(v: &J) -> i64 {
    match v {
        J::Number(n) => n.as_i64().unwrap_or_else(|| n.as_u64().unwrap_or(0) as i64),
        J::String(s) => {
            if let Some(o) = s.strip_prefix("0o") {
                i64::from_str_radix(o, 8).unwrap()
            } else if let Some(h) = s.strip_prefix("0x") {
                i64::from_str_radix(h, 16).unwrap()
            } else {
                s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
            }
        }
        J::Bool(b) => *b as i64,
        other => panic!("not a number: {other}"),
    }
}

fn event(e: &EventSpec, ts: u64) -> Event {
    let id = match e.ty.as_str() {
        "procexit" => EventId::SCHED_PROCESS_EXIT,
        n => EventId::from_name(n).unwrap_or_else(|| panic!("unknown event type {n}")),
    };
    let def = id.def().expect("catalog entry");
    let mut args = Vec::new();
    for a in def.args {
        let v = match e.args.get(a.name) {
            None | Some(J::Null) => ArgValue::None,
            Some(v) => match a.kind {
                ArgKind::Path | ArgKind::Str => {
                    ArgValue::Str(v.as_str().expect("string arg").into())
                }
                ArgKind::StrArray => ArgValue::StrList(
                    v.as_array()
                        .expect("list arg")
                        .iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect(),
                ),
                ArgKind::SockAddr => ArgValue::Sock(sock(v.as_str().expect("address"))),
                ArgKind::UInt | ArgKind::Ptr => ArgValue::UInt(num(v) as u64),
                _ => ArgValue::Int(num(v)),
            },
        };
        args.push(v);
    }
    for k in e.args.keys() {
        assert!(
            def.arg_index(k).is_some(),
            "event {} has no argument {k}",
            e.ty
        );
    }
    Event {
        ts: e.ts.unwrap_or(ts),
        id,
        cpu: 0,
        pid: e.pid,
        tid: e.tid.unwrap_or(e.pid),
        ppid: 0,
        host_pid: e.pid,
        host_tid: e.tid.unwrap_or(e.pid),
        host_ppid: 0,
        uid: e.uid,
        gid: e.gid,
        comm: e.comm.clone().unwrap_or_default(),
        uts: "test-host".into(),
        mntns: 0,
        pidns: 0,
        cgroup_id: 0,
        container_id: e.container_id.clone(),
        ret: e.ret,
        args,
    }
}

fn fd_kind(s: &str) -> FdKind {
    match s {
        "file" => FdKind::File,
        "directory" => FdKind::Directory,
        "ipv4" => FdKind::Ipv4,
        "ipv6" => FdKind::Ipv6,
        "unix" => FdKind::Unix,
        "pipe" => FdKind::Pipe,
        "memfd" => FdKind::Memfd,
        "netlink" => FdKind::Netlink,
        other => panic!("fd kind {other}"),
    }
}

fn state(spec: &StateSpec) -> MemState {
    let mut st = MemState::default();
    for p in &spec.processes {
        let mut pr = Process::new(p.pid);
        pr.ppid = p.ppid;
        pr.vpid = p.vpid.unwrap_or(p.pid);
        pr.name = p.name.clone();
        pr.exe = p.exe.clone().unwrap_or_else(|| p.name.clone());
        pr.exepath = p
            .exepath
            .clone()
            .unwrap_or_else(|| format!("/usr/bin/{}", p.name));
        pr.args = p.args.clone();
        pr.cwd = p.cwd.clone();
        pr.tty = p.tty;
        pr.sid = p.sid;
        pr.pgid = p.pgid;
        pr.uid = p.uid;
        pr.euid = p.uid;
        pr.gid = p.gid;
        pr.egid = p.gid;
        pr.loginuid = p.loginuid.unwrap_or(u32::MAX);
        pr.start_ts = p.start_ts;
        pr.container_id = p.container_id.clone();
        pr.exe_from_memfd = p.exe_from_memfd;
        pr.exe_upper_layer = p.exe_upper_layer;
        pr.cap_effective = p.cap_effective;
        for f in &p.fds {
            let mut fd = Fd::new(f.num, fd_kind(&f.kind), f.name.clone());
            fd.l4proto = match f.l4proto.as_deref() {
                Some("tcp") => L4Proto::Tcp,
                Some("udp") => L4Proto::Udp,
                Some("raw") => L4Proto::Raw,
                _ => L4Proto::Unknown,
            };
            fd.client = f.client.as_deref().map(ip_port);
            fd.server = f.server.as_deref().map(ip_port);
            fd.is_server = f.is_server;
            pr.fds.insert(f.num, fd);
        }
        st.processes.insert(p.pid, pr);
    }
    for c in &spec.containers {
        st.containers.insert(
            c.id.clone(),
            ContainerInfo {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                privileged: c.privileged,
                pod_name: c.pod_name.clone(),
                pod_namespace: c.pod_namespace.clone(),
                pod_labels: c
                    .pod_labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                start_ts: c.start_ts,
                ..ContainerInfo::default()
            },
        );
    }
    for u in &spec.users {
        st.users.insert((u.container.clone(), u.id), u.name.clone());
    }
    for g in &spec.groups {
        st.groups
            .insert((g.container.clone(), g.id), g.name.clone());
    }
    for (ip, n) in &spec.ip_names {
        st.ip_names.insert(ip.parse().expect("ip"), n.clone());
    }
    for (pid, env) in &spec.env {
        st.envs.insert(*pid, env.clone());
    }
    st
}

/// Runs one fixture document after loading `base_rules` (rule files loaded before the
/// fixture's own rules); returns the number of checks made, or what failed.
pub fn run(text: &str, base_rules: &[PathBuf]) -> Result<usize, String> {
    let docs = palisade_model::yaml::parse_stream(text, &Default::default());
    let root = docs
        .into_iter()
        .next()
        .ok_or("empty fixture")?
        .map_err(|e| e.to_string())?
        .root
        .ok_or("empty fixture")?;
    let fx: Fixture =
        serde_json::from_value(root.to_json()).map_err(|e| format!("fixture: {e}"))?;
    let _ = &fx.description;
    let opts = LoadOptions {
        disabled_tags: fx.options.disabled_tags.clone(),
        enabled_tags: fx.options.enabled_tags.clone(),
        disabled_rule_patterns: fx.options.disabled_rule_patterns.clone(),
        min_priority: fx
            .options
            .min_priority
            .as_deref()
            .map(|p| Priority::parse(p).expect("priority")),
    };
    let mut base = Vec::new();
    for f in base_rules {
        let t = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        base.push((f.display().to_string(), t));
    }
    let mut sources: Vec<(String, &str)> =
        base.iter().map(|(n, t)| (n.clone(), t.as_str())).collect();
    sources.push(("rules.yaml".to_string(), fx.rules.as_str()));
    for (i, r) in fx.more_rules.iter().enumerate() {
        sources.push((format!("rules{}.yaml", i + 2), r.as_str()));
    }
    let refs: Vec<(&str, &str)> = sources.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let loaded = RuleSet::load_strs(&refs, &opts);
    let mut checks = 0;
    let (rs, warnings) = match loaded {
        Err(errs) => {
            if fx.errors.is_empty() {
                return Err(format!("unexpected load errors:\n{errs}"));
            }
            if errs.errors.len() != fx.errors.len() {
                return Err(format!(
                    "expected {} errors, got {}:\n{errs}",
                    fx.errors.len(),
                    errs.errors.len()
                ));
            }
            for (want, got) in fx.errors.iter().zip(&errs.errors) {
                let g = got.to_string();
                if !g.contains(want.as_str()) {
                    return Err(format!("error '{g}' does not contain '{want}'"));
                }
                checks += 1;
            }
            for w in &fx.warnings {
                if !errs
                    .warnings
                    .iter()
                    .any(|x| x.to_string().contains(w.as_str()))
                {
                    return Err(format!("no warning contains '{w}'"));
                }
                checks += 1;
            }
            return Ok(checks);
        }
        Ok(x) => x,
    };
    if !fx.errors.is_empty() {
        return Err(format!("expected errors {:?}, the rules loaded", fx.errors));
    }
    for w in &fx.warnings {
        if !warnings.iter().any(|x| x.to_string().contains(w.as_str())) {
            let all: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
            return Err(format!(
                "no warning contains '{w}'; warnings:\n{}",
                all.join("\n")
            ));
        }
        checks += 1;
    }
    for (name, spec) in &fx.listing {
        let r = rs
            .rules()
            .iter()
            .find(|r| &r.name == name)
            .ok_or(format!("rule '{name}' not listed"))?;
        if let Some(e) = spec.enabled
            && r.enabled != e
        {
            return Err(format!("rule '{name}': enabled {} expected {e}", r.enabled));
        }
        if let Some(s) = spec.skipped
            && r.skipped != s
        {
            return Err(format!("rule '{name}': skipped {} expected {s}", r.skipped));
        }
        if let Some(t) = &spec.event_types
            && &r.event_types != t
        {
            return Err(format!(
                "rule '{name}': event types {:?} expected {t:?}",
                r.event_types
            ));
        }
        if let Some(p) = &spec.priority
            && r.priority.as_str() != p
        {
            return Err(format!(
                "rule '{name}': priority {} expected {p}",
                r.priority
            ));
        }
        if let Some(t) = &spec.tags
            && &r.tags != t
        {
            return Err(format!("rule '{name}': tags {:?} expected {t:?}", r.tags));
        }
        checks += 1;
    }
    let st = state(&fx.state);
    let mut engine = Engine::new(rs);
    engine.set_hostname("test-host");
    engine.set_suggested_output(fx.options.suggested_output);
    if fx.options.matching.as_deref() == Some("all") {
        engine.set_rule_matching(RuleMatching::All);
    }
    for (i, c) in fx.cases.iter().enumerate() {
        let ev = event(&c.event, 1_700_000_000_123_456_789 + i as u64);
        let mut alerts = Vec::new();
        engine.process(&ev, &st, &mut |a| alerts.push(a));
        let names: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
        if names != c.alerts {
            return Err(format!(
                "case '{}': alerts {names:?}, expected {:?}",
                c.name, c.alerts
            ));
        }
        if let Some(o) = &c.output {
            let a = alerts
                .first()
                .ok_or(format!("case '{}': no alert", c.name))?;
            if &a.output != o {
                return Err(format!(
                    "case '{}': output\n  got:  {}\n  want: {o}",
                    c.name, a.output
                ));
            }
            if a.hostname != "test-host" || a.source != "syscall" || a.time_ns != ev.ts {
                return Err(format!("case '{}': alert metadata {a:?}", c.name));
            }
        }
        if let Some(p) = &c.priority {
            let a = alerts
                .first()
                .ok_or(format!("case '{}': no alert", c.name))?;
            if a.priority.as_str() != p {
                return Err(format!("case '{}': priority {}", c.name, a.priority));
            }
        }
        for (k, v) in &c.fields {
            let a = alerts
                .first()
                .ok_or(format!("case '{}': no alert", c.name))?;
            let got = a.output_fields.get(k).ok_or(format!(
                "case '{}': no output field {k} in {:?}",
                c.name, a.output_fields
            ))?;
            if got != v {
                return Err(format!(
                    "case '{}': field {k} = {got}, expected {v}",
                    c.name
                ));
            }
        }
        checks += 1;
    }
    Ok(checks)
}
