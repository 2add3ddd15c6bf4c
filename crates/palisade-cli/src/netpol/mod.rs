//! `palisade netpol ...`: NetworkPolicy reachability, explanations, diffs and lint, offline
//! from manifests.

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

pub mod diff;
pub mod eval;
pub mod lint;
pub mod list;

/// `palisade netpol` subcommands.
#[derive(Subcommand, Debug)]
pub enum NetpolCommand {
    /// Every allowed connection between workloads and to or from addresses outside the cluster.
    List(Box<list::Args>),
    /// Is one connection allowed, and why (which policies isolate each side, which rule admits)?
    Eval(Box<eval::Args>),
    /// Connections added and removed between two versions of the manifests.
    Diff(Box<diff::Args>),
    /// Common NetworkPolicy mistakes, as `netpol/` findings.
    Lint(Box<lint::Args>),
}

/// Runs a `palisade netpol` subcommand.
pub fn run(cmd: &NetpolCommand) -> Result<ExitCode> {
    match cmd {
        NetpolCommand::List(a) => list::run(a),
        NetpolCommand::Eval(a) => eval::run(a),
        NetpolCommand::Diff(a) => diff::run(a),
        NetpolCommand::Lint(a) => lint::run(a),
    }
}
