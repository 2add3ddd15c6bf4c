//! The sensor on the real kernel: argument decoding checked against known actions, the kernel
//! filters, follow, and the lost-event counter under a flood.
//!
//! These tests need root and eBPF. With `CI=true` they run and fail when either is missing;
//! otherwise, without root, they print "skipped: needs root" and return.

use palisade_events::{ArgValue, Event, EventId, SockAddr};
use palisade_sensor::{
    Hook, HookChoice, KernelFilter, ProbeOutcome, Sensor, SensorConfig, SensorError, Stats,
};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One sensor at a time: they are cheap to run side by side, but the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Whether to run: true as root; false (after saying so) when not root outside CI; a failure
/// when not root in CI.
fn runnable() -> bool {
    if euid() == 0 {
        return true;
    }
    assert!(!ci(), "CI=true: the sensor tests need root and eBPF");
    eprintln!("skipped: needs root");
    false
}

/// The test's turn on the machine: `None` (the test returns) when it cannot run (see
/// [`runnable`]), else the lock that keeps the sensor tests one at a time.
fn serial() -> Option<std::sync::MutexGuard<'static, ()>> {
    runnable().then(|| SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

fn start(filter: KernelFilter, ring_bytes: usize) -> Sensor {
    match Sensor::start(SensorConfig { filter, ring_bytes }) {
        Ok(s) => s,
        Err(e) => panic!("the sensor did not start: {e}"),
    }
}

/// Starts with an explicit hook choice and checks the hook it got.
fn start_on(filter: KernelFilter, choice: HookChoice, want: Hook) -> Sensor {
    let s = match Sensor::start_with(
        SensorConfig {
            filter,
            ring_bytes: 0,
        },
        choice,
    ) {
        Ok(s) => s,
        Err(e) => panic!("the sensor did not start with {choice:?}: {e}"),
    };
    assert_eq!(s.hook(), want, "{choice:?}");
    // With BTF tracepoints, entries are hooked one call at a time unless asked otherwise: the
    // calls whose entry matters (setns always: it resets the task's context), never a call
    // captured at exit such as openat.
    match (want, choice) {
        (Hook::TpBtf, HookChoice::TpBtfRawEntry) | (Hook::Tracepoint | Hook::Fentry, _) => {
            assert_eq!(s.entry_calls(), None, "{choice:?}")
        }
        (Hook::TpBtf, _) => {
            let calls = s.entry_calls().expect("per-call entries");
            assert!(calls.contains(&"setns"), "{calls:?}");
            assert!(!calls.contains(&"openat"), "{calls:?}");
        }
    }
    // The exit event is on the same kind of hook as the system calls when those are classic.
    let exit_kind = s
        .process_hook_kinds()
        .iter()
        .find(|(tp, _)| *tp == "sched_process_exit")
        .map(|(_, k)| *k);
    let want_exit = if want == Hook::Tracepoint {
        Hook::Tracepoint
    } else {
        Hook::TpBtf
    };
    assert_eq!(exit_kind, Some(want_exit), "{:?}", s.process_hook_kinds());
    s
}

/// Whether the kernel allows fentry programs (the sensor's own start-up probe).
fn fentry_allowed() -> bool {
    let support = palisade_sensor::probe_hooks().expect("hook probe");
    support.fentry.allowed()
}

fn ids(names: &[&str]) -> BTreeSet<EventId> {
    names
        .iter()
        .map(|n| EventId::from_name(n).unwrap_or_else(|| panic!("no event {n}")))
        .collect()
}

/// Polls until `done` holds for the events gathered so far, or `limit` passes.
fn collect(s: &mut Sensor, limit: Duration, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let mut out = Vec::new();
    let end = Instant::now() + limit;
    while Instant::now() < end && !done(&out) {
        s.poll(Duration::from_millis(50), &mut |e| out.push(e))
            .expect("poll");
    }
    out
}

/// Drains what is left (until nothing arrives for 300 ms, at most 3 s: with filters that keep
/// other processes' events, the system never falls quiet).
fn drain(s: &mut Sensor, out: &mut Vec<Event>) {
    let mut quiet = Instant::now();
    let start = Instant::now();
    while quiet.elapsed() < Duration::from_millis(300) && start.elapsed() < Duration::from_secs(3) {
        let n = s
            .poll(Duration::from_millis(50), &mut |e| out.push(e))
            .expect("poll");
        if n > 0 {
            quiet = Instant::now();
        }
    }
}

fn str_arg<'a>(e: &'a Event, name: &str) -> Option<&'a str> {
    e.arg(name).and_then(ArgValue::as_str)
}

fn self_only_follow(events: &[&str]) -> KernelFilter {
    KernelFilter {
        events: ids(events),
        pids: [std::process::id()].into_iter().collect(),
        follow: true,
        ..KernelFilter::default()
    }
}

fn inode(path: &str) -> u32 {
    let l = std::fs::read_link(path).unwrap();
    let l = l.to_string_lossy();
    l.split_once('[')
        .and_then(|(_, r)| r.trim_end_matches(']').parse().ok())
        .unwrap()
}

#[test]
fn decodes_relative_paths_argv_sockets_exit_codes_and_context() {
    let Some(_g) = serial() else { return };
    decoding_checks(HookChoice::TpBtf, Hook::TpBtf);
}

#[test]
fn one_entry_program_for_every_call_decodes_the_same() {
    let Some(_g) = serial() else { return };
    // BTF tracepoints with the program on sys_enter (as when many calls need their entry).
    decoding_checks(HookChoice::TpBtfRawEntry, Hook::TpBtf);
}

