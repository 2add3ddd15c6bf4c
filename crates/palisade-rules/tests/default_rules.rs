//! The default rules (`rules/palisade_rules.yaml`) against synthetic event sequences:
//! every case in `testdata/default-rules/*.yaml` lists events and the rules that must fire
//! (in order; `[]` means "no alert at all"). Every rule of the file must have at least one
//! case that makes it fire and one benign neighbour that does not.
//!
//! Events go through the real state ([`State::apply`] before evaluation, [`State::finish`]
//! after) and the engine with every matching rule reported (all-match), so an attack that also
//! trips a second rule shows up as noise in the expectation.
//!
//! Case format (see the fixture files):
//!
//! ```yaml
//! cases:
//!   - name: what happens
//!     steps:
//!       - spawn: {pid: 20, ppid: 10, path: /bin/sh, argv: [sh], tty: pts/0, container: web}
//!       - call: {pid: 20, evt: openat, args: {pathname: /etc/shadow, flags: O_RDONLY}, ret: 3}
//!     expect: [Credential file read]
//! ```
//!
//! `spawn` = fork from `ppid` + `sched_process_exec` + `execve`; `exec` = the last two in place;
//! `call` = one event (defaults taken from the process: comm, uid, container); `connect` =
//! `socket` + `connect` to `addr`. `container:` names map to fixed 64-hex ids.

use palisade_events::{ArgKind, ArgValue, Event, EventId, SockAddr};
use palisade_rules::engine::RuleMatching;
use palisade_rules::state::{State, StateOptions};
use palisade_rules::{Engine, LoadOptions, RuleSet};
use serde::Deserialize;
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    steps: Vec<Step>,
    expect: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum Step {
    Spawn(Proc),
    Exec(Proc),
    Call(Call),
    Connect(Connect),
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Proc {
    pid: u32,
    #[serde(default)]
    ppid: Option<u32>,
    path: String,
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default)]
    comm: Option<String>,
    #[serde(default)]
    tty: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    ret: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    pid: u32,
    evt: String,
    #[serde(default)]
    args: BTreeMap<String, J>,
    #[serde(default)]
    ret: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    pid: u32,
    addr: String,
    #[serde(default)]
    fd: Option<i64>,
    #[serde(default)]
    ret: i64,
}

/// What a case knows of each process, to fill in the events it makes.
#[derive(Clone, Default)]
struct Ctx {
    comm: String,
    ppid: u32,
    uid: u32,
    container: String,
}

fn container_id(name: &str) -> String {
    if name.is_empty() || name == "host" {
        return String::new();
    }
    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return name.to_string();
    }
    // A fixed 64-hex id per name.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}").repeat(4)
}

fn comm_of(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.chars().take(15).collect()
}

const OPEN_FLAGS: &[(&str, i64)] = &[
    ("O_RDONLY", 0),
    ("O_WRONLY", 0o1),
    ("O_RDWR", 0o2),
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_NONBLOCK", 0o4000),
    ("O_DIRECTORY", 0o200000),
    ("O_CLOEXEC", 0o2000000),
];

/// Named constants fixtures may use for integer arguments.
const CONSTANTS: &[(&str, i64)] = &[
    ("AF_UNIX", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_PACKET", 17),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("PTRACE_TRACEME", 0),
    ("PTRACE_PEEKDATA", 2),
    ("PTRACE_POKETEXT", 4),
    ("PTRACE_POKEDATA", 5),
    ("PTRACE_GETREGS", 12),
    ("PTRACE_SETREGS", 13),
    ("PTRACE_ATTACH", 16),
    ("PTRACE_DETACH", 17),
    ("PTRACE_SEIZE", 0x4206),
    ("BPF_MAP_CREATE", 0),
    ("BPF_MAP_LOOKUP_ELEM", 1),
    ("BPF_PROG_LOAD", 5),
    ("CLONE_NEWNS", 0x20000),
    ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000),
    ("CLONE_NEWNET", 0x40000000),
    ("AT_FDCWD", -100),
];

