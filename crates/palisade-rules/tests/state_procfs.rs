//! Seeding from /proc: a fake tree written to a temp dir, and the real /proc (no root needed).

use palisade_events::{ArgValue, Event, EventId};
use palisade_rules::state::{FdKind, L4Proto, State, StateOptions};
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::path::Path;

const CID: &str = "3f9a1c0e5b7d2a4f6e8c0b1d3a5f7e9c2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";

fn write(p: &Path, text: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

struct FakeProc<'a> {
    dir: &'a Path,
}

impl FakeProc<'_> {
    #[allow(clippy::too_many_arguments)]
    fn process(
        &self,
        pid: u32,
        tgid: u32,
        ppid: u32,
        name: &str,
        argv: &[&str],
        exe: &str,
        cwd: &str,
        stat_tail: &str,
        cgroup: &str,
    ) -> std::path::PathBuf {
        let d = self.dir.join(pid.to_string());
        fs::create_dir_all(d.join("fd")).unwrap();
        fs::create_dir_all(d.join("fdinfo")).unwrap();
        fs::create_dir_all(d.join("task").join(pid.to_string())).unwrap();
        fs::create_dir_all(d.join("ns")).unwrap();
        write(
            &d.join("status"),
            &format!(
                "Name:\t{name}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{tgid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\nNSpid:\t{pid}\t7\nNSpgid:\t{pid}\t7\nNSsid:\t{pid}\t1\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
            ),
        );
        write(&d.join("stat"), &format!("{pid} ({name}) {stat_tail}"));
        let mut cmd = Vec::new();
        for a in argv {
            cmd.extend_from_slice(a.as_bytes());
            cmd.push(0);
        }
        fs::write(d.join("cmdline"), cmd).unwrap();
        symlink(exe, d.join("exe")).unwrap();
        symlink(cwd, d.join("cwd")).unwrap();
        symlink("net:[4026531840]", d.join("ns/net")).unwrap();
        write(&d.join("loginuid"), "1000");
        write(&d.join("cgroup"), cgroup);
        d
    }
}

