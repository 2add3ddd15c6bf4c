//! `palisade rbac` subcommand (being written).

use anyhow::{Result, bail};
use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_a: &Args) -> Result<ExitCode> {
    bail!("not available yet")
}
