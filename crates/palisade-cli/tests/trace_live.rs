//! `palisade trace` live: the eBPF sensor, real processes and real runc containers (root; these
//! tests run, never skip, when CI=true). Each test starts tracers with different filters, does
//! known things, stops the tracers with SIGINT and compares what each one printed with what
//! was done. Files carry a per-test marker so that other activity on the machine cannot match.

use palisade_events::{EventId, EventSet};
use palisade_testkit::{Container, require_root};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One test at a time: each loads several sensors.
static LOCK: Mutex<()> = Mutex::new(());

fn marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("plsd{tag}{:x}{nanos:x}", std::process::id())
}

struct Tracer {
    name: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
    _dir: tempfile::TempDir,
}

struct Traced {
    name: String,
    events: Vec<Value>,
    stderr: String,
}

impl Tracer {
    /// Start `palisade trace -o json <args>` and wait until the sensor is attached.
    fn start(name: &str, args: &[&str]) -> Tracer {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        let err = dir.path().join("err.txt");
        let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("trace")
            .args(["-o", "json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let mut t = Tracer {
            name: name.into(),
            child,
            out,
            err,
            _dir: dir,
        };
        t.wait_stderr("palisade trace: tracing", 1);
        t
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Wait until `needle` appears `count` times on standard error.
    fn wait_stderr(&mut self, needle: &str, count: usize) {
        // Loading the programs runs the BPF verifier: seconds, more on a loaded machine.
        let end = Instant::now() + Duration::from_secs(180);
        loop {
            if self.stderr().matches(needle).count() >= count {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tracer {} exited ({status}): {}", self.name, self.stderr());
            }
            assert!(
                Instant::now() < end,
                "tracer {}: no {needle:?} after 180 s: {}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: &str) {
        // procps' kill where installed, else busybox's (scripts/test installs busybox-static).
        let pid = self.child.id().to_string();
        let st = Command::new("kill")
            .args([sig, &pid])
            .status()
            .or_else(|_| {
                Command::new(palisade_testkit::busybox_path().unwrap())
                    .args(["kill", sig, &pid])
                    .status()
            })
            .unwrap();
        assert!(st.success());
    }

    /// SIGINT, wait for the exit, read the JSON lines.
    fn stop(self) -> Traced {
        self.stop_with("-INT")
    }

    /// Send `sig`, wait for the exit, read the JSON lines.
    fn stop_with(mut self, sig: &str) -> Traced {
        self.signal(sig);
        let end = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("tracer {} did not stop on SIGINT", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = self.stderr();
        assert!(status.success(), "tracer {} failed: {stderr}", self.name);
        let mut text = String::new();
        std::fs::File::open(&self.out)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        // The statistics line counts exactly what was printed.
        let stats = stderr
            .lines()
            .rfind(|l| l.contains("delivered"))
            .unwrap_or_else(|| panic!("tracer {}: no statistics: {stderr}", self.name));
        assert!(
            stats.contains(&format!("delivered {},", events.len())),
            "tracer {}: {stats} but {} lines",
            self.name,
            events.len()
        );
        Traced {
            name: self.name.clone(),
            events,
            stderr,
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn arg<'a>(ev: &'a Value, name: &str) -> Option<&'a Value> {
    ev["args"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
        .map(|a| &a["value"])
}

impl Traced {
    /// Paths of the `openat`/`open` events whose path contains `mark`.
    fn opened(&self, mark: &str) -> BTreeSet<String> {
        self.events
            .iter()
            .filter(|e| e["eventName"] == "openat" || e["eventName"] == "open")
            .filter_map(|e| arg(e, "pathname")?.as_str())
            .filter(|p| p.contains(mark))
            .map(str::to_owned)
            .collect()
    }

    fn with_container(&self, id: &str) -> usize {
        self.events
            .iter()
            .filter(|e| e["containerId"] == id)
            .count()
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success() || cmd.get_program() == std::ffi::OsStr::new("cat"),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Give the last events time to reach the ring buffer's reader.
fn settle() {
    std::thread::sleep(Duration::from_millis(400));
}

#[test]
fn container_events_carry_the_id_paths_and_addresses() {
    if !require_root("container_events_carry_the_id_paths_and_addresses") {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mark = marker("c");
    let mut c = Container::new("c0de").unwrap();
    c.write_file(&format!("/data/{mark}-secret"), b"s3cret\n")
        .unwrap();
    let host_file = format!("/tmp/{mark}-host");
    std::fs::write(&host_file, b"host\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf
    });

    let in_ctr = Tracer::start("container", &["-t", "container"]);
    let on_host = Tracer::start("!container", &["-t", "!container", "-t", "e=openat"]);
    let by_uts = Tracer::start(
        "uts",
        &[
            "--scope",
            &format!("uts={}", c.short_id()),
            "--events",
            "openat,connect",
        ],
    );

    let script = format!("cd /data && cat {mark}-secret && echo ping | nc 127.0.0.1 {port}");
    let out = c.run(&["sh", "-c", &script]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"s3cret\n");
    assert_eq!(server.join().unwrap(), "ping\n");
    run(Command::new("cat").arg(&host_file));
    settle();
    let (in_ctr, on_host, by_uts) = (in_ctr.stop(), on_host.stop(), by_uts.stop());
    std::fs::remove_file(&host_file).unwrap();

    // `container`: everything from containers, ours included, nothing from the host.
    assert!(!in_ctr.events.is_empty());
    for e in &in_ctr.events {
        assert_ne!(e["containerId"], "", "{}: host event {e}", in_ctr.name);
    }
    // The relative open inside the container shows the container's absolute path.
    let secret = format!("/data/{mark}-secret");
    assert_eq!(in_ctr.opened(&mark), set(&[&secret]));
    let open = in_ctr
        .events
        .iter()
        .find(|e| arg(e, "pathname").and_then(Value::as_str) == Some(secret.as_str()))
        .unwrap();
    assert_eq!(open["containerId"], c.id());
    assert_eq!(open["hostName"], c.short_id());
    assert_eq!(open["processName"], "cat");
    assert!(open["returnValue"].as_i64().unwrap() >= 0);
    assert_ne!(
        open["processId"], open["hostProcessId"],
        "pid namespace of the container"
    );
    // The connect shows the address.
    let connect = in_ctr
        .events
        .iter()
        .find(|e| {
            e["eventName"] == "connect"
                && arg(e, "addr").is_some_and(|a| {
                    a["sin_port"].as_str().and_then(|p| p.parse().ok()) == Some(port)
                })
        })
        .unwrap_or_else(|| panic!("no connect to port {port}"));
    assert_eq!(arg(connect, "addr").unwrap()["sin_addr"], "127.0.0.1");
    assert_eq!(arg(connect, "addr").unwrap()["sa_family"], "AF_INET");
    assert_eq!(connect["containerId"], c.id());
    assert_eq!(connect["returnValue"], 0);
    // The exec carries argv.
    assert!(in_ctr.events.iter().any(|e| e["eventName"] == "execve"
        && e["containerId"] == c.id()
        && arg(e, "argv").is_some_and(|a| a[1] == format!("{mark}-secret"))));

    // `!container`: the host's open, nothing from containers, only openat.
    let ctr_cgroups: BTreeSet<u64> = in_ctr
        .events
        .iter()
        .filter(|e| e["containerId"] == c.id())
        .filter_map(|e| e["cgroupId"].as_u64())
        .collect();
    let strays: Vec<String> = on_host
        .events
        .iter()
        .filter(|e| e["hostName"] == c.short_id() || e["mountNamespace"] == open["mountNamespace"])
        .map(|e| {
            format!(
                "{} {} cgroupId {} containerId {:?}",
                e["eventName"], e["processName"], e["cgroupId"], e["containerId"]
            )
        })
        .collect();
    assert_eq!(
        on_host.opened(&mark),
        set(&[&host_file]),
        "container events on the host side (the container's cgroup ids: {ctr_cgroups:?}): {strays:#?}"
    );
    for e in &on_host.events {
        assert_eq!(e["containerId"], "", "{}: {e}", on_host.name);
        assert_eq!(e["eventName"], "openat");
    }

    // `uts=<container hostname>`: only that container's events once it has its name.
    assert_eq!(by_uts.opened(&mark), set(&[&secret]));
    assert!(by_uts.events.iter().any(|e| e["eventName"] == "connect"));
    for e in &by_uts.events {
        assert_eq!(e["hostName"], c.short_id());
        assert_eq!(e["containerId"], c.id());
    }
    assert!(in_ctr.stderr.contains("lost 0"), "{}", in_ctr.stderr);
}

#[test]
fn container_new_selects_only_containers_started_after_the_trace() {
    if !require_root("container_new_selects_only_containers_started_after_the_trace") {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mark = marker("n");
    let mut old = Container::new("01d").unwrap();
    old.write_file(&format!("/etc/{mark}-old"), b"x\n").unwrap();
    let loop_script = format!("while true; do read x < /etc/{mark}-old; sleep 0.05; done");
    let running = old.spawn(&["sh", "-c", &loop_script]).unwrap();
    let old_pid = running.wait_started(Duration::from_secs(30)).unwrap();
    // Let the loop run a few times before tracing starts.
    std::thread::sleep(Duration::from_millis(200));

    let old_mntns = ns_inode(old_pid, "mnt");
    let new_only = Tracer::start("container=new", &["-t", "container=new", "-e", "openat"]);
    let any = Tracer::start("container", &["--scope", "container", "--events", "openat"]);
    let by_mntns = Tracer::start(
        "mntns",
        &["-t", &format!("mntns={old_mntns}"), "-t", "event=openat"],
    );
    let not_host_pidns = Tracer::start(
        "pidns!=host",
        &[
            "-t",
            &format!("pidns!={}", ns_inode(std::process::id(), "pid")),
            "-e",
            "openat",
        ],
    );

    let mut fresh = Container::new("2e3").unwrap();
    fresh
        .write_file(&format!("/etc/{mark}-new"), b"y\n")
        .unwrap();
    let out = fresh
        .run(&["sh", "-c", &format!("read x < /etc/{mark}-new; echo $x")])
        .unwrap();
    assert_eq!(out.stdout, b"y\n");
    std::thread::sleep(Duration::from_millis(300));
    settle();
    let (new_only, any) = (new_only.stop(), any.stop());
    let (by_mntns, not_host_pidns) = (by_mntns.stop(), not_host_pidns.stop());
    running.kill().unwrap();

    let old_path = format!("/etc/{mark}-old");
    let new_path = format!("/etc/{mark}-new");
    // The old container was busy during the trace...
    assert_eq!(any.opened(&mark), set(&[&old_path, &new_path]));
    assert!(any.with_container(old.id()) > 0);
    // ...but container=new shows only the new one.
    assert_eq!(new_only.opened(&mark), set(&[&new_path]));
    assert_eq!(new_only.with_container(old.id()), 0);
    assert!(new_only.with_container(fresh.id()) > 0);
    for e in &new_only.events {
        assert_ne!(e["containerId"], "");
    }
    // mntns= the old container's: only its events; pidns!= the host's: both containers.
    assert_eq!(by_mntns.opened(&mark), set(&[&old_path]));
    for e in &by_mntns.events {
        assert_eq!(e["mountNamespace"], old_mntns);
        assert_eq!(e["containerId"], old.id());
    }
    assert_eq!(not_host_pidns.opened(&mark), set(&[&old_path, &new_path]));
}

/// The inode of a namespace of a process (`/proc/<pid>/ns/<ns>` reads `mnt:[4026531840]`).
fn ns_inode(pid: u32, ns: &str) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
    let s = link.to_str().unwrap();
    s[s.find('[').unwrap() + 1..s.len() - 1].parse().unwrap()
}

#[test]
fn pid_list_selects_those_processes() {
    if !require_root("pid_list_selects_those_processes") {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mark = marker("l");
    let f = |n: &str| format!("/tmp/{mark}-{n}");
    for n in ["a", "b", "c"] {
        std::fs::write(f(n), b"x\n").unwrap();
    }
    // Three shells waiting for a line on stdin, then opening their file themselves.
    let mut shells: Vec<Child> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            Command::new("sh")
                .args(["-c", &format!("read go; read x < {}", f(n))])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<u32> = shells.iter().map(Child::id).collect();
    let pattern = format!("openat.pathname=/tmp/{mark}*");
    let listed = Tracer::start(
        "pid=a,b",
        &[
            "-t",
            &format!("pid={},{}", pids[0], pids[1]),
            "-t",
            &pattern,
        ],
    );
    let not_c = Tracer::start("p!=c", &["-t", &format!("p!={}", pids[2]), "-t", &pattern]);
    let range = Tracer::start(
        "pid range",
        &[
            "-t",
            &format!("pid>={}", pids[1]),
            "-t",
            &format!("pid<={}", pids[1]),
            "-t",
            &pattern,
        ],
    );
    for s in &mut shells {
        use std::io::Write;
        s.stdin.take().unwrap().write_all(b"go\n").unwrap();
        assert!(s.wait().unwrap().success());
    }
    settle();
    let (listed, not_c, range) = (listed.stop(), not_c.stop(), range.stop());
    for n in ["a", "b", "c"] {
        let _ = std::fs::remove_file(f(n));
    }
    let paths = |names: &[&str]| names.iter().map(|n| f(n)).collect::<BTreeSet<_>>();
    assert_eq!(listed.opened(&mark), paths(&["a", "b"]));
    assert_eq!(not_c.opened(&mark), paths(&["a", "b"]));
    assert_eq!(range.opened(&mark), paths(&["b"]));
    for e in &listed.events {
        assert!(
            pids[..2].contains(&(e["hostProcessId"].as_u64().unwrap() as u32)),
            "{e}"
        );
    }
}

/// A copy of dash under a unique name (its comm), to run scripts whose processes we can name.
fn unique_shell(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy("/bin/dash", &p)
        .or_else(|_| std::fs::copy("/bin/sh", &p))
        .unwrap();
    p
}

#[test]
fn pid_new_follow_tree_and_executable_select_processes() {
    if !require_root("pid_new_follow_tree_and_executable_select_processes") {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mark = marker("p");
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| format!("/tmp/{mark}-{n}");
    for n in ["old", "self", "child", "grandchild", "other"] {
        std::fs::write(f(n), b"x\n").unwrap();
    }
    // A process that exists before tracing and opens its file itself (`read` is a builtin).
    let mut old = Command::new("sh")
        .args([
            "-c",
            &format!("while :; do read x < {}; sleep 0.05; done", f("old")),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let comm = format!("pf{:08x}", std::process::id() ^ 0x5a5a);
    let shell = unique_shell(dir.path(), &comm);
    let pattern = format!("openat.pathname=/tmp/{mark}*");
    let new_pids = Tracer::start("pid=new", &["-t", "pid=new", "-t", &pattern]);
    let all = Tracer::start(
        "all",
        &["--events", &format!("openat.data.pathname=/tmp/{mark}*")],
    );
    let follow = Tracer::start(
        "follow",
        &[
            "-t",
            &format!("comm={comm}"),
            "-t",
            "follow",
            "-t",
            &pattern,
        ],
    );
    let no_follow = Tracer::start(
        "no follow",
        &["-t", &format!("comm={comm}"), "-t", &pattern],
    );
    let by_exe = Tracer::start(
        "executable",
        &[
            "--scope",
            &format!("executable={}", shell.display()),
            "--events",
            &format!("openat.data.pathname=/tmp/{mark}*"),
        ],
    );
    let not_old_tree = Tracer::start(
        "tree!=old",
        &[
            "--scope",
            &format!("tree!={}", old.id()),
            "--events",
            &format!("openat.data.pathname=/tmp/{mark}*"),
        ],
    );

    let script = format!(
        "read x < {}; cat {} >/dev/null; sh -c 'cat {} >/dev/null'",
        f("self"),
        f("child"),
        f("grandchild")
    );
    run(Command::new(&shell).args(["-c", &script]));
    run(Command::new("cat").arg(f("other")));
    std::thread::sleep(Duration::from_millis(200));
    settle();
    let traced = [
        new_pids.stop(),
        all.stop(),
        follow.stop(),
        no_follow.stop(),
        by_exe.stop(),
        not_old_tree.stop(),
    ];
    let _ = old.kill();
    let _ = old.wait();
    for n in ["old", "self", "child", "grandchild", "other"] {
        let _ = std::fs::remove_file(f(n));
    }
    let [new_pids, all, follow, no_follow, by_exe, not_old_tree] = traced;

    let paths = |names: &[&str]| names.iter().map(|n| f(n)).collect::<BTreeSet<_>>();
    assert_eq!(
        all.opened(&mark),
        paths(&["old", "self", "child", "grandchild", "other"])
    );
    assert_eq!(
        new_pids.opened(&mark),
        paths(&["self", "child", "grandchild", "other"])
    );
    assert_eq!(
        follow.opened(&mark),
        paths(&["self", "child", "grandchild"])
    );
    assert_eq!(no_follow.opened(&mark), paths(&["self"]));
    // The executable learnt from the exec: the shell itself, not what it starts.
    assert_eq!(by_exe.opened(&mark), paths(&["self"]));
    // Everything but the process that existed before (it has no children opening files).
    assert_eq!(
        not_old_tree.opened(&mark),
        paths(&["self", "child", "grandchild", "other"])
    );
    // With follow, the children show their own names.
    let comms: BTreeSet<&str> = follow
        .events
        .iter()
        .filter_map(|e| e["processName"].as_str())
        .collect();
    assert!(
        comms.contains("cat") && comms.contains(comm.as_str()),
        "{comms:?}"
    );
    for t in [&new_pids, &all, &follow, &no_follow, &by_exe, &not_old_tree] {
        for e in &t.events {
            assert_eq!(e["eventName"], "openat", "{}: {e}", t.name);
        }
    }
}

#[test]
fn uid_comm_event_set_retval_and_argument_filters() {
    if !require_root("uid_comm_event_set_retval_and_argument_filters") {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mark = marker("u");
    let f = |n: &str| format!("/tmp/{mark}-f{n}");
    for n in ["u1000", "u1001", "u0"] {
        std::fs::write(f(n), b"x\n").unwrap();
    }
    let dir_path = format!("/tmp/{mark}-d");
    let touched = format!("/tmp/{mark}-t");
    let opens = format!("/tmp/{mark}-f*");

    let tracers = [
        Tracer::start(
            "uid=1000",
            &["-t", "uid=1000", "-t", &format!("openat.pathname={opens}")],
        ),
        Tracer::start(
            "0<uid<1001",
            &[
                "-t",
                "uid>0",
                "-t",
                "uid<1001",
                "-e",
                &format!("openat.data.pathname={opens}"),
            ],
        ),
        Tracer::start(
            "uid!=1000",
            &[
                "-t",
                "uid!=1000",
                "--filter",
                &format!("openat.args.pathname={opens}"),
            ],
        ),
        Tracer::start(
            "comm=cat",
            &["-t", "comm=cat", "-t", &format!("openat.pathname={opens}")],
        ),
        Tracer::start(
            "failed",
            &[
                "-t",
                "openat.retval<0",
                "-t",
                &format!("openat.pathname={opens}"),
            ],
        ),
        Tracer::start(
            "mkdir/rm",
            &[
                "-t",
                "event=mkdir,mkdirat,unlinkat,rmdir",
                "-t",
                "comm=mkdir,rm",
            ],
        ),
        Tracer::start(
            "fs but openat",
            &["-t", "set=fs", "-t", "e!=openat", "-t", "comm=touch"],
        ),
    ];

    for (uid, n) in [("1000", "u1000"), ("1001", "u1001")] {
        run(Command::new("setpriv").args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "cat",
            &f(n),
        ]));
    }
    run(Command::new("cat").arg(f("u0")));
    run(Command::new("cat").arg(f("missing")));
    run(Command::new("mkdir").arg(&dir_path));
    run(Command::new("rm").args(["-r", &dir_path]));
    run(Command::new("touch").arg(&touched));
    settle();
    let [
        uid1000,
        uid_range,
        uid_ne,
        comm_cat,
        failed,
        mkdir_rm,
        fs_set,
    ] = tracers.map(Tracer::stop);
    for n in ["u1000", "u1001", "u0"] {
        let _ = std::fs::remove_file(f(n));
    }
    let _ = std::fs::remove_file(&touched);

    let paths = |names: &[&str]| names.iter().map(|n| f(n)).collect::<BTreeSet<_>>();
    assert_eq!(uid1000.opened(&mark), paths(&["u1000"]));
    for e in &uid1000.events {
        assert_eq!(e["userId"], 1000);
    }
    assert_eq!(uid_range.opened(&mark), paths(&["u1000"]));
    assert_eq!(uid_ne.opened(&mark), paths(&["u1001", "u0", "missing"]));
    assert_eq!(
        comm_cat.opened(&mark),
        paths(&["u1000", "u1001", "u0", "missing"])
    );
    assert_eq!(failed.opened(&mark), paths(&["missing"]));
    let missing = &failed.events[0];
    assert_eq!(missing["returnValue"], -2);
    for t in [&uid1000, &uid_range, &uid_ne, &comm_cat, &failed] {
        assert!(
            t.events.iter().all(|e| e["eventName"] == "openat"),
            "{}",
            t.name
        );
    }

    // Events by name: the directory made and removed, with its absolute path.
    let dir_events: BTreeSet<(String, String)> = mkdir_rm
        .events
        .iter()
        .filter_map(|e| {
            let p = arg(e, "pathname")?.as_str()?;
            p.contains(&mark)
                .then(|| (e["eventName"].as_str().unwrap().to_owned(), p.to_owned()))
        })
        .collect();
    let made = dir_events
        .iter()
        .any(|(n, p)| (n == "mkdir" || n == "mkdirat") && *p == dir_path);
    let removed = dir_events
        .iter()
        .any(|(n, p)| (n == "unlinkat" || n == "rmdir") && *p == dir_path);
    assert!(made && removed, "{dir_events:?}");
    for e in &mkdir_rm.events {
        let name = e["eventName"].as_str().unwrap();
        assert!(
            ["mkdir", "mkdirat", "unlinkat", "rmdir"].contains(&name),
            "{e}"
        );
        assert!(
            ["mkdir", "rm"].contains(&e["processName"].as_str().unwrap()),
            "{e}"
        );
    }

    // A set minus an event: touch's file-system calls without its openat.
    assert!(!fs_set.events.is_empty());
    for e in &fs_set.events {
        let id = EventId::from_name(e["eventName"].as_str().unwrap()).unwrap();
        assert!(id.def().unwrap().in_set(EventSet::Fs), "{e}");
        assert_ne!(e["eventName"], "openat");
        assert_eq!(e["processName"], "touch");
    }
    assert!(
        fs_set.events.iter().any(|e| e["eventName"] == "utimensat"),
        "touch sets the times: {:?}",
        fs_set
            .events
            .iter()
            .map(|e| &e["eventName"])
            .collect::<Vec<_>>()
    );
}

#[test]
fn sigusr1_prints_statistics_sigterm_stops_and_the_capture_replays() {
    if !require_root("sigusr1_prints_statistics_sigterm_stops_and_the_capture_replays") {
        return;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mark = marker("s");
    let file = format!("/tmp/{mark}");
    std::fs::write(&file, b"x\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("live.cap");
    let mut t = Tracer::start(
        "usr1",
        &[
            "-t",
            &format!("openat.pathname={file}"),
            "--capture",
            cap.to_str().unwrap(),
        ],
    );
    t.signal("-USR1");
    t.wait_stderr("delivered", 1);
    assert!(
        t.child.try_wait().unwrap().is_none(),
        "still running after SIGUSR1"
    );
    run(Command::new("cat").arg(&file));
    settle();
    // SIGTERM ends the trace like SIGINT, with statistics.
    let traced = t.stop_with("-TERM");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(traced.opened(&mark), set(&[&file]));
    // The capture replays to the same output.
    let replayed = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["trace", "-o", "json", "--replay", cap.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(replayed.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&replayed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, traced.events);
    // Filters apply to the replay: the file was opened by cat, not by ls.
    let none = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "trace",
            "-o",
            "json",
            "--replay",
            cap.to_str().unwrap(),
            "-t",
            "comm=ls",
        ])
        .output()
        .unwrap();
    assert!(none.status.success() && none.stdout.is_empty());
    let stats: Vec<&str> = traced
        .stderr
        .lines()
        .filter(|l| l.contains("delivered"))
        .collect();
    assert_eq!(stats.len(), 2, "{}", traced.stderr);
    assert!(stats[0].contains("delivered 0,"), "{}", stats[0]);
    assert!(stats[1].contains("delivered 1,"), "{}", stats[1]);
}
