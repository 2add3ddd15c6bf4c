//! `palisade admission` (being written).

mod verify;

use clap::Subcommand;
use std::process::ExitCode;

/// Subcommands of `palisade admission`.
#[derive(Subcommand, Debug)]
pub enum AdmissionCommand {
    /// Run Gatekeeper `gator verify` test suites offline.
    Verify(verify::VerifyArgs),
}

/// Run `palisade admission`.
pub fn run(c: &AdmissionCommand) -> anyhow::Result<ExitCode> {
    match c {
        AdmissionCommand::Verify(a) => verify::run(a),
    }
}