#[test]
fn seeds_from_a_fake_proc_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let proc_root = tmp.path().join("proc");
    let fp = FakeProc { dir: &proc_root };
    write(
        &proc_root.join("stat"),
        "cpu  1 2 3\nbtime 1700000000\nprocesses 99\n",
    );
    symlink("4242", proc_root.join("self")).unwrap();
    // sockets of the namespace: tcp 10.0.0.9:40000 -> 10.0.0.5:443 established (inode 1001),
    // tcp listening on 0.0.0.0:8080 (1002), tcp 10.0.0.9:8080 <- 10.0.0.7:50000 (1004),
    // udp6 bound [::]:53 (1005), a listening unix socket (1003)
    write(
        &proc_root.join("net/tcp"),
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0900000A:9C40 0500000A:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 1001 1 0000000000000000 20 4 30 10 -1\n   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1002 1 0000000000000000 100 0 0 10 0\n   2: 0900000A:1F90 0700000A:C350 01 00000000:00000000 00:00000000 00000000  1000        0 1004 1 0000000000000000 20 4 30 10 -1\n",
    );
    write(
        &proc_root.join("net/udp6"),
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n    0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1005 2 0000000000000000 0\n",
    );
    write(
        &proc_root.join("net/unix"),
        "Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 1003 /run/app.sock\n",
    );
    write(
        &proc_root.join("net/tcp6"),
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0000000000000000FFFF00000900000A:A000 0000000000000000FFFF00000500000A:0050 01 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0000000000000000 20 4 30 10 -1\n",
    );
    // pid 1: init on the host
    fp.process(
        1,
        1,
        0,
        "systemd",
        &["/sbin/init", "splash"],
        "/usr/lib/systemd/systemd",
        "/",
        "S 0 1 1 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 1 0 5 0",
        "0::/init.scope\n",
    );
    // pid 4242: a shell in a container, on pts/1, two threads
    let d = fp.process(
        4242,
        4242,
        1,
        "bash (x)",
        &["bash", "-c", "sleep 100"],
        "/usr/bin/bash",
        "/work dir",
        "S 1 4242 4200 34817 4242 4194560 1 0 0 0 3 4 0 0 20 0 2 0 12345 0",
        &format!("0::/kubepods/besteffort/pod1/{CID}\n"),
    );
    fs::create_dir_all(d.join("task/4243")).unwrap();
    fs::write(
        d.join("environ"),
        b"PATH=/usr/bin\0KUBERNETES_SERVICE_HOST=10.96.0.1\0HOME=/root\0",
    )
    .unwrap();
    let real_dir = tmp.path().join("a dir");
    fs::create_dir_all(&real_dir).unwrap();
    for (n, target) in [
        ("0", "/dev/pts/1".to_string()),
        ("3", "socket:[1001]".into()),
        ("4", "socket:[1002]".into()),
        ("5", "socket:[1003]".into()),
        ("6", "pipe:[77]".into()),
        ("7", "anon_inode:[eventpoll]".into()),
        ("8", real_dir.display().to_string()),
        ("9", "socket:[1004]".into()),
        ("10", "socket:[9999]".into()),
        ("11", "socket:[1005]".into()),
        ("12", "/memfd:blob (deleted)".into()),
        ("13", "socket:[1006]".into()),
    ] {
        symlink(&target, d.join("fd").join(n)).unwrap();
    }
    write(
        &d.join("fdinfo/3"),
        "pos:\t0\nflags:\t02000002\nmnt_id:\t9\n",
    );
    write(
        &d.join("fdinfo/0"),
        "pos:\t0\nflags:\t0100002\nmnt_id:\t9\n",
    );
    // the container's own users and its overlay root, seen through the process
    write(
        &d.join("root/etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
    );
    let upper = tmp.path().join("upper dir");
    write(&upper.join("usr/local/bin/dropper"), "#!/bin/sh\n");
    write(
        &d.join("mountinfo"),
        &format!(
            "900 800 0:77 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir={},workdir=/w\n",
            upper.display().to_string().replace(' ', "\\040")
        ),
    );
    // a second process of the container runs the dropped program
    fp.process(
        4300,
        4300,
        4242,
        "dropper",
        &["./dropper"],
        "/usr/local/bin/dropper",
        "/",
        "S 4242 4300 4200 0 4300 4194560 1 0 0 0 3 4 0 0 20 0 1 0 12400 0",
        &format!("0::/kubepods/besteffort/pod1/{CID}\n"),
    );
    // ... and is the container's pid 1
    let status = proc_root.join("4300/status");
    let text = fs::read_to_string(&status)
        .unwrap()
        .replace("NSpid:\t4300\t7", "NSpid:\t4300\t1");
    fs::write(&status, text).unwrap();
    // a thread id listed at the top level is not a process
    fp.process(
        4243,
        4242,
        1,
        "bash",
        &["bash"],
        "/usr/bin/bash",
        "/",
        "S 1 4242 4200 34817 4242 4194560 1 0 0 0 3 4 0 0 20 0 2 0 12345 0",
        "0::/\n",
    );
    // a process that vanished: a directory without status
    fs::create_dir_all(proc_root.join("5555")).unwrap();

    let mut st = State::new(StateOptions::isolated());
    let stats = st.seed_from_proc(&proc_root).unwrap();
    assert_eq!(stats.processes, 3, "{stats:?}");
    assert_eq!(stats.skipped, 2, "{stats:?}");
    assert_eq!(stats.threads, 1);
    assert_eq!(stats.fds, 12);
    assert_eq!(stats.sockets_resolved, 6);
    assert_eq!(stats.containers, 1);
    assert_eq!(st.boot_time_ns(), 1_700_000_000_000_000_000);

    let init = st.process(1).unwrap();
    assert_eq!(init.name, "systemd");
    assert_eq!(init.exe, "/sbin/init");
    assert_eq!(init.args, ["splash"]);
    assert_eq!(init.container_id, "");

    let p = st.process(4242).unwrap();
    assert_eq!(p.name, "bash (x)");
    assert_eq!(p.exe, "bash");
    assert_eq!(p.exepath, "/usr/bin/bash");
    assert_eq!(p.args, ["-c", "sleep 100"]);
    assert_eq!(p.cmdline(), "bash (x) -c sleep 100");
    assert_eq!(p.cwd, "/work dir");
    assert_eq!((p.ppid, p.vpid, p.pgid, p.sid, p.vsid), (1, 7, 7, 4200, 1));
    assert_eq!(p.tty, 34817);
    assert_eq!((p.uid, p.euid, p.gid, p.egid), (1000, 0, 1000, 1000));
    assert_eq!(p.loginuid, 1000);
    assert_eq!(p.cap_effective, 0x1ff_ffff_ffff);
    assert_eq!(p.start_ts, 1_700_000_000_000_000_000 + 12345 * 10_000_000);
    assert_eq!(p.container_id, CID);
    assert!(!p.exe_upper_layer, "bash is an image file");
    let dropper = st.process(4300).unwrap();
    assert!(dropper.exe_upper_layer, "in the overlay's upper directory");
    assert_eq!(dropper.tty, 0);
    assert_eq!(st.thread_group(4243).map(|g| g.pid), Some(4242));
    assert_eq!(st.parent(p).map(|g| g.name.as_str()), Some("systemd"));
    assert_eq!(
        st.env(4242)
            .unwrap()
            .iter()
            .filter(|v| v.starts_with("HOME="))
            .count(),
        1
    );
    let api: IpAddr = "10.96.0.1".parse().unwrap();
    assert_eq!(
        st.ip_name(&api),
        Some("kubernetes.default.svc.cluster.local")
    );

    let fd = |n| st.fd(4242, n).unwrap_or_else(|| panic!("fd {n}"));
    assert_eq!(fd(0).kind, FdKind::File);
    assert_eq!(fd(0).name, "/dev/pts/1");
    assert_eq!(fd(0).flags, 0o100002);
    let c = fd(3);
    assert_eq!((c.kind.clone(), c.l4proto), (FdKind::Ipv4, L4Proto::Tcp));
    assert_eq!(c.name, "10.0.0.9:40000->10.0.0.5:443");
    assert!(!c.is_server);
    assert_eq!(c.flags & 0o2000000, 0o2000000);
    let l = fd(4);
    assert!(l.is_server);
    assert_eq!(l.name, "0.0.0.0:8080");
    let s = fd(9);
    assert!(s.is_server, "local port 8080 is listening: server side");
    assert_eq!(s.name, "10.0.0.7:50000->10.0.0.9:8080");
    assert_eq!(s.remote().map(|r| r.1), Some(50000));
    let u = fd(5);
    assert_eq!(
        (u.kind.clone(), u.name.as_str(), u.is_server),
        (FdKind::Unix, "/run/app.sock", true)
    );
    assert_eq!(fd(6).kind, FdKind::Pipe);
    assert_eq!(fd(7).kind, FdKind::Eventpoll);
    assert_eq!(fd(8).kind, FdKind::Directory);
    assert_eq!(fd(10).kind, FdKind::Other);
    assert_eq!(fd(10).name, "socket:[9999]");
    let udp = fd(11);
    assert_eq!(
        (udp.kind.clone(), udp.l4proto),
        (FdKind::Ipv6, L4Proto::Udp)
    );
    assert_eq!(udp.bound.map(|b| b.1), Some(53));
    assert_eq!(fd(12).kind, FdKind::Memfd);
    assert_eq!(fd(12).name, "memfd:blob");
    let mapped = fd(13);
    assert_eq!(
        mapped.kind,
        FdKind::Ipv4,
        "an IPv4-mapped tcp6 socket is IPv4"
    );
    assert_eq!(mapped.name, "10.0.0.9:40960->10.0.0.5:80");

    // the container was noted (no runc root: only its id is known), its users read through
    // the process's root
    assert_eq!(st.container(CID).map(|c| c.id.as_str()), Some(CID));
    assert_eq!(st.user_name(1000, CID), Some("app"));
    assert_eq!(
        st.container(CID).unwrap().start_ts,
        1_700_000_000_000_000_000 + 12400 * 10_000_000,
        "the start of the container's pid 1 (no runtime state)"
    );
    assert_eq!(st.user_name(1000, ""), None, "isolated: no host users");

    // executables in the overlay's upper directory are upper-layer, image files are not
    let exec = |path: &str| Event {
        ts: 1_800_000_000_000_000_000,
        id: EventId::SCHED_PROCESS_EXEC,
        cpu: 0,
        pid: 7,
        tid: 7,
        ppid: 1,
        host_pid: 4242,
        host_tid: 4242,
        host_ppid: 1,
        uid: 1000,
        gid: 1000,
        comm: "x".into(),
        uts: "pod".into(),
        mntns: 1,
        pidns: 1,
        cgroup_id: 1,
        container_id: CID.into(),
        ret: 0,
        args: vec![
            ArgValue::Str(path.into()),
            ArgValue::StrList(vec!["x".into()]),
        ],
    };
    st.apply(&exec("/usr/local/bin/dropper"));
    assert!(st.process(4242).unwrap().exe_upper_layer);
    st.apply(&exec("/bin/ls"));
    assert!(!st.process(4242).unwrap().exe_upper_layer);
}

