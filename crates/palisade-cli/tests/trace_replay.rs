//! `palisade trace --replay` on captures written here with `CaptureWriter`: output formats
//! (snapshots), filters on replay, capture round trips, errors, `--list` and `--help`.

use palisade_events::capture::{CaptureHeader, CaptureReader, CaptureWriter};
use palisade_events::{ArgValue, Event, EventId, SockAddr};
use std::path::Path;
use std::process::{Command, Output};

const CTR: &str = "4f1c2ab0e9d84c7f8a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
const BASE_TS: u64 = 1_765_000_000_000_000_000;

fn ev(n: u64, name: &str, pid: u32, ppid: u32, comm: &str, ret: i64, args: Vec<ArgValue>) -> Event {
    Event {
        ts: BASE_TS + n * 1_000_000,
        id: EventId::from_name(name).unwrap(),
        cpu: (n % 2) as u16,
        pid,
        tid: pid,
        ppid,
        host_pid: pid,
        host_tid: pid,
        host_ppid: ppid,
        uid: 0,
        gid: 0,
        comm: comm.into(),
        uts: "node-1".into(),
        mntns: 4026531840,
        pidns: 4026531836,
        cgroup_id: 1,
        container_id: String::new(),
        ret,
        args,
    }
}

fn in_container(mut e: Event, ns_pid: u32) -> Event {
    e.pid = ns_pid;
    e.tid = ns_pid;
    e.ppid = if ns_pid == 1 { 0 } else { 1 };
    e.container_id = CTR.into();
    e.uts = CTR[..12].into();
    e.mntns = 4026532601;
    e.pidns = 4026532603;
    e.cgroup_id = 4211;
    e
}

fn s(v: &str) -> ArgValue {
    ArgValue::Str(v.into())
}

fn u(v: u64) -> ArgValue {
    ArgValue::UInt(v)
}

fn fork_args(parent: u32, child: u32) -> Vec<ArgValue> {
    vec![
        u(parent as u64),
        u(parent as u64),
        u(parent as u64),
        u(parent as u64),
        u(child as u64),
        u(child as u64),
        u(child as u64),
        u(child as u64),
        u(0),
    ]
}

/// A bash session on the host that runs `cat` and `curl`, and a container that reads a file
/// and connects to 127.0.0.1.
fn events() -> Vec<Event> {
    let mut v = vec![
        ev(
            1,
            "openat",
            100,
            50,
            "bash",
            3,
            vec![
                ArgValue::Int(-100),
                s("/etc/profile"),
                ArgValue::Int(0o2000000),
                ArgValue::Int(0),
            ],
        ),
        ev(
            2,
            "sched_process_fork",
            100,
            50,
            "bash",
            0,
            fork_args(100, 200),
        ),
        ev(
            3,
            "execve",
            200,
            100,
            "bash",
            0,
            vec![
                s("/usr/bin/cat"),
                ArgValue::StrList(vec!["cat".into(), "/etc/shadow".into()]),
            ],
        ),
        ev(
            4,
            "openat",
            200,
            100,
            "cat",
            -13,
            vec![
                ArgValue::Int(-100),
                s("/etc/shadow"),
                ArgValue::Int(0),
                ArgValue::Int(0),
            ],
        ),
        ev(
            5,
            "sched_process_exit",
            200,
            100,
            "cat",
            0,
            vec![ArgValue::Int(1), ArgValue::Int(1)],
        ),
        ev(
            6,
            "connect",
            300,
            1,
            "curl",
            -111,
            vec![
                ArgValue::Int(3),
                ArgValue::Sock(SockAddr::Inet {
                    addr: [127, 0, 0, 1].into(),
                    port: 8080,
                }),
            ],
        ),
        ev(
            7,
            "mkdir",
            100,
            50,
            "bash",
            0,
            vec![s("/tmp/work"), ArgValue::Int(0o755)],
        ),
    ];
    let mut c = vec![
        in_container(
            ev(
                8,
                "execve",
                4000,
                3990,
                "runc:[2:INIT]",
                0,
                vec![
                    s("/bin/cat"),
                    ArgValue::StrList(vec!["cat".into(), "/etc/hostname".into()]),
                ],
            ),
            1,
        ),
        in_container(
            ev(
                9,
                "openat",
                4000,
                3990,
                "cat",
                3,
                vec![
                    ArgValue::Int(-100),
                    s("/etc/hostname"),
                    ArgValue::Int(0),
                    ArgValue::Int(0),
                ],
            ),
            1,
        ),
        in_container(
            ev(
                10,
                "connect",
                4000,
                3990,
                "nc",
                0,
                vec![
                    ArgValue::Int(3),
                    ArgValue::Sock(SockAddr::Inet6 {
                        addr: std::net::Ipv6Addr::LOCALHOST,
                        port: 443,
                        flowinfo: 0,
                        scope_id: 0,
                    }),
                ],
            ),
            1,
        ),
        in_container(
            ev(
                11,
                "connect",
                4000,
                3990,
                "nc",
                -2,
                vec![
                    ArgValue::Int(4),
                    ArgValue::Sock(SockAddr::Unix {
                        path: "/run/x.sock".into(),
                    }),
                ],
            ),
            1,
        ),
    ];
    for e in &mut c[..] {
        e.uid = 0;
    }
    v.append(&mut c);
    let mut user = ev(
        12,
        "openat",
        500,
        1,
        "python3",
        4,
        vec![
            ArgValue::Int(-100),
            s("/tmp/work/a"),
            ArgValue::Int(0o100 | 1 | 0o1000),
            ArgValue::Int(0o644),
        ],
    );
    user.uid = 1000;
    user.gid = 1000;
    v.push(user);
    v
}