#[test]
fn only_the_calls_whose_entry_matters_run_a_program_at_entry() {
    let Some(_g) = serial() else { return };
    let _stats = palisade_sensor::enable_program_stats().expect("BPF run-time statistics");
    let runs = |s: &Sensor, prog: &str| {
        s.program_stats()
            .iter()
            .find(|p| p.name == prog)
            .map_or(0, |p| p.runs)
    };
    const CALLS: u64 = 20_000;
    for (choice, enter_prog) in [
        (HookChoice::TpBtf, "sys_enter_call"),
        (HookChoice::TpBtfRawEntry, "sys_enter_btf"),
    ] {
        let mut s = start_on(
            self_only_follow(&["getppid", "execve"]),
            choice,
            Hook::TpBtf,
        );
        if choice == HookChoice::TpBtf {
            let calls = s.entry_calls().unwrap();
            assert!(calls.contains(&"execve"), "{calls:?}");
            assert!(!calls.contains(&"getppid"), "{calls:?}");
        }
        let (enter0, exit0) = (runs(&s, enter_prog), runs(&s, "sys_exit_btf"));
        // The calls from a child (the sensor never reports its own process).
        let ppid = std::process::id();
        // SAFETY: the child makes only async-signal-safe calls (getppid, _exit).
        let loader = unsafe { libc::fork() };
        assert!(loader >= 0);
        if loader == 0 {
            for _ in 0..CALLS {
                // SAFETY: getppid has no arguments and cannot fail.
                unsafe { libc::getppid() };
            }
            // SAFETY: ends the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(loader, &mut status, 0) }, loader);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        let (enter1, exit1) = (runs(&s, enter_prog), runs(&s, "sys_exit_btf"));
        let child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        assert!(child.wait_with_output().unwrap().status.success());
        let events = collect(&mut s, Duration::from_secs(10), |ev| {
            ev.iter()
                .any(|e| e.id.name() == "execve" && e.host_pid == pid)
                && ev.iter().filter(|e| e.id.name() == "getppid").count() as u64 >= CALLS
        });
        // Every call's exit ran the exit program.
        assert!(
            exit1 - exit0 >= CALLS,
            "{choice:?}: {} exits",
            exit1 - exit0
        );
        if choice == HookChoice::TpBtf {
            // The getppid entries ran no program (the rest of the machine makes a few other
            // calls meanwhile, and a few of those may be hooked ones).
            assert!(enter1 - enter0 < CALLS / 20, "{} entries", enter1 - enter0);
        } else {
            assert!(enter1 - enter0 >= CALLS, "{} entries", enter1 - enter0);
        }
        // The execve's entry ran it, and the call is whole: strings read at entry, the return
        // value at exit.
        assert!(runs(&s, enter_prog) > enter1, "{choice:?}");
        let exec = events
            .iter()
            .find(|e| e.id.name() == "execve" && e.host_pid == pid && e.ret == 0)
            .unwrap_or_else(|| panic!("{choice:?}: no execve of true in {events:#?}"));
        assert_eq!(
            exec.arg("argv"),
            Some(&ArgValue::StrList(vec!["true".into()]))
        );
        let getppid: Vec<_> = events.iter().filter(|e| e.id.name() == "getppid").collect();
        assert_eq!(getppid.len() as u64, CALLS, "{choice:?}");
        assert!(
            getppid
                .iter()
                .all(|e| e.host_pid == loader as u32 && e.ret == i64::from(ppid))
        );
    }
}

#[test]
fn classic_tracepoints_decode_the_same() {
    let Some(_g) = serial() else { return };
    // Syscalls on raw_syscalls classic tracepoints, the exit event on sched/sched_process_exit.
    decoding_checks(HookChoice::Tracepoint, Hook::Tracepoint);
}

#[test]
fn auto_takes_fentry_only_where_the_kernel_allows_it() {
    let Some(_g) = serial() else { return };
    let support = palisade_sensor::probe_hooks().expect("hook probe");
    // A refusal is the kernel's answer to a real load (an errno), not a missing probe target.
    for (what, o) in [("fentry", &support.fentry), ("lsm", &support.lsm)] {
        if let ProbeOutcome::Refused { errno, detail } = o {
            assert!(errno.is_some(), "{what} probe: {detail}");
        }
    }
    // Few calls selected: fentry where allowed, else BTF tracepoints (this development kernel
    // refuses fentry with EPERM, so here the refused path is what runs).
    let want = if support.fentry.allowed() {
        Hook::Fentry
    } else {
        Hook::TpBtf
    };
    let s = decoding_checks(HookChoice::Auto, want);
    assert_eq!(s.hooks_allowed(), Some(&support));
    // Every call selected: tracepoints whatever the probe said.
    let all: BTreeSet<EventId> = palisade_events::catalog::catalog()
        .iter()
        .map(|d| d.id)
        .collect();
    let f = KernelFilter {
        events: all,
        pids: [std::process::id()].into_iter().collect(),
        ..KernelFilter::default()
    };
    drop(start_on(f, HookChoice::Auto, Hook::TpBtf));
}

#[test]
fn forced_fentry_is_refused_with_the_kernels_errno_or_decodes() {
    let Some(_g) = serial() else { return };
    if fentry_allowed() {
        // Not verified on the development machine (its kernel refuses fentry).
        decoding_checks(HookChoice::Fentry, Hook::Fentry);
        return;
    }
    let support = palisade_sensor::probe_hooks().unwrap();
    let ProbeOutcome::Refused { errno, .. } = &support.fentry else {
        unreachable!()
    };
    let r = Sensor::start_with(
        SensorConfig {
            filter: self_only_follow(&["openat"]),
            ring_bytes: 0,
        },
        HookChoice::Fentry,
    );
    let e = match r {
        Ok(s) => panic!(
            "fentry refused by the probe, but the sensor started on {}",
            s.hook()
        ),
        Err(e) => e.to_string(),
    };
    // The load of the first per-call program fails the way the probe's did.
    assert!(e.contains("on __x64_sys_"), "{e}");
    if *errno == Some(libc::EPERM) {
        assert!(
            e.contains("Operation not permitted") || e.contains("EPERM"),
            "{e}"
        );
    }
}

/// A shell that changes directory, opens a file by a relative path, connects to a listener and
/// exits with 7, traced with the given hook choice; checks every decoded field. Returns the
/// sensor (for further checks on it).
fn decoding_checks(choice: HookChoice, want: Hook) -> Sensor {
    let dir = std::env::temp_dir().join(format!("palisade-sensor-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/known.txt"), "x").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let mut s = start_on(
        self_only_follow(&[
            "openat",
            "execve",
            "connect",
            "sched_process_exec",
            "sched_process_exit",
        ]),
        choice,
        want,
    );
    // A shell that changes directory, opens a file by a relative path, connects to our
    // listener and exits with a known code.
    let script = format!(
        "cd {}/sub && cat ./known.txt >/dev/null && exec 3<>/dev/tcp/127.0.0.1/{port}; exit 7",
        dir.display()
    );
    let mut child = Command::new("bash").arg("-c").arg(&script).spawn().unwrap();
    let child_pid = child.id();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    let want_path = format!("{}/sub/known.txt", dir.display());
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| {
            e.id == EventId::SCHED_PROCESS_EXIT
                && e.host_pid == child_pid
                && e.arg("process_group_exit") == Some(&ArgValue::Int(1))
        })
    });
    let _ = std::fs::remove_dir_all(&dir);

    // openat: the relative path comes out absolute, with the return value (an fd).
    let open = events
        .iter()
        .find(|e| e.id.name() == "openat" && str_arg(e, "pathname") == Some(want_path.as_str()))
        .unwrap_or_else(|| panic!("no openat of {want_path} in {events:#?}"));
    assert_eq!(open.comm, "cat");
    assert!(open.ret >= 0, "{open:?}");
    assert_eq!(open.arg("dirfd"), Some(&ArgValue::Int(-100)));
    assert_eq!(open.host_ppid, child_pid, "cat's parent is the shell");
    assert_eq!(open.uid, 0);

    // execve of bash and of cat, with argv.
    let exec_bash = events
        .iter()
        .find(|e| e.id.name() == "execve" && e.host_pid == child_pid && e.ret == 0)
        .unwrap_or_else(|| panic!("no execve of bash in {events:#?}"));
    assert_eq!(
        exec_bash.arg("argv"),
        Some(&ArgValue::StrList(vec![
            "bash".into(),
            "-c".into(),
            script.clone()
        ]))
    );
    assert_eq!(exec_bash.host_ppid, std::process::id());
    let exec_cat = events
        .iter()
        .find(|e| e.id == EventId::SCHED_PROCESS_EXEC && e.comm == "cat")
        .unwrap_or_else(|| panic!("no sched_process_exec of cat in {events:#?}"));
    assert_eq!(
        exec_cat.arg("argv"),
        Some(&ArgValue::StrList(vec!["cat".into(), "./known.txt".into()]))
    );
    assert_eq!(
        str_arg(exec_cat, "cwd"),
        Some(format!("{}/sub", dir.display()).as_str())
    );
    assert!(
        str_arg(exec_cat, "pathname").is_some_and(|p| p.starts_with('/') && p.ends_with("/cat")),
        "{exec_cat:?}"
    );

    // connect: the address and port. Name resolution may connect first (to nscd's Unix socket
    // where nscd runs), so the one to check is the shell's Internet connect.
    let conn = events
        .iter()
        .find(|e| {
            e.id.name() == "connect"
                && e.host_pid == child_pid
                && matches!(e.arg("addr"), Some(ArgValue::Sock(SockAddr::Inet { .. })))
        })
        .unwrap_or_else(|| panic!("no Internet connect in {events:#?}"));
    assert_eq!(
        conn.arg("addr"),
        Some(&ArgValue::Sock(SockAddr::Inet {
            addr: Ipv4Addr::LOCALHOST,
            port
        }))
    );
    assert_eq!(conn.ret, 0);

    // exit: the shell's code, for the whole process.
    let exit = events
        .iter()
        .find(|e| e.id == EventId::SCHED_PROCESS_EXIT && e.host_pid == child_pid)
        .unwrap();
    assert_eq!(exit.arg("exit_code"), Some(&ArgValue::Int(7)));

    // Context: wall-clock time, namespaces, uts name, namespace pids (the initial namespace here).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        now.abs_diff(open.ts) < 60_000_000_000,
        "ts {} vs now {now}",
        open.ts
    );
    assert_eq!(open.mntns, inode("/proc/self/ns/mnt"));
    assert_eq!(open.pidns, inode("/proc/self/ns/pid"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(open.uts, host.trim());
    assert_eq!((open.pid, open.tid), (open.host_pid, open.host_tid));
    // Nothing from the test process itself.
    assert!(events.iter().all(|e| e.host_pid != std::process::id()));
    drop(listener);
    assert_eq!(s.bad_records(), 0);
    s
}

#[test]
fn uid_and_pid_filters_keep_exactly_the_chosen_processes() {
    let Some(_g) = serial() else { return };
    // uid: only uid 4242.
    let mut s = start(
        KernelFilter {
            events: ids(&["openat", "sched_process_exit"]),
            uid_range: Some((4242, 4242)),
            ..KernelFilter::default()
        },
        0,
    );
    let nobody = Command::new("cat")
        .arg("/etc/hostname")
        .uid(4242)
        .gid(4242)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let nobody_pid = nobody.id();
    let root = Command::new("cat")
        .arg("/etc/hostname")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let root_pid = root.id();
    for mut c in [nobody, root] {
        c.wait().unwrap();
    }
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| e.id == EventId::SCHED_PROCESS_EXIT && e.host_pid == nobody_pid)
    });
    assert!(
        events
            .iter()
            .any(|e| e.host_pid == nobody_pid && str_arg(e, "pathname") == Some("/etc/hostname")),
        "no openat from the uid-4242 cat"
    );
    assert!(
        events.iter().all(|e| e.uid == 4242),
        "another uid got through"
    );
    assert!(events.iter().all(|e| e.host_pid != root_pid));
    drop(s);

    // pid: two identical waiting shells that open the file themselves and run a child that
    // opens it too; only the chosen shell passes, not its child (no follow) nor the other shell.
    let spawn_waiting = || {
        Command::new("sh")
            .arg("-c")
            .arg("read x; exec 3</etc/hostname; sh -c 'cat /etc/hostname'")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut chosen = spawn_waiting();
    let mut other = spawn_waiting();
    let chosen_pid = chosen.id();
    let other_pid = other.id();
    let mut s = start(
        KernelFilter {
            events: ids(&["openat", "sched_process_exec", "sched_process_exit"]),
            pids: [chosen_pid].into_iter().collect(),
            ..KernelFilter::default()
        },
        0,
    );
    for c in [&mut chosen, &mut other] {
        c.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    chosen.wait().unwrap();
    other.wait().unwrap();
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| e.id == EventId::SCHED_PROCESS_EXIT && e.host_pid == chosen_pid)
    });
    assert!(
        events
            .iter()
            .any(|e| e.host_pid == chosen_pid && str_arg(e, "pathname") == Some("/etc/hostname")),
        "no openat from the chosen pid in {events:#?}"
    );
    assert!(
        events.iter().all(|e| e.host_pid == chosen_pid),
        "other pids got through: {:?}",
        events.iter().map(|e| e.host_pid).collect::<BTreeSet<_>>()
    );
    assert!(events.iter().all(|e| e.host_pid != other_pid));
}

