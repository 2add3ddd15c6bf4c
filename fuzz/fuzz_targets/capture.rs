//! libFuzzer target `capture`: a capture file read as `palisade trace --replay` and `palisade
//! detect --replay` read it (reader, process tree, default filter, rules state, a fixed rule set).
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::capture`]. `scripts/fuzz capture SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::capture(data);
});
