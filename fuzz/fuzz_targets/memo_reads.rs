//! libFuzzer target `memo_reads`: Rego text through the Gatekeeper verdict memo's analysis of the
//! input a template reads.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::memo_reads`]. `scripts/fuzz memo_reads
//! SECONDS` runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::memo_reads(data);
});
