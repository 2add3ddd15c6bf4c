//! The human-readable listing: findings grouped by object, then a summary.

use crate::text::{clean, object_label, pad, position, width};
use crate::{Catalog, Counts, RenderOptions, Report, SEVERITIES_DESC, sorted};
use owo_colors::{OwoColorize, Style};
use palisade_model::{Finding, ObjectRef, Severity, SuppressedBy};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

/// Width of the severity column (`CRITICAL`).
const SEV_WIDTH: usize = 8;

pub(crate) fn paint(s: &str, style: Style, opts: &RenderOptions) -> String {
    if opts.color {
        s.style(style).to_string()
    } else {
        s.to_string()
    }
}

pub(crate) fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().red().bold(),
        Severity::High => Style::new().red(),
        Severity::Medium => Style::new().yellow(),
        Severity::Low => Style::new().blue(),
        Severity::Info => Style::new().dimmed(),
    }
}

/// The severity, upper case, padded to the column width, coloured when asked.
pub(crate) fn severity_cell(s: Severity, opts: &RenderOptions) -> String {
    let text = pad(&s.as_str().to_ascii_uppercase(), SEV_WIDTH);
    paint(&text, severity_style(s), opts)
}

/// `file:line:column`, leaving out what is unknown (zero).
fn location(f: &Finding) -> String {
    position(&clean(&f.location.file), f.location.line, f.location.column)
}

fn suppression_note(f: &Finding) -> String {
    let Some(s) = &f.suppressed else {
        return String::new();
    };
    let by = match s.by {
        SuppressedBy::Annotation => "annotation",
        SuppressedBy::Config => "config",
    };
    match &s.reason {
        Some(r) => format!("suppressed by {by}: {}", clean(r)),
        None => format!("suppressed by {by}"),
    }
}

pub(crate) fn render(
    report: &Report<'_>,
    out: &mut dyn Write,
    opts: &RenderOptions,
) -> io::Result<()> {
    let catalog = Catalog::new(report.checks);
    let counts = Counts::of(report);
    let active = sorted(report.findings, false);

    // Group by (file, object); order groups by file, then the object's first line.
    let mut groups: BTreeMap<(&str, &ObjectRef), Vec<&Finding>> = BTreeMap::new();
    for f in &active {
        groups
            .entry((f.location.file.as_str(), &f.object))
            .or_default()
            .push(f);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|((file, obj), fs)| {
        let first = fs.iter().map(|f| f.location.line).filter(|&l| l > 0).min();
        (*file, first.unwrap_or(u32::MAX), *obj)
    });

    let loc_w = active
        .iter()
        .map(|f| width(&location(f)))
        .max()
        .unwrap_or(0);
    let id_w = active
        .iter()
        .map(|f| width(&clean(f.check.as_str())))
        .max()
        .unwrap_or(0);

    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let mut explained: HashSet<&str> = HashSet::new();
    for ((file, obj), fs) in &groups {
        // The object's first known line (findings without a position have line 0).
        let first = fs.iter().map(|f| f.location.line).filter(|&l| l > 0).min();
        let place = match first {
            Some(l) => format!("{}:{l}", clean(file)),
            None => clean(file).into_owned(),
        };
        writeln!(
            out,
            "{}  {}",
            paint(&clean(&object_label(obj)), bold, opts),
            paint(&place, dim, opts)
        )?;
        for f in fs {
            writeln!(
                out,
                "  {}  {}  {}  {}",
                pad(&location(f), loc_w),
                severity_cell(f.severity, opts),
                pad(&clean(f.check.as_str()), id_w),
                clean(&f.message)
            )?;
            if explained.insert(f.check.as_str()) {
                write_remediation(out, &catalog, f, loc_w, opts)?;
            }
        }
        writeln!(out)?;
    }

    if report.show_suppressed && counts.suppressed > 0 {
        writeln!(out, "{}", paint("Suppressed findings", bold, opts))?;
        let supp: Vec<&Finding> = sorted(report.findings, true)
            .into_iter()
            .filter(|f| f.suppressed.is_some())
            .collect();
        let loc_w = supp.iter().map(|f| width(&location(f))).max().unwrap_or(0);
        let id_w = supp
            .iter()
            .map(|f| width(&clean(f.check.as_str())))
            .max()
            .unwrap_or(0);
        for f in supp {
            writeln!(
                out,
                "  {}  {}  {}  {}: {}",
                pad(&location(f), loc_w),
                severity_cell(f.severity, opts),
                pad(&clean(f.check.as_str()), id_w),
                clean(&object_label(&f.object)),
                clean(&f.message),
            )?;
            writeln!(
                out,
                "  {}  {}",
                " ".repeat(loc_w),
                paint(&suppression_note(f), dim, opts)
            )?;
        }
        writeln!(out)?;
    }

    write_summary(out, report, &counts, groups.len(), opts)
}

