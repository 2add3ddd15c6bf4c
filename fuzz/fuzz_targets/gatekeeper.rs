//! libFuzzer target `gatekeeper`: ConstraintTemplates and Constraints loaded after a fixed template
//! (schemas, Rego compile, parameters, match, enforcement actions).
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::gatekeeper`]. `scripts/fuzz gatekeeper SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::gatekeeper(data);
});
