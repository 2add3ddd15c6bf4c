//! The sensor's overhead, side by side (run by `scripts/bench-sensor`, needs root):
//! (a) ns added per system call over 5 M `getppid` calls: bare, an empty program on the same hook
//! (the floor), the sensor with a filter that matches nothing, the sensor capturing every call;
//! (b) events/s delivered when everything is captured, and the loss: with one load process and
//! with `BENCH_LOADERS` (default 2) side by side, BPF run-time statistics off (they add a clock
//! read to every program run);
//! (c) `find /usr` and a small C compile, bare / floor / sensor (default event set, whole system);
//! (a) and (c) also run the sensor with one program on `sys_enter` for every call (`tp_btf_raw`)
//! and the empty programs on exactly the hooks the sensor uses (`sys_exit` and its per-call
//! entries), the floor of its own hooks;
//! (d) the same under `strace -f -o /dev/null`, for scale.
//!
//! `bench-sensor load N` is the load process: N `getppid` calls, prints the ns they took.
//! `bench-sensor quick [calls] [loaders] [reps]` runs only the capture-all throughput (see `quick`).
//! `bench-sensor hold floor|own-floor|sensor|sensor-raw SECONDS` keeps one configuration of (c)
//! attached, for profiling a workload under it.
//! Environment: `BENCH_REPS` (default 5), `BENCH_CALLS` (default 5000000), `BENCH_FIND` (default
//! /usr), `BENCH_PARTS` (default `abcd`: which parts to run; (d) goes with the others),
//! `BENCH_RING_MB` (ring buffer of the capture-all runs, default 16, the sensor's default),
//! `BENCH_OWNED=1` (consume with `Sensor::poll`, a new `Event` each, instead of `poll_ref`).

use palisade_events::EventId;
use palisade_sensor::{FloorProbe, HookChoice, KernelFilter, ProgramStats, Sensor, SensorConfig};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn load(n: u64) {
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: getppid takes no arguments and cannot fail.
        unsafe {
            libc::syscall(libc::SYS_getppid);
        }
    }
    println!("{}", t.elapsed().as_nanos());
}

