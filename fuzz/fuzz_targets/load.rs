//! libFuzzer target `load`: arbitrary bytes through the manifest loader, every pod template and
//! container, and the posture scan. `PALISADE_FUZZ_MAX_FLOW_DEPTH=N` skips inputs nested deeper
//! than N flow collections.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::load`]. `scripts/fuzz load SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::load(data);
});