fn write_capture(path: &Path, events: &[Event]) {
    let mut w = CaptureWriter::create(
        path,
        &CaptureHeader {
            hostname: "node-1".into(),
            kernel: "6.1.0".into(),
            started: BASE_TS,
            command: "test".into(),
        },
    )
    .unwrap();
    for e in events {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
}

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .unwrap()
}

fn replay(cap: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["trace", "--replay", cap.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = palisade(&args);
    assert!(
        out.status.success(),
        "palisade {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("session.cap");
    write_capture(&cap, &events());
    (dir, cap)
}

/// `(eventName, processName)` of each JSON line.
fn json_events(out: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["eventName"].as_str().unwrap().to_owned(),
                v["processName"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn table_output() {
    let (_d, cap) = fixture();
    let out = replay(
        &cap,
        &[
            "-t",
            "e=openat,execve,connect,mkdir,sched_process_fork,sched_process_exit",
        ],
    );
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn json_output() {
    let (_d, cap) = fixture();
    let out = replay(&cap, &["-o", "json", "-t", "container"]);
    let text = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!(text);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "processorId",
                "processId",
                "cgroupId",
                "threadId",
                "parentProcessId",
                "hostProcessId",
                "hostThreadId",
                "hostParentProcessId",
                "userId",
                "mountNamespace",
                "pidNamespace",
                "processName",
                "hostName",
                "containerId",
                "eventId",
                "eventName",
                "argsNum",
                "returnValue",
                "args"
            ]
        );
        assert_eq!(v["containerId"], CTR);
        assert_eq!(v["argsNum"], v["args"].as_array().unwrap().len());
    }
}

#[test]
fn default_set_hides_nothing_here_and_stats_add_up() {
    let (_d, cap) = fixture();
    let out = replay(&cap, &["-o", "json"]);
    assert_eq!(json_events(&out).len(), events().len());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "seen {}, filtered 0 (kernel 0, user space 0), delivered {}, lost 0",
            events().len(),
            events().len()
        )),
        "{err}"
    );
    let out = replay(&cap, &["-o", "json", "-t", "comm=cat"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seen 12, filtered 9 (kernel 0, user space 9), delivered 3, lost 0"),
        "{err}"
    );
}

/// Flags, and the (event, comm) pairs they keep.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

