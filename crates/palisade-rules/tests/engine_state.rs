//! The engine on the live state: events applied to `state::State` (fork, exec, socket,
//! connect, dup2, open) and evaluated through its `StateView`, as `palisade detect` does.

use palisade_events::{ArgValue, Event, EventId, SockAddr};
use palisade_rules::state::{ContainerInfo, Process, State, StateOptions};
use palisade_rules::{Alert, Engine, LoadOptions, RuleMatching, RuleSet};
use std::net::Ipv4Addr;

const CID: &str = "feedface00000000000000000000000000000000000000000000000000000001";

const RULES: &str = r#"
- macro: spawned
  condition: evt.type in (execve, execveat)
- macro: container
  condition: container.id != host
- rule: shell in container
  desc: x
  condition: spawned and container and proc.name in (sh, bash) and proc.pname = runc
  output: "shell %proc.cmdline exe=%proc.exepath parent=%proc.pname ctr=%container.id vpid=%proc.vpid"
  priority: notice
- rule: shadow read
  desc: x
  condition: evt.type = openat and evt.is_open_read = true and fd.name = /etc/shadow
  output: "%proc.name read %fd.name (fd %fd.num, cwd %proc.cwd)"
  priority: warning
- rule: reverse shell
  desc: x
  condition: evt.type = dup2 and container and evt.rawres = 0 and fd.typechar = 4 and fd.l4proto = tcp
  output: "%proc.name %fd.name rport=%fd.rport"
  priority: critical
- rule: exited
  desc: x
  condition: evt.type = procexit and proc.name = sh and container
  output: "exit %proc.name after %proc.duration ns"
  priority: debug
"#;

fn ev(id: EventId, pid: u32, ret: i64, args: Vec<ArgValue>, ts: u64) -> Event {
    Event {
        ts,
        id,
        cpu: 0,
        pid,
        tid: pid,
        ppid: 0,
        host_pid: pid,
        host_tid: pid,
        host_ppid: 0,
        uid: 0,
        gid: 0,
        comm: String::new(),
        uts: "node".into(),
        mntns: 0,
        pidns: 0,
        cgroup_id: 0,
        container_id: if pid >= 300 {
            CID.into()
        } else {
            String::new()
        },
        ret,
        args,
    }
}

fn id(n: &str) -> EventId {
    EventId::from_name(n).expect("event")
}

