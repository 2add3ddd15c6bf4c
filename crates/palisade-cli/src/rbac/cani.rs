//! `palisade rbac can-i`: `kubectl auth can-i`, offline, from manifests.

use anyhow::{Result, bail};
use clap::ValueEnum;
use palisade_model::{DiagLevel, Inventory, LoadOptions, collect_inputs};
use palisade_rbac::authorizer::describe_rule;
use palisade_rbac::cani::{self, DEFAULT_NAMESPACE};
use palisade_rbac::{Authorizer, RbacStore, UserInfo};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  palisade rbac can-i list secrets -n prod --sa prod/web -f k8s/
  palisade rbac can-i create deployments.apps --as alice --as-group dev -f k8s/ --explain
  palisade rbac can-i get pods --subresource log --as system:serviceaccount:ci:runner -f k8s/
  palisade rbac can-i get /healthz --as system:anonymous -f k8s/
  palisade rbac can-i --list -n prod --sa prod/web -f k8s/
  palisade rbac can-i --list --compact --as alice -f k8s/ -o json

TYPE/NAME is read as kubectl reads it: `pods/log` is the pod named `log`; use --subresource
for subresources. Without -n the namespace is `default`; -A asks about all namespaces at once.
Unlike kubectl, a cluster-scoped resource granted only through a RoleBinding is answered `no`.

Exit codes: 0 yes (or --list printed), 1 no, 2 usage or input error.";

/// Output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// kubectl's text.
    Text,
    /// JSON.
    Json,
}

/// Arguments of `palisade rbac can-i`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Verb (`get`, `list`, `create`, `impersonate`, `*`, any custom verb).
    #[arg(value_name = "VERB")]
    pub verb: Option<String>,
    /// Resource (`pods`, `po`, `deployments.apps`, `pods/NAME`) or non-resource URL (`/healthz`).
    #[arg(value_name = "RESOURCE[/NAME] | URL")]
    pub resource: Option<String>,
    /// Subresource (`log`, `exec`, `scale`, `status`).
    #[arg(long)]
    pub subresource: Option<String>,
    /// Namespace of the request (default: `default`).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Ask about all namespaces (a request with no namespace: ClusterRoleBindings only).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// User to ask for (`alice`, `system:serviceaccount:ns:name`, `system:anonymous`).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// Group of that user (repeatable).
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// Service account to ask for, as NAMESPACE/NAME.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub sa: Option<String>,
    /// Manifest files or directories (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// Add the default ClusterRoles and bindings of a real cluster.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub with_defaults: bool,
    /// Say which binding, role and rule grant a `yes`, or why the answer is `no`.
    #[arg(long)]
    pub explain: bool,
    /// Print nothing; the exit code is the answer.
    #[arg(short, long)]
    pub quiet: bool,
    /// List everything the user can do in the namespace (kubectl's table).
    #[arg(long)]
    pub list: bool,
    /// With --list: a deduplicated, scope-aware view.
    #[arg(long, requires = "list")]
    pub compact: bool,
    /// With --list: no header line.
    #[arg(long)]
    pub no_headers: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Loads the manifests (diagnostics to standard error) into an aggregated store; `None` when
