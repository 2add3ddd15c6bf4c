//! Replays a synthetic capture through rule files and reports events/s per core and the
//! costliest rules. Used by `scripts/bench-rules`.
//!
//! Usage: `rules_bench [--events N] [--procs N] [--capture FILE] [--top N] -r FILE [-r FILE...]`

use palisade_events::capture::{CaptureHeader, CaptureReader, CaptureWriter};
use palisade_rules::state::{State, StateOptions};
use palisade_rules::synth;
use palisade_rules::{Engine, LoadOptions, RuleMatching, RuleSet};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// CPU time of this thread (ns on the CPU), from the scheduler's statistics; `None` when the
/// kernel does not expose them.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// A timer measuring wall-clock and on-CPU time.
struct Timer {
    wall: Instant,
    cpu: Option<u64>,
}

impl Timer {
    fn start() -> Timer {
        Timer {
            wall: Instant::now(),
            cpu: cpu_ns(),
        }
    }
    /// (wall seconds, CPU seconds — the wall time when CPU time is unknown).
    fn stop(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_ns()) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => wall,
        };
        (wall, cpu)
    }
}

fn main() {
    let mut events = 2_000_000usize;
    let mut procs = 300u32;
    let mut capture = std::env::temp_dir().join("palisade-bench-rules.cap");
    let mut rules = Vec::new();
    let mut top = 10usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--events" => events = val().parse().expect("--events N"),
            "--procs" => procs = val().parse().expect("--procs N"),
            "--capture" => capture = PathBuf::from(val()),
            "--top" => top = val().parse().expect("--top N"),
            "-r" => rules.push(PathBuf::from(val())),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(!rules.is_empty(), "give rule files with -r");

    let t = Instant::now();
    let w = synth::generate(events, procs, 0x5eed);
    let gen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    {
        let mut cw = CaptureWriter::create(
            &capture,
            &CaptureHeader {
                hostname: "bench".into(),
                command: "rules_bench".into(),
                ..CaptureHeader::default()
            },
        )
        .expect("create capture");
        for ev in &w.events {
            cw.write(ev).expect("write capture");
        }
        cw.finish().expect("flush capture");
    }
    let write_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut rd = CaptureReader::open(&capture).expect("open capture");
    let mut evs = Vec::with_capacity(events);
    while let Some(ev) = rd.next_event() {
        evs.push(ev.expect("capture record"));
    }
    let read_s = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&capture);
    println!(
        "workload: {} events, {} processes, {} containers; generated in {:.2}s, capture {:.1} MB written in {:.2}s, decoded in {:.2}s ({:.2} M events/s)",
        evs.len(),
        w.processes.len(),
        w.containers.len(),
        gen_s,
        size as f64 / 1e6,
        write_s,
        read_s,
        evs.len() as f64 / read_s / 1e6
    );

    let t = Instant::now();
    let (rs, warnings) = match RuleSet::load(&rules, &LoadOptions::default()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rules do not load:\n{e}");
            std::process::exit(2);
        }
    };
    println!(
        "rules: {} ({} active) from {} file(s), loaded and compiled in {:.1} ms, {} warnings",
        rs.rules().len(),
        rs.active_count(),
        rules.len(),
        t.elapsed().as_secs_f64() * 1e3,
        warnings.len()
    );

    let fresh_state = || {
        let mut st = State::new(StateOptions::isolated());
        for c in &w.containers {
            st.insert_container(c.clone());
        }
        for p in &w.processes {
            st.insert_process(p.clone());
        }
        st
    };
    // Pass 1: state only.
    let mut st = fresh_state();
    let t = Timer::start();
    for ev in &evs {
        st.apply(ev);
        st.finish(ev);
    }
    let (state_wall, state_s) = t.stop();
    // Pass 2: state and rules, as `palisade detect` runs them.
    let mut st = fresh_state();
    let mut engine = Engine::new(rs);
    engine.set_hostname("bench");
    engine.set_rule_matching(RuleMatching::All);
    let mut alerts: BTreeMap<String, u64> = BTreeMap::new();
    let t = Timer::start();
    for ev in &evs {
        st.apply(ev);
        engine.process(ev, &st, &mut |a| *alerts.entry(a.rule).or_default() += 1);
        st.finish(ev);
    }
    let (total_wall, total_s) = t.stop();
    println!(
        "(rates below are per CPU-second of this thread; wall clock: state {:.2}s, state + rules {:.2}s)",
        state_wall, total_wall
    );
    let n = evs.len() as f64;
    let engine_s = (total_s - state_s).max(1e-9);
    println!(
        "state only:        {:>8.2} M events/s ({:.0} ns/event)",
        n / state_s / 1e6,
        state_s / n * 1e9
    );
    println!(
        "state + rules:     {:>8.2} M events/s per core ({:.0} ns/event)",
        n / total_s / 1e6,
        total_s / n * 1e9
    );
    println!(
        "rules alone (est): {:>8.2} M events/s per core ({:.0} ns/event)",
        n / engine_s / 1e6,
        engine_s / n * 1e9
    );
    let total_alerts: u64 = alerts.values().sum();
    println!("alerts: {total_alerts}");
    for (r, c) in &alerts {
        println!("  {c:>9}  {r}");
    }
    // Pass 3: per-rule cost.
    let mut st = fresh_state();
    engine.set_profiling(true);
    let before: Vec<_> = engine.stats().to_vec();
    for ev in &evs {
        st.apply(ev);
        engine.process(ev, &st, &mut |_| {});
        st.finish(ev);
    }
    let mut cost: Vec<(u64, u64, &str)> = engine
        .stats()
        .iter()
        .zip(&before)
        .zip(engine.rules().rules())
        .map(|((s, b), r)| {
            (
                s.nanos - b.nanos,
                s.evaluated - b.evaluated,
                r.name.as_str(),
            )
        })
        .filter(|(_, e, _)| *e > 0)
        .collect();
    cost.sort_by_key(|c| std::cmp::Reverse(c.0));
    println!("costliest rules (profiled pass; timer overhead included):");
    for (ns, evals, name) in cost.iter().take(top) {
        println!(
            "  {:>8.1} ms  {:>9} evals  {:>6.0} ns/eval  {name}",
            *ns as f64 / 1e6,
            evals,
            *ns as f64 / *evals as f64
        );
    }
}
