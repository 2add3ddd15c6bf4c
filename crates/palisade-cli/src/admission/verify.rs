//! `palisade admission verify SUITE...`: Gatekeeper `gator verify` test suites, offline.

use anyhow::Context as _;
use clap::Args;
use palisade_admission::gatekeeper::suite::{
    CaseOutcome, RunFilter, SuiteError, find_suites, run_suite,
};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `palisade admission verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Suite files (`kind: Suite`), or directories searched recursively for them.
    #[arg(required = true, value_name = "SUITE")]
    pub paths: Vec<PathBuf>,
    /// Run only tests or cases whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,
    /// Print only failures and the summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `palisade admission verify`: prints each case as PASS/FAIL/SKIP (as `gator verify -v`
/// does), a line per suite and a total; exit 1 when any case fails or a suite cannot be run.
pub fn run(a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let filter = RunFilter::new(a.run.as_deref())
        .map_err(anyhow::Error::msg)
        .context("--run: invalid regular expression")?;
    let (suites, errors) = find_suites(&a.paths);
    let mut out = std::io::stdout().lock();
    let mut failed_suites = 0usize;
    for e in &errors {
        writeln!(out, "FAIL\t{e}")?;
        failed_suites += 1;
    }
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for path in &suites {
        let started = Instant::now();
        let report = match run_suite(path, &filter) {
            Ok(r) => r,
            Err(SuiteError::NotASuite { .. }) if !a.paths.contains(path) => continue,
            Err(e) => {
                writeln!(out, "FAIL\t{e}")?;
                failed_suites += 1;
                continue;
            }
        };
        for t in &report.tests {
            if !a.quiet {
                writeln!(out, "=== RUN   {}", t.name)?;
            }
            if t.skipped {
                if !a.quiet {
                    writeln!(out, "--- SKIP: {}", t.name)?;
                }
                continue;
            }
            if let Some(e) = &t.error {
                writeln!(out, "--- FAIL: {}\n    {e}", t.name)?;
                continue;
            }
            for c in &t.cases {
                match &c.outcome {
                    CaseOutcome::Pass if !a.quiet => writeln!(out, "    --- PASS: {}", c.name)?,
                    CaseOutcome::Pass => {}
                    CaseOutcome::Skip if !a.quiet => writeln!(out, "    --- SKIP: {}", c.name)?,
                    CaseOutcome::Skip => {}
                    CaseOutcome::Fail(why) => {
                        writeln!(out, "    --- FAIL: {} ({})\n        {why}", c.name, t.name)?
                    }
                }
            }
            if !a.quiet {
                let status = if t.passed() { "PASS" } else { "FAIL" };
                writeln!(out, "--- {status}: {}", t.name)?;
            }
        }
        let (p, f, s) = report.counts();
        passed += p;
        failed += f;
        skipped += s;
        let status = if f == 0 { "ok" } else { "FAIL" };
        writeln!(
            out,
            "{status}\t{}\t{:.3}s",
            path.display(),
            started.elapsed().as_secs_f64()
        )?;
        if f > 0 {
            failed_suites += 1;
        }
    }
    writeln!(
        out,
        "cases: {passed} passed, {failed} failed, {skipped} skipped ({} suite(s))",
        suites.len()
    )?;
    Ok(if failed_suites == 0 && failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