#[test]
fn filters_apply_to_replay() {
    let (_d, cap) = fixture();
    let cases: &[Case] = &[
        (
            &["-t", "container"],
            &[
                ("execve", "runc:[2:INIT]"),
                ("openat", "cat"),
                ("connect", "nc"),
                ("connect", "nc"),
            ],
        ),
        (
            &["-t", "!container", "-t", "e=connect"],
            &[("connect", "curl")],
        ),
        (
            &["--scope", "not-container", "--events", "openat"],
            &[("openat", "bash"), ("openat", "cat"), ("openat", "python3")],
        ),
        (
            &["-t", "comm=bash", "-t", "follow", "-t", "e=openat"],
            &[("openat", "bash"), ("openat", "cat")],
        ),
        (
            &["-t", "pid=new"],
            &[
                ("execve", "bash"),
                ("openat", "cat"),
                ("sched_process_exit", "cat"),
            ],
        ),
        (&["-t", "uid>0"], &[("openat", "python3")]),
        (&["-t", "u>=0", "-t", "u!=0"], &[("openat", "python3")]),
        (
            &["-t", "openat.pathname=/etc*"],
            &[("openat", "bash"), ("openat", "cat"), ("openat", "cat")],
        ),
        (
            &["--filter", "openat.args.pathname!=/etc/profile,/etc/shadow"],
            &[("openat", "cat"), ("openat", "python3")],
        ),
        (
            &["--events", "openat.data.pathname=/tmp/*"],
            &[("openat", "python3")],
        ),
        (&["-t", "openat.retval<0"], &[("openat", "cat")]),
        (&["-e", "connect.addr=127.0.0.1:*"], &[("connect", "curl")]),
        (&["-e", "connect.addr=unix:*"], &[("connect", "nc")]),
        (
            &["-t", "s=fs", "-t", "e!=open,openat"],
            &[("mkdir", "bash")],
        ),
        (
            &["-e", "tag=net", "--scope", "container"],
            &[("connect", "nc"), ("connect", "nc")],
        ),
        (
            &["-t", "uts!=node-1"],
            &[
                ("execve", "runc:[2:INIT]"),
                ("openat", "cat"),
                ("connect", "nc"),
                ("connect", "nc"),
            ],
        ),
        (
            &[
                "-t",
                &format!("container={}", &CTR[..12]),
                "-t",
                "event=openat",
            ],
            &[("openat", "cat")],
        ),
        (
            &[
                "-t",
                "pidns!=4026531836",
                "-t",
                "openat.context.processName=cat",
            ],
            &[("openat", "cat")],
        ),
        (
            &["-t", "pid=200,300"],
            &[
                ("execve", "bash"),
                ("openat", "cat"),
                ("sched_process_exit", "cat"),
                ("connect", "curl"),
            ],
        ),
        (
            &[
                "-t",
                "pid>150",
                "-t",
                "pid<400",
                "-t",
                "e!=sched_process_exit",
            ],
            &[("execve", "bash"), ("openat", "cat"), ("connect", "curl")],
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["-o", "json"];
        args.extend_from_slice(flags);
        let got = json_events(&replay(&cap, &args));
        assert_eq!(got, pairs(want), "flags {flags:?}");
    }
}

#[test]
fn capture_of_a_replay_round_trips() {
    let (d, cap) = fixture();
    let out_cap = d.path().join("container.cap");
    let first = replay(
        &cap,
        &[
            "-o",
            "json",
            "-t",
            "container",
            "--capture",
            out_cap.to_str().unwrap(),
        ],
    );
    let reader = CaptureReader::open(&out_cap).unwrap();
    assert!(reader.header().command.contains("--capture"));
    let saved: Vec<Event> = reader.map(Result::unwrap).collect();
    let expect: Vec<Event> = events()
        .into_iter()
        .filter(|e| !e.container_id.is_empty())
        .collect();
    assert_eq!(saved, expect);
    let second = replay(&out_cap, &["-o", "json"]);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn bad_filters_exit_2_naming_the_flag() {
    let (_d, cap) = fixture();
    for (flags, msg) in [
        (
            &["--trace", "uid>x"][..],
            "--trace 'uid>x': \"x\" is not an integer (for uid)",
        ),
        (
            &["--scope", "event=openat"][..],
            "--scope 'event=openat': event is not accepted by --scope; use --events",
        ),
        (
            &["--events", "opnat"][..],
            "--events 'opnat': unknown event \"opnat\"",
        ),
        (
            &["--filter", "openat.path=/x"][..],
            "--filter 'openat.path=/x': event openat has no argument \"path\"",
        ),
    ] {
        let mut args = vec!["trace", "--replay", cap.to_str().unwrap()];
        args.extend_from_slice(flags);
        let out = palisade(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{flags:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn damaged_capture_is_an_error_with_the_offset() {
    let (d, cap) = fixture();
    let mut bytes = std::fs::read(&cap).unwrap();
    bytes.truncate(bytes.len() - 5);
    let bad = d.path().join("bad.cap");
    std::fs::write(&bad, &bytes).unwrap();
    let out = palisade(&["trace", "--replay", bad.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.cap: byte "), "{err}");
    // Everything before the damage was printed.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        events().len() - 1
    );
    let out = palisade(&["trace", "--replay", "/nonexistent.cap"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_and_help() {
    let out = palisade(&["trace", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let connect = text.lines().find(|l| l.starts_with("connect ")).unwrap();
    assert!(
        connect.contains("net") && connect.contains("struct sockaddr* addr"),
        "{connect}"
    );
    assert!(text.contains("sched_process_exec"));
    let out = palisade(&["trace", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--trace",
        "--scope",
        "--events",
        "--replay",
        "comm=bash -t follow",
        "SIGUSR1",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn without_privilege_a_clear_error() {
    // As root, drop to nobody with setpriv; as another user, run as is.
    let me_root = palisade_testkit::is_root();
    let dir = tempfile::tempdir().unwrap();
    let out = if me_root {
        // A copy nobody can reach and run, wherever the build directory is.
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.path().join("palisade");
        std::fs::copy(env!("CARGO_BIN_EXE_palisade"), &bin).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(&bin)
            .arg("trace")
            .current_dir(dir.path())
            .output()
            .unwrap()
    } else {
        palisade(&["trace"])
    };
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs root (or CAP_BPF and CAP_PERFMON)"),
        "{err}"
    );
    assert!(err.contains("without CAP_BPF and CAP_PERFMON"), "{err}");
}