fn int_value(v: &J, what: &str) -> i64 {
    match v {
        J::Number(n) => n
            .as_i64()
            .unwrap_or_else(|| panic!("{what}: not an integer")),
        J::Bool(b) => *b as i64,
        J::String(s) => s
            .split('|')
            .map(|part| {
                let part = part.trim();
                OPEN_FLAGS
                    .iter()
                    .chain(CONSTANTS)
                    .find(|(n, _)| *n == part)
                    .map(|(_, v)| *v)
                    .or_else(|| {
                        part.strip_prefix("0x")
                            .and_then(|h| i64::from_str_radix(h, 16).ok())
                    })
                    .or_else(|| {
                        part.strip_prefix("0o")
                            .and_then(|o| i64::from_str_radix(o, 8).ok())
                    })
                    .unwrap_or_else(|| panic!("{what}: unknown constant {part}"))
            })
            .fold(0, |a, b| a | b),
        _ => panic!("{what}: expected an integer, got {v}"),
    }
}

fn sockaddr(s: &str) -> SockAddr {
    if let Some(path) = s.strip_prefix("unix:") {
        return SockAddr::Unix { path: path.into() };
    }
    match s.parse::<std::net::SocketAddr>() {
        Ok(std::net::SocketAddr::V4(a)) => SockAddr::Inet {
            addr: *a.ip(),
            port: a.port(),
        },
        Ok(std::net::SocketAddr::V6(a)) => SockAddr::Inet6 {
            addr: *a.ip(),
            port: a.port(),
            flowinfo: 0,
            scope_id: 0,
        },
        Err(_) => panic!("bad socket address {s}"),
    }
}

fn arg_value(kind: ArgKind, v: &J, what: &str) -> ArgValue {
    match kind {
        ArgKind::Int | ArgKind::Fd | ArgKind::OpenFlags | ArgKind::Mode | ArgKind::Bool => {
            ArgValue::Int(int_value(v, what))
        }
        ArgKind::UInt | ArgKind::Ptr => ArgValue::UInt(int_value(v, what) as u64),
        ArgKind::Path | ArgKind::Str => ArgValue::Str(match v {
            J::String(s) => s.clone(),
            other => other.to_string(),
        }),
        ArgKind::StrArray => ArgValue::StrList(
            v.as_array()
                .unwrap_or_else(|| panic!("{what}: expected a list"))
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect(),
        ),
        ArgKind::SockAddr => ArgValue::Sock(sockaddr(
            v.as_str()
                .unwrap_or_else(|| panic!("{what}: expected an address")),
        )),
    }
}

struct Builder {
    procs: HashMap<u32, Ctx>,
    ts: u64,
    events: Vec<Event>,
}

impl Builder {
    fn event(&mut self, id: EventId, pid: u32, ret: i64, args: Vec<ArgValue>) {
        let c = self.procs.get(&pid).cloned().unwrap_or_default();
        self.ts += 1_000_000;
        self.events.push(Event {
            ts: self.ts,
            id,
            cpu: 0,
            pid,
            tid: pid,
            ppid: c.ppid,
            host_pid: pid,
            host_tid: pid,
            host_ppid: c.ppid,
            uid: c.uid,
            gid: c.uid,
            comm: c.comm.clone(),
            uts: "node-1".into(),
            mntns: 4026531840,
            pidns: 4026531836,
            cgroup_id: 1,
            container_id: c.container.clone(),
            ret,
            args,
        });
    }

    fn call(&mut self, pid: u32, evt: &str, args: &BTreeMap<String, J>, ret: i64) {
        let id = EventId::from_name(evt).unwrap_or_else(|| panic!("unknown event {evt}"));
        let def = id.def().unwrap();
        for k in args.keys() {
            assert!(
                def.arg_index(k).is_some(),
                "{evt} has no argument {k} (has {:?})",
                def.args.iter().map(|a| a.name).collect::<Vec<_>>()
            );
        }
        let vals = def
            .args
            .iter()
            .map(|a| match args.get(a.name) {
                Some(v) => arg_value(a.kind, v, &format!("{evt}.{}", a.name)),
                None => match a.kind {
                    ArgKind::Fd if a.name.contains("dirfd") => ArgValue::Int(-100),
                    ArgKind::Int
                    | ArgKind::Fd
                    | ArgKind::OpenFlags
                    | ArgKind::Mode
                    | ArgKind::Bool => ArgValue::Int(0),
                    ArgKind::UInt | ArgKind::Ptr => ArgValue::UInt(0),
                    ArgKind::StrArray => ArgValue::StrList(vec![]),
                    _ => ArgValue::None,
                },
            })
            .collect();
        self.event(id, pid, ret, vals);
    }