#[test]
fn follow_keeps_the_descendants_of_a_kept_process() {
    let Some(_g) = serial() else { return };
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg("read x; sh -c 'cat /etc/hostname'")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ppid = parent.id();
    let mut s = start(
        KernelFilter {
            events: ids(&["openat", "sched_process_fork", "sched_process_exit"]),
            pids: [ppid].into_iter().collect(),
            follow: true,
            ..KernelFilter::default()
        },
        0,
    );
    let mut unrelated = Command::new("cat")
        .arg("/etc/hostname")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let unrelated_pid = unrelated.id();
    parent.stdin.take().unwrap().write_all(b"go\n").unwrap();
    parent.wait().unwrap();
    unrelated.wait().unwrap();
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| e.id == EventId::SCHED_PROCESS_EXIT && e.host_pid == ppid)
    });
    // The grandchild (sh -> sh -> cat) opened the file.
    let grandchild_open = events
        .iter()
        .find(|e| str_arg(e, "pathname") == Some("/etc/hostname") && e.comm == "cat")
        .unwrap_or_else(|| panic!("no openat from a descendant in {events:#?}"));
    assert_ne!(grandchild_open.host_pid, ppid);
    // Every event is from the kept process or a process forked inside its tree.
    let mut tree: BTreeSet<u32> = [ppid].into_iter().collect();
    for e in &events {
        if e.id == EventId::SCHED_PROCESS_FORK {
            assert!(tree.contains(&e.host_pid), "fork outside the tree: {e:?}");
            if let Some(ArgValue::UInt(c)) = e.arg("child_pid") {
                tree.insert(*c as u32);
            }
        }
        assert!(tree.contains(&e.host_pid), "event outside the tree: {e:?}");
    }
    assert!(tree.contains(&grandchild_open.host_pid));
    assert!(events.iter().all(|e| e.host_pid != unrelated_pid));
}

#[test]
fn new_pids_skips_processes_started_before_the_sensor() {
    let Some(_g) = serial() else { return };
    let mut old = Command::new("sh")
        .arg("-c")
        .arg("read x; exec 3</etc/hostname")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let old_pid = old.id();
    let mut s = start(
        KernelFilter {
            events: ids(&["openat", "sched_process_exit"]),
            new_pids: true,
            ..KernelFilter::default()
        },
        0,
    );
    old.stdin.take().unwrap().write_all(b"go\n").unwrap();
    old.wait().unwrap();
    let new = Command::new("cat")
        .arg("/etc/hostname")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let new_pid = new.id();
    new.wait_with_output().unwrap();
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| e.id == EventId::SCHED_PROCESS_EXIT && e.host_pid == new_pid)
    });
    assert!(
        events
            .iter()
            .any(|e| e.host_pid == new_pid && str_arg(e, "pathname") == Some("/etc/hostname"))
    );
    assert!(
        events.iter().all(|e| e.host_pid != old_pid),
        "an event from a process older than the sensor"
    );
}

#[test]
fn a_flood_into_a_tiny_ring_counts_every_lost_event() {
    let Some(_g) = serial() else { return };
    let all: Vec<&str> = ["read", "write"].to_vec();
    let mut filter = self_only_follow(&all);
    filter.events = palisade_events::catalog::catalog()
        .iter()
        .filter(|d| d.id.is_syscall())
        .map(|d| d.id)
        .collect();
    let mut s = start(filter, 4096);
    const N: u64 = 100_000;
    // dd with bs=1 makes N reads and N writes; nobody reads the ring meanwhile.
    let st = Command::new("dd")
        .args([
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1",
            &format!("count={N}"),
        ])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut events = Vec::new();
    drain(&mut s, &mut events);
    let st: Stats = s.stats();
    let from_dd = events.len() as u64;
    assert!(st.lost > 0, "a 4 KiB ring cannot hold {N} events: {st:?}");
    assert!(from_dd > 0);
    // Every passing system call of the child is delivered or counted as lost: never silent.
    // (dd's own reads and writes plus its start-up calls; no more than a few thousand extra.)
    assert!(
        st.delivered + st.lost >= 2 * N && st.delivered + st.lost <= 2 * N + 5_000,
        "{st:?}"
    );
    assert_eq!(st.delivered, from_dd);
    // Exact: seen - filtered counts the kept calls (both from one snapshot of the counters); with
    // dd gone, none is in flight, so each was delivered or counted as lost.
    assert_eq!(st.delivered + st.lost, st.seen - st.filtered, "{st:?}");
    // Counted on every CPU before anything else: nothing more can have an outcome than was seen.
    assert!(st.seen >= st.filtered + st.delivered + st.lost, "{st:?}");
    assert_eq!(s.bad_records(), 0);
}

