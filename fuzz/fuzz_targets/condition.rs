//! libFuzzer target `condition`: one Falco condition, parsed, then used as the condition and output
//! of a rule that is compiled and run on a few synthetic events.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::condition`]. `scripts/fuzz condition SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::condition(data);
});
