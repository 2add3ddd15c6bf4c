//! libFuzzer target `trace_filter`: `--trace`/`--filter`/`--scope`/`--events` values, one `FLAG
//! VALUE` per line, parsed into a filter, planned for the kernel and matched on a few events.
//!
//! Shared with the stable driver: [`palisade_fuzz::targets::trace_filter`]. `scripts/fuzz trace_filter SECONDS`
//! runs it with whichever driver works.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = palisade_fuzz::targets::trace_filter(data);
});
