//! The check catalogue for `palisade checks`.

use crate::human::{paint, severity_cell};
use crate::text::{clean, pad, width};
use crate::{Format, RenderOptions};
use owo_colors::Style;
use palisade_model::CheckMeta;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Writes the check catalogue: [`Format::Human`] is a table (ID, SEVERITY, TITLE) grouped by
/// family, [`Format::Json`] an array of the full metadata of every check. Other formats fail
/// with [`io::ErrorKind::Unsupported`].
pub fn render_checks(
    format: Format,
    checks: &[CheckMeta],
    out: &mut dyn Write,
    opts: &RenderOptions,
) -> io::Result<()> {
    let mut buf = Vec::new();
    match format {
        Format::Human => human(checks, &mut buf, opts)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut buf, checks)?;
            buf.push(b'\n');
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the check list cannot be written as {other} (use human or json)"),
            ));
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

fn human(checks: &[CheckMeta], out: &mut dyn Write, opts: &RenderOptions) -> io::Result<()> {
    // Families in order of first appearance (the catalogue's own order, PSS first), checks
    // within a family in catalogue order.
    let mut order: Vec<&str> = Vec::new();
    let mut families: BTreeMap<&str, Vec<&CheckMeta>> = BTreeMap::new();
    for c in checks {
        let fam = c.id.family();
        if !families.contains_key(fam) {
            order.push(fam);
        }
        families.entry(fam).or_default().push(c);
    }
    let id_w = checks
        .iter()
        .map(|c| width(&clean(c.id.as_str())))
        .max()
        .unwrap_or(0)
        .max("ID".len());
    let bold = Style::new().bold();
    writeln!(
        out,
        "{}",
        paint(
            &format!("{}  {}  TITLE", pad("ID", id_w), pad("SEVERITY", 8)),
            bold,
            opts
        )
    )?;
    for fam in order {
        writeln!(out)?;
        let list = &families[fam];
        writeln!(
            out,
            "{}",
            paint(
                &format!(
                    "{} ({})",
                    clean(fam),
                    if list.len() == 1 {
                        "1 check".to_string()
                    } else {
                        format!("{} checks", list.len())
                    }
                ),
                bold,
                opts
            )
        )?;
        for c in list {
            writeln!(
                out,
                "{}  {}  {}",
                pad(&clean(c.id.as_str()), id_w),
                severity_cell(c.severity, opts),
                clean(&c.title)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{} checks.", checks.len())
}
