//! `palisade rbac reconcile`: what `kubectl auth reconcile` would do to a cluster, offline.
//!
//! Output (`-o text`, the default): for every desired role or binding, kubectl's own lines (the
//! `role.rbac.authorization.k8s.io/x reconciled` line kubectl writes to standard output and the
//! tab-indented `reconciliation required ...` details it writes to standard error), all on
//! standard output, then a summary table. `-o name` prints only the name lines, `-o yaml` the
//! objects as they are after reconcile (a multi-document stream; protected objects unchanged),
//! `-o json` the whole plan. Skipped objects and warnings go to standard error.
//!
//! Exit codes: 0 when reconcile would change nothing, 1 when it would create, update or
//! recreate an object (protected objects do not count: nothing is written to them), 2 on input
//! errors.

use anyhow::{Context, Result};
use palisade_model::{DiagLevel, Diagnostic, Inventory, LoadOptions};
use palisade_rbac::RbacStore;
use palisade_rbac::reconcile::{ClusterState, ObjectPlan, Operation, Options, Plan, reconcile};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod yaml;

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// kubectl's lines, then a summary.
    Text,
    /// Only the `kind.group/name reconciled` lines.
    Name,
    /// The objects after reconcile, as a YAML stream.
    Yaml,
    /// The whole plan as JSON.
    Json,
}

/// Arguments of `palisade rbac reconcile`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Exit codes: 0 nothing would change, 1 objects would be created, updated or recreated, 2 input \
errors.

The current state is what the API server holds: manifests, or a dump such as `kubectl get \
roles,rolebindings,clusterroles,clusterrolebindings -A -o yaml`, plus (unless \
--with-defaults=false) the bootstrap roles and bindings of a real cluster; aggregated \
ClusterRoles get the rules the aggregation controller gives them. Without --current the cluster \
holds only those defaults. The namespaces default, kube-system, kube-public and kube-node-lease \
always exist.

Examples:
  palisade rbac reconcile -f rbac/ --current cluster-dump.yaml
  palisade rbac reconcile -f rbac.yaml --current live/ --remove-extra-permissions -o yaml")]