/// Runs `true` with `args` under a sensor following this process; returns the execve and
/// sched_process_exec events of that run and the sensor's truncation count.
fn exec_of_true(args: &[String]) -> (Event, Event, u64) {
    let mut s = start(self_only_follow(&["execve", "sched_process_exec"]), 0);
    let before = s.stats().truncated;
    let mut child = Command::new("/bin/true").args(args).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| e.id == EventId::SCHED_PROCESS_EXEC && e.host_pid == pid)
            && ev
                .iter()
                .any(|e| e.id.name() == "execve" && e.host_pid == pid)
    });
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e.id.name() == name && e.host_pid == pid)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} of pid {pid} in {events:#?}"))
    };
    let (execve, exec) = (find("execve"), find("sched_process_exec"));
    (execve, exec, s.stats().truncated - before)
}

fn argv_of(e: &Event) -> Vec<String> {
    match e.arg("argv") {
        Some(ArgValue::StrList(v)) => v.clone(),
        other => panic!("argv of {e:?}: {other:?}"),
    }
}

#[test]
fn cut_strings_are_counted_not_silent() {
    let Some(_g) = serial() else { return };

    // Short arguments: nothing cut.
    let args: Vec<String> = vec!["one".into(), "two".into()];
    let (execve, exec, cut) = exec_of_true(&args);
    assert_eq!(argv_of(&execve)[1..], args[..]);
    assert_eq!(argv_of(&exec)[1..], args[..]);
    assert_eq!(cut, 0, "nothing was cut");

    // 70 arguments: the system call's argv (read from the call's pointers) keeps 64 entries and
    // counts the event; the exec event reads the whole argument area and has all 71.
    let args: Vec<String> = (0..70).map(|i| format!("a{i}")).collect();
    let (execve, exec, cut) = exec_of_true(&args);
    let got = argv_of(&execve);
    assert_eq!(got.len(), 64, "{got:?}");
    assert_eq!(got[1..], args[..63]);
    assert_eq!(argv_of(&exec).len(), 71);
    assert_eq!(cut, 1, "the execve with 70 arguments");

    // One argument of 5000 bytes: cut at 4095 in the system call's argv, whole in the exec event.
    let long = "x".repeat(5000);
    let (execve, exec, cut) = exec_of_true(std::slice::from_ref(&long));
    let got = argv_of(&execve);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1], long[..4095]);
    assert_eq!(argv_of(&exec)[1], long);
    assert_eq!(cut, 1, "the execve with a 5000-byte argument");

    // Arguments beyond the exec event's 8 KiB area: both events cut, both counted.
    let args: Vec<String> = (0..4).map(|_| "y".repeat(3000)).collect();
    let (execve, exec, cut) = exec_of_true(&args);
    assert!(argv_of(&execve).len() < 5, "{:?}", argv_of(&execve).len());
    let whole: usize = argv_of(&exec).iter().map(|a| a.len() + 1).sum();
    assert!(
        whole < 12_000,
        "the exec event's argv is cut: {whole} bytes"
    );
    assert_eq!(cut, 2, "both events of the 12 KB command line");
}

