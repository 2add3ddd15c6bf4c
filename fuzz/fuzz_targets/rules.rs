//! libFuzzer target `rules`: a Falco rules file (lists, macros, rules, exceptions, appends,
//! overrides) loaded, compiled and run on a few synthetic events.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::rules`]. `scripts/fuzz rules SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::rules(data);
});