/// the input has errors.
pub fn load_store(files: &[PathBuf], with_defaults: bool) -> Result<Option<RbacStore>> {
    let (inputs, diags) = collect_inputs(files);
    if inputs.is_empty() && diags.is_empty() {
        bail!("no manifests found in {files:?}");
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut inv = Inventory::load_inputs(&inputs, &LoadOptions::default(), threads, &|| {});
    let mut all = diags;
    all.append(&mut inv.diagnostics);
    inv.diagnostics = all;
    let (mut store, rbac_diags) = RbacStore::from_inventory(&inv);
    let mut stderr = anstream::stderr();
    let mut errors = inv.has_errors();
    for d in inv.diagnostics.iter().chain(&rbac_diags) {
        writeln!(stderr, "{d}")?;
        errors |= d.level == DiagLevel::Error;
    }
    if errors {
        return Ok(None);
    }
    if with_defaults {
        store.add_bootstrap();
    }
    store.aggregate();
    Ok(Some(store))
}

/// The identity asked about: `--sa`, or `--as` with `--as-group`.
pub fn identity(as_user: Option<&str>, groups: &[String], sa: Option<&str>) -> Result<UserInfo> {
    match (as_user, sa) {
        (Some(_), Some(_)) => bail!("--as and --sa are exclusive"),
        (None, None) => {
            bail!("say who is asking: --as USER [--as-group G]... or --sa NAMESPACE/NAME")
        }
        (Some(u), None) => {
            if u.is_empty() {
                bail!("--as: empty user name");
            }
            Ok(UserInfo::user(u, groups.iter().cloned()))
        }
        (None, Some(s)) => {
            let Some((ns, name)) = s
                .split_once('/')
                .filter(|(n, m)| !n.is_empty() && !m.is_empty() && !m.contains('/'))
            else {
                bail!("--sa {s:?}: expected NAMESPACE/NAME");
            };
            let mut u = UserInfo::service_account(ns, name);
            for g in groups {
                if !u.groups.contains(g) {
                    u.groups.push(g.clone());
                }
            }
            Ok(u)
        }
    }
}

fn warn(msg: &str) {
    let mut e = anstream::stderr();
    let _ = writeln!(e, "Warning: {msg}");
}

/// Runs `palisade rbac can-i`.
pub fn run(a: &Args) -> Result<ExitCode> {
    if a.list {
        if a.verb.is_some() || a.resource.is_some() {
            bail!("list option must be specified with no arguments");
        }
        if a.quiet || a.all_namespaces || a.subresource.is_some() {
            bail!(
                "list option can't be specified with neither quiet, all-namespaces nor subresource options"
            );
        }
    } else {
        if a.no_headers {
            bail!("--no-headers cannot be set without --list specified");
        }
        if a.verb.is_none() || a.resource.is_none() {
            bail!(
                "you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'palisade rbac can-i -h' for help and examples."
            );
        }
    }
    if a.all_namespaces && a.namespace.is_some() {
        bail!("-n and -A are exclusive");
    }
    let user = identity(a.as_user.as_deref(), &a.as_group, a.sa.as_deref())?;
    let namespace = if a.all_namespaces {
        None
    } else {
        Some(a.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE))
    };
    // Parse the question before loading, so usage errors come first.
    let question = if a.list {
        None
    } else {
        Some(cani::parse_question(
            a.verb.as_deref().unwrap_or(""),
            a.resource.as_deref().unwrap_or(""),
            a.subresource.as_deref().unwrap_or(""),
            namespace,
        )?)
    };
    let Some(store) = load_store(&a.files, a.with_defaults)? else {
        return Ok(ExitCode::from(2));
    };
    let authz = Authorizer::new(&store);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());

    let Some(q) = question else {
        let ns = namespace.unwrap_or(DEFAULT_NAMESPACE);
        if a.compact {
            let list = cani::compact_list(&authz, &user, ns);
            for e in &list.incomplete {
                warn(&format!("the list may be incomplete: {e}"));
            }
            match a.output {
                Output::Text => write!(out, "{}", cani::render_compact(&list, !a.no_headers))?,
                Output::Json => {
                    serde_json::to_writer_pretty(
                        &mut out,
                        &json!({"user": user, "namespace": ns, "rows": list.rows,
                                "inert": list.inert, "incomplete": list.incomplete}),
                    )?;
                    writeln!(out)?;
                }
            }
        } else {
            let list = cani::list_rules(&authz, &user, ns);
            if !list.incomplete.is_empty() {
                warn(&format!(
                    "the list may be incomplete: {}",
                    cani::aggregate_errors(&list.incomplete)
                ));
            }
            match a.output {
                Output::Text => write!(out, "{}", cani::render_list(&list.rules, !a.no_headers))?,
                Output::Json => {
                    serde_json::to_writer_pretty(
                        &mut out,
                        &json!({"user": user, "namespace": ns, "rules": list.rules,
                                "incomplete": list.incomplete}),
                    )?;
                    writeln!(out)?;
                }
            }
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };

    if !a.quiet {
        for w in &q.warnings {
            warn(w);
        }
    }
    let ans = cani::answer(&authz, &user, &q);
    if !a.quiet {
        match a.output {
            Output::Text => {
                if ans.allowed {
                    writeln!(out, "yes")?;
                } else {
                    match &ans.reason {
                        Some(r) => writeln!(out, "no - {r}")?,
                        None => writeln!(out, "no")?,
                    }
                }
                if a.explain {
                    for line in &ans.explanation {
                        writeln!(out, "  {line}")?;
                    }
                }
            }
            Output::Json => {
                let grant = ans.decision.grant.map(|g| {
                    json!({"binding": g.binding.name, "bindingNamespace": g.binding.namespace,
                           "role": g.role.name, "roleNamespace": g.role.namespace,
                           "ruleIndex": g.rule_index, "rule": describe_rule(g.rule),
                           "subject": g.subject})
                });
                serde_json::to_writer_pretty(
                    &mut out,
                    &json!({"allowed": ans.allowed, "viaMasters": ans.decision.via_masters,
                            "user": user, "request": q.effective, "reason": ans.reason,
                            "grant": grant, "explanation": ans.explanation,
                            "warnings": q.warnings}),
                )?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    Ok(if ans.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
