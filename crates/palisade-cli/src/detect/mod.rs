//! `palisade detect` (being written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `palisade detect`.
#[derive(Args, Debug)]
pub struct DetectArgs {}

/// Run `palisade detect`.
pub fn run(_a: &DetectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("palisade detect is not built yet")
}
