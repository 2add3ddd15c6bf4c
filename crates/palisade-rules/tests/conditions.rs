//! Data-driven engine tests: every `testdata/conditions/*.yaml` fixture (rules, state, events,
//! expected alerts or load errors), run by [`palisade_rules::fixture`].

use palisade_rules::fixture;
use std::path::Path;

#[test]
fn condition_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/conditions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/conditions")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "fixtures missing");
    let mut failures = Vec::new();
    let mut total = 0;
    for f in &files {
        match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| fixture::run(&t, &[]))
        {
            Ok(n) => {
                assert!(n > 0, "{}: fixture checks nothing", f.display());
                total += n;
            }
            Err(e) => failures.push(format!("{}: {e}", f.file_name().unwrap().to_string_lossy())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{} fixtures, {total} checks", files.len());
}
