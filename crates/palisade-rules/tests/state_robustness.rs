//! Arbitrary event sequences (wrong argument types, missing arguments, odd return values, pid
//! reuse) never panic the state and never exceed its bounds.

use palisade_events::{ArgValue, Event, EventId, SockAddr, catalog::catalog};
use palisade_rules::state::{State, StateOptions};

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn arg(r: &mut Rng) -> ArgValue {
    match r.below(9) {
        0 => ArgValue::None,
        1 => ArgValue::Int(r.below(40) as i64 - 5),
        2 => ArgValue::UInt(r.next()),
        3 => ArgValue::Int(-100),
        4 => ArgValue::Str(
            [
                "",
                "/",
                "a/../../b",
                "/etc/shadow",
                ".",
                "/memfd:x (deleted)",
                "/proc/self/fd/3",
                "pts/1",
                "ünï/cödé",
            ][r.below(9) as usize]
                .into(),
        ),
        5 => ArgValue::StrList((0..r.below(4)).map(|i| format!("arg{i}")).collect()),
        6 => ArgValue::Sock(SockAddr::Inet {
            addr: [10, 0, 0, r.below(4) as u8].into(),
            port: r.below(3) as u16,
        }),
        7 => ArgValue::Sock(SockAddr::Inet6 {
            addr: "::ffff:1.2.3.4".parse().unwrap(),
            port: 80,
            flowinfo: 0,
            scope_id: 0,
        }),
        _ => ArgValue::Sock(SockAddr::Unix {
            path: "/run/x.sock".into(),
        }),
    }
}

#[test]
fn random_event_sequences_keep_the_state_sound() {
    let ids: Vec<EventId> = catalog()
        .iter()
        .filter(|d| !d.args.is_empty() || !d.id.is_syscall())
        .map(|d| d.id)
        .chain([
            EventId(56),
            EventId(57),
            EventId(58),
            EventId(290),
            EventId(291),
            EventId(9999),
        ])
        .collect();
    for seed in 1..=12u64 {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut opts = StateOptions::isolated();
        opts.max_processes = 16;
        opts.max_fds_per_process = 8;
        opts.max_written_paths_per_container = 4;
        opts.max_containers = 4;
        let mut st = State::new(opts);
        for step in 0..4_000u64 {
            let id = ids[r.below(ids.len() as u64) as usize];
            let nargs = r.below(10) as usize;
            let host_pid = r.below(40) as u32;
            let ev = Event {
                ts: step * 1_000_000_000,
                id,
                cpu: 0,
                pid: if r.below(3) == 0 { 1 } else { host_pid },
                tid: host_pid,
                ppid: 0,
                host_pid,
                host_tid: if r.below(4) == 0 {
                    host_pid + 100
                } else {
                    host_pid
                },
                host_ppid: r.below(40) as u32,
                uid: r.below(3) as u32,
                gid: 0,
                comm: "x".into(),
                uts: "h".into(),
                mntns: 0,
                pidns: 0,
                cgroup_id: 0,
                container_id: if r.below(2) == 0 {
                    String::new()
                } else {
                    format!("{:064x}", r.below(50))
                },
                ret: r.below(30) as i64 - 10,
                args: (0..nargs).map(|_| arg(&mut r)).collect(),
            };
            st.apply(&ev);
            st.finish(&ev);
            assert!(
                st.len() <= 16,
                "seed {seed} step {step}: {} processes",
                st.len()
            );
            // a container is kept while a process runs in it: at most one per process, plus
            // the one being added
            assert!(
                st.container_count() <= 17,
                "seed {seed} step {step}: {} containers",
                st.container_count()
            );
            for p in st.processes() {
                assert!(
                    p.fds.len() <= 8,
                    "seed {seed} step {step}: {} fds",
                    p.fds.len()
                );
                assert!(st.ancestors(p).count() <= 256);
                assert!(
                    p.cwd.is_empty() || p.cwd.starts_with('/'),
                    "cwd {:?}",
                    p.cwd
                );
            }
        }
        assert!(
            st.stats().containers_forgotten > 0,
            "seed {seed}: the container bound was exercised"
        );
    }
}

/// Events outside `TRACKED_EVENTS` never change the state, whatever they carry; every tracked
/// event is a known one.
#[test]
fn untracked_events_leave_the_state_alone() {
    use palisade_rules::state::{Fd, FdKind, Process, TRACKED_EVENTS};
    for id in TRACKED_EVENTS {
        assert!(id.def().is_some(), "{id:?} is not in the catalog");
    }
    let mut st = State::new(StateOptions::isolated());
    let mut p = Process::new(10);
    p.ppid = 1;
    p.name = "app".into();
    p.cwd = "/srv".into();
    p.container_id = format!("{:064x}", 7);
    p.fds.insert(3, Fd::new(3, FdKind::File, "/srv/data"));
    st.insert_process(p);
    let before: Process = st.process(10).unwrap().clone();
    let mut r = Rng(42);
    let mut checked = 0;
    for def in catalog() {
        if TRACKED_EVENTS.contains(&def.id) {
            continue;
        }
        for _ in 0..3 {
            let ev = Event {
                ts: 5,
                id: def.id,
                cpu: 0,
                pid: 10,
                tid: 10,
                ppid: 99,
                host_pid: 10,
                host_tid: 10,
                host_ppid: 99,
                uid: 1,
                gid: 1,
                comm: "other".into(),
                uts: "h".into(),
                mntns: 0,
                pidns: 0,
                cgroup_id: 0,
                container_id: String::new(),
                ret: r.below(8) as i64 - 2,
                args: def.args.iter().map(|_| arg(&mut r)).collect(),
            };
            st.apply(&ev);
            st.finish(&ev);
            checked += 1;
        }
        assert_eq!(
            st.process(10),
            Some(&before),
            "{} changed the state",
            def.name
        );
        assert_eq!(st.len(), 1, "{} added a process", def.name);
    }
    assert!(checked > 500, "{checked}");
}
