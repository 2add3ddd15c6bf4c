//! `palisade trace` (being written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `palisade trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {}

/// Run `palisade trace`.
pub fn run(_a: &TraceArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("palisade trace is not built yet")
}
