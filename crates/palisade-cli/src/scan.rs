//! `palisade scan` and `palisade checks`.

use crate::args::{ChecksArgs, ColorChoice, ListFormat, ScanArgs};
use anyhow::{Context, Result, bail};
use palisade_model::{DiagLevel, Inventory, LoadOptions, Severity, collect_inputs};
use palisade_posture::Config;
use palisade_report::{Format, RenderOptions, Report};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Above this many files a progress bar is shown (when standard error is a terminal).
const PROGRESS_MIN_FILES: usize = 300;

/// Whether to colour output for the user's choice and the kind of output stream.
pub(crate) fn use_color(choice: ColorChoice, to_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Renders a report to `output_file` (colour only with `--color always`) or to standard output
/// (colour on a terminal unless `--color never`), as `scan` and `admission audit` do.
pub(crate) fn write_report(
    report: &Report<'_>,
    format: Format,
    output_file: Option<&std::path::Path>,
    color: ColorChoice,
) -> Result<()> {
    match output_file {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let color = color == ColorChoice::Always;
            palisade_report::render(format, report, &mut w, &RenderOptions { color })?;
            w.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let color = use_color(color, stdout.is_terminal());
            let mut w = std::io::BufWriter::new(stdout.lock());
            palisade_report::render(format, report, &mut w, &RenderOptions { color })?;
            w.flush()?;
        }
    }
    Ok(())
}

/// The configuration file in force: none with `--no-config`, the `--config` file, or
/// `.palisade.yaml` in the current directory when it exists.
pub(crate) fn config_file(no_config: bool, path: Option<&std::path::Path>) -> Result<Config> {
    let default = std::path::Path::new(".palisade.yaml");
    Ok(match path {
        _ if no_config => Config::default(),
        Some(path) => Config::from_file(path)?,
        None if default.is_file() => Config::from_file(default)?,
        None => Config::default(),
    })
}

fn load_config(a: &ScanArgs) -> Result<Config> {
    let mut cfg = config_file(a.no_config, a.config.as_deref())?;
    if let Some(level) = &a.pss_level {
        if !matches!(level.as_str(), "privileged" | "baseline" | "restricted") {
            bail!("--pss-level {level:?}: expected privileged, baseline or restricted");
        }
        cfg.pss.level = Some(level.clone());
    }
    if let Some(version) = &a.pss_version {
        if !valid_policy_version(version) {
            bail!("--pss-version {version:?}: expected latest or v1.N (e.g. v1.29)");
        }
        cfg.pss.version = Some(version.clone());
    }
    if let Some(v) = &a.kube_version {
        let minor = v
            .trim_start_matches('v')
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u32>().ok());
        if minor.is_none() {
            bail!("--kube-version {v:?}: expected 1.N (e.g. 1.30)");
        }
        cfg.kube_version = Some(v.clone());
    }
    cfg.disabled_checks.extend(a.disable.iter().cloned());
    cfg.allowed_registries
        .extend(a.allowed_registry.iter().cloned());
    Ok(cfg)
}

fn valid_policy_version(v: &str) -> bool {
    v == "latest"
        || v.strip_prefix("v1.").is_some_and(|m| {
            !m.is_empty()
                && m.bytes().all(|b| b.is_ascii_digit())
                && (m == "0" || !m.starts_with('0'))
        })
}

/// Runs `palisade scan`.
pub fn run(a: &ScanArgs) -> Result<ExitCode> {
    let fail_on: Severity = a.fail_on.parse().context("--fail-on")?;
    let cfg = load_config(a)?;
    let opts = LoadOptions {
        default_namespace: a.namespace.clone(),
        ..LoadOptions::default()
    };

    let timings = std::env::var_os("PALISADE_TIMINGS").is_some();
    let t0 = std::time::Instant::now();
    let (inputs, diags) = collect_inputs(&a.paths);
    let progress =
        (std::io::stderr().is_terminal() && inputs.len() > PROGRESS_MIN_FILES).then(|| {
            let bar = indicatif::ProgressBar::new(inputs.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} loading {pos}/{len} files {wide_bar} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
    let threads = a
        .threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let mut inv = Inventory::load_inputs(&inputs, &opts, threads, &|| {
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    });
    let mut all_diags = diags;
    all_diags.append(&mut inv.diagnostics);
    inv.diagnostics = all_diags;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    let mut stderr = anstream::stderr();
    for d in &inv.diagnostics {
        if a.quiet && d.level == DiagLevel::Notice {
            continue;
        }
        writeln!(stderr, "{d}")?;
    }

    let t_load = t0.elapsed();
    let mut findings = palisade_posture::scan_with_threads(&inv, &cfg, threads);
    let rbac = palisade_rbac::analysis::findings(&inv);
    findings.extend(palisade_posture::sink::apply_config(&inv, &cfg, rbac));
    let netpol = palisade_netpol::lint::findings(&inv);
    findings.extend(palisade_posture::sink::apply_config(&inv, &cfg, netpol));
    let findings = palisade_posture::sort_findings(&inv, findings);
    let t_scan = t0.elapsed();
    let checks = all_checks();
    let report = Report {
        findings: &findings,
        checks: &checks,
        diagnostics: &inv.diagnostics,
        files_scanned: inv.sources.len(),
        objects_scanned: inv.objects.len(),
        show_suppressed: a.show_suppressed,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    write_report(
        &report,
        Format::from(a.output),
        a.output_file.as_deref(),
        a.color,
    )?;

    if timings {
        let t_all = t0.elapsed();
        eprintln!(
            "timings: load {:.3}s, analyze {:.3}s, report {:.3}s; {} objects, {} findings, {} threads",
            t_load.as_secs_f64(),
            (t_scan - t_load).as_secs_f64(),
            (t_all - t_scan).as_secs_f64(),
            inv.objects.len(),
            findings.len(),
            threads
        );
    }
    let code = if inv.has_errors() {
        ExitCode::from(2)
    } else if findings
        .iter()
        .any(|f| f.suppressed.is_none() && f.severity >= fail_on)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends now: freeing every tree node one by one would only cost time.
    std::mem::forget(findings);
    std::mem::forget(inv);
    Ok(code)
}

/// Every check `scan` can report: posture, then RBAC, then the NetworkPolicy lint.
fn all_checks() -> Vec<palisade_model::CheckMeta> {
    let mut checks = palisade_posture::all_checks();
    checks.extend(palisade_rbac::analysis::checks());
    checks.extend(palisade_netpol::lint::checks());
    checks
}

/// Runs `palisade checks`.
pub fn list_checks(a: &ChecksArgs) -> Result<ExitCode> {
    let checks = all_checks();
    let stdout = std::io::stdout();
    let color = use_color(a.color, stdout.is_terminal());
    let format = match a.output {
        ListFormat::Human => Format::Human,
        ListFormat::Json => Format::Json,
    };
    let mut w = std::io::BufWriter::new(stdout.lock());
    palisade_report::render_checks(format, &checks, &mut w, &RenderOptions { color })?;
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_versions() {
        assert!(valid_policy_version("latest"));
        assert!(valid_policy_version("v1.0"));
        assert!(valid_policy_version("v1.37"));
        assert!(!valid_policy_version("v1.07"));
        assert!(!valid_policy_version("1.25"));
        assert!(!valid_policy_version("v1."));
    }
}
