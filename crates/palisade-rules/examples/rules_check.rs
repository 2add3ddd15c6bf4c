//! Loads rules files in order and reports what compiled: rules, macros, lists, errors and
//! warnings by kind. Used by `scripts/conformance-falco`.
//!
//! Usage: `rules_check [--strict FILE] [--scenarios FIXTURE] FILE...` — exits 1 when any error
//! concerns a `--strict` file (or any file, when none is given), or when a scenario fixture (run
//! with the files loaded first) fails.

use palisade_rules::{LoadOptions, RuleSet, WarningCode};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() {
    let mut files = Vec::new();
    let mut strict = Vec::new();
    let mut scenarios = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--scenarios" {
            if let Some(f) = args.next() {
                scenarios.push(PathBuf::from(f));
            }
        } else if a == "--strict" {
            if let Some(f) = args.next() {
                strict.push(f.clone());
                files.push(PathBuf::from(f));
            }
        } else {
            files.push(PathBuf::from(a));
        }
    }
    let out = RuleSet::load_lenient(&files, &LoadOptions::default());
    let rs = &out.ruleset;
    let mut per_file: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    for r in rs.rules() {
        let e = per_file.entry(r.loc.file.clone()).or_default();
        e.0 += 1;
        if r.enabled {
            e.1 += 1;
        }
        if r.skipped {
            e.2 += 1;
        }
    }
    for e in &out.errors {
        per_file.entry(e.loc.file.clone()).or_default().3 += 1;
    }
    for f in &files {
        let name = f.display().to_string();
        let (n, en, sk, er) = per_file.get(&name).copied().unwrap_or_default();
        println!(
            "{name}: {n} rules compiled ({en} enabled, {sk} skipped for unknown fields), {er} errors"
        );
    }
    println!(
        "total: {} rules compiled, {} active, {} macros, {} lists, {} errors, {} warnings",
        rs.rules().len(),
        rs.active_count(),
        rs.macro_count(),
        rs.list_count(),
        out.errors.len(),
        out.warnings.len()
    );
    let fields = rs.fields_used();
    let no_source: Vec<&str> = fields
        .iter()
        .filter(|f| palisade_rules::fields::lookup(f).is_some_and(|i| i.field.has_no_source()))
        .map(String::as_str)
        .collect();
    println!(
        "fields referenced: {} ({} without a data source in this engine: {})",
        fields.len(),
        no_source.len(),
        if no_source.is_empty() {
            "none".to_string()
        } else {
            no_source.join(", ")
        }
    );
    for e in &out.errors {
        println!("error: {e}");
    }
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for w in &out.warnings {
        *by_code.entry(format!("{:?}", w.code)).or_default() += 1;
        if !matches!(w.code, WarningCode::UnusedMacro | WarningCode::UnusedList) {
            println!("{w}");
        }
    }
    for (k, n) in by_code {
        println!("warnings {k}: {n}");
    }
    let mut scenario_failed = false;
    for s in &scenarios {
        let result = std::fs::read_to_string(s)
            .map_err(|e| e.to_string())
            .and_then(|t| palisade_rules::fixture::run(&t, &files));
        match result {
            Ok(n) => println!("scenarios {}: {n} checks passed", s.display()),
            Err(e) => {
                println!("scenarios {}: FAILED: {e}", s.display());
                scenario_failed = true;
            }
        }
    }
    let failed = scenario_failed
        || out
            .errors
            .iter()
            .any(|e| strict.is_empty() || strict.contains(&e.loc.file));
    std::process::exit(if failed { 1 } else { 0 });
}
