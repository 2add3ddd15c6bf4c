//! `palisade admission` (being written).

use clap::Subcommand;
use std::process::ExitCode;

/// Subcommands of `palisade admission`.
#[derive(Subcommand, Debug)]
pub enum AdmissionCommand {}

/// Run `palisade admission`.
pub fn run(_c: &AdmissionCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("palisade admission is not built yet")
}