/// CPU time (user + system) this process has used, in ns.
fn self_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid and writable.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One `Sensor::poll_ref` (events decoded into a reused buffer, as `palisade trace` and
/// `detect` can consume them), or `Sensor::poll` (a new `Event` each) with `BENCH_OWNED=1`.
fn poll(s: &mut Sensor, timeout: Duration) -> usize {
    let owned = std::env::var("BENCH_OWNED").is_ok_and(|v| v == "1");
    if owned {
        s.poll(timeout, &mut |ev| drop(std::hint::black_box(ev)))
    } else {
        s.poll_ref(timeout, &mut |ev| {
            std::hint::black_box(ev);
        })
    }
    .expect("poll")
}

/// Runs a command to completion while draining the sensor (if any); returns the wall time, the
/// command's stdout and the events delivered meanwhile.
/// Drains the sensor until every child has exited and the ring is quiet; returns the events
/// delivered and the time since `t` at which the last of them was read. Whether the children
/// are done is asked at most every 5 ms (or when the ring was quiet): a wait4 after every drain
/// would bill the harness's own syscalls to the consumer. Exited children are reaped but kept.
fn drain_until_exit(
    s: &mut Sensor,
    children: &mut [std::process::Child],
    t: Instant,
) -> (u64, Duration) {
    let mut delivered = 0u64;
    let mut done = vec![false; children.len()];
    let mut checked = Instant::now();
    loop {
        let k = poll(s, Duration::from_millis(5));
        delivered += k as u64;
        if k == 0 || checked.elapsed() >= Duration::from_millis(5) {
            for (c, d) in children.iter_mut().zip(done.iter_mut()) {
                if !*d {
                    *d = c.try_wait().expect("wait").is_some();
                }
            }
            if done.iter().all(|d| *d) {
                break;
            }
            checked = Instant::now();
        }
    }
    // What is left in the ring.
    let mut last = t.elapsed();
    loop {
        let k = poll(s, Duration::from_millis(30));
        if k == 0 {
            break;
        }
        delivered += k as u64;
        last = t.elapsed();
    }
    (delivered, last)
}

/// Wall and CPU time of one run.
#[derive(Clone, Copy)]
struct Times {
    /// Spawn to exit, seconds.
    wall: f64,
    /// User + system time of the command and its waited-for descendants, seconds.
    cpu: f64,
}

/// Waits for the child with wait4: its CPU time (user + system, its descendants included).
fn wait_cpu(child: &std::process::Child) -> f64 {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `ru` are valid and writable; the pid is our unreaped child.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert!(r > 0, "wait4: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs `cmd` to its end; returns its wall and CPU times, its output and the events delivered
/// meanwhile. With a sensor, a thread waits for the child (the exit time is exact) while this
/// one reads events; the events left after the exit are read too, but that time is not the
/// workload's.
#[allow(clippy::zombie_processes)] // reaped by `wait_cpu` (wait4), which std's lint does not know
fn run(cmd: &mut Command, sensor: Option<&mut Sensor>) -> (Times, String, u64) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = String::new();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let mut delivered = 0u64;
    let times = match sensor {
        Some(s) => {
            let waiter = std::thread::spawn(move || {
                let cpu = wait_cpu(&child);
                (Instant::now(), cpu)
            });
            let defer = std::env::var("BENCH_DEFER").is_ok_and(|v| v == "1");
            while !waiter.is_finished() {
                if defer {
                    std::thread::sleep(Duration::from_millis(5));
                } else {
                    delivered += poll(s, Duration::from_millis(5)) as u64;
                }
            }
            let (exited, cpu) = waiter.join().expect("waiter");
            loop {
                let k = poll(s, Duration::from_millis(30));
                if k == 0 {
                    break;
                }
                delivered += k as u64;
            }
            Times {
                wall: (exited - t).as_secs_f64(),
                cpu,
            }
        }
        None => {
            let cpu = wait_cpu(&child);
            Times {
                wall: t.elapsed().as_secs_f64(),
                cpu,
            }
        }
    };
    out.push_str(&reader.join().expect("reader"));
    (times, out, delivered)
}

fn load_cmd(exe: &str, n: u64) -> Command {
    let mut c = Command::new(exe);
    c.args(["load", &n.to_string()]);
    c
}

fn load_ns(exe: &str, n: u64, sensor: Option<&mut Sensor>) -> (f64, u64) {
    let (_, out, delivered) = run(&mut load_cmd(exe, n), sensor);
    (out.trim().parse::<f64>().expect("load output"), delivered)
}

/// Every system call of this process and its descendants (the load processes): the filter of
/// the capture-all runs.
fn capture_all() -> KernelFilter {
    KernelFilter {
        events: all_syscalls(),
        pids: [std::process::id()].into_iter().collect(),
        follow: true,
        ..KernelFilter::default()
    }
}

fn all_syscalls() -> std::collections::BTreeSet<EventId> {
    palisade_events::catalog::catalog()
        .iter()
        .filter(|d| d.id.is_syscall())
        .map(|d| d.id)
        .collect()
}

/// The ring buffer of the capture-all runs: `BENCH_RING_MB`, by default the sensor's default
/// size (16 MiB). A ring much larger than the caches costs the producers a cache miss on every
/// record they write (about 70-100 ns more per event here with 64 MiB than with 8 MiB).
fn ring_bytes() -> usize {
    (env_num(
        "BENCH_RING_MB",
        (palisade_sensor::DEFAULT_RING_BYTES >> 20) as u64,
    ) as usize)
        << 20
}

/// The sensor with one program on `sys_enter` for every call (`tp_btf_raw`), for comparison.
fn start_raw_entry(filter: KernelFilter) -> Sensor {
    Sensor::start_with(
        SensorConfig {
            filter,
            ring_bytes: 0,
        },
        HookChoice::TpBtfRawEntry,
    )
    .unwrap_or_else(|e| {
        eprintln!("bench-sensor: starting the sensor (tp_btf_raw): {e}");
        std::process::exit(1)
    })
}

/// The floor of the hooks the sensor uses with per-call entries: an empty program on
/// `sys_exit` and on each of its entry calls (`None` when the sensor hooks `sys_enter`).
fn own_hooks_floor() -> Option<FloorProbe> {
    // Which entries the sensor hooks, learnt once (starting a sensor loads and verifies its
    // whole object): the same for every repetition.
    static CALLS: std::sync::OnceLock<Option<Vec<&'static str>>> = std::sync::OnceLock::new();
    let calls = CALLS.get_or_init(|| {
        start(KernelFilter::default(), 0)
            .entry_calls()
            .map(<[&str]>::to_vec)
    });
    let calls = calls.as_deref()?;
    Some(FloorProbe::attach_with_entries(calls).expect("floor of the sensor's own hooks"))
}

fn start(filter: KernelFilter, ring_bytes: usize) -> Sensor {
    Sensor::start(SensorConfig { filter, ring_bytes }).unwrap_or_else(|e| {
        eprintln!("bench-sensor: {e}");
        std::process::exit(1)
    })
}

/// A small C project: 12 files, compiled one by one and linked.
fn compile_project(dir: &std::path::Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let mut objs = String::new();
    for i in 0..12 {
        let mut src =
            String::from("#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n");
        for j in 0..40 {
            src.push_str(&format!(
                "int f{i}_{j}(int x) {{ char b[64]; snprintf(b, sizeof b, \"%d\", x * {j}); \
                 int s = 0; for (size_t k = 0; k < strlen(b); k++) s += b[k] * (int)k; \
                 return s ^ (x << {m}); }}\n",
                m = j % 7
            ));
        }
        if i == 0 {
            src.push_str("int main(void) { return f0_1(3) & 1; }\n");
        }
        std::fs::write(dir.join(format!("f{i}.c")), src).unwrap();
        objs.push_str(&format!(" f{i}.o"));
    }
    format!(
        "cd {} && for f in f*.c; do cc -O2 -c $f || exit 1; done && cc -o prog{objs}",
        dir.display()
    )
}

fn workload_time(script: &str, sensor: Option<&mut Sensor>, strace: bool) -> Times {
    let mut c = if strace {
        let mut c = Command::new("strace");
        c.args(["-f", "-o", "/dev/null", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    run(&mut c, sensor).0
}

/// (b): `loaders` load processes of `n` calls each, side by side, all captured; returns the
/// events/s delivered (wall time from the first spawn to the last event read), the loss and the
/// consumer's CPU ns per event.
fn throughput(exe: &str, n: u64, loaders: usize, s: &mut Sensor) -> (f64, u64, f64) {
    let (lost0, delivered0, cpu0) = (s.stats().lost, s.stats().delivered, self_cpu_ns());
    let t = Instant::now();
    let mut children: Vec<std::process::Child> = (0..loaders)
        .map(|_| {
            load_cmd(exe, n)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let (delivered, last) = drain_until_exit(s, &mut children, t);
    let st = s.stats();
    let consumer = (self_cpu_ns() - cpu0) as f64 / (st.delivered - delivered0).max(1) as f64;
    (
        delivered as f64 / last.as_secs_f64(),
        st.lost - lost0,
        consumer,
    )
}

/// ns per run inside the system-call programs between two snapshots: enter + exit.
fn in_program_ns(before: &[ProgramStats], after: &[ProgramStats], calls: u64) -> f64 {
    // Each system-call program's time per run, weighed by how many of the `calls` made between
    // the snapshots ran it (at most all: the rest of the machine's calls run them too). A
    // per-call entry program runs for a few other processes' calls only and weighs nearly
    // nothing.
    deltas(before, after)
        .filter(|(name, _, _)| {
            (name.contains("enter") || name.contains("exit"))
                && !name.contains("_tp")
                && !(name.starts_with("exit_")
                    || name.starts_with("fork")
                    || name.starts_with("exec"))
        })
        .filter(|&(_, runs, _)| runs > 0)
        .map(|(_, runs, ns)| ns as f64 / runs as f64 * (runs as f64 / calls as f64).min(1.0))
        .sum()
}

/// Under `s`: the median ns of `reps` load runs of `n` calls, and the ns inside the system-call
/// programs per call.
fn under(s: &mut Sensor, exe: &str, n: u64, reps: usize) -> (f64, f64) {
    let b = s.program_stats();
    let t = median((0..reps).map(|_| load_ns(exe, n, Some(s)).0).collect());
    (t, in_program_ns(&b, &s.program_stats(), n * reps as u64))
}

/// Total ns inside every program of the set between two snapshots.
fn total_program_ns(before: &[ProgramStats], after: &[ProgramStats]) -> u64 {
    deltas(before, after).map(|(_, _, ns)| ns).sum()
}

/// Each program's (name, runs, ns) between two snapshots.
fn deltas<'a>(
    before: &'a [ProgramStats],
    after: &'a [ProgramStats],
) -> impl Iterator<Item = (&'a str, u64, u64)> + 'a {
    after.iter().map(|a| {
        let b = before.iter().find(|b| b.name == a.name);
        (
            a.name.as_str(),
            a.runs - b.map_or(0, |b| b.runs),
            a.run_ns - b.map_or(0, |b| b.run_ns),
        )
    })
}

/// `bench-sensor quick [calls] [loaders] [reps]`: only the capture-all throughput, each run once
/// with the BPF run-time statistics on (ns inside the programs) and once without; for quick
/// comparisons and for profiling (`perf record -a` while it runs).
fn quick(exe: &str, args: &[String]) {
    let num = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, loaders, reps) = (num(0, 5_000_000), num(1, 2).max(1), num(2, 3).max(1));
    let filter = capture_all();
    for stats in [true, false] {
        let guard = if stats {
            palisade_sensor::enable_program_stats().ok()
        } else {
            None
        };
        let mut s = start(filter.clone(), ring_bytes());
        let b = s.program_stats();
        let runs: Vec<(f64, u64, f64)> = (0..reps)
            .map(|_| throughput(exe, n / loaders, loaders as usize, &mut s))
            .collect();
        let prog = in_program_ns(&b, &s.program_stats(), (n / loaders) * loaders * reps);
        drop(guard);
        let lost: u64 = runs.iter().map(|r| r.1).sum();
        let rate = median(runs.iter().map(|r| r.0).collect());
        let cons = median(runs.iter().map(|r| r.2).collect());
        println!(
            "stats {}: {loaders} load processes, {:.2} M events/s (median of {reps}), {lost} lost, \
             consumer {cons:.0} ns/event{}; loadavg {}",
            if stats { "on" } else { "off" },
            rate / 1e6,
            if stats {
                format!(", {prog:.0} ns inside the programs per call")
            } else {
                String::new()
            },
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
        );
    }
}

/// `bench-sensor hold floor|own-floor|sensor|sensor-raw SECONDS`: attaches one configuration
/// of part (c) (the sensor with the default event set, consuming its events), prints `ready`,
/// and keeps it for SECONDS: for profiling a workload under it (`perf record`).
fn hold(args: &[String]) {
    let secs = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(60);
    let end = Instant::now() + Duration::from_secs(secs);
    let ready = || {
        println!("ready");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    };
    let mut s = match args.first().map(String::as_str) {
        Some("floor") => {
            let _fp = FloorProbe::attach().expect("floor");
            ready();
            std::thread::sleep(end - Instant::now());
            return;
        }
        Some("own-floor") => {
            let _fp = own_hooks_floor().expect("the sensor hooks sys_enter: no own floor");
            ready();
            std::thread::sleep(end - Instant::now());
            return;
        }
        Some("sensor") => start(KernelFilter::default(), 0),
        Some("sensor-raw") => start_raw_entry(KernelFilter::default()),
        other => {
            eprintln!(
                "bench-sensor hold: {other:?}: expected floor, own-floor, sensor or sensor-raw"
            );
            std::process::exit(2)
        }
    };
    ready();
    while Instant::now() < end {
        poll(&mut s, Duration::from_millis(50));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "hold") {
        hold(&args[2..]);
        return;
    }
    if args.get(1).is_some_and(|a| a == "load") {
        load(
            args.get(2)
                .and_then(|v| v.parse().ok())
                .unwrap_or(5_000_000),
        );
        return;
    }
    let exe = std::env::current_exe().unwrap().display().to_string();
    if args.get(1).is_some_and(|a| a == "quick") {
        quick(&exe, &args[2..]);
        return;
    }
    let reps = env_num("BENCH_REPS", 5).max(1) as usize;
    let n = env_num("BENCH_CALLS", 5_000_000);
    eprintln!("bench-sensor: {reps} repetitions, {n} getppid calls each");
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "abcd".into());
    if parts.contains('a') || parts.contains('b') {
        calls(&exe, reps, n, parts.contains('d'));
    }
    if parts.contains('c') {
        workloads(reps, parts.contains('d'));
    }
}

/// (a) and (b), and strace on getppid for (d): printed as they are measured.
fn calls(exe: &str, reps: usize, n: u64, strace: bool) {
    let exe = exe.to_string();

    // Kernel statistics of the programs' own run time (exact, unlike wall times on a busy machine).
    let stats_guard = palisade_sensor::enable_program_stats().ok();

    // (a) ns per call.
    let bare = median((0..reps).map(|_| load_ns(&exe, n, None).0).collect());
    // The calls made between two snapshots of the programs' statistics.
    let calls = n * reps as u64;
    let floor_probe = FloorProbe::attach().unwrap_or_else(|e| {
        eprintln!("bench-sensor: {e}");
        std::process::exit(1)
    });
    let b = floor_probe.program_stats();
    let floor = median((0..reps).map(|_| load_ns(&exe, n, None).0).collect());
    let floor_prog = in_program_ns(&b, &floor_probe.program_stats(), calls);
    drop(floor_probe);

    // A filter matching nothing with the default event set: getppid is not selected, so both
    // programs stop at the event bitmap.
    let mut unselected = start(
        KernelFilter {
            uid_range: Some((4_000_000_000, 4_000_000_000)),
            ..KernelFilter::default()
        },
        0,
    );
    let (unsel, unsel_prog) = under(&mut unselected, &exe, n, reps);
    drop(unselected);

    // The floor of the hooks the sensor itself uses (with per-call entries).
    let own = own_hooks_floor().map(|fp| {
        let b = fp.program_stats();
        let t = median((0..reps).map(|_| load_ns(&exe, n, None).0).collect());
        (t, in_program_ns(&b, &fp.program_stats(), calls))
    });

    let nothing = || KernelFilter {
        events: all_syscalls(),
        uid_range: Some((4_000_000_000, 4_000_000_000)),
        ..KernelFilter::default()
    };
    let mut raw = start_raw_entry(nothing());
    let (raw_none, raw_prog) = under(&mut raw, &exe, n, reps);
    drop(raw);

    let mut nomatch = start(nothing(), 0);
    let hook = nomatch.hook();
    let entries = nomatch.entry_calls().map(<[&str]>::len);
    let (none, none_prog) = under(&mut nomatch, &exe, n, reps);
    drop(nomatch);

    let mut all = start(capture_all(), ring_bytes());
    let mut every = Vec::new();
    let mut rates = Vec::new();
    let lost0 = all.stats().lost;
    let delivered0 = all.stats().delivered;
    let cpu0 = self_cpu_ns();
    let b = all.program_stats();
    for _ in 0..reps {
        let (ns, delivered) = load_ns(&exe, n, Some(&mut all));
        every.push(ns);
        rates.push(delivered as f64 / (ns / 1e9));
    }
    let every_prog = in_program_ns(&b, &all.program_stats(), calls);
    let consumer_ns =
        (self_cpu_ns() - cpu0) as f64 / (all.stats().delivered - delivered0).max(1) as f64;
    let lost = all.stats().lost - lost0;
    let all_stats = all.stats();
    drop(all);
    let every_med = median(every);
    let rate = median(rates);

    // (b) again without the run-time statistics, with one and with several load processes.
    let stats_on = stats_guard.is_some();
    drop(stats_guard);
    let loaders = env_num("BENCH_LOADERS", 2).max(1) as usize;
    let mut all = start(capture_all(), ring_bytes());
    let mut tput = Vec::new();
    for k in [1, loaders] {
        let runs: Vec<(f64, u64, f64)> = (0..reps)
            .map(|_| throughput(&exe, n / k as u64, k, &mut all))
            .collect();
        let lost: u64 = runs.iter().map(|r| r.1).sum();
        let rate = median(runs.iter().map(|r| r.0).collect());
        let cons = median(runs.iter().map(|r| r.2).collect());
        tput.push((k, rate, lost, cons));
        if loaders == 1 {
            break;
        }
    }
    drop(all);
    // strace on getppid, on fewer calls.
    let sn = (n / 100).max(1000);
    let t = Instant::now();
    if strace {
        let _ = Command::new("strace")
            .args(["-f", "-o", "/dev/null", &exe, "load", &sn.to_string()])
            .stdout(Stdio::null())
            .status();
    }
    let strace_per_call = t.elapsed().as_nanos() as f64 / sn as f64;

    let per = |t: f64| t / n as f64;
    let entries = entries.map_or_else(
        || "one program on sys_enter".to_string(),
        |n| format!("entries on {n} calls' own tracepoints with every call selected"),
    );
    println!(
        "hook: {hook}, {entries}; {reps} repetitions (medians); kernel {}",
        kernel()
    );
    println!();
    println!("(a) getppid x {n}");
    println!();
    println!(
        "| mode | wall | ns per call | added ns per call | ns inside the programs per call (enter+exit) |"
    );
    println!("|---|---|---|---|---|");
    let prog = |v: f64| {
        if stats_on {
            format!("{v:.0}")
        } else {
            "n/a".into()
        }
    };
    let mut rows = vec![
        ("bare", bare, None),
        (
            "empty program on tp_btf sys_enter+sys_exit (floor)",
            floor,
            Some(floor_prog),
        ),
    ];
    if let Some((t, p)) = own {
        rows.push((
            "empty program on the sensor's own hooks (tp_btf sys_exit, per-call entries)",
            t,
            Some(p),
        ));
    }
    rows.push((
        "sensor with one sys_enter program (tp_btf_raw), every syscall selected, nothing matching",
        raw_none,
        Some(raw_prog),
    ));
    rows.extend([
        (
            "sensor, default event set (getppid not in it), uid filter matching nothing",
            unsel,
            Some(unsel_prog),
        ),
        (
            "sensor, every syscall selected, uid filter matching nothing",
            none,
            Some(none_prog),
        ),
        (
            "sensor, every call captured and decoded",
            every_med,
            Some(every_prog),
        ),
    ]);
    for (mode, t, p) in rows {
        println!(
            "| {mode} | {:.3} s | {:.0} | {:+.0} | {} |",
            t / 1e9,
            per(t),
            per(t) - per(bare),
            p.map_or(String::new(), prog)
        );
    }
    if strace {
        println!(
            "| strace -f -o /dev/null ({sn} calls) | | {:.0} | {:+.0} | |",
            strace_per_call,
            strace_per_call - per(bare)
        );
    }
    println!();
    println!(
        "(b) every call captured: {:.2} M events/s delivered to user space, {lost} lost; \
         consumer CPU {consumer_ns:.0} ns per event (read, decode, build the Event) \
         (sensor totals: seen {}, delivered {}, lost {})",
        rate / 1e6,
        all_stats.seen,
        all_stats.delivered,
        all_stats.lost
    );
    println!();
    println!("(b) without run-time statistics, {n} calls in all per run:");
    println!();
    println!(
        "| load processes | events/s delivered (median) | lost (all runs) | consumer CPU ns per event |"
    );
    println!("|---|---|---|---|");
    for (k, r, l, c) in tput {
        println!("| {k} | {:.2} M | {l} | {c:.0} |", r / 1e6);
    }
    println!();
}

/// (c) realistic workloads, default event set, whole system; (d) the same under strace.
fn workloads(reps: usize, strace: bool) {
    let find_dir = std::env::var("BENCH_FIND").unwrap_or_else(|_| "/usr".into());
    let find = format!("find {find_dir} >/dev/null");
    let proj = std::env::temp_dir().join(format!("palisade-bench-cc-{}", std::process::id()));
    let cc = compile_project(&proj);
    // Warm the caches.
    workload_time(&find, None, false);
    workload_time(&cc, None, false);
    let mut rows = Vec::new();
    let mut other_rows = Vec::new();
    for (name, script) in [("find", &find), ("compile", &cc)] {
        // Interleaved: each repetition runs bare, then under the floor's empty programs, then
        // under the sensor (each attached for that run only), so that a change in the machine's
        // speed during the bench (other tenants of the VM) hits the three alike. The sensor is
        // started before its run and its start-up is not timed.
        let (mut bare, mut floor, mut traced) = (Vec::new(), Vec::new(), Vec::new());
        // And, in the same interleaving, the sensor with one sys_enter program, and the empty
        // programs on the sensor's own hooks.
        let (mut raw, mut own) = (Vec::new(), Vec::new());
        let mut st = palisade_sensor::Stats::default();
        for _ in 0..reps {
            bare.push(workload_time(script, None, false));
            let fp = FloorProbe::attach().expect("floor");
            floor.push(workload_time(script, None, false));
            drop(fp);
            let mut s = start(KernelFilter::default(), 0);
            traced.push(workload_time(script, Some(&mut s), false));
            let one = s.stats();
            st.delivered += one.delivered;
            st.lost += one.lost;
            drop(s);
            let mut s = start_raw_entry(KernelFilter::default());
            raw.push(workload_time(script, Some(&mut s), false));
            drop(s);
            if let Some(fp) = own_hooks_floor() {
                own.push(workload_time(script, None, false));
                drop(fp);
            }
        }
        // Then, apart from the timed runs (the statistics cost every program run two clock
        // reads), the time spent inside the programs under the floor and under the sensor, from
        // the kernel's run-time statistics: what the sensor's own work adds, free of the
        // machine's speed changes that set the wall-clock noise.
        let (mut floor_ns, mut sensor_ns) = (Vec::new(), Vec::new());
        if let Ok(guard) = palisade_sensor::enable_program_stats() {
            for _ in 0..reps.min(3) {
                let fp = FloorProbe::attach().expect("floor");
                let b = fp.program_stats();
                workload_time(script, None, false);
                floor_ns.push(total_program_ns(&b, &fp.program_stats()) as f64);
                drop(fp);
                let mut s = start(KernelFilter::default(), 0);
                let b = s.program_stats();
                workload_time(script, Some(&mut s), false);
                sensor_ns.push(total_program_ns(&b, &s.program_stats()) as f64);
            }
            drop(guard);
        }
        let programs = (!floor_ns.is_empty()).then(|| (median(floor_ns), median(sensor_ns)));
        let wall = |v: &[Times]| median(v.iter().map(|t| t.wall).collect());
        let cpu = |v: &[Times]| median(v.iter().map(|t| t.cpu).collect());
        let w = (wall(&bare), wall(&floor), wall(&traced));
        let c = (cpu(&bare), cpu(&floor), cpu(&traced));
        // The fastest run of each: the other tenants of a VM only ever add time, so the minimum
        // is the steadier estimate of what each configuration itself costs.
        let least = |v: &[Times]| v.iter().map(|t| t.wall).fold(f64::INFINITY, f64::min);
        let m = (least(&bare), least(&floor), least(&traced));
        // (d) strace, once (it is slow).
        let strace_t = if strace {
            workload_time(script, None, true).wall
        } else {
            f64::NAN
        };
        let others = (wall(&raw), (!own.is_empty()).then(|| wall(&own)), w.0, w.1);
        rows.push((name, w, c, strace_t, st, programs, m));
        other_rows.push((name, others));
    }
    let _ = std::fs::remove_dir_all(&proj);
    println!(
        "(c)/(d) workloads (default event set, whole system, consumer running), {reps} interleaved repetitions (medians)"
    );
    println!();
    println!(
        "| workload | bare | floor (empty program) | sensor | sensor slowdown | floor slowdown | sensor / floor | strace -f | strace slowdown | events delivered | lost |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, (b, f, t), _, s, st, _, _) in &rows {
        println!(
            "| {name} | {b:.3} s | {f:.3} s | {t:.3} s | {:+.1}% | {:+.1}% | {:.2}x | {s:.2} s | {:.0}x | {} | {} |",
            (t / b - 1.0) * 100.0,
            (f / b - 1.0) * 100.0,
            (t - b) / (f - b),
            s / b,
            st.delivered,
            st.lost
        );
    }
    println!();
    println!(
        "The same runs, CPU time of the workload (user + system, from wait4: the programs run in the \
         workload's system time; the consumer's and the hypervisor's time are not in it):"
    );
    println!();
    ratio_table(
        "sensor added | floor added",
        rows.iter().map(|(name, _, c, _, _, _, _)| (*name, *c)),
    );
    println!();
    println!(
        "The same interleaved runs, other configurations (wall medians): the sensor with one \
         program on sys_enter for every call (tp_btf_raw, as before per-call entries), and the \
         empty programs on exactly the hooks the sensor now uses (tp_btf sys_exit and the \
         per-call entries), whose slowdown is the sensor's own floor:"
    );
    println!();
    println!(
        "| workload | sensor, one sys_enter program | its slowdown | / floor | own-hooks floor | its slowdown | sensor / own-hooks floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    for ((name, (r, own, b, f)), (_, (_, _, t), ..)) in other_rows.iter().zip(&rows) {
        let (own_t, own_s, own_ratio) = match own {
            Some(o) => (
                format!("{o:.3} s"),
                format!("{:+.1}%", (o / b - 1.0) * 100.0),
                format!("{:.2}x", (t - b) / (o - b)),
            ),
            None => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        println!(
            "| {name} | {r:.3} s | {:+.1}% | {:.2}x | {own_t} | {own_s} | {own_ratio} |",
            (r / b - 1.0) * 100.0,
            (r - b) / (f - b),
        );
    }
    println!();
    println!("The same runs, the fastest of the {reps} (wall):");
    println!();
    ratio_table(
        "sensor slowdown | floor slowdown",
        rows.iter().map(|(name, _, _, _, _, _, m)| (*name, *m)),
    );
    println!();
    println!(
        "Time inside the programs per run (BPF run-time statistics, medians of separate runs), and \
         the sensor's slowdown estimated from it: the floor's measured slowdown (wall, above) \
         plus what the sensor's programs add to the empty ones:"
    );
    println!();
    println!(
        "| workload | floor programs | sensor programs | sensor adds | estimated sensor / floor |"
    );
    println!("|---|---|---|---|---|");
    for (name, (b, f, _), _, _, _, programs, _) in &rows {
        if let Some((fp, sp)) = programs {
            let added = (sp - fp) / 1e9;
            // Meaningless when the floor's measured slowdown is lost in the noise.
            let ratio = if f - b > 0.0 {
                format!("{:.2}x", (f - b + added) / (f - b))
            } else {
                "n/a (floor within noise)".into()
            };
            println!(
                "| {name} | {:.1} ms | {:.1} ms | {:+.1} ms | {ratio} |",
                fp / 1e6,
                sp / 1e6,
                added * 1e3,
            );
        }
    }
}

/// A table of (bare, floor, sensor) times per workload: each, both slowdowns and their ratio.
fn ratio_table<'a>(added: &str, rows: impl Iterator<Item = (&'a str, (f64, f64, f64))>) {
    println!("| workload | bare | floor | sensor | {added} | sensor / floor |");
    println!("|---|---|---|---|---|---|---|");
    for (name, (b, f, t)) in rows {
        println!(
            "| {name} | {b:.3} s | {f:.3} s | {t:.3} s | {:+.1}% | {:+.1}% | {:.2}x |",
            (t / b - 1.0) * 100.0,
            (f / b - 1.0) * 100.0,
            (t - b) / (f - b),
        );
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