    fn exec(&mut self, p: &Proc, fork: bool) {
        let prev = self.procs.get(&p.pid).cloned();
        let parent = p.ppid.and_then(|pp| self.procs.get(&pp).cloned());
        let ppid = p.ppid.or(prev.as_ref().map(|c| c.ppid)).unwrap_or(1);
        let container = p
            .container
            .as_deref()
            .map(container_id)
            .or_else(|| prev.as_ref().map(|c| c.container.clone()))
            .or_else(|| parent.as_ref().map(|c| c.container.clone()))
            .unwrap_or_default();
        let uid = p
            .uid
            .or(prev.as_ref().map(|c| c.uid))
            .or(parent.as_ref().map(|c| c.uid))
            .unwrap_or(0);
        if fork {
            // The parent forks: the event is the parent's.
            self.procs.entry(ppid).or_insert_with(|| Ctx {
                comm: "init".into(),
                ppid: 0,
                uid,
                container: container.clone(),
            });
            let c = ppid as i64;
            let k = p.pid as i64;
            let args = [c, c, c, c, k, k, k, k, 0]
                .iter()
                .map(|v| ArgValue::UInt(*v as u64))
                .collect();
            self.event(EventId::SCHED_PROCESS_FORK, ppid, 0, args);
        }
        let ret = p.ret.unwrap_or(0);
        let mut argv = p.argv.clone();
        if argv.is_empty() {
            argv.push(comm_of(&p.path));
        }
        let new = Ctx {
            comm: p.comm.clone().unwrap_or_else(|| comm_of(&p.path)),
            ppid,
            uid,
            container,
        };
        if ret == 0 {
            self.procs.insert(p.pid, new);
            let tty = p.tty.clone().unwrap_or_default();
            let args = vec![
                ArgValue::Str(p.path.clone()),
                ArgValue::StrList(argv.clone()),
                ArgValue::Str(p.cwd.clone().unwrap_or_else(|| "/".into())),
                ArgValue::Str(tty),
                ArgValue::UInt(p.pid as u64),
                ArgValue::UInt(u32::MAX as u64),
                ArgValue::UInt(0),
            ];
            self.event(EventId::SCHED_PROCESS_EXEC, p.pid, 0, args);
        } else if prev.is_none() {
            // A failed exec leaves the forked child as it was: a copy of the parent.
            let mut child = parent.unwrap_or_default();
            child.ppid = ppid;
            child.container = new.container;
            self.procs.insert(p.pid, child);
        }
        let execve = EventId::from_name("execve").unwrap();
        self.event(
            execve,
            p.pid,
            ret,
            vec![ArgValue::Str(p.path.clone()), ArgValue::StrList(argv)],
        );
    }

    fn connect(&mut self, c: &Connect) {
        let fd = c.fd.unwrap_or(3);
        let addr = sockaddr(&c.addr);
        let domain = if matches!(addr, SockAddr::Inet6 { .. }) {
            10
        } else {
            2
        };
        let socket = EventId::from_name("socket").unwrap();
        self.event(
            socket,
            c.pid,
            fd,
            vec![ArgValue::Int(domain), ArgValue::Int(1), ArgValue::Int(6)],
        );
        let connect = EventId::from_name("connect").unwrap();
        self.event(
            connect,
            c.pid,
            c.ret,
            vec![ArgValue::Int(fd), ArgValue::Sock(addr)],
        );
    }
}

