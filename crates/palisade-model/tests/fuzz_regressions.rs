//! Every input the fuzzers found a problem with (`fuzz/regressions/`) loads without panicking
//! and is refused with a diagnostic where it is hostile. A reintroduced exponential case makes
//! this test hang instead of finishing in milliseconds.

use palisade_model::{Inventory, LoadOptions, pod_template};

#[test]
fn fuzz_regressions_load_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/regressions exists")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let mut inv = Inventory::new();
        inv.add_text(&f.display().to_string(), &text, &LoadOptions::default());
        for obj in &inv.objects {
            if let Some(t) = pod_template(obj) {
                let _ = t.containers().count();
            }
        }
        let name = f.file_name().unwrap().to_string_lossy();
        if name.starts_with("load-hang") {
            assert!(inv.has_errors(), "{name}: hostile input should be refused");
        }
    }
}
