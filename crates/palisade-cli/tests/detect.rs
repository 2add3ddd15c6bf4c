//! `palisade detect --replay`: captures written here with `CaptureWriter` go through the
//! built-in rules; alerts come out in Falco's text and JSON forms, with the right fields, exit
//! codes, tag/name selection, rate limiting and the file output.

use palisade_events::capture::{CaptureHeader, CaptureWriter};
use palisade_events::{ArgValue, Event, EventId};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CID: &str = "4f6b0c1e2d3a49586776859ab4c3d2e1f00112233445566778899aabbccddeeff";
const T0: u64 = 1_765_000_000_000_000_000;

fn palisade() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

fn ev(
    id: EventId,
    pid: u32,
    ppid: u32,
    comm: &str,
    cid: &str,
    ret: i64,
    args: Vec<ArgValue>,
) -> Event {
    Event {
        ts: 0,
        id,
        cpu: 0,
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
        mntns: 1,
        pidns: 1,
        cgroup_id: 1,
        container_id: cid.into(),
        ret,
        args,
    }
}

fn id(name: &str) -> EventId {
    EventId::from_name(name).unwrap()
}

/// fork (by the parent) + sched_process_exec + execve.
fn spawn(v: &mut Vec<Event>, pid: u32, ppid: u32, path: &str, argv: &[&str], tty: &str, cid: &str) {
    let comm = path.rsplit('/').next().unwrap();
    let u = |x: u32| ArgValue::UInt(x as u64);
    // The fork is the parent's event, with the parent's name and container.
    let (pcomm, pcid) = v
        .iter()
        .rev()
        .find(|e| e.host_pid == ppid && e.id == EventId::SCHED_PROCESS_EXEC)
        .map(|e| (e.comm.clone(), e.container_id.clone()))
        .unwrap_or_else(|| ("systemd".into(), String::new()));
    v.push(ev(
        EventId::SCHED_PROCESS_FORK,
        ppid,
        1,
        &pcomm,
        &pcid,
        0,
        vec![
            u(ppid),
            u(ppid),
            u(ppid),
            u(ppid),
            u(pid),
            u(pid),
            u(pid),
            u(pid),
            u(0),
        ],
    ));
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    v.push(ev(
        EventId::SCHED_PROCESS_EXEC,
        pid,
        ppid,
        comm,
        cid,
        0,
        vec![
            ArgValue::Str(path.into()),
            ArgValue::StrList(argv.clone()),
            ArgValue::Str("/".into()),
            ArgValue::Str(tty.into()),
            u(pid),
            u(u32::MAX),
            u(0),
        ],
    ));
    v.push(ev(
        id("execve"),
        pid,
        ppid,
        comm,
        cid,
        0,
        vec![ArgValue::Str(path.into()), ArgValue::StrList(argv)],
    ));
}

fn open(v: &mut Vec<Event>, pid: u32, comm: &str, cid: &str, path: &str, flags: i64, fd: i64) {
    v.push(ev(
        id("openat"),
        pid,
        0,
        comm,
        cid,
        fd,
        vec![
            ArgValue::Int(-100),
            ArgValue::Str(path.into()),
            ArgValue::Int(flags),
            ArgValue::Int(0),
        ],
    ));
}

fn write_capture(dir: &Path, name: &str, mut events: Vec<Event>) -> PathBuf {
    let path = dir.join(name);
    let header = CaptureHeader {
        hostname: "capture-host".into(),
        kernel: "6.1.0".into(),
        started: T0,
        command: "test".into(),
    };
    let mut w = CaptureWriter::create(&path, &header).unwrap();
    for (i, e) in events.iter_mut().enumerate() {
        e.ts = T0 + i as u64 * 1_000_000;
        w.write(e).unwrap();
    }
    w.finish().unwrap();
    path
}

/// A shell with a terminal in a container reads /etc/shadow; on the host, `ls` reads a file.
fn attack_capture(dir: &Path) -> PathBuf {
    let mut v = Vec::new();
    spawn(
        &mut v,
        100,
        1,
        "/usr/sbin/runc",
        &["runc", "exec", "-t", "x", "sh"],
        "",
        "",
    );
    spawn(&mut v, 101, 100, "/bin/sh", &["sh"], "pts/0", CID);
    spawn(
        &mut v,
        102,
        101,
        "/bin/cat",
        &["cat", "/etc/shadow"],
        "pts/0",
        CID,
    );
    open(&mut v, 102, "cat", CID, "/etc/shadow", 0, 3);
    spawn(&mut v, 200, 1, "/bin/ls", &["ls", "/srv"], "pts/1", "");
    open(&mut v, 200, "ls", "", "/srv/readme.txt", 0, 3);
    write_capture(dir, "attack.cap", v)
}