pub struct Args {
    /// Desired manifests: files, directories, or `-` for standard input (like kubectl's -f).
    #[arg(short = 'f', long = "filename", required = true, num_args = 1.., value_name = "DESIRED")]
    pub files: Vec<PathBuf>,
    /// The cluster's current state: files or directories of manifests or dumps.
    #[arg(long, num_args = 1.., value_name = "DIR")]
    pub current: Vec<PathBuf>,
    /// Replace the rules of roles that hold permissions the desired role lacks.
    #[arg(long)]
    pub remove_extra_permissions: bool,
    /// Replace the subjects of bindings that hold subjects the desired binding lacks.
    #[arg(long)]
    pub remove_extra_subjects: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Namespace of desired namespaced objects that do not name one (kubectl's -n).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Add the default ClusterRoles and ClusterRoleBindings of a real cluster to the current
    /// state (objects of --current win on name clashes).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub with_defaults: bool,
    /// Do not print notices about skipped objects.
    #[arg(short, long)]
    pub quiet: bool,
}

fn load(paths: &[PathBuf], namespace: &str) -> Inventory {
    let opts = LoadOptions {
        default_namespace: namespace.to_owned(),
        ..LoadOptions::default()
    };
    Inventory::load_paths(paths, &opts)
}

fn print_diags(diags: &[Diagnostic], quiet: bool, err: &mut impl Write) -> Result<bool> {
    let mut errors = false;
    for d in diags {
        errors |= d.level == DiagLevel::Error;
        if quiet && d.level == DiagLevel::Notice {
            continue;
        }
        writeln!(err, "{d}")?;
    }
    Ok(errors)
}

/// Runs `palisade rbac reconcile`.
pub fn run(a: &Args) -> Result<ExitCode> {
    let mut err = anstream::stderr();
    let desired = load(&a.files, &a.namespace);
    let (desired_store, desired_diags) = RbacStore::from_inventory(&desired);
    let mut errors = print_diags(&desired.diagnostics, a.quiet, &mut err)?;
    errors |= print_diags(&desired_diags, a.quiet, &mut err)?;

    let current = if a.current.is_empty() {
        Inventory::new()
    } else {
        load(&a.current, "default")
    };
    let (mut store, diags) = RbacStore::from_inventory(&current);
    errors |= print_diags(&current.diagnostics, a.quiet, &mut err)?;
    errors |= print_diags(&diags, a.quiet, &mut err)?;
    if a.with_defaults {
        store.add_bootstrap();
    }
    // Aggregated ClusterRoles hold what the aggregation controller puts in them.
    store.aggregate();
    let mut state = ClusterState::from_store(&store, Some(&current));
    if errors {
        writeln!(err, "palisade: input errors, nothing reconciled")?;
        return Ok(ExitCode::from(2));
    }

    let opts = Options {
        remove_extra_permissions: a.remove_extra_permissions,
        remove_extra_subjects: a.remove_extra_subjects,
    };
    let plan = match reconcile(&desired, &desired_store, &mut state, &opts) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "palisade: error: {e}")?;
            return Ok(ExitCode::from(2));
        }
    };
    if !a.quiet {
        for s in &plan.skipped {
            let ns = s
                .namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default();
            writeln!(
                err,
                "{}:{}: notice: skipping {} {ns}{}: {}",
                s.file, s.line, s.kind, s.name, s.reason
            )?;
        }
    }
    for w in &plan.warnings {
        writeln!(err, "palisade: warning: {w}")?;
    }

    let text = match a.output {
        Format::Text => {
            let mut t: String = plan.objects.iter().map(|o| o.kubectl_text(&opts)).collect();
            if !plan.objects.is_empty() {
                t.push('\n');
            }
            t.push_str(&summary(&plan));
            t
        }
        Format::Name => plan
            .objects
            .iter()
            .map(|o| format!("{}/{}\n", o.key.kind.qualified(), o.key.name))
            .collect(),
        Format::Yaml => {
            let mut t = String::new();
            for o in &plan.objects {
                t.push_str("---\n");
                yaml::document(&mut t, &o.object);
            }
            t
        }
        Format::Json => {
            let mut v = serde_json::to_value(&plan).context("plan to JSON")?;
            if let Some(m) = v.as_object_mut() {
                m.insert("changes".into(), plan.changes().into());
                m.insert("counts".into(), counts_json(&plan));
            }
            let mut t = serde_json::to_string_pretty(&v)?;
            t.push('\n');
            t
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if plan.changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

const OPERATIONS: [Operation; 4] = [
    Operation::Create,
    Operation::Update,
    Operation::Recreate,
    Operation::None,
];

fn counts_json(plan: &Plan) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for op in OPERATIONS {
        m.insert(op.as_str().into(), plan.count(op).into());
    }
    m.insert(
        "protected".into(),
        plan.objects.iter().filter(|o| o.protected).count().into(),
    );
    m.insert("skipped".into(), plan.skipped.len().into());
    serde_json::Value::Object(m)
}

fn object_name(o: &ObjectPlan) -> String {
    match &o.key.namespace {
        Some(ns) => format!("{} {ns}/{}", o.key.kind.as_str(), o.key.name),
        None => format!("{} {}", o.key.kind.as_str(), o.key.name),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// What changes, in a few words.
fn details(o: &ObjectPlan, plan_opts: &Options) -> String {
    let mut parts = Vec::new();
    if let Some(prev) = &o.previous_role_ref {
        parts.push(format!(
            "roleRef {:?}/{} -> {}",
            prev.kind,
            prev.name,
            o.object
                .get("roleRef")
                .map(|r| format!(
                    "{}/{}",
                    r.get("kind").and_then(|k| k.as_str()).unwrap_or(""),
                    r.get("name").and_then(|k| k.as_str()).unwrap_or("")
                ))
                .unwrap_or_default()
        ));
    }
    let count =
        |n: usize, what: &str, sign: &str| (n > 0).then(|| format!("{sign}{}", plural(n, what)));
    let (rules_verb, subjects_verb) = (
        if plan_opts.remove_extra_permissions {
            "removed"
        } else {
            "kept"
        },
        if plan_opts.remove_extra_subjects {
            "removed"
        } else {
            "kept"
        },
    );
    parts.extend(count(o.missing_rules.len(), "rule", "+"));
    parts.extend(count(o.extra_rules.len(), "extra rule", "").map(|s| format!("{s} {rules_verb}")));
    parts.extend(count(o.missing_subjects.len(), "subject", "+"));
    parts.extend(
        count(o.extra_subjects.len(), "extra subject", "").map(|s| format!("{s} {subjects_verb}")),
    );
    parts.extend(count(
        o.missing_aggregation_selectors.len(),
        "aggregation selector",
        "+",
    ));
    parts.extend(
        count(
            o.extra_aggregation_selectors.len(),
            "extra aggregation selector",
            "",
        )
        .map(|s| {
            // A desired role without aggregationRule drops the existing one in any mode.
            let dropped = o.object.get("aggregationRule").is_none();
            format!("{s} {}", if dropped { "removed" } else { rules_verb })
        }),
    );
    if !o.labels_added.is_empty() {
        parts.push(format!("labels +{}", o.labels_added.join(",")));
    }
    if !o.annotations_added.is_empty() {
        parts.push(format!("annotations +{}", o.annotations_added.join(",")));
    }
    if let Some(ns) = &o.creates_namespace {
        parts.push(format!("creates namespace {ns}"));
    }
    if o.protected {
        parts.push("protected: not changed".into());
    }
    parts.join("; ")
}

/// The summary table and totals.
fn summary(plan: &Plan) -> String {
    let rows: Vec<[String; 4]> = plan
        .objects
        .iter()
        .map(|o| {
            [
                o.operation.as_str().to_owned(),
                object_name(o),
                format!("{}:{}", o.file, o.line),
                details(o, &plan.options),
            ]
        })
        .collect();
    let mut out = String::new();
    if !rows.is_empty() {
        let header = ["OPERATION", "OBJECT", "SOURCE", "DETAILS"];
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in std::iter::once(header.map(str::to_owned)).chain(rows) {
            let line = format!(
                "{:w0$}  {:w1$}  {:w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    let protected = plan.objects.iter().filter(|o| o.protected).count();
    out.push_str(&format!(
        "{}: {} to create, {} to update, {} to recreate, {} unchanged",
        plural(plan.objects.len(), "RBAC object"),
        plan.count(Operation::Create),
        plan.count(Operation::Update),
        plan.count(Operation::Recreate),
        plan.count(Operation::None),
    ));
    if protected > 0 {
        out.push_str(&format!(
            "; {protected} of them protected by rbac.authorization.kubernetes.io/autoupdate: \
             \"false\" (reported, not changed)"
        ));
    }
    if !plan.skipped.is_empty() {
        out.push_str(&format!(
            "; {} skipped",
            plural(plan.skipped.len(), "object")
        ));
    }
    out.push('\n');
    if !plan.namespaces_created.is_empty() {
        out.push_str(&format!(
            "Namespaces to create: {}\n",
            plan.namespaces_created.join(", ")
        ));
    }
    out.push_str(if plan.changes() {
        "Reconcile would change the cluster.\n"
    } else {
        "Reconcile would change nothing.\n"
    });
    out
}
