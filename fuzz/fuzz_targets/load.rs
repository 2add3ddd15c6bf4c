//! libFuzzer target: arbitrary bytes through the loader, pod templates and the posture scan.
//!
//! `PALISADE_FUZZ_MAX_FLOW_DEPTH=N` skips inputs nested deeper than N flow collections, to fuzz
//! past a known deep-nesting problem (see fuzz/regressions).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static MAX_FLOW_DEPTH: OnceLock<usize> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let cap = *MAX_FLOW_DEPTH.get_or_init(palisade_fuzz::max_flow_depth_from_env);
    if cap > 0 && palisade_fuzz::flow_depth(data) > cap {
        return;
    }
    let _ = palisade_fuzz::load_and_scan(data);
});
