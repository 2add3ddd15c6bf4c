//! The kit against real runc (root; never skipped with CI=true).

use palisade_testkit::{Container, require_root};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn runs_a_command_and_reports_output_and_status() {
    if !require_root("runs_a_command_and_reports_output_and_status") {
        return;
    }
    let mut c = Container::new("abc123").unwrap();
    assert!(c.id().starts_with("abc123"));
    let out = c
        .run(&["sh", "-c", "cat /etc/hostname; echo err >&2; exit 7"])
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", c.short_id())
    );
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(7));
    // The same bundle runs again (state of the first run was deleted).
    let out = c.run(&["true"]).unwrap();
    assert!(out.status.success());
}

#[test]
fn cgroup_path_carries_the_id_and_namespaces_are_separate() {
    if !require_root("cgroup_path_carries_the_id_and_namespaces_are_separate") {
        return;
    }
    let mut c = Container::new("").unwrap();
    let out = c
        .run(&["sh", "-c", "cat /proc/self/cgroup; echo pid=$$; hostname"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("0::") || l.contains(":pids:"))
        .unwrap();
    assert!(line.ends_with(&c.cgroup_path()), "{line}");
    let id = palisade_testkit_id_from(line);
    assert_eq!(id.as_deref(), Some(c.id()));
    // First process of a new pid namespace.
    assert!(text.contains("pid=1\n"), "{text}");
    assert!(text.contains(c.short_id()), "{text}");
}

/// The last 64-hex component of a cgroup line.
fn palisade_testkit_id_from(line: &str) -> Option<String> {
    line.rsplit('/')
        .next()
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

#[test]
fn files_written_into_the_rootfs_are_seen_inside() {
    if !require_root("files_written_into_the_rootfs_are_seen_inside") {
        return;
    }
    let mut c = Container::new("f11e").unwrap();
    let host = c
        .write_file("/opt/data/hello.txt", b"from the host\n")
        .unwrap();
    assert!(host.starts_with(c.rootfs()));
    assert!(c.write_file("relative", b"").is_err());
    assert!(c.write_file("/../escape", b"").is_err());
    let out = c
        .run(&[
            "sh",
            "-c",
            "cat /opt/data/hello.txt; grep '^app:' /etc/passwd; echo x > /tmp/out",
        ])
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from the host\napp:x:1000:1000:app:/home/app:/bin/sh\n"
    );
    assert_eq!(std::fs::read(c.rootfs().join("tmp/out")).unwrap(), b"x\n");
}

#[test]
fn shares_the_host_network_and_runs_as_a_given_user() {
    if !require_root("shares_the_host_network_and_runs_as_a_given_user") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf
    });
    let mut c = Container::new("").unwrap();
    c.set_user(1000, 1000);
    let out = c
        .run(&[
            "sh",
            "-c",
            &format!("id -u; echo ping | nc 127.0.0.1 {port}"),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"1000\n");
    assert_eq!(server.join().unwrap(), "ping\n");
}

#[test]
fn spawn_exec_kill_and_cleanup() {
    if !require_root("spawn_exec_kill_and_cleanup") {
        return;
    }
    let mut c = Container::new("5ba").unwrap();
    let bundle = c.bundle().to_path_buf();
    let id = c.id().to_owned();
    {
        let running = c.spawn(&["sh", "-c", "echo started; sleep 60"]).unwrap();
        let pid = running.wait_started(Duration::from_secs(20)).unwrap();
        assert!(pid > 1);
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(cg.contains(&id), "{cg}");
        let ex = running
            .container()
            .exec(&["sh", "-c", "echo inside; cat /etc/hostname"])
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ex.stdout),
            format!("inside\n{}\n", &id[..12])
        );
        assert_eq!(running.container().state().as_deref(), Some("running"));
        let out = running.kill().unwrap();
        assert_eq!(out.stdout, b"started\n");
        assert!(!out.status.success());
    }
    assert_eq!(c.state(), None);
    drop(c);
    assert!(!bundle.exists());
    // runc no longer knows the id.
    let st = std::process::Command::new(palisade_testkit::runc_path().unwrap())
        .args(["state", &id])
        .output()
        .unwrap();
    assert!(!st.status.success());
    let _ = std::io::stderr().flush();
}

#[test]
fn timeout_kills_the_container() {
    if !require_root("timeout_kills_the_container") {
        return;
    }
    let mut c = Container::new("71e").unwrap();
    c.set_timeout(Duration::from_millis(500));
    let err = c.run(&["sleep", "30"]).unwrap_err();
    assert!(
        matches!(err, palisade_testkit::TestkitError::Timeout { .. }),
        "{err}"
    );
    assert_eq!(c.state(), None);
}
