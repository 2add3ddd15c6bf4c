//! libFuzzer target `native_rego`: Rego text through the native Rego evaluator's compiler and
//! evaluator (Gatekeeper templates in the admission webhook).
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::native_rego`]. `scripts/fuzz
//! native_rego SECONDS` runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::native_rego(data);
});
