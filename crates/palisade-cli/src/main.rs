//! `palisade`: defense in depth for Kubernetes.
//!
//! A thin binary: it parses arguments, calls the library crates and maps outcomes to exit
//! codes (0 clean, 1 findings at or above `--fail-on`, 2 usage or input errors).

mod admission;
mod args;
mod detect;
mod netpol;
mod rbac;
mod rules;
mod scan;
mod trace;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: fewer instructions per allocation for the
/// admission webhook's Gatekeeper evaluation (crates/palisade-admission/README.md, Load).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Scan(a) => scan::run(&a),
        args::Command::Checks(a) => scan::list_checks(&a),
        args::Command::Rbac(c) => rbac::run(&c),
        args::Command::Netpol(c) => netpol::run(&c),
        args::Command::Trace(a) => trace::run(&a),
        args::Command::Detect(a) => detect::run(&a),
        args::Command::Rules(c) => rules::run(&c),
        args::Command::Admission(c) => admission::run(&c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`palisade scan . | head`) is not an error.
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("palisade: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
