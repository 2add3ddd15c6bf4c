//! `palisade netpol list`: every allowed connection between workloads and to or from addresses
//! outside the cluster, as text, JSON, CSV, Markdown, DOT or an HTML colour grid.

use anyhow::{Context, Result, bail};
use palisade_model::{DiagLevel, Inventory, LoadOptions};
use palisade_netpol::Cluster;
use palisade_netpol::output::{self, Format};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Lines read `src => dst : TCP 6379,UDP 53`: workloads as ns/name[Kind], addresses outside the cluster as first-last[External], `All Connections` when nothing is restricted.\n\nExamples:\n  palisade netpol list -f examples/guestbook-hardened/\n  palisade netpol list -f manifests/ --focus-workload shop/web -o csv\n  palisade netpol list -f manifests/ -o dot | dot -Tsvg > connectivity.svg\n  palisade netpol list -f manifests/ -o html --output-file connectivity.html\n\nExit codes: 0 listed, 2 usage or input error."
)]
pub struct Args {
    /// Manifest files or directories (`-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "MANIFESTS", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Only connections from or to this workload (`name` or `namespace/name`).
    #[arg(long, value_name = "NAME|NS/NAME")]
    pub focus_workload: Option<String>,
    /// Output format.
    #[arg(short, long, value_name = "FORMAT", default_value = "txt", value_parser = ["txt", "json", "csv", "md", "dot", "html"])]
    pub output: String,
    /// Cut outside address ranges at every ipBlock boundary a policy names, without merging
    /// neighbours with the same ports (the way np-guard/netpol-analyzer lists them). By default
    /// neighbouring ranges with the same ports are merged.
    #[arg(long)]
    pub split_ranges: bool,
    /// Write the output to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Namespace for objects that do not set one.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
}

/// A version of the manifests, loaded: the inventory's and the engine's diagnostics have been
/// printed to standard error.
pub(crate) struct Loaded {
    /// The cluster model.
    pub cluster: Cluster,
    /// Whether the input had errors.
    pub errors: bool,
}

/// Loads manifests and builds the cluster model, printing diagnostics to standard error.
pub(crate) fn load(files: &[PathBuf], namespace: &str) -> Result<Loaded> {
    let opts = LoadOptions {
        default_namespace: namespace.to_string(),
        ..LoadOptions::default()
    };
    let inv = Inventory::load_paths(files, &opts);
    let (cluster, netpol_diags) = Cluster::from_inventory(&inv);
    let mut stderr = std::io::stderr().lock();
    for d in inv.diagnostics.iter().chain(&netpol_diags) {
        if d.level != DiagLevel::Notice {
            writeln!(stderr, "{d}")?;
        }
    }
    let errors = inv.has_errors() || netpol_diags.iter().any(|d| d.level == DiagLevel::Error);
    Ok(Loaded { cluster, errors })
}

/// Writes `text` to `file`, or to standard output.
pub(crate) fn emit(text: &str, file: Option<&Path>) -> Result<()> {
    match file {
        Some(f) => std::fs::write(f, text).with_context(|| format!("writing {}", f.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Runs `palisade netpol list`.
pub fn run(a: &Args) -> Result<ExitCode> {
    let format: Format = a.output.parse().map_err(anyhow::Error::msg)?;
    let timings = std::env::var_os("PALISADE_TIMINGS").is_some();
    let t0 = std::time::Instant::now();
    let loaded = load(&a.files, &a.namespace)?;
    let c = &loaded.cluster;
    let t_load = t0.elapsed();
    let conns = palisade_netpol::connectivity(c);
    let t_conn = t0.elapsed();
    let mut lines = output::lines(c, &conns);
    let t_lines = t0.elapsed();
    if a.split_ranges {
        lines = output::split_at_policy_blocks(c, lines);
    }
    if let Some(spec) = &a.focus_workload {
        let known = c.workloads.iter().any(|w| match spec.split_once('/') {
            Some((ns, n)) => w.namespace == ns && w.name == n,
            None => w.name == *spec,
        });
        if !known {
            bail!("--focus-workload {spec}: no workload of that name in the manifests");
        }
        lines = output::focus(&lines, spec);
    }
    let text = match format {
        Format::Html => output::html::page(c, &lines, a.focus_workload.as_deref()),
        f => output::render(c, &lines, f),
    };
    emit(&text, a.output_file.as_deref())?;
    if timings {
        eprintln!(
            "timings: load {:.3}s, connectivity {:.3}s ({} connections), lines {:.3}s ({} lines), render+write {:.3}s; {} workloads, {} policies",
            t_load.as_secs_f64(),
            (t_conn - t_load).as_secs_f64(),
            conns.len(),
            (t_lines - t_conn).as_secs_f64(),
            lines.len(),
            (t0.elapsed() - t_lines).as_secs_f64(),
            c.workloads.len(),
            c.policies.len()
        );
    }
    Ok(if loaded.errors {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
