//! libFuzzer target `rbac_netpol`: manifests through the RBAC store and the NetworkPolicy model.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::rbac_netpol`]. `scripts/fuzz rbac_netpol SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::rbac_netpol(data);
});
