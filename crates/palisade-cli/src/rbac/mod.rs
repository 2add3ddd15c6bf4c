//! `palisade rbac ...`: the RBAC authorizer offline.

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

pub mod analyze;
pub mod cani;
pub mod reconcile;
pub mod whocan;

/// `palisade rbac` subcommands.
#[derive(Subcommand, Debug)]
pub enum RbacCommand {
    /// Can a user, group or service account do VERB on RESOURCE? (like `kubectl auth can-i`)
    CanI(Box<cani::Args>),
    /// Every subject allowed to do VERB on RESOURCE, with the binding -> role -> rule chain.
    WhoCan(Box<whocan::Args>),
    /// What `kubectl auth reconcile` would do to bring the current state to the desired one.
    Reconcile(Box<reconcile::Args>),
    /// Risky grants and escalation paths to cluster-admin or secrets.
    Analyze(Box<analyze::Args>),
}

/// Runs a `palisade rbac` subcommand.
pub fn run(cmd: &RbacCommand) -> Result<ExitCode> {
    match cmd {
        RbacCommand::CanI(a) => cani::run(a),
        RbacCommand::WhoCan(a) => whocan::run(a),
        RbacCommand::Reconcile(a) => reconcile::run(a),
        RbacCommand::Analyze(a) => analyze::run(a),
    }
}
