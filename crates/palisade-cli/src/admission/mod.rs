//! `palisade admission`: the webhook server, audit of existing objects, and `gator verify`
//! suites.

mod audit;
mod serve;
mod verify;

use clap::Subcommand;
use std::process::ExitCode;

/// Subcommands of `palisade admission`.
#[derive(Subcommand, Debug)]
pub enum AdmissionCommand {
    /// Run the validating and mutating webhook (HTTPS).
    #[command(
        after_help = "Examples:\n  palisade admission serve --config /etc/palisade/admission.yaml\n  palisade admission serve --self-signed --dns-name localhost --listen 127.0.0.1:8443"
    )]
    Serve(serve::ServeArgs),
    /// Evaluate existing objects against every admission policy (PSS and Gatekeeper).
    #[command(
        after_help = "Examples:\n  palisade admission audit -f manifests/\n  palisade admission audit -f cluster-dump/ --policies policies/ -o json\n  palisade admission audit --cluster --kubeconfig ~/.kube/config -o sarif"
    )]
    Audit(audit::AuditArgs),
    /// Run Gatekeeper `gator verify` test suites offline.
    Verify(verify::VerifyArgs),
}

/// Run `palisade admission`.
pub fn run(c: &AdmissionCommand) -> anyhow::Result<ExitCode> {
    match c {
        AdmissionCommand::Serve(a) => serve::run(a),
        AdmissionCommand::Audit(a) => audit::run(a),
        AdmissionCommand::Verify(a) => verify::run(a),
    }
}