/// Makes the child fail `mkdir` and `mkdirat` with EPERM through a seccomp filter, installed
/// between fork and exec (classic BPF: check the architecture, then the call number).
fn deny_mkdir(cmd: &mut Command) {
    const LD_ABS_W: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let prog = [
        ins(LD_ABS_W, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        ins(LD_ABS_W, 0, 0, 0), // seccomp_data.nr
        ins(JEQ_K, 2, 0, 83),   // mkdir
        ins(JEQ_K, 1, 0, 258),  // mkdirat
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
    ];
    // SAFETY: only async-signal-safe calls between fork and exec; the program outlives them
    // (the closure owns it).
    unsafe {
        cmd.pre_exec(move || {
            let fprog = libc::sock_fprog {
                len: prog.len() as u16,
                filter: prog.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn calls_a_seccomp_filter_refuses_are_seen_with_their_errno() {
    let Some(_g) = serial() else { return };
    // seccomp refuses a call before the entry tracepoint; the exit tracepoint still runs, and
    // on BTF tracepoints the sensor captures plain calls at exit.
    let mut s = start_on(
        self_only_follow(&["mkdir", "mkdirat"]),
        HookChoice::TpBtf,
        Hook::TpBtf,
    );
    let dir = std::env::temp_dir().join(format!("palisade-denied-{}", std::process::id()));
    let mut cmd = Command::new("mkdir");
    cmd.arg(&dir).stderr(Stdio::null());
    deny_mkdir(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    assert!(!child.wait().unwrap().success(), "mkdir must fail");
    assert!(!dir.exists());
    let want = dir.display().to_string();
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.host_pid == pid)
    });
    let refused = events
        .iter()
        .find(|e| e.host_pid == pid && str_arg(e, "pathname") == Some(want.as_str()))
        .unwrap_or_else(|| panic!("no mkdir of {want} in {events:#?}"));
    assert_eq!(refused.ret, -i64::from(libc::EPERM), "{refused:?}");
    assert_eq!(refused.comm, "mkdir");
}

#[test]
fn events_of_every_cpu_come_out_in_time_order() {
    let Some(_g) = serial() else { return };
    // One copying process pinned to each of the first CPUs (up to 4): each CPU writes its own
    // ring buffer, and the sensor must hand the events out merged, oldest first.
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let mut s = start(
        self_only_follow(&["read", "write", "sched_process_exit"]),
        0,
    );
    const N: u32 = 20_000;
    let children: Vec<_> = (0..cpus)
        .map(|cpu| {
            let mut cmd = Command::new("dd");
            cmd.args([
                "if=/dev/zero",
                "of=/dev/null",
                "bs=1",
                &format!("count={N}"),
            ])
            .stderr(Stdio::null());
            // SAFETY: sched_setaffinity on the child itself, between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(cpu, &mut set);
                    if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.spawn().unwrap()
        })
        .collect();
    let pids: BTreeSet<u32> = children.iter().map(|c| c.id()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let events = collect(&mut s, Duration::from_secs(20), |ev| {
        ev.iter()
            .filter(|e| e.id == EventId::SCHED_PROCESS_EXIT && pids.contains(&e.host_pid))
            .count()
            == pids.len()
    });
    let ours: Vec<&Event> = events
        .iter()
        .filter(|e| pids.contains(&e.host_pid))
        .collect();
    // Every copy's reads and writes are there, on the CPU it was pinned to.
    for &pid in &pids {
        let n = ours
            .iter()
            .filter(|e| e.host_pid == pid && e.id != EventId::SCHED_PROCESS_EXIT)
            .count() as u32;
        assert!(n >= 2 * N, "pid {pid}: {n} reads and writes");
    }
    let used: BTreeSet<u16> = ours.iter().map(|e| e.cpu).collect();
    assert_eq!(used.len(), cpus, "CPUs seen: {used:?}");
    // In time order across CPUs, and each exit after that process's last call.
    for w in events.windows(2) {
        assert!(
            w[0].ts <= w[1].ts,
            "out of order: {} on CPU {} ({}) before {} on CPU {} ({})",
            w[0].ts,
            w[0].cpu,
            w[0].id.name(),
            w[1].ts,
            w[1].cpu,
            w[1].id.name()
        );
    }
    assert_eq!(s.stats().lost, 0);
}

#[test]
fn relative_paths_against_the_same_directory_reuse_its_base() {
    let Some(_g) = serial() else { return };
    let dir = std::env::temp_dir().join(format!("palisade-bases-{}", std::process::id()));
    for d in ["d1", "d2", "d2/sub"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    for f in ["d1/a", "d1/b", "d2/c", "d2/sub/e"] {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    let mut s = start(self_only_follow(&["openat"]), 0);
    // One shell: two opens in d1 (the second against the base already sent), then a cd, an
    // open in d2, an open through a directory fd (dirfd-relative, by a child), and d1 again.
    let script = format!(
        "cd {d}/d1 && exec 3<./a 4<b && cd ../d2 && exec 5<c && cat sub/e >/dev/null && \
         exec 6<../d1/a 7<./c",
        d = dir.display()
    );
    let mut child = Command::new("bash").arg("-c").arg(&script).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let d = dir.display().to_string();
    let want: Vec<String> = ["d1/a", "d1/b", "d2/c", "d2/sub/e", "d1/a", "d2/c"]
        .iter()
        .map(|f| format!("{d}/{f}"))
        .collect();
    let events = collect(&mut s, Duration::from_secs(10), |ev| {
        let got: Vec<&str> = ev
            .iter()
            .filter_map(|e| str_arg(e, "pathname"))
            .filter(|p| p.starts_with(&d))
            .collect();
        got.len() >= want.len()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let got: Vec<String> = events
        .iter()
        .filter(|e| e.host_pid == pid || e.host_ppid == pid)
        .filter_map(|e| str_arg(e, "pathname"))
        .filter(|p| p.starts_with(&d))
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);
}

/// The opens of one shell (and its children) under `dir`, in order, once `want` of them came.
fn opens_under(s: &mut Sensor, dir: &str, pid: u32, want: usize) -> Vec<String> {
    let events = collect(s, Duration::from_secs(10), |ev| {
        ev.iter()
            .filter_map(|e| str_arg(e, "pathname"))
            .filter(|p| p.starts_with(dir))
            .count()
            >= want
    });
    events
        .iter()
        .filter(|e| e.host_pid == pid || e.host_ppid == pid)
        .filter_map(|e| str_arg(e, "pathname"))
        .filter(|p| p.starts_with(dir))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_directory_renamed_after_its_path_was_sent_is_walked_again() {
    let Some(_g) = serial() else { return };
    let dir = std::env::temp_dir().join(format!("palisade-renamed-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("old/sub")).unwrap();
    for f in ["old/sub/f", "old/sub/g", "old/h"] {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    let mut s = start(self_only_follow(&["openat"]), 0);
    // The shell's cwd is sent once (its slot), then another process renames a directory above
    // it: the next opens are under the new name, the cwd's own and one through its parent.
    let script = format!(
        "cd {d}/old/sub && exec 3<f && mv {d}/old {d}/new && exec 4<g 5<../h",
        d = dir.display()
    );
    let mut child = Command::new("bash").arg("-c").arg(&script).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let d = dir.display().to_string();
    let got = opens_under(&mut s, &d, pid, 3);
    let _ = std::fs::remove_dir_all(&dir);
    let want: Vec<String> = ["old/sub/f", "new/sub/g", "new/h"]
        .iter()
        .map(|f| format!("{d}/{f}"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn paths_deeper_than_one_walk_resolve_through_the_threads_slots() {
    let Some(_g) = serial() else { return };
    let dir = std::env::temp_dir().join(format!("palisade-deep-{}", std::process::id()));
    // 24 levels below the temporary directory: more components than one walk takes (16).
    let levels: Vec<String> = (0..24).map(|i| format!("l{i}")).collect();
    let deep = levels.iter().fold(dir.clone(), |p, l| p.join(l));
    std::fs::create_dir_all(&deep).unwrap();
    let mut p = dir.clone();
    for l in &levels {
        p = p.join(l);
        std::fs::write(p.join("f"), "x").unwrap();
    }
    let mut s = start(self_only_follow(&["openat"]), 0);
    // One level at a time, by the shell itself (slots are per thread): each open is relative to
    // the cwd, whose parent the last open sent.
    let mut script = format!("cd {}", dir.display());
    for l in &levels {
        script.push_str(&format!(" && cd {l} && exec 3<f"));
    }
    let mut child = Command::new("bash").arg("-c").arg(&script).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let d = dir.display().to_string();
    let got = opens_under(&mut s, &d, pid, levels.len());
    let _ = std::fs::remove_dir_all(&dir);
    let mut want = Vec::new();
    let mut p = dir.clone();
    for l in &levels {
        p = p.join(l);
        want.push(p.join("f").display().to_string());
    }
    assert_eq!(got, want);
}

#[test]
fn without_privileges_the_error_says_what_is_missing() {
    if std::env::var("PALISADE_SENSOR_PERMISSION_CHILD").is_ok() {
        // Re-executed as an unprivileged user below.
        match Sensor::start(SensorConfig::default()) {
            Err(SensorError::Permission(m)) => {
                assert!(m.contains("CAP_BPF"), "{m}");
                return;
            }
            Err(e) => panic!("expected a permission error, got: {e}"),
            Ok(_) => panic!("the sensor started without privileges"),
        }
    }
    if !runnable() {
        return;
    }
    // A copy the unprivileged user can execute wherever the build directory lives.
    let exe = std::env::temp_dir().join(format!("palisade-sensor-perm-{}", std::process::id()));
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new(&exe)
        .current_dir(std::env::temp_dir())
        .args([
            "--exact",
            "without_privileges_the_error_says_what_is_missing",
            "--nocapture",
        ])
        .env("PALISADE_SENSOR_PERMISSION_CHILD", "1")
        .uid(65534)
        .gid(65534)
        .output();
    let _ = std::fs::remove_file(&exe);
    let out = out.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// The actions of `decodes_many_calls_against_known_actions`, run in a child process (the
/// sensor never reports its own process). `dir` is the child's cwd.
fn known_actions(dir: &std::path::Path, port: u16) {
    use std::ffi::CString;
    let c = |s: &str| CString::new(s).unwrap();
    std::env::set_current_dir(dir).unwrap();
    // SAFETY: plain system calls on valid C strings and buffers owned by this function.
    unsafe {
        assert_eq!(libc::mkdir(c("d1").as_ptr(), 0o755), 0);
        assert_eq!(libc::rename(c("d1").as_ptr(), c("d2").as_ptr()), 0);
        let dfd = libc::open(c("d2").as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(dfd >= 0);
        let f = libc::openat(dfd, c("f").as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o640);
        assert!(f >= 0);
        assert_eq!(libc::dup2(f, 100), 100);
        assert_eq!(libc::unlinkat(dfd, c("f").as_ptr(), 0), 0);
        assert_eq!(libc::symlink(c("target-x").as_ptr(), c("ln").as_ptr()), 0);
        assert_eq!(libc::chmod(c("d2").as_ptr(), 0o700), 0);
        // openat2 with an open_how structure.
        #[repr(C)]
        struct OpenHow {
            flags: u64,
            mode: u64,
            resolve: u64,
        }
        let how = OpenHow {
            flags: (libc::O_RDONLY | libc::O_DIRECTORY) as u64,
            mode: 0,
            resolve: 0x04, // RESOLVE_NO_SYMLINKS
        };
        let r = libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c("d2").as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        );
        assert!(r >= 0, "openat2");
        // A unix socket bound to a path, a UDP datagram with a destination.
        let us = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        let mut sun: libc::sockaddr_un = std::mem::zeroed();
        sun.sun_family = libc::AF_UNIX as u16;
        for (i, b) in b"s.sock".iter().enumerate() {
            sun.sun_path[i] = *b as libc::c_char;
        }
        let len = (std::mem::size_of::<u16>() + 7) as u32;
        assert_eq!(
            libc::bind(us, &sun as *const _ as *const libc::sockaddr, len),
            0
        );
        let udp = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as u16;
        sin.sin_port = port.to_be();
        sin.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let msg = b"hi";
        let sent = libc::sendto(
            udp,
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
            &sin as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        assert_eq!(sent, 2);
        let m = libc::memfd_create(c("palisade-memfd").as_ptr(), libc::MFD_CLOEXEC);
        assert!(m >= 0);
        assert_eq!(libc::kill(libc::getpid(), 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_NAME, c("renamed").as_ptr(), 0, 0, 0),
            0
        );
    }
    // accept: a connection from a thread of this process.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || std::net::TcpStream::connect(("127.0.0.1", lport)));
    let (_s, peer) = l.accept().unwrap();
    t.join().unwrap().unwrap();
    println!("accepted {peer}");
    // A new uts namespace and host name (sethostname is not a reported event): the next
    // event carries the new name.
    // SAFETY: plain system calls on valid buffers.
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWUTS), 0);
        let name = b"palisade-uts";
        assert_eq!(
            libc::sethostname(name.as_ptr() as *const libc::c_char, name.len()),
            0
        );
    }
    std::fs::write(dir.join("after-uts"), "x").unwrap();
}

#[test]
fn decodes_many_calls_against_known_actions() {
    many_calls(
        "decodes_many_calls_against_known_actions",
        HookChoice::TpBtf,
        Hook::TpBtf,
    );
}

#[test]
fn decodes_many_calls_on_classic_tracepoints() {
    many_calls(
        "decodes_many_calls_on_classic_tracepoints",
        HookChoice::Tracepoint,
        Hook::Tracepoint,
    );
}

/// Runs `known_actions` in a child (this test binary, re-run as `test`) and checks every
/// decoded call, with the sensor on the given hook.
fn many_calls(test: &str, choice: HookChoice, want: Hook) {
    if let Ok(dir) = std::env::var("PALISADE_SENSOR_ACTIONS_DIR") {
        let port = std::env::var("PALISADE_SENSOR_ACTIONS_PORT")
            .unwrap()
            .parse()
            .unwrap();
        known_actions(std::path::Path::new(&dir), port);
        return;
    }
    let Some(_g) = serial() else { return };
    let dir = std::env::temp_dir().join(format!("palisade-sensor-actions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let decoded: Vec<&str> = palisade_events::catalog::DECODED
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut s = start_on(self_only_follow(&decoded), choice, want);
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("PALISADE_SENSOR_ACTIONS_DIR", &dir)
        .env("PALISADE_SENSOR_ACTIONS_PORT", port.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut events = Vec::new();
    drain(&mut s, &mut events);
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display().to_string();
    let find = |names: &[&str], check: &dyn Fn(&Event) -> bool| -> Event {
        events
            .iter()
            .find(|e| names.contains(&e.id.name().as_ref()) && check(e))
            .cloned()
            .unwrap_or_else(|| {
                let seen: Vec<String> = events
                    .iter()
                    .filter(|e| names.contains(&e.id.name().as_ref()))
                    .map(|e| format!("{} {:?} ret={}", e.id, e.args, e.ret))
                    .collect();
                panic!("no {names:?} as expected; those seen: {seen:#?}")
            })
    };
    let path_is =
        |name: &'static str, want: String| move |e: &Event| str_arg(e, name) == Some(want.as_str());
    find(
        &["mkdir", "mkdirat"],
        &path_is("pathname", format!("{d}/d1")),
    );
    let ren = find(
        &["rename", "renameat", "renameat2"],
        &path_is("oldpath", format!("{d}/d1")),
    );
    assert_eq!(str_arg(&ren, "newpath"), Some(format!("{d}/d2").as_str()));
    // A path relative to a directory fd, resolved in the kernel.
    let open = find(&["openat"], &path_is("pathname", format!("{d}/d2/f")));
    assert_eq!(
        open.arg("flags"),
        Some(&ArgValue::Int(i64::from(libc::O_CREAT | libc::O_WRONLY)))
    );
    assert_eq!(open.arg("mode"), Some(&ArgValue::Int(0o640)));
    find(&["unlinkat"], &path_is("pathname", format!("{d}/d2/f")));
    let dup = find(&["dup2", "dup3"], &|e| e.ret == 100);
    assert_eq!(dup.arg("newfd"), Some(&ArgValue::Int(100)));
    let sym = find(
        &["symlink", "symlinkat"],
        &path_is("linkpath", format!("{d}/ln")),
    );
    assert_eq!(str_arg(&sym, "target"), Some("target-x"));
    let chmod = find(
        &["chmod", "fchmodat"],
        &path_is("pathname", format!("{d}/d2")),
    );
    assert_eq!(chmod.arg("mode"), Some(&ArgValue::Int(0o700)));
    let o2 = find(&["openat2"], &path_is("pathname", format!("{d}/d2")));
    assert_eq!(o2.arg("resolve"), Some(&ArgValue::UInt(4)));
    assert_eq!(
        o2.arg("flags"),
        Some(&ArgValue::Int(i64::from(
            libc::O_RDONLY | libc::O_DIRECTORY
        )))
    );
    find(&["bind"], &|e| {
        e.arg("addr")
            == Some(&ArgValue::Sock(SockAddr::Unix {
                path: "s.sock".into(),
            }))
    });
    find(&["socket"], &|e| {
        e.arg("domain") == Some(&ArgValue::Int(i64::from(libc::AF_UNIX)))
    });
    find(&["sendto"], &|e| {
        e.arg("dest_addr")
            == Some(&ArgValue::Sock(SockAddr::Inet {
                addr: Ipv4Addr::LOCALHOST,
                port,
            }))
            && e.arg("len") == Some(&ArgValue::UInt(2))
    });
    find(&["memfd_create"], &|e| {
        str_arg(e, "name") == Some("palisade-memfd")
    });
    find(&["kill"], &|e| {
        e.arg("sig") == Some(&ArgValue::Int(0)) && e.ret == 0
    });
    find(&["prctl"], &|e| e.arg("option") == Some(&ArgValue::Int(15)));
    let accepted = find(&["accept", "accept4"], &|e| e.ret >= 0);
    match accepted.arg("addr") {
        Some(ArgValue::Sock(SockAddr::Inet { addr, .. })) => assert_eq!(*addr, Ipv4Addr::LOCALHOST),
        other => panic!("accept address: {other:?} in {accepted:?}"),
    }
    let after = find(&["openat"], &path_is("pathname", format!("{d}/after-uts")));
    assert_eq!(after.uts, "palisade-uts");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(ren.uts, host.trim(), "before the unshare");
    // After PR_SET_NAME the thread's events carry the new comm.
    assert!(events.iter().any(|e| e.comm == "renamed"));
    drop(udp);
    assert_eq!(s.bad_records(), 0);
}

/// The cgroup v2 mount point.
fn cgroup2_root() -> Option<std::path::PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        (post.split_whitespace().next()? == "cgroup2")
            .then(|| pre.split_whitespace().nth(4).map(std::path::PathBuf::from))?
    })
}

/// A waiting shell moved into a cgroup named like a container (`<root>/palisade-sensor-<pid>/<64 hex>`).
struct FakeContainer {
    dir: std::path::PathBuf,
    id: String,
    child: std::process::Child,
}

impl FakeContainer {
    fn new(tag: &str) -> FakeContainer {
        let root = cgroup2_root().expect("a cgroup v2 hierarchy");
        let id = format!("{:0>64}", format!("{tag}{}", std::process::id()))
            .chars()
            .map(|c| if c.is_ascii_hexdigit() { c } else { 'a' })
            .collect::<String>();
        let dir = root
            .join(format!("palisade-sensor-{}", std::process::id()))
            .join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg("read x; exec 3</etc/hostname")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
        FakeContainer { dir, id, child }
    }

    fn run(&mut self) -> u32 {
        self.child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        self.child.wait().unwrap();
        self.child.id()
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(p) = self.dir.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
}

#[test]
fn container_filters_use_the_cgroup_of_each_event() {
    let Some(_g) = serial() else { return };
    let events_of = |filter: KernelFilter, old: Option<&mut FakeContainer>| {
        // `old` exists before the sensor starts; a new one is made after.
        let mut s = start(filter, 0);
        let mut new = FakeContainer::new("bb");
        let host = Command::new("cat")
            .arg("/etc/hostname")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(host.success());
        let mut pids = vec![(new.run(), new.id.clone())];
        if let Some(o) = old {
            pids.push((o.run(), o.id.clone()));
        }
        let last = pids[0].0;
        let mut ev = collect(&mut s, Duration::from_secs(5), |ev| {
            ev.iter()
                .any(|e| e.host_pid == last && e.id.name() == "openat")
        });
        drain(&mut s, &mut ev);
        (ev, pids)
    };
    let opens = |ev: &[Event], pid: u32| {
        ev.iter()
            .filter(|e| e.host_pid == pid && str_arg(e, "pathname") == Some("/etc/hostname"))
            .count()
    };
    let ev_filter = |container: Option<bool>, new_containers: bool| KernelFilter {
        events: ids(&["openat"]),
        container,
        new_containers,
        ..KernelFilter::default()
    };

    // Containers only: both fake containers, with their ids; no host process.
    let mut old = FakeContainer::new("aa");
    let (ev, pids) = events_of(ev_filter(Some(true), false), Some(&mut old));
    for (pid, id) in &pids {
        assert_eq!(opens(&ev, *pid), 1, "container pid {pid}");
        assert!(
            ev.iter()
                .filter(|e| e.host_pid == *pid)
                .all(|e| &e.container_id == id)
        );
    }
    assert!(!ev.is_empty() && ev.iter().all(|e| !e.container_id.is_empty()));
    drop(old);

    // Host only: no event from either container.
    let mut old = FakeContainer::new("aa");
    let (ev, pids) = events_of(ev_filter(Some(false), false), Some(&mut old));
    assert!(ev.iter().all(|e| e.container_id.is_empty()));
    for (pid, _) in &pids {
        assert_eq!(opens(&ev, *pid), 0);
    }
    assert!(
        ev.iter()
            .any(|e| str_arg(e, "pathname") == Some("/etc/hostname"))
    );
    drop(old);

    // New containers only: the one made after the start, not the one from before.
    let mut old = FakeContainer::new("aa");
    let (ev, pids) = events_of(ev_filter(Some(true), true), Some(&mut old));
    assert_eq!(opens(&ev, pids[0].0), 1, "new container");
    assert_eq!(opens(&ev, pids[1].0), 0, "old container");
    assert!(ev.iter().all(|e| e.container_id == pids[0].1));
}

#[test]
fn a_container_gone_before_its_events_are_read_keeps_its_id() {
    let Some(_g) = serial() else { return };
    let mut s = start(
        KernelFilter {
            events: ids(&["openat"]),
            container: Some(true),
            new_containers: true,
            ..KernelFilter::default()
        },
        0,
    );
    // The container starts, opens, exits and its cgroup is removed before the sensor reads a
    // single record: user space can no longer find the cgroup by walking the hierarchy.
    let mut c = FakeContainer::new("cc");
    let (pid, id, dir) = (c.run(), c.id.clone(), c.dir.clone());
    drop(c);
    assert!(!dir.exists());
    let ev = events_until_pid(&mut s, pid);
    let mine: Vec<&Event> = ev.iter().filter(|e| e.host_pid == pid).collect();
    assert!(
        mine.iter()
            .any(|e| str_arg(e, "pathname") == Some("/etc/hostname")),
        "the open of a removed container's process was dropped: {mine:?}"
    );
    assert!(mine.iter().all(|e| e.container_id == id));
    assert!(ev.iter().all(|e| !e.container_id.is_empty()));
}

#[test]
fn namespace_pids_inside_a_new_pid_namespace() {
    let Some(_g) = serial() else { return };
    let mut s = start(self_only_follow(&["openat", "sched_process_exec"]), 0);
    // sh is pid 1 of a new pid namespace; it opens a file itself, then runs cat (its pid 2).
    let st = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "sh",
            "-c",
            "exec 3</etc/hostname; cat /etc/hostname",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut events = Vec::new();
    drain(&mut s, &mut events);
    let sh = events
        .iter()
        .find(|e| e.comm == "sh" && str_arg(e, "pathname") == Some("/etc/hostname"))
        .unwrap_or_else(|| panic!("no openat from sh in {events:#?}"));
    assert_eq!((sh.pid, sh.tid), (1, 1), "{sh:?}");
    assert_ne!(sh.host_pid, 1);
    assert_eq!(sh.ppid, 0, "the parent is outside the namespace");
    assert_ne!(sh.pidns, inode("/proc/self/ns/pid"));
    let cat = events
        .iter()
        .find(|e| e.comm == "cat" && str_arg(e, "pathname") == Some("/etc/hostname"))
        .unwrap_or_else(|| panic!("no openat from cat in {events:#?}"));
    assert_eq!(cat.ppid, 1, "{cat:?}");
    assert_eq!(cat.host_ppid, sh.host_pid);
    assert!(cat.pid > 1 && cat.pid != cat.host_pid, "{cat:?}");
    assert_eq!(cat.pidns, sh.pidns);
}

#[test]
fn namespace_filters_drop_the_host_namespaces() {
    let Some(_g) = serial() else { return };
    let (mnt, pid) = (inode("/proc/self/ns/mnt"), inode("/proc/self/ns/pid"));
    let mut s = start(
        KernelFilter {
            events: ids(&["openat"]),
            not_mntns: [mnt].into_iter().collect(),
            not_pidns: [pid].into_iter().collect(),
            ..KernelFilter::default()
        },
        0,
    );
    let host = Command::new("cat")
        .arg("/etc/hostname")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(host.success());
    let st = Command::new("unshare")
        .args([
            "--mount",
            "--pid",
            "--fork",
            "sh",
            "-c",
            "exec 3</etc/hostname",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let mut events = Vec::new();
    drain(&mut s, &mut events);
    let inner = events
        .iter()
        .find(|e| e.comm == "sh" && str_arg(e, "pathname") == Some("/etc/hostname"))
        .unwrap_or_else(|| panic!("no openat from the unshared sh in {events:#?}"));
    assert_eq!(inner.pid, 1);
    assert!(
        events.iter().all(|e| e.mntns != mnt && e.pidns != pid),
        "an event from the host namespaces got through"
    );
}

#[test]
fn paths_deeper_than_the_kernel_walk_are_resolved_in_user_space() {
    let Some(_g) = serial() else { return };
    // 24 components below /tmp: more than the kernel's 16-component walk.
    let mut deep = std::env::temp_dir().join(format!("palisade-deep-{}", std::process::id()));
    let top = deep.clone();
    for i in 0..23 {
        deep = deep.join(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("f"), "x").unwrap();
    let mut s = start(self_only_follow(&["openat"]), 0);
    // The shell stays a moment so that /proc/<pid>/cwd is there when the event is decoded.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("cd {} && exec 3<./f && sleep 1", deep.display()))
        .spawn()
        .unwrap();
    let want = deep.join("f").display().to_string();
    let events = collect(&mut s, Duration::from_secs(5), |ev| {
        ev.iter()
            .any(|e| str_arg(e, "pathname") == Some(want.as_str()))
    });
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&top);
    assert!(
        events
            .iter()
            .any(|e| str_arg(e, "pathname") == Some(want.as_str())),
        "no openat of {want} in {:?}",
        events.iter().map(|e| e.arg("pathname")).collect::<Vec<_>>()
    );
}

/// The mount point of the cgroup v1 memory controller, if this host has one.
fn cgroup_v1_memory() -> Option<std::path::PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut f = post.split_whitespace();
        let (fs, opts) = (f.next()?, f.nth(1)?);
        (fs == "cgroup" && opts.split(',').any(|o| o == "memory"))
            .then(|| pre.split_whitespace().nth(4).map(std::path::PathBuf::from))?
    })
}

/// The cgroup v1 tests' host: a v1 memory hierarchy (hybrid or v1 host) and this process in the
/// v2 root, where the kernel's v2 cgroup says nothing. `None` (the test skips) otherwise; with
/// `required`, a host without the hierarchy fails the test under `CI=true`.
fn v1_host(required: bool) -> Option<std::path::PathBuf> {
    if !runnable() {
        return None;
    }
    let Some(v1) = cgroup_v1_memory() else {
        if required && ci() {
            panic!("CI=true: this host has no cgroup v1 memory hierarchy");
        }
        eprintln!("skipped: no cgroup v1 memory hierarchy on this host");
        return None;
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    if own.lines().find_map(|l| l.strip_prefix("0::")) != Some("/") {
        eprintln!("skipped: this process is not in the cgroup v2 root");
        return None;
    }
    Some(v1)
}

/// A sensor for `openat` in new containers only, as the cgroup v1 container tests want it.
fn new_container_opens() -> Sensor {
    start(
        KernelFilter {
            events: ids(&["openat"]),
            container: Some(true),
            new_containers: true,
            ..KernelFilter::default()
        },
        0,
    )
}

/// Makes `<v1>/<prefix>-<pid>/docker/<id>`, a Docker-style container cgroup in the v1 memory
/// hierarchy only; returns the id, the top directory (to remove) and the container's directory.
fn v1_docker_cgroup(
    v1: &std::path::Path,
    prefix: &str,
    tag: u64,
) -> (String, std::path::PathBuf, std::path::PathBuf) {
    let id = format!("{:0>64x}", u64::from(std::process::id()) << 8 | tag);
    let parent = v1.join(format!("{prefix}-{}", std::process::id()));
    let dir = parent.join("docker").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    (id, parent, dir)
}

/// Removes what [`v1_docker_cgroup`] made; the result is the container cgroup's removal.
fn remove_v1_docker_cgroup(parent: &std::path::Path, dir: &std::path::Path) -> std::io::Result<()> {
    let r = std::fs::remove_dir(dir);
    let _ = std::fs::remove_dir(parent.join("docker"));
    let _ = std::fs::remove_dir(parent);
    r
}

/// The events read until one of process `pid` is among them (10 s at most), and all those
/// ready after it.
fn events_until_pid(s: &mut Sensor, pid: u32) -> Vec<Event> {
    let mut ev = collect(s, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.host_pid == pid)
    });
    drain(s, &mut ev);
    ev
}

#[test]
fn a_container_in_a_cgroup_v1_controller_only_is_recognised() {
    // Needs a v1 memory hierarchy and this process in the v2 root (see `v1_host`).
    let Some(v1) = v1_host(false) else {
        return;
    };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = new_container_opens();
    // A "container" that exists only in the v1 memory controller (as with Docker's cgroupfs
    // driver on a v1 host): its processes stay in the v2 root. The process stays alive until its
    // events are read (the next test covers one that is gone by then).
    let (id, parent, dir) = v1_docker_cgroup(&v1, "palisade-v1", 0x1f);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read x; exec 3</etc/hostname; read y")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    let in_v2 = std::fs::read_to_string(format!("/proc/{}/cgroup", child.id())).unwrap();
    assert!(in_v2.lines().any(|l| l == "0::/"), "{in_v2}");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    let pid = child.id();
    // A host process opening the same file: not a container, dropped.
    let host = Command::new("cat").arg("/etc/hostname").output().unwrap();
    assert!(host.status.success());
    let ev = events_until_pid(&mut s, pid);
    stdin.write_all(b"done\n").unwrap();
    child.wait().unwrap();
    let _ = remove_v1_docker_cgroup(&parent, &dir);
    let open = ev
        .iter()
        .find(|e| e.host_pid == pid && str_arg(e, "pathname") == Some("/etc/hostname"))
        .unwrap_or_else(|| panic!("no openat from the v1 container in {ev:#?}"));
    assert_eq!(open.container_id, id);
    assert!(ev.iter().all(|e| !e.container_id.is_empty()), "{ev:#?}");
    assert!(
        ev.iter().all(|e| e.comm != "cat"),
        "a host process got through"
    );
}

#[test]
fn a_short_lived_process_of_a_cgroup_v1_container_keeps_its_id() {
    // As above (a v1 memory hierarchy, this process in the v2 root), but the process is moved
    // into the container after its context went out, and it exits and its cgroup is removed
    // before a single event is decoded: neither /proc nor a walk of the hierarchy can say where
    // it was. The kernel's task context (sent again after the move) and cgroup records must.
    let Some(v1) = v1_host(true) else {
        return;
    };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = new_container_opens();
    let (id, parent, dir) = v1_docker_cgroup(&v1, "palisade-v1s", 0x2e);
    // The shell opens a file on the host first (its context goes out, naming the host cgroup),
    // waits to be moved, then opens another file inside the container and exits.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("exec 4</etc/passwd; read x; exec 3</etc/hostname")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the host open has happened (the shell blocks in read after it).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_link(format!("/proc/{pid}/fd/4")).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the shell never opened fd 4"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    remove_v1_docker_cgroup(&parent, &dir).unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    let ev = events_until_pid(&mut s, pid);
    let mine: Vec<&Event> = ev.iter().filter(|e| e.host_pid == pid).collect();
    assert!(
        mine.iter()
            .any(|e| str_arg(e, "pathname") == Some("/etc/hostname")),
        "the open inside the container was dropped: {mine:#?}"
    );
    assert!(mine.iter().all(|e| e.container_id == id), "{mine:#?}");
    assert!(
        !mine
            .iter()
            .any(|e| str_arg(e, "pathname") == Some("/etc/passwd")),
        "the open made on the host before the move got through: {mine:#?}"
    );
    assert!(ev.iter().all(|e| !e.container_id.is_empty()), "{ev:#?}");
}

#[test]
fn on_a_cgroup_v1_host_the_kernel_drops_host_events_for_a_container_filter() {
    // On a v1 host (or a hybrid one with this process in the v2 root), the v2 cgroup of a host
    // process says nothing; its cgroup in the reported v1 hierarchy, classified at start, lets
    // the kernel drop its events instead of sending each to user space to be dropped there.
    if v1_host(true).is_none() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = start(
        KernelFilter {
            events: ids(&["openat"]),
            container: Some(true),
            ..KernelFilter::default()
        },
        0,
    );
    let before = s.stats();
    let st = Command::new("sh")
        .arg("-c")
        .arg("i=0; while [ $i -lt 300 ]; do exec 3</etc/hostname; i=$((i+1)); done")
        .status()
        .unwrap();
    assert!(st.success());
    let mut ev = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < deadline {
        drain(&mut s, &mut ev);
    }
    let after = s.stats();
    assert!(
        ev.iter().all(|e| !e.container_id.is_empty()),
        "a host event got through: {ev:#?}"
    );
    let kernel = (after.filtered - after.user_filtered) - (before.filtered - before.user_filtered);
    let user = after.user_filtered - before.user_filtered;
    assert!(
        kernel >= 300,
        "the kernel dropped {kernel} events, user space {user}"
    );
    assert!(
        user < 100,
        "user space dropped {user} host events the kernel could have (kernel: {kernel})"
    );
}
