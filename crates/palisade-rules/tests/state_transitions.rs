//! Table-driven tests of the state transitions: every `testdata/state/*.yaml` file is a sequence
//! of events, each followed by what the state must hold while the rules see the event
//! (`during`: after `apply`, before `finish`) and after it (`after`: after `finish`).

use palisade_events::{ArgKind, ArgValue, Event, EventId, SockAddr};
use palisade_rules::state::{
    ContainerInfo, Fd, FdKind, L4Proto, Process, State, StateOptions, UserDb,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    processes: Vec<ProcSpec>,
    #[serde(default)]
    containers: Vec<ContainerSpec>,
    #[serde(default)]
    options: OptSpec,
    steps: Vec<Step>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OptSpec {
    max_processes: Option<usize>,
    max_fds_per_process: Option<usize>,
    max_written_paths_per_container: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcSpec {
    pid: u32,
    #[serde(default)]
    vpid: Option<u32>,
    #[serde(default)]
    ppid: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    exe: String,
    #[serde(default)]
    exepath: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    cwd: String,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    sid: u32,
    #[serde(default)]
    container_id: String,
    #[serde(default)]
    start_ts: u64,
    #[serde(default)]
    fds: Vec<FdSpec>,
    #[serde(default)]
    threads: Vec<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FdSpec {
    num: i32,
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    flags: Option<serde_json::Value>,
    #[serde(default)]
    l4proto: Option<String>,
    #[serde(default)]
    bound: Option<String>,
    #[serde(default)]
    is_server: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerSpec {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    image: String,
    /// passwd lines of the container
    #[serde(default)]
    passwd: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    event: EvSpec,
    #[serde(default)]
    during: Vec<Expect>,
    #[serde(default)]
    after: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvSpec {
    #[serde(rename = "type")]
    ty: String,
    pid: u32,
    #[serde(default)]
    tid: Option<u32>,
    #[serde(default)]
    vpid: Option<u32>,
    #[serde(default)]
    ppid: Option<u32>,
    #[serde(default)]
    comm: Option<String>,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    gid: u32,
    #[serde(default)]
    container_id: String,
    #[serde(default)]
    ret: i64,
    #[serde(default)]
    ts: Option<u64>,
    #[serde(default)]
    args: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    pid: u32,
    #[serde(default)]
    absent: bool,
    ppid: Option<u32>,
    vpid: Option<u32>,
    name: Option<String>,
    exe: Option<String>,
    exepath: Option<String>,
    args: Option<Vec<String>>,
    cmdline: Option<String>,
    cwd: Option<String>,
    tty: Option<u32>,
    sid: Option<u32>,
    vsid: Option<u32>,
    pgid: Option<u32>,
    uid: Option<u32>,
    euid: Option<u32>,
    gid: Option<u32>,
    egid: Option<u32>,
    loginuid: Option<u32>,
    start_ts: Option<u64>,
    container_id: Option<String>,
    exe_from_memfd: Option<bool>,
    exe_upper_layer: Option<bool>,
    is_sid_leader: Option<bool>,
    user_name: Option<String>,
    ancestors: Option<Vec<String>>,
    session_leader: Option<String>,
    fd_count: Option<usize>,
    /// fd number -> expected fd, or null for "not open"
    fds: Option<BTreeMap<i32, Option<FdExpect>>>,
    /// thread ids that must resolve to this process
    #[serde(default)]
    threads: Vec<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FdExpect {
    kind: Option<String>,
    name: Option<String>,
    nameraw: Option<String>,
    l4proto: Option<String>,
    client: Option<Option<String>>,
    server: Option<Option<String>>,
    is_server: Option<bool>,
    cloexec: Option<bool>,
    directory: Option<String>,
    filename: Option<String>,
}

/// open(2) flag names accepted in fixtures.
const OPEN_FLAGS: &[(&str, i64)] = &[
    ("O_RDONLY", 0),
    ("O_WRONLY", 0o1),
    ("O_RDWR", 0o2),
    ("O_CREAT", 0o100),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_DIRECTORY", 0o200000),
    ("O_CLOEXEC", 0o2000000),
    ("O_TMPFILE", 0o20200000),
    ("AT_EMPTY_PATH", 0x1000),
    ("CLONE_THREAD", 0x10000),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_RAW", 3),
    ("SOCK_CLOEXEC", 0o2000000),
    ("SOCK_NONBLOCK", 0o4000),
    ("AF_UNIX", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_NETLINK", 16),
    ("AF_PACKET", 17),
    ("AT_FDCWD", -100),
    ("MFD_CLOEXEC", 1),
];

fn int_value(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer")),
        serde_json::Value::Bool(b) => Ok(i64::from(*b)),
        serde_json::Value::String(s) => {
            let mut acc = 0;
            for part in s.split('|') {
                let part = part.trim();
                let v = OPEN_FLAGS
                    .iter()
                    .find(|(n, _)| *n == part)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| format!("unknown constant {part:?}"))?;
                acc |= v;
            }
            Ok(acc)
        }
        other => Err(format!("{other} is not a number")),
    }
}

fn parse_sock(s: &str) -> Result<SockAddr, String> {
    if let Some(path) = s.strip_prefix("unix:") {
        return Ok(SockAddr::Unix { path: path.into() });
    }
    if let Some(f) = s.strip_prefix("family:") {
        return Ok(SockAddr::Other {
            family: f.parse().map_err(|_| format!("bad family {f}"))?,
        });
    }
    let sa: std::net::SocketAddr = s.parse().map_err(|_| format!("bad socket address {s:?}"))?;
    Ok(match sa {
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
    })
}

fn build_event(spec: &EvSpec, ts: u64) -> Result<Event, String> {
    let id = EventId::from_name(&spec.ty).ok_or_else(|| format!("unknown event {:?}", spec.ty))?;
    let def = id.def().expect("catalogued");
    for k in spec.args.keys() {
        if def.arg_index(k).is_none() {
            return Err(format!("event {} has no argument {k:?}", spec.ty));
        }
    }
    let mut args = Vec::new();
    for a in def.args {
        let v = match spec.args.get(a.name) {
            None | Some(serde_json::Value::Null) => ArgValue::None,
            Some(v) => {
                let err = |e: String| format!("argument {}: {e}", a.name);
                match a.kind {
                    ArgKind::Path | ArgKind::Str => ArgValue::Str(
                        v.as_str()
                            .ok_or_else(|| err("expected a string".into()))?
                            .to_string(),
                    ),
                    ArgKind::StrArray => ArgValue::StrList(
                        v.as_array()
                            .ok_or_else(|| err("expected a list".into()))?
                            .iter()
                            .map(|x| x.as_str().unwrap_or_default().to_string())
                            .collect(),
                    ),
                    ArgKind::SockAddr => ArgValue::Sock(
                        parse_sock(v.as_str().ok_or_else(|| err("expected a string".into()))?)
                            .map_err(err)?,
                    ),
                    ArgKind::UInt | ArgKind::Ptr => {
                        ArgValue::UInt(int_value(v).map_err(err)? as u64)
                    }
                    _ => ArgValue::Int(int_value(v).map_err(err)?),
                }
            }
        };
        args.push(v);
    }
    let in_host_ns = spec.vpid.is_none();
    Ok(Event {
        ts: spec.ts.unwrap_or(ts),
        id,
        cpu: 0,
        pid: spec.vpid.unwrap_or(spec.pid),
        tid: if in_host_ns {
            spec.tid.unwrap_or(spec.pid)
        } else {
            spec.vpid.unwrap_or(spec.pid)
        },
        ppid: spec.ppid.unwrap_or(0),
        host_pid: spec.pid,
        host_tid: spec.tid.unwrap_or(spec.pid),
        host_ppid: spec.ppid.unwrap_or(0),
        uid: spec.uid,
        gid: spec.gid,
        comm: spec.comm.clone().unwrap_or_default(),
        uts: "node".into(),
        mntns: 1,
        pidns: 1,
        cgroup_id: 1,
        container_id: spec.container_id.clone(),
        ret: spec.ret,
        args,
    })
}

fn kind_from(s: &str) -> Result<FdKind, String> {
    let all = [
        FdKind::File,
        FdKind::Directory,
        FdKind::Ipv4,
        FdKind::Ipv6,
        FdKind::Unix,
        FdKind::Pipe,
        FdKind::Event,
        FdKind::Signalfd,
        FdKind::Eventpoll,
        FdKind::Inotify,
        FdKind::Timerfd,
        FdKind::Netlink,
        FdKind::Memfd,
        FdKind::Other,
    ];
    all.into_iter()
        .find(|k| k.type_name() == s)
        .ok_or_else(|| format!("unknown fd kind {s:?}"))
}

fn endpoint(ep: Option<(IpAddr, u16)>) -> Option<String> {
    ep.map(|(ip, port)| std::net::SocketAddr::new(ip, port).to_string())
}

fn build_state(fx: &Fixture) -> Result<State, String> {
    let mut opts = StateOptions::isolated();
    opts.boot_time_ns = Some(1_000_000_000_000);
    if let Some(v) = fx.options.max_processes {
        opts.max_processes = v;
    }
    if let Some(v) = fx.options.max_fds_per_process {
        opts.max_fds_per_process = v;
    }
    if let Some(v) = fx.options.max_written_paths_per_container {
        opts.max_written_paths_per_container = v;
    }
    let mut st = State::new(opts);
    st.insert_users(
        "",
        UserDb::parse(
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/zsh\n",
            "root:x:0:\nalice:x:1000:\n",
        ),
    );
    for c in &fx.containers {
        st.insert_container(ContainerInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            ..ContainerInfo::default()
        });
        if let Some(pw) = &c.passwd {
            st.insert_users(&c.id, UserDb::parse(pw, ""));
        }
    }
    for p in &fx.processes {
        let mut pr = Process::new(p.pid);
        pr.vpid = p.vpid.unwrap_or(p.pid);
        pr.ppid = p.ppid;
        pr.name = p.name.clone();
        pr.exe = if p.exe.is_empty() {
            p.name.clone()
        } else {
            p.exe.clone()
        };
        pr.exepath = p.exepath.clone();
        pr.args = p.args.clone();
        pr.cwd = if p.cwd.is_empty() {
            "/".into()
        } else {
            p.cwd.clone()
        };
        pr.uid = p.uid;
        pr.euid = p.uid;
        pr.sid = p.sid;
        pr.container_id = p.container_id.clone();
        pr.start_ts = p.start_ts;
        for f in &p.fds {
            let mut fd = Fd::new(f.num, kind_from(&f.kind)?, f.name.clone());
            if let Some(fl) = &f.flags {
                fd.flags = int_value(fl)?;
            }
            fd.l4proto = match f.l4proto.as_deref() {
                Some("tcp") => L4Proto::Tcp,
                Some("udp") => L4Proto::Udp,
                Some(other) => return Err(format!("unknown l4proto {other:?}")),
                None => L4Proto::Unknown,
            };
            if let Some(b) = &f.bound {
                let sa: std::net::SocketAddr =
                    b.parse().map_err(|_| format!("bad address {b:?}"))?;
                fd.bound = Some((sa.ip(), sa.port()));
                if f.is_server {
                    fd.server = fd.bound;
                }
            }
            fd.is_server = f.is_server;
            pr.fds.insert(f.num, fd);
        }
        st.insert_process(pr);
        for &t in &p.threads {
            st.insert_thread(t, p.pid);
        }
    }
    Ok(st)
}

fn check(st: &State, e: &Expect, now: u64) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(p) = st.process(e.pid) else {
        if !e.absent {
            errs.push(format!("process {} is missing", e.pid));
        }
        return errs;
    };
    if e.absent {
        errs.push(format!("process {} should be gone", e.pid));
        return errs;
    }
    macro_rules! eq {
        ($field:ident, $got:expr) => {
            if let Some(want) = &e.$field {
                let got = $got;
                if *want != got {
                    errs.push(format!(
                        "pid {}: {} is {:?}, want {:?}",
                        e.pid,
                        stringify!($field),
                        got,
                        want
                    ));
                }
            }
        };
    }
    eq!(ppid, p.ppid);
    eq!(vpid, p.vpid);
    eq!(name, p.name.clone());
    eq!(exe, p.exe.clone());
    eq!(exepath, p.exepath.clone());
    eq!(args, p.args.clone());
    eq!(cmdline, p.cmdline());
    eq!(cwd, p.cwd.clone());
    eq!(tty, p.tty);
    eq!(sid, p.sid);
    eq!(vsid, p.vsid);
    eq!(pgid, p.pgid);
    eq!(uid, p.uid);
    eq!(euid, p.euid);
    eq!(gid, p.gid);
    eq!(egid, p.egid);
    eq!(loginuid, p.loginuid);
    eq!(start_ts, p.start_ts);
    eq!(container_id, p.container_id.clone());
    eq!(exe_from_memfd, p.exe_from_memfd);
    eq!(exe_upper_layer, p.exe_upper_layer);
    eq!(is_sid_leader, p.is_sid_leader());
    eq!(
        user_name,
        st.user_name(p.euid, &p.container_id)
            .unwrap_or("<NA>")
            .to_string()
    );
    eq!(
        ancestors,
        st.ancestors(p).map(|a| a.name.clone()).collect::<Vec<_>>()
    );
    eq!(
        session_leader,
        st.session_leader(p)
            .map(|l| l.name.clone())
            .unwrap_or_default()
    );
    eq!(fd_count, p.fds.len());
    let _ = now;
    for t in &e.threads {
        let got = st.thread_group(*t).map(|g| g.pid);
        if got != Some(e.pid) {
            errs.push(format!("thread {t} belongs to {got:?}, want {}", e.pid));
        }
    }
    if let Some(fds) = &e.fds {
        for (num, want) in fds {
            let got = st.fd(e.pid, *num);
            match (want, got) {
                (None, None) => {}
                (None, Some(f)) => errs.push(format!("pid {} fd {num} is open: {f:?}", e.pid)),
                (Some(_), None) => errs.push(format!("pid {} fd {num} is not open", e.pid)),
                (Some(w), Some(f)) => {
                    let mut feq = |what: &str, want: Option<String>, got: String| {
                        if let Some(want) = want
                            && want != got
                        {
                            errs.push(format!(
                                "pid {} fd {num}: {what} is {got:?}, want {want:?}",
                                e.pid
                            ));
                        }
                    };
                    feq("kind", w.kind.clone(), f.kind.type_name().to_string());
                    feq("name", w.name.clone(), f.name.clone());
                    feq("nameraw", w.nameraw.clone(), f.name_raw().to_string());
                    feq("l4proto", w.l4proto.clone(), f.l4proto.name().to_string());
                    feq(
                        "client",
                        w.client.clone().map(|c| c.unwrap_or_default()),
                        endpoint(f.client).unwrap_or_default(),
                    );
                    feq(
                        "server",
                        w.server.clone().map(|c| c.unwrap_or_default()),
                        endpoint(f.server).unwrap_or_default(),
                    );
                    feq(
                        "is_server",
                        w.is_server.map(|b| b.to_string()),
                        f.is_server.to_string(),
                    );
                    feq(
                        "cloexec",
                        w.cloexec.map(|b| b.to_string()),
                        (f.flags & 0o2000000 != 0).to_string(),
                    );
                    feq("directory", w.directory.clone(), f.directory().to_string());
                    feq("filename", w.filename.clone(), f.filename().to_string());
                }
            }
        }
    }
    errs
}

fn run_file(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("readable fixture");
    let file = path.display().to_string();
    let docs = palisade_model::yaml::parse_stream(&text, &palisade_model::Limits::default());
    let root = match docs.into_iter().next() {
        Some(Ok(d)) => d.root.expect("non-empty"),
        Some(Err(e)) => return vec![format!("{file}: {e}")],
        None => return vec![format!("{file}: empty")],
    };
    let step_lines: Vec<u32> = root
        .get("steps")
        .map(|s| s.items().iter().map(|n| n.pos.line).collect())
        .unwrap_or_default();
    let fx: Fixture = match serde_json::from_value(root.to_json()) {
        Ok(f) => f,
        Err(e) => return vec![format!("{file}: {e}")],
    };
    let mut st = match build_state(&fx) {
        Ok(s) => s,
        Err(e) => return vec![format!("{file}: {e}")],
    };
    let mut errs = Vec::new();
    for (i, step) in fx.steps.iter().enumerate() {
        let line = step_lines.get(i).copied().unwrap_or(0);
        let ts = 2_000_000_000_000 + i as u64 * 1_000;
        let ev = match build_event(&step.event, ts) {
            Ok(ev) => ev,
            Err(e) => {
                errs.push(format!("{file}:{line}: step {}: {e}", i + 1));
                break;
            }
        };
        st.apply(&ev);
        for x in &step.during {
            for e in check(&st, x, ev.ts) {
                errs.push(format!(
                    "{file}:{line}: step {} ({}), during: {e}",
                    i + 1,
                    step.event.ty
                ));
            }
        }
        st.finish(&ev);
        for x in &step.after {
            for e in check(&st, x, ev.ts) {
                errs.push(format!(
                    "{file}:{line}: step {} ({}), after: {e}",
                    i + 1,
                    step.event.ty
                ));
            }
        }
    }
    errs
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/state");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata/state")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn state_transition_fixtures() {
    let files = fixtures();
    assert!(
        files.len() >= 8,
        "expected the fixture files, found {}",
        files.len()
    );
    let mut errs = Vec::new();
    let mut steps = 0;
    for f in &files {
        errs.extend(run_file(f));
        steps += 1;
    }
    assert!(
        errs.is_empty(),
        "{} failures in {steps} files:\n{}",
        errs.len(),
        errs.join("\n")
    );
}

/// The runner itself notices wrong expectations (so a fixture cannot pass vacuously).
#[test]
fn runner_reports_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(
        &p,
        "description: wrong on purpose\nprocesses:\n  - {pid: 10, name: sh}\nsteps:\n  - event: {type: chdir, pid: 10, args: {path: /tmp}}\n    after:\n      - {pid: 10, cwd: /var}\n      - {pid: 11}\n",
    )
    .unwrap();
    let errs = run_file(&p);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains(":5: step 1 (chdir), after: pid 10: cwd is \"/tmp\", want \"/var\""),
        "{errs:?}"
    );
    assert!(errs[1].contains("process 11 is missing"), "{errs:?}");
    std::fs::write(
        &p,
        "description: typo\nsteps:\n  - event: {type: chdir, pid: 10, args: {pathh: /tmp}}\n",
    )
    .unwrap();
    let errs = run_file(&p);
    assert!(errs[0].contains("has no argument \"pathh\""), "{errs:?}");
}