/// Remediations longer than this are not printed inline (they would drown the findings);
/// the line points to `palisade checks -o json` instead.
const MAX_HINT_LINES: usize = 8;

/// The remediation of a check, indented under its first finding.
fn write_remediation(
    out: &mut dyn Write,
    catalog: &Catalog<'_>,
    f: &Finding,
    loc_w: usize,
    opts: &RenderOptions,
) -> io::Result<()> {
    let Some(meta) = catalog.get(&f.check) else {
        return Ok(());
    };
    let text = meta.remediation.trim_end();
    if text.trim().is_empty() {
        return Ok(());
    }
    let indent = " ".repeat(2 + loc_w + 2);
    let dim = Style::new().dimmed();
    let lines = text.lines().count();
    if lines > MAX_HINT_LINES {
        let note = format!(
            "remediation: a {lines}-line example, see `palisade checks -o json` ({})",
            clean(f.check.as_str())
        );
        return writeln!(out, "{indent}{}", paint(&note, dim, opts));
    }
    writeln!(out, "{indent}{}", paint("remediation:", dim, opts))?;
    for line in text.lines() {
        writeln!(out, "{indent}  {}", paint(&clean(line), dim, opts))?;
    }
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn write_summary(
    out: &mut dyn Write,
    report: &Report<'_>,
    counts: &Counts,
    objects_with_findings: usize,
    opts: &RenderOptions,
) -> io::Result<()> {
    let bold = Style::new().bold();
    if counts.active == 0 {
        writeln!(
            out,
            "{}",
            paint("No findings.", Style::new().green().bold(), opts)
        )?;
    } else {
        let by_sev: Vec<String> = SEVERITIES_DESC
            .iter()
            .map(|&s| {
                let n = counts.severity(s);
                let text = format!("{n} {s}");
                if n > 0 {
                    paint(&text, severity_style(s), opts)
                } else {
                    text
                }
            })
            .collect();
        writeln!(
            out,
            "{} ({}) in {}.",
            paint(&plural(counts.active, "finding", "findings"), bold, opts),
            by_sev.join(", "),
            plural(objects_with_findings, "object", "objects")
        )?;
    }
    writeln!(
        out,
        "Scanned {} and {}.",
        plural(report.files_scanned, "file", "files"),
        plural(report.objects_scanned, "object", "objects")
    )?;
    if counts.suppressed > 0 {
        let hint = if report.show_suppressed {
            ""
        } else {
            " (use --show-suppressed to list them)"
        };
        writeln!(
            out,
            "{} suppressed{hint}.",
            plural(counts.suppressed, "finding", "findings")
        )?;
    }
    if counts.input_errors > 0 {
        writeln!(
            out,
            "{} in the input; some objects may not have been checked.",
            paint(
                &plural(counts.input_errors, "error", "errors"),
                Style::new().red().bold(),
                opts
            )
        )?;
    }
    Ok(())
}
