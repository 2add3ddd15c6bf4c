//! Throughput of `State::apply` + `State::finish` on a synthetic mix of events (no assertion on
//! time: run with `cargo test --release -p palisade-rules --test state_bench -- --ignored
//! --nocapture` to print events/s).

use palisade_events::{ArgValue, Event, EventId, SockAddr};
use palisade_rules::state::{Process, State, StateOptions};
use std::time::Instant;

fn ev(id: u16, pid: u32, ret: i64, args: Vec<ArgValue>) -> Event {
    Event {
        ts: 0,
        id: EventId(id),
        cpu: 0,
        pid,
        tid: pid,
        ppid: 1,
        host_pid: pid,
        host_tid: pid,
        host_ppid: 1,
        uid: 0,
        gid: 0,
        comm: "worker".into(),
        uts: "node".into(),
        mntns: 1,
        pidns: 1,
        cgroup_id: 1,
        container_id: String::new(),
        ret,
        args,
    }
}

/// A mix like a busy node's: mostly reads and writes, some opens/closes, a few connections and
/// process lifecycles.
fn mix(n: usize) -> Vec<Event> {
    let mut v = Vec::with_capacity(n);
    let mut next_pid = 10_000u32;
    let mut i = 0usize;
    while v.len() < n {
        let pid = 100 + (i % 200) as u32;
        match i % 100 {
            0..=59 => v.push(ev(
                (i % 2) as u16,
                pid,
                64,
                vec![ArgValue::Int(3), ArgValue::UInt(64)],
            )),
            60..=69 => v.push(ev(202, pid, 0, vec![])), // futex: untracked
            70..=79 => {
                v.push(ev(
                    257,
                    pid,
                    20,
                    vec![
                        ArgValue::Int(-100),
                        ArgValue::Str("/etc/ld.so.cache".into()),
                        ArgValue::Int(0o2000000),
                        ArgValue::Int(0),
                    ],
                ));
                v.push(ev(3, pid, 0, vec![ArgValue::Int(20)]));
            }
            80..=84 => {
                v.push(ev(
                    41,
                    pid,
                    21,
                    vec![ArgValue::Int(2), ArgValue::Int(1), ArgValue::Int(0)],
                ));
                v.push(ev(
                    42,
                    pid,
                    0,
                    vec![
                        ArgValue::Int(21),
                        ArgValue::Sock(SockAddr::Inet {
                            addr: "10.0.0.5".parse().unwrap(),
                            port: 443,
                        }),
                    ],
                ));
                v.push(ev(3, pid, 0, vec![ArgValue::Int(21)]));
            }
            85 => {
                let child = next_pid;
                next_pid += 1;
                v.push(ev(
                    EventId::SCHED_PROCESS_FORK.0,
                    pid,
                    0,
                    (0..9)
                        .map(|k| {
                            ArgValue::UInt(match k {
                                0..=3 => u64::from(pid),
                                8 => 1,
                                _ => u64::from(child),
                            })
                        })
                        .collect(),
                ));
                let mut e = ev(
                    EventId::SCHED_PROCESS_EXEC.0,
                    child,
                    0,
                    vec![
                        ArgValue::Str("/usr/bin/curl".into()),
                        ArgValue::StrList(vec!["curl".into(), "-s".into(), "http://x".into()]),
                        ArgValue::Str("/".into()),
                        ArgValue::Str(String::new()),
                        ArgValue::UInt(1),
                        ArgValue::UInt(0),
                        ArgValue::UInt(1),
                    ],
                );
                e.host_ppid = pid;
                v.push(e);
                let mut x = ev(
                    EventId::SCHED_PROCESS_EXIT.0,
                    child,
                    0,
                    vec![ArgValue::Int(0), ArgValue::Int(1)],
                );
                x.host_ppid = pid;
                v.push(x);
            }
            _ => v.push(ev(9, pid, 0, vec![])), // mmap: untracked
        }
        i += 1;
    }
    v.truncate(n);
    for (k, e) in v.iter_mut().enumerate() {
        e.ts = 1_000 + k as u64;
    }
    v
}

fn run(name: &str, events: &[Event]) -> State {
    let mut st = State::new(StateOptions::isolated());
    for pid in 100..300 {
        let mut p = Process::new(pid);
        p.ppid = 1;
        p.name = "worker".into();
        p.cwd = "/srv".into();
        st.insert_process(p);
    }
    let t = Instant::now();
    for e in events {
        st.apply(e);
        st.finish(e);
    }
    let dt = t.elapsed();
    println!(
        "{name}: {} events in {:.3} s = {:.2} M events/s, {:.0} ns/event",
        events.len(),
        dt.as_secs_f64(),
        events.len() as f64 / dt.as_secs_f64() / 1e6,
        dt.as_nanos() as f64 / events.len() as f64,
    );
    st
}

/// Only events that change the state (opens, closes, sockets, connects, forks, execs, exits).
#[test]
#[ignore = "throughput figure, run in release with --ignored --nocapture"]
fn apply_finish_state_changing_only() {
    let events: Vec<Event> = mix(4_000_000)
        .into_iter()
        .filter(|e| !matches!(e.id.0, 0 | 1 | 9 | 202))
        .collect();
    let st = run("state-changing events only", &events);
    assert_eq!(st.len(), 200, "every forked child exited");
}

#[test]
#[ignore = "throughput figure, run in release with --ignored --nocapture"]
fn apply_finish_throughput() {
    let events = mix(2_000_000);
    let mut st = State::new(StateOptions::isolated());
    for pid in 100..300 {
        let mut p = Process::new(pid);
        p.ppid = 1;
        p.name = "worker".into();
        p.cwd = "/srv".into();
        st.insert_process(p);
    }
    let t = Instant::now();
    for e in &events {
        st.apply(e);
        st.finish(e);
    }
    let dt = t.elapsed();
    println!(
        "state apply+finish: {} events in {:.3} s = {:.2} M events/s ({} processes left, {:?})",
        events.len(),
        dt.as_secs_f64(),
        events.len() as f64 / dt.as_secs_f64() / 1e6,
        st.len(),
        st.stats()
    );
    assert_eq!(st.len(), 200, "every forked child exited");
}

#[test]
#[ignore = "timing figure, run in release with --ignored --nocapture"]
fn seed_from_live_proc_time() {
    let mut st = State::new(StateOptions::live());
    let t = Instant::now();
    let stats = st.seed_from_proc(std::path::Path::new("/proc")).unwrap();
    let dt = t.elapsed();
    println!(
        "seed from /proc: {} processes, {} threads, {} fds ({} sockets resolved) in {:.1} ms",
        stats.processes,
        stats.threads,
        stats.fds,
        stats.sockets_resolved,
        dt.as_secs_f64() * 1e3
    );
    assert_eq!(st.len(), stats.processes);
}
