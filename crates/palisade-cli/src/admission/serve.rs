//! `palisade admission serve`.

use anyhow::{Context, Result, bail};
use clap::Args;
use palisade_admission::config::{ClusterMode, DEFAULT_MAX_BODY};
use palisade_admission::live;
use palisade_admission::server::{self, ServeOptions, TlsSource};
use palisade_admission::{Admission, ServerConfig, tls};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `palisade admission serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Server configuration (YAML; see crates/palisade-admission/README.md).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the configuration (e.g. 127.0.0.1:8443).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Generate a CA and a serving certificate instead of reading certificate files, and print
    /// the caBundle for the webhook configurations.
    #[arg(long)]
    pub self_signed: bool,
    /// DNS name or IP address of the serving certificate (repeatable; with --self-signed).
    /// Default: localhost and 127.0.0.1. In a cluster: <service>.<namespace>.svc.
    #[arg(long, value_name = "NAME", requires = "self_signed")]
    pub dns_name: Vec<String>,
    /// With --self-signed: write ca.crt, tls.crt and tls.key into this directory and serve from
    /// the files (so that they can be replaced and are reloaded).
    #[arg(long, value_name = "DIR", requires = "self_signed")]
    pub cert_dir: Option<PathBuf>,
}

/// Runs `palisade admission serve`.
pub fn run(a: &ServeArgs) -> Result<ExitCode> {
    let mut cfg = match &a.config {
        Some(p) => ServerConfig::from_file(p)?,
        None => ServerConfig::default(),
    };
    if let Some(l) = &a.listen {
        l.parse::<std::net::SocketAddr>()
            .with_context(|| format!("--listen {l:?}"))?;
        cfg.listen = Some(l.clone());
    }
    let source = if a.self_signed {
        let names = if a.dns_name.is_empty() {
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
        } else {
            a.dns_name.clone()
        };
        let certs = tls::self_signed(&names)?;
        let source = match &a.cert_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let write = |name: &str, text: &str| {
                    let p = dir.join(name);
                    std::fs::write(&p, text)
                        .with_context(|| format!("cannot write {}", p.display()))
                };
                write("ca.crt", &certs.ca_pem)?;
                write("tls.crt", &certs.serving.cert)?;
                write("tls.key", &certs.serving.key)?;
                TlsSource::Files {
                    cert: dir.join("tls.crt"),
                    key: dir.join("tls.key"),
                    reload_every: Duration::from_secs(10),
                }
            }
            None => TlsSource::Pem(certs.serving.clone()),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "caBundle: {}", certs.ca_bundle())?;
        out.flush()?;
        source
    } else {
        let Some(t) = &cfg.tls else {
            bail!(
                "no certificate: set tls.certFile and tls.keyFile in the configuration, or use --self-signed"
            );
        };
        TlsSource::Files {
            cert: t.cert_file.clone(),
            key: t.key_file.clone(),
            reload_every: Duration::from_secs(t.reload_seconds.unwrap_or(10).max(1)),
        }
    };
    let (admission, diags) = Admission::from_config(&cfg)?;
    let mut errors = 0;
    for d in &diags {
        eprintln!("{d}");
        errors += usize::from(d.level == palisade_model::DiagLevel::Error);
    }
    if errors > 0 {
        bail!("{errors} error(s) in the namespaces, policies or RBAC files; not serving");
    }
    let opts = ServeOptions {
        max_body_bytes: cfg.limits.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        timeout: Duration::from_millis(
            cfg.limits
                .timeout_milliseconds
                .unwrap_or(palisade_admission::config::DEFAULT_TIMEOUT_MS),
        ),
        shutdown_grace: Duration::from_secs(cfg.limits.shutdown_grace_seconds.unwrap_or(10)),
        cluster: None,
    };
    let admission = Arc::new(admission);
    let constraints = admission.constraint_count();
    // Live cluster state: the watches run on a thread of their own and replace the state;
    // /readyz waits for their first lists.
    let (live, namespaces) = if cfg.cluster.mode() == ClusterMode::Live {
        let bg =
            live::start_background(admission.clone(), &cfg.cluster).context("cluster.enabled")?;
        (Some(bg), "namespaces from the API server".to_owned())
    } else {
        (
            None,
            format!("{} namespaces", admission.state().namespace_count()),
        )
    };
    let opts = ServeOptions {
        cluster: live.as_ref().map(|b| b.status.clone()),
        ..opts
    };
    server::serve_blocking(admission, cfg.listen_addr(), source, opts, |addr| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "palisade admission: listening on https://{addr} ({namespaces}, {constraints} constraints)"
        );
    })?;
    drop(live);
    Ok(ExitCode::SUCCESS)
}
