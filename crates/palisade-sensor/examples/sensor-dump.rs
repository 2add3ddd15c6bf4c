//! Prints every event the sensor captures for a few seconds (a debugging aid):
//! `cargo run -p palisade-sensor --example sensor-dump -- [seconds] [all]`.

use palisade_sensor::{KernelFilter, Sensor, SensorConfig};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut filter = KernelFilter::default();
    if args.get(2).is_some_and(|a| a == "all") {
        filter.events = palisade_events::catalog::catalog()
            .iter()
            .map(|d| d.id)
            .collect();
    }
    let mut s = match Sensor::start(SensorConfig {
        filter,
        ring_bytes: 0,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sensor-dump: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("hook: {}; process hooks: {:?}", s.hook(), s.process_hooks());
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        let r = s.poll(Duration::from_millis(100), &mut |e| {
            println!(
                "{} {} {}/{} ({}) uid={} uts={} mntns={} cg={} ctr={} {} ret={} {:?}",
                e.ts,
                e.comm,
                e.host_pid,
                e.host_tid,
                e.pid,
                e.uid,
                e.uts,
                e.mntns,
                e.cgroup_id,
                e.container_id,
                e.id,
                e.ret,
                e.args
            )
        });
        if let Err(e) = r {
            eprintln!("sensor-dump: {e}");
            std::process::exit(1);
        }
    }
    eprintln!(
        "{:?} aux_lost={} bad={}",
        s.stats(),
        s.aux_lost(),
        s.bad_records()
    );
}
