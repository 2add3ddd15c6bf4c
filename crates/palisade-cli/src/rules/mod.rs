//! `palisade rules` (being written).

use clap::Subcommand;
use std::process::ExitCode;

/// Subcommands of `palisade rules`.
#[derive(Subcommand, Debug)]
pub enum RulesCommand {}

/// Run `palisade rules`.
pub fn run(_c: &RulesCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("palisade rules is not built yet")
}
