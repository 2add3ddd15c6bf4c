//! `palisade admission verify` (being written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `palisade admission verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {}

/// Run `palisade admission verify`.
pub fn run(_a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("palisade admission verify is not built yet")
}
