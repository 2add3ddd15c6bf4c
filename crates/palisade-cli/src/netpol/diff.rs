//! `palisade netpol diff`: connections added, removed and changed between two versions of the
//! manifests.

use super::list::{emit, load};
use anyhow::{Result, bail};
use palisade_netpol::diff::{self, Format};
use palisade_netpol::output::{self, Peer};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The new version is given with --f2 (or -2). `-f OLD -f2 NEW`, as the issue spells it, also works: a lone `2` among the -f values (not an existing path) starts the new version.\n\nExamples:\n  palisade netpol diff -f old/ --f2 new/\n  palisade netpol diff -f old/ -2 new/ -o md\n\nExit codes: 0 no change, 1 changes, 2 usage or input error."
)]
pub struct Args {
    /// Manifest files or directories of the old version.
    #[arg(short = 'f', long = "filename", value_name = "OLD", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Manifest files or directories of the new version.
    #[arg(short = '2', long = "f2", visible_alias = "filename2", value_name = "NEW", num_args = 1..)]
    pub files2: Vec<PathBuf>,
    /// What follows `-f2` (clap reads `-f2` as `-f 2`; the arguments after it are the new version).
    #[arg(hide = true, value_name = "NEW")]
    pub rest: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_name = "FORMAT", default_value = "txt", value_parser = ["txt", "json", "csv", "md"])]
    pub output: String,
    /// Write the output to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Namespace for objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
}

/// The old and new file lists: `--f2` values, or, for `-f OLD -f2 NEW`, which clap reads as
/// `-f OLD 2` followed by free arguments, the -f values before the lone `2` (when no such path
/// exists) and everything after it.
fn versions(a: &Args) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    if !a.files2.is_empty() {
        if let Some(extra) = a.rest.first() {
            bail!("unexpected argument {}", extra.display());
        }
        return Ok((a.files.clone(), a.files2.clone()));
    }
    let split = a
        .files
        .iter()
        .position(|p| p.as_os_str() == "2" && !p.exists());
    let Some(i) = split else {
        if let Some(extra) = a.rest.first() {
            bail!("unexpected argument {}", extra.display());
        }
        bail!("the new version is missing: give it with --f2 NEW (or -2 NEW)");
    };
    let old = a.files[..i].to_vec();
    let new: Vec<PathBuf> = a.files[i + 1..].iter().chain(&a.rest).cloned().collect();
    if old.is_empty() || new.is_empty() {
        bail!("give the old version with -f OLD and the new one with --f2 NEW");
    }
    Ok((old, new))
}

fn workloads(c: &palisade_netpol::Cluster) -> BTreeSet<Peer> {
    (0..c.workloads.len())
        .map(|i| Peer::of(c, &palisade_netpol::Endpoint::Workload(i)))
        .collect()
}

/// Runs `palisade netpol diff`.
pub fn run(a: &Args) -> Result<ExitCode> {
    let format: Format = a.output.parse().map_err(anyhow::Error::msg)?;
    let (old_files, new_files) = versions(a)?;
    let old = load(&old_files, &a.namespace)?;
    let new = load(&new_files, &a.namespace)?;
    if old.errors || new.errors {
        return Ok(ExitCode::from(2));
    }
    let old_lines = output::lines(&old.cluster, &palisade_netpol::connectivity(&old.cluster));
    let new_lines = output::lines(&new.cluster, &palisade_netpol::connectivity(&new.cluster));
    let changes = diff::diff(
        &old_lines,
        &new_lines,
        &workloads(&old.cluster),
        &workloads(&new.cluster),
    );
    emit(&diff::render(&changes, format), a.output_file.as_deref())?;
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