#[test]
fn rules_see_what_the_state_learned_from_events() {
    let (rs, _) = RuleSet::load_str(RULES, &LoadOptions::default()).expect("rules");
    let mut engine = Engine::new(rs);
    engine.set_rule_matching(RuleMatching::All);
    let mut st = State::new(StateOptions::isolated());
    st.insert_container(ContainerInfo {
        id: CID.into(),
        name: "victim".into(),
        ..ContainerInfo::default()
    });
    let mut runc = Process::new(200);
    runc.ppid = 1;
    runc.name = "runc".into();
    runc.exe = "runc".into();
    runc.exepath = "/usr/bin/runc".into();
    runc.start_ts = 1_000;
    st.insert_process(runc);

    let mut alerts: Vec<Alert> = Vec::new();
    let step = |st: &mut State, engine: &mut Engine, e: Event, out: &mut Vec<Alert>| {
        st.apply(&e);
        engine.process(&e, st, &mut |a| out.push(a));
        st.finish(&e);
    };
    // runc forks the container's init, which execs sh.
    let fork = ev(
        EventId::SCHED_PROCESS_FORK,
        200,
        0,
        vec![
            ArgValue::UInt(200),
            ArgValue::UInt(200),
            ArgValue::UInt(200),
            ArgValue::UInt(200),
            ArgValue::UInt(300),
            ArgValue::UInt(1),
            ArgValue::UInt(300),
            ArgValue::UInt(1),
            ArgValue::UInt(2_000),
        ],
        2_000,
    );
    step(&mut st, &mut engine, fork, &mut alerts);
    assert!(alerts.is_empty(), "{alerts:?}");
    let mut exec = ev(
        id("execve"),
        300,
        0,
        vec![
            ArgValue::Str("/bin/sh".into()),
            ArgValue::StrList(vec!["sh".into(), "-i".into()]),
        ],
        3_000,
    );
    exec.pid = 1;
    exec.tid = 1;
    step(&mut st, &mut engine, exec, &mut alerts);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].rule, "shell in container");
    assert_eq!(
        alerts[0].output,
        "shell sh -i exe=/bin/sh parent=runc ctr=feedface0000 vpid=1"
    );

    // socket + connect, then dup2 of the socket onto stdin.
    let socket = ev(
        id("socket"),
        300,
        3,
        vec![ArgValue::Int(2), ArgValue::Int(1), ArgValue::Int(6)],
        4_000,
    );
    step(&mut st, &mut engine, socket, &mut alerts);
    let connect = ev(
        id("connect"),
        300,
        0,
        vec![
            ArgValue::Int(3),
            ArgValue::Sock(SockAddr::Inet {
                addr: Ipv4Addr::new(198, 51, 100, 7),
                port: 4444,
            }),
        ],
        5_000,
    );
    step(&mut st, &mut engine, connect, &mut alerts);
    let dup2 = ev(
        id("dup2"),
        300,
        0,
        vec![ArgValue::Int(3), ArgValue::Int(0)],
        6_000,
    );
    step(&mut st, &mut engine, dup2, &mut alerts);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[1].rule, "reverse shell");
    assert!(alerts[1].output.starts_with("sh "), "{}", alerts[1].output);
    assert!(
        alerts[1].output.ends_with("198.51.100.7:4444 rport=4444"),
        "{}",
        alerts[1].output
    );
    assert_eq!(
        alerts[1].output_fields.get("fd.rport"),
        Some(&serde_json::json!(4444))
    );

    // A relative open resolved against the cwd by the state.
    let open = ev(
        id("openat"),
        300,
        5,
        vec![
            ArgValue::Int(-100),
            ArgValue::Str("/etc/shadow".into()),
            ArgValue::Int(0),
            ArgValue::Int(0),
        ],
        7_000,
    );
    step(&mut st, &mut engine, open, &mut alerts);
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    assert_eq!(alerts[2].rule, "shadow read");
    assert!(
        alerts[2]
            .output
            .starts_with("sh read /etc/shadow (fd 5, cwd "),
        "{}",
        alerts[2].output
    );

    // The exit still sees the process (finish removes it afterwards).
    let exit = ev(
        EventId::SCHED_PROCESS_EXIT,
        300,
        0,
        vec![ArgValue::Int(0), ArgValue::UInt(1)],
        10_000,
    );
    step(&mut st, &mut engine, exit, &mut alerts);
    assert_eq!(alerts.len(), 4, "{alerts:?}");
    assert_eq!(alerts[3].rule, "exited");
    assert!(
        st.process(300).is_none(),
        "the state drops the exited process"
    );
}

#[test]
fn ip_names_come_from_forward_resolution_when_enabled() {
    // `localhost` resolves through /etc/hosts: no network is used.
    let rules = r#"
- rule: to localhost by name
  desc: x
  condition: evt.type = connect and fd.sip.name = localhost
  output: "%fd.sip.name %fd.sip"
  priority: notice
"#;
    let (rs, _) = RuleSet::load_str(rules, &LoadOptions::default()).expect("rules");
    let mut engine = Engine::new(rs);
    assert!(engine.dns_names().contains("localhost"));
    let mut st = State::new(StateOptions::isolated());
    let mut p = Process::new(400);
    p.name = "curl".into();
    st.insert_process(p);
    let connect = |ts| {
        ev(
            id("connect"),
            400,
            0,
            vec![
                ArgValue::Int(3),
                ArgValue::Sock(SockAddr::Inet {
                    addr: Ipv4Addr::LOCALHOST,
                    port: 80,
                }),
            ],
            ts,
        )
    };
    let mut n = 0;
    let e = connect(1);
    st.apply(&e);
    engine.process(&e, &st, &mut |_| n += 1);
    assert_eq!(n, 0, "no name without resolution");
    engine.set_dns_resolution(Some(std::time::Duration::from_secs(60)));
    let mut out = Vec::new();
    for i in 0..100 {
        let e = connect(2 + i);
        st.apply(&e);
        engine.process(&e, &st, &mut |a| out.push(a));
        if !out.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(out.len(), 1, "localhost never resolved");
    assert_eq!(out[0].output, "localhost 127.0.0.1");
}