fn run(args: &[&str]) -> Output {
    palisade().args(args).env("TZ", "UTC").output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn replay_json_alerts_in_falcos_schema() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack_capture(dir.path());
    let o = run(&["detect", "--replay", cap.to_str().unwrap(), "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let alerts = json_lines(&o);
    let rules: Vec<&str> = alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        [
            "Interactive shell started in container",
            "Credential file read"
        ],
        "{}",
        stdout(&o)
    );
    for a in &alerts {
        let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "hostname",
                "output",
                "output_fields",
                "priority",
                "rule",
                "source",
                "tags",
                "time"
            ]
        );
        assert_eq!(a["hostname"], "capture-host");
        assert_eq!(a["source"], "syscall");
        assert!(
            a["time"]
                .as_str()
                .unwrap()
                .starts_with("2025-12-06T05:46:40.")
        );
        assert!(a["output_fields"]["evt.time"].is_u64());
    }
    let shell = &alerts[0];
    assert_eq!(shell["priority"], "Notice");
    assert_eq!(shell["output_fields"]["proc.name"], "sh");
    assert_eq!(shell["output_fields"]["proc.pname"], "runc");
    assert_eq!(shell["output_fields"]["container.id"], &CID[..12]);
    assert!(shell["tags"].as_array().unwrap().contains(&"T1059".into()));
    let shadow = &alerts[1];
    assert_eq!(shadow["priority"], "Warning");
    assert_eq!(shadow["output_fields"]["fd.name"], "/etc/shadow");
    assert_eq!(shadow["output_fields"]["proc.name"], "cat");
    assert_eq!(shadow["output_fields"]["proc.cmdline"], "cat /etc/shadow");
    assert!(
        shadow["output"]
            .as_str()
            .unwrap()
            .contains(": Warning Credential file opened for reading (file=/etc/shadow ")
    );
    let err = stderr(&o);
    assert!(err.contains("2 alerts"), "{err}");
}

