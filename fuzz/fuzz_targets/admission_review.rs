//! libFuzzer target `admission_review`: arbitrary bytes as an AdmissionReview body through the
//! webhook's whole decision (`/validate` and `/mutate`); a body gets a review back or a parse
//! error.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::admission_review`]. `scripts/fuzz admission_review SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::admission_review(data);
});