#[test]
fn a_missing_proc_root_is_a_clear_error() {
    let mut st = State::new(StateOptions::isolated());
    let err = st
        .seed_from_proc(Path::new("/nonexistent/proc"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/proc"), "{err}");
    assert!(st.is_empty());
}

/// Seeds from the real /proc and finds this test process with its cmdline, cwd and fds.
#[test]
fn live_proc_finds_this_process() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("held-open.txt");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(b"x").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let client_port = client.local_addr().unwrap().port();

    let mut st = State::new(StateOptions::live());
    let stats = st.seed_from_proc(Path::new("/proc")).unwrap();
    assert!(stats.processes >= 2, "{stats:?}");
    let me = st.process(std::process::id()).expect("this process");
    let argv: Vec<String> = std::env::args().collect();
    assert_eq!(me.exe, argv[0]);
    assert_eq!(me.args, argv[1..]);
    assert_eq!(
        me.cwd,
        std::env::current_dir().unwrap().display().to_string()
    );
    assert_eq!(
        me.exepath,
        std::env::current_exe().unwrap().display().to_string()
    );
    assert!(me.start_ts > 1_600_000_000_000_000_000, "{}", me.start_ts);
    assert!(st.parent(me).is_some(), "the parent of the test is known");

    let f = st.fd(me.pid, file.as_raw_fd()).expect("the open file");
    assert_eq!(f.kind, FdKind::File);
    assert_eq!(f.name, path.display().to_string());
    assert_eq!(f.flags & 0o3, 0o1, "opened write-only");

    let l = st.fd(me.pid, listener.as_raw_fd()).expect("listener");
    assert_eq!(
        (l.kind.clone(), l.l4proto, l.is_server),
        (FdKind::Ipv4, L4Proto::Tcp, true)
    );
    assert_eq!(l.name, format!("127.0.0.1:{port}"));
    let c = st.fd(me.pid, client.as_raw_fd()).expect("client socket");
    assert!(!c.is_server);
    assert_eq!(c.name, format!("127.0.0.1:{client_port}->127.0.0.1:{port}"));
    let a = st
        .fd(me.pid, accepted.as_raw_fd())
        .expect("accepted socket");
    assert!(a.is_server);
    assert_eq!(a.name, format!("127.0.0.1:{client_port}->127.0.0.1:{port}"));
    // root's user name comes from the host's passwd
    assert_eq!(st.user_name(0, ""), Some("root"));
}

fn own_event(id: EventId, ret: i64, args: Vec<ArgValue>) -> Event {
    let pid = std::process::id();
    Event {
        ts: 1,
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
        comm: "test".into(),
        uts: "host".into(),
        mntns: 1,
        pidns: 1,
        cgroup_id: 1,
        container_id: String::new(),
        ret,
        args,
    }
}

/// Live, a process the state never saw is read from /proc on its first event, and an fd the
/// state missed (a pipe: its numbers are not in the event) is read when it is duplicated.
#[test]
fn live_lazy_process_and_missed_fds() {
    let (reader, _writer) = std::io::pipe().unwrap();
    let dup = reader.try_clone().unwrap();
    let me = std::process::id();

    let mut st = State::new(StateOptions::live());
    st.apply(&own_event(
        EventId::from_name("chdir").unwrap(),
        0,
        vec![ArgValue::Str("/".into())],
    ));
    let p = st.process(me).expect("created from /proc");
    let argv: Vec<String> = std::env::args().collect();
    assert_eq!(p.exe, argv[0]);
    assert_eq!(p.cwd, "/", "the event's chdir applied on top of /proc");
    assert_eq!(
        st.fd(me, reader.as_raw_fd()).map(|f| f.kind.clone()),
        Some(FdKind::Pipe)
    );

    // fchdir through an fd the state does not know: live, the kernel's cwd is read
    st.apply(&own_event(
        EventId::from_name("fchdir").unwrap(),
        0,
        vec![ArgValue::Int(987)],
    ));
    assert_eq!(
        st.process(me).unwrap().cwd,
        std::env::current_dir().unwrap().display().to_string()
    );
    let p = st.process(me).unwrap();

    // the same process known without its fds: the dup reads the new fd from /proc
    let mut bare = p.clone();
    bare.fds.clear();
    st.insert_process(bare);
    st.apply(&own_event(
        EventId::from_name("dup").unwrap(),
        i64::from(dup.as_raw_fd()),
        vec![ArgValue::Int(i64::from(reader.as_raw_fd()))],
    ));
    let old = st.fd(me, reader.as_raw_fd()).expect("old fd learnt");
    let new = st.fd(me, dup.as_raw_fd()).expect("new fd learnt");
    assert_eq!(
        (old.kind.clone(), new.kind.clone()),
        (FdKind::Pipe, FdKind::Pipe)
    );
    assert_eq!(new.num, dup.as_raw_fd());

    // a connected socket the state missed: its connect reads it from /proc, local end included
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let local = client.local_addr().unwrap().port();
    st.apply(&own_event(
        EventId::from_name("connect").unwrap(),
        0,
        vec![
            ArgValue::Int(i64::from(client.as_raw_fd())),
            ArgValue::Sock(palisade_events::SockAddr::Inet {
                addr: [127, 0, 0, 1].into(),
                port,
            }),
        ],
    ));
    let c = st.fd(me, client.as_raw_fd()).expect("socket learnt");
    assert_eq!((c.kind.clone(), c.l4proto), (FdKind::Ipv4, L4Proto::Tcp));
    assert_eq!(c.name, format!("127.0.0.1:{local}->127.0.0.1:{port}"));
}