#[test]
fn replay_text_lines_like_falco() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack_capture(dir.path());
    let o = run(&["detect", "--replay", cap.to_str().unwrap(), "--utc"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("05:46:40.005000000: Notice Shell with a terminal started in container (shell=sh parent=runc"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(": Warning Credential file opened for reading (file=/etc/shadow"));
}

#[test]
fn benign_capture_exits_zero_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = Vec::new();
    spawn(&mut v, 300, 1, "/bin/ls", &["ls", "-l"], "pts/0", "");
    open(&mut v, 300, "ls", "", "/etc/passwd", 0, 3);
    spawn(
        &mut v,
        301,
        1,
        "/bin/cat",
        &["cat", "/srv/notes.txt"],
        "",
        CID,
    );
    open(&mut v, 301, "cat", CID, "/srv/notes.txt", 0, 3);
    let cap = write_capture(dir.path(), "benign.cap", v);
    let o = run(&["detect", "--replay", cap.to_str().unwrap(), "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("0 alerts"));
}

#[test]
fn tags_names_and_rate_limit_select_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack_capture(dir.path());
    let c = cap.to_str().unwrap();
    let rules_of = |o: &Output| -> Vec<String> {
        json_lines(o)
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let o = run(&["detect", "--replay", c, "-o", "json", "-t", "T1003.008"]);
    assert_eq!(rules_of(&o), ["Credential file read"]);
    let o = run(&["detect", "--replay", c, "-o", "json", "-T", "credentials"]);
    assert_eq!(rules_of(&o), ["Interactive shell started in container"]);
    let o = run(&["detect", "--replay", c, "-o", "json", "-D", "Interactive*"]);
    assert_eq!(rules_of(&o), ["Credential file read"]);

    // Five reads of /etc/shadow within a second, one allowed per minute.
    let mut v = Vec::new();
    spawn(&mut v, 400, 1, "/bin/cat", &["cat", "/etc/shadow"], "", "");
    for fd in 3..8 {
        open(&mut v, 400, "cat", "", "/etc/shadow", 0, fd);
    }
    let cap = write_capture(dir.path(), "burst.cap", v);
    let o = run(&[
        "detect",
        "--replay",
        cap.to_str().unwrap(),
        "-o",
        "json",
        "--rate-limit",
        "1/m",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(rules_of(&o), ["Credential file read"]);
    let err = stderr(&o);
    assert!(err.contains("1 alerts, 4 suppressed"), "{err}");
    assert!(
        err.contains("4  Credential file read (suppressed by --rate-limit)"),
        "{err}"
    );
}

#[test]
fn file_output_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = Vec::new();
    spawn(&mut v, 400, 1, "/bin/cat", &["cat", "/etc/shadow"], "", "");
    for fd in 3..13 {
        open(&mut v, 400, "cat", "", "/etc/shadow", 0, fd);
    }
    let cap = write_capture(dir.path(), "ten.cap", v);
    let file = dir.path().join("alerts.json");
    let o = run(&[
        "detect",
        "--replay",
        cap.to_str().unwrap(),
        "-o",
        "json",
        "--no-stdout",
        "--output-file",
        file.to_str().unwrap(),
        "--output-file-max-size",
        "1K",
        "--output-file-keep",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let mut total = 0;
    for p in [
        file.clone(),
        dir.path().join("alerts.json.1"),
        dir.path().join("alerts.json.2"),
    ] {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.len() <= 1024,
            "{} is {} bytes",
            p.display(),
            text.len()
        );
        for l in text.lines() {
            let a: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(a["rule"], "Credential file read");
            total += 1;
        }
    }
    assert!(!dir.path().join("alerts.json.3").exists());
    // Each alert is ~600 bytes: one per file, the oldest rotated away.
    assert!((3..10).contains(&total), "{total}");
}

#[test]
fn usage_and_input_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["detect", "--replay", "/nonexistent/x.cap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/x.cap"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: broken\n  desc: x\n  condition: proc.name = \n  output: x\n  priority: WARNING\n",
    )
    .unwrap();
    let cap = attack_capture(dir.path());
    let o = run(&[
        "detect",
        "--replay",
        cap.to_str().unwrap(),
        "-r",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.yaml:"), "{}", stderr(&o));
    let o = run(&["detect", "--replay", cap.to_str().unwrap(), "--no-stdout"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["detect", "--rate-limit", "often"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["detect", "--help"]);
    assert!(stdout(&o).contains("Examples:"));
}

/// A tiny HTTP receiver on 127.0.0.1 recording POST bodies (one request per connection).
fn receiver(
    listener: std::net::TcpListener,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { break };
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let n = c.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text[..i]
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if data.len() >= i + 4 + len {
                        break Some(text[i + 4..i + 4 + len].to_string());
                    }
                }
            };
            if let Some(b) = body {
                if b == "stop" {
                    break;
                }
                bodies.lock().unwrap().push(b);
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
        }
    })
}

fn stop_receiver(port: u16) {
    use std::io::Write;
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = c.write_all(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nstop");
}

#[test]
fn http_output_spools_while_the_receiver_is_down() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let cap = attack_capture(dir.path());
    let spool = dir.path().join("spool");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    drop(l); // down

    let o = run(&[
        "detect",
        "--replay",
        cap.to_str().unwrap(),
        "--no-stdout",
        "--http-url",
        &url,
        "--spool-dir",
        spool.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 delivered"), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 left in the spool"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 2);

    // The receiver is back: the next run sends the spooled alerts first, then its own.
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let rx = receiver(
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(),
        bodies.clone(),
    );
    let o = run(&[
        "detect",
        "--replay",
        cap.to_str().unwrap(),
        "--no-stdout",
        "--http-url",
        &url,
        "--spool-dir",
        spool.to_str().unwrap(),
    ]);
    stop_receiver(port);
    rx.join().unwrap();
    assert!(stderr(&o).contains("4 delivered"), "{}", stderr(&o));
    let rules: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            assert_eq!(v["hostname"], "capture-host");
            v["rule"].as_str().unwrap().to_string()
        })
        .collect();
    let pair = [
        "Interactive shell started in container",
        "Credential file read",
    ];
    assert_eq!(rules, [pair, pair].concat());
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
}
