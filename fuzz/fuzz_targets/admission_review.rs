//! libFuzzer target: arbitrary bytes as an AdmissionReview body through the webhook's whole
//! decision (parsing, PodSecurity, mutation, response serialisation), as `/validate` and
//! `/mutate` handle them. Nothing may panic; a body either gets a review back or a parse error.
//!
//! `cargo fuzz run admission_review fuzz/seeds/admission_review`
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_admission::{Admission, Endpoint, ServerConfig};
use std::sync::OnceLock;

static ADMISSION: OnceLock<Admission> = OnceLock::new();

fn admission() -> &'static Admission {
    ADMISSION.get_or_init(|| {
        let cfg = ServerConfig::from_yaml(
            "fuzz.yaml",
            "podSecurity:\n  defaults: {enforce: baseline, warn: restricted, audit: restricted}\n  exemptions: {usernames: [admin], runtimeClasses: [kata]}\nmutation: {enabled: true, nonRootImages: [\"app*\"]}\n",
        )
        .expect("valid fuzz configuration");
        Admission::from_config(&cfg).expect("admission").0
    })
}

fuzz_target!(|data: &[u8]| {
    let adm = admission();
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        if let Ok(out) = adm.handle(endpoint, data) {
            // the answer is always a well-formed review echoing a uid
            let v: serde_json::Value = serde_json::from_slice(&out).expect("response is JSON");
            assert!(v["response"]["uid"].is_string());
        }
    }
});
