//! `palisade rbac who-can`: every subject allowed to make a request, and how.

use super::cani::{Output, load_store};
use anyhow::{Result, bail};
use palisade_rbac::authorizer::{describe_binding, describe_role, describe_rule};
use palisade_rbac::cani::{self, DEFAULT_NAMESPACE, Scope};
use palisade_rbac::objects::{Origin, PodInfo, SubjectKind};
use palisade_rbac::whocan::{self, Allowed, Chain, Namespaces};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  palisade rbac who-can get secrets -n prod -f k8s/
  palisade rbac who-can create pods --subresource exec -n prod -f k8s/
  palisade rbac who-can update deployments.apps --subresource scale -A -f k8s/
  palisade rbac who-can get /metrics -f k8s/ -o json

Without -n the namespace is `default`; -A lists RoleBinding grants of every namespace (each
valid in its own namespace). `system:masters` is always allowed: it bypasses RBAC.";

/// Arguments of `palisade rbac who-can`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Verb.
    #[arg(value_name = "VERB")]
    pub verb: String,
    /// Resource (`pods`, `deploy`, `secrets/NAME`) or non-resource URL (`/metrics`).
    #[arg(value_name = "RESOURCE[/NAME] | URL")]
    pub resource: String,
    /// Subresource (`log`, `exec`, `scale`).
    #[arg(long)]
    pub subresource: Option<String>,
    /// Namespace of the request (default: `default`).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Every namespace: RoleBinding grants of all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Manifest files or directories (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// Add the default ClusterRoles and bindings of a real cluster.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub with_defaults: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn origin(o: &Origin) -> String {
    match o {
        Origin::Manifest { file, line, .. } => format!("{file}:{line}"),
        Origin::Bootstrap => "bootstrap policy".to_owned(),
    }
}

fn chain_text(c: &Chain<'_>) -> String {
    format!(
        "{} -> {} -> rule {} {} ({})",
        describe_binding(c.binding),
        describe_role(c.role),
        c.rule_index,
        describe_rule(c.rule),
        origin(&c.binding.origin)
    )
}

fn chain_json(c: &Chain<'_>) -> serde_json::Value {
    json!({
        "binding": {"kind": if c.binding.namespace.is_some() {"RoleBinding"} else {"ClusterRoleBinding"},
                    "name": c.binding.name, "namespace": c.binding.namespace},
        "role": {"kind": if c.role.namespace.is_some() {"Role"} else {"ClusterRole"},
                 "name": c.role.name, "namespace": c.role.namespace},
        "ruleIndex": c.rule_index,
        "rule": c.rule,
        "namespace": c.namespace,
        "origin": c.binding.origin,
    })
}

fn pod_text(p: &PodInfo) -> String {
    format!(
        "{} {}/{} (service account {}, token {})",
        p.kind,
        p.namespace,
        p.name,
        p.service_account,
        if p.token_mounted {
            "mounted"
        } else {
            "not mounted"
        }
    )
}

fn subject_text(a: &Allowed<'_>) -> String {
    let s = &a.subject;
    match (s.kind, &s.namespace) {
        (SubjectKind::ServiceAccount, Some(ns)) => format!("ServiceAccount {ns}/{}", s.name),
        (k, _) => format!("{k:?} {}", s.name),
    }
}

/// Runs `palisade rbac who-can`.
pub fn run(a: &Args) -> Result<ExitCode> {
    if a.all_namespaces && a.namespace.is_some() {
        bail!("-n and -A are exclusive");
    }
    let ns = a.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let q = cani::parse_question(
        &a.verb,
        &a.resource,
        a.subresource.as_deref().unwrap_or(""),
        if a.all_namespaces { None } else { Some(ns) },
    )?;
    for w in &q.warnings {
        let _ = writeln!(anstream::stderr(), "Warning: {w}");
    }
    let Some(store) = load_store(&a.files, a.with_defaults)? else {
        return Ok(ExitCode::from(2));
    };
    let cluster_scoped = q.scope == Scope::Cluster && q.effective.namespace().is_empty();
    let mode = if a.all_namespaces {
        Namespaces::All
    } else {
        Namespaces::Request
    };
    let authz = palisade_rbac::Authorizer::new(&store);
    let result = whocan::who_can(&authz, &q.effective, mode, cluster_scoped);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match a.output {
        Output::Json => {
            let allowed: Vec<serde_json::Value> = result
                .allowed
                .iter()
                .map(|al| {
                    json!({
                        "subject": al.subject,
                        "bypassesRBAC": al.bypass,
                        "chains": al.chains.iter().map(chain_json).collect::<Vec<_>>(),
                        "pods": al.pods,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &json!({
                    "request": q.effective,
                    "allNamespaces": a.all_namespaces,
                    "allowed": allowed,
                    "inert": result.inert.iter().map(chain_json).collect::<Vec<_>>(),
                    "missingRoles": result.missing_roles.iter()
                        .map(|b| describe_binding(b)).collect::<Vec<_>>(),
                }),
            )?;
            writeln!(out)?;
        }
        Output::Text => {
            let what = match &q.effective {
                palisade_rbac::Request::Resource(r) => {
                    let mut s = format!(
                        "{} {}",
                        r.verb,
                        q.info.map_or_else(
                            || {
                                if r.group.is_empty() {
                                    r.resource.clone()
                                } else {
                                    format!("{}.{}", r.resource, r.group)
                                }
                            },
                            |i| i.qualified()
                        )
                    );
                    if !r.subresource.is_empty() {
                        s.push_str(&format!(" (subresource {})", r.subresource));
                    }
                    if !r.name.is_empty() {
                        s.push_str(&format!(" named {:?}", r.name));
                    }
                    if a.all_namespaces {
                        s.push_str(" in any namespace");
                    } else if !r.namespace.is_empty() {
                        s.push_str(&format!(" in namespace {:?}", r.namespace));
                    } else {
                        s.push_str(" (cluster-scoped)");
                    }
                    s
                }
                palisade_rbac::Request::NonResource { verb, path } => format!("{verb} {path}"),
            };
            writeln!(out, "Who can {what}:")?;
            for al in &result.allowed {
                if al.bypass {
                    writeln!(out, "  {} (bypasses RBAC)", subject_text(al))?;
                } else {
                    writeln!(out, "  {}", subject_text(al))?;
                }
                for c in &al.chains {
                    writeln!(out, "    via {}", chain_text(c))?;
                }
                for p in &al.pods {
                    writeln!(out, "    pod {}", pod_text(p))?;
                }
            }
            if !result.inert.is_empty() {
                writeln!(
                    out,
                    "\nGrants that never apply (RoleBindings cannot grant cluster-scoped resources or URLs):"
                )?;
                for c in &result.inert {
                    let subjects: Vec<String> = c
                        .binding
                        .subjects
                        .iter()
                        .map(|s| format!("{:?} {}", s.kind, s.name))
                        .collect();
                    writeln!(out, "  {} to {}", chain_text(c), subjects.join(", "))?;
                }
            }
            if !result.missing_roles.is_empty() {
                writeln!(
                    out,
                    "\nBindings whose role does not exist (they grant nothing):"
                )?;
                for b in &result.missing_roles {
                    writeln!(
                        out,
                        "  {} -> {:?} {:?} ({})",
                        describe_binding(b),
                        b.role_ref.kind,
                        b.role_ref.name,
                        origin(&b.origin)
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