fn events_of(case: &Case) -> Vec<Event> {
    let mut b = Builder {
        procs: HashMap::new(),
        ts: 1_750_000_000_000_000_000,
        events: Vec::new(),
    };
    // pid 1 of the host exists from the start.
    b.procs.insert(
        1,
        Ctx {
            comm: "systemd".into(),
            ..Ctx::default()
        },
    );
    for s in &case.steps {
        match s {
            Step::Spawn(p) => b.exec(p, true),
            Step::Exec(p) => b.exec(p, false),
            Step::Call(c) => b.call(c.pid, &c.evt, &c.args, c.ret),
            Step::Connect(c) => b.connect(c),
        }
    }
    b.events
}

fn load_default_rules() -> RuleSet {
    let path = repo_root().join("rules/palisade_rules.yaml");
    match RuleSet::load(&[path], &LoadOptions::default()) {
        Ok((rs, _warnings)) => rs,
        Err(e) => panic!("default rules do not load:\n{e}"),
    }
}

fn fixture_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/default-rules");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

fn load_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = palisade_model::yaml::parse_stream(&text, &Default::default());
    let doc = docs
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{}: empty", path.display()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json = doc.root.expect("fixture has content").to_json();
    let f: FixtureFile =
        serde_json::from_value(json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.cases
}

/// Runs a case through a fresh state; returns the rules that fired, in order.
fn run(engine: &mut Engine, case: &Case) -> Vec<String> {
    let mut state = State::new(StateOptions::isolated());
    let mut fired = Vec::new();
    for ev in events_of(case) {
        state.apply(&ev);
        engine.process(&ev, &state, &mut |a| fired.push(a.rule));
        state.finish(&ev);
    }
    fired
}

#[test]
fn default_rules_fixtures() {
    let rules = load_default_rules();
    let names: BTreeSet<String> = rules.rules().iter().map(|r| r.name.clone()).collect();
    let mut engine = Engine::new(rules);
    engine.set_hostname("node-1");
    engine.set_rule_matching(RuleMatching::All);
    let mut fired_somewhere: BTreeSet<String> = BTreeSet::new();
    let mut quiet_neighbour: BTreeSet<String> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for file in fixture_files() {
        let fname = file.file_name().unwrap().to_string_lossy().to_string();
        for case in load_cases(&file) {
            n += 1;
            for r in &case.expect {
                assert!(
                    names.contains(r),
                    "{fname}: case '{}' expects unknown rule '{r}'",
                    case.name
                );
            }
            let fired = run(&mut engine, &case);
            if fired != case.expect {
                failures.push(format!(
                    "{fname}: '{}'\n    expected {:?}\n    fired    {:?}",
                    case.name, case.expect, fired
                ));
            }
            fired_somewhere.extend(case.expect.iter().cloned());
            if case.expect.is_empty() {
                // A benign case names the rule it is the neighbour of in its name:
                // "benign (Rule name): ...".
                if let Some(r) = case
                    .name
                    .strip_prefix("benign (")
                    .and_then(|r| r.split_once(')'))
                {
                    assert!(
                        names.contains(r.0),
                        "{fname}: '{}' names unknown rule",
                        case.name
                    );
                    quiet_neighbour.insert(r.0.to_string());
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let never_fired: Vec<_> = names.difference(&fired_somewhere).collect();
    assert!(
        never_fired.is_empty(),
        "rules without a firing case: {never_fired:?}"
    );
    let no_neighbour: Vec<_> = names.difference(&quiet_neighbour).collect();
    assert!(
        no_neighbour.is_empty(),
        "rules without a benign neighbour case: {no_neighbour:?}"
    );
}

#[test]
fn default_rules_are_tagged_with_mitre_ids() {
    let rules = load_default_rules();
    assert!(rules.rules().len() >= 20);
    for r in rules.rules() {
        assert!(
            r.tags
                .iter()
                .any(|t| t.starts_with('T')
                    && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit())),
            "{} has no ATT&CK technique tag",
            r.name
        );
        assert!(
            r.tags.iter().any(|t| t.starts_with("mitre_")),
            "{} has no ATT&CK tactic tag",
            r.name
        );
        assert!(r.enabled, "{} is disabled", r.name);
        assert!(
            r.event_types.is_some(),
            "{} is evaluated for every event type",
            r.name
        );
    }
}
