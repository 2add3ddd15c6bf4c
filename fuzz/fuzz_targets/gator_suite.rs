//! libFuzzer target `gator_suite`: a `gator verify` Suite file run next to fixed template,
//! constraint and object files.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::gator_suite`]. `scripts/fuzz gator_suite SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::gator_suite(data);
});
