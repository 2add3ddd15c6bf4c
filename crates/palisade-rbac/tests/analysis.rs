//! Data-driven tests of the risk analysis and the escalation paths.
//!
//! Every file `testdata/analysis/<case>.yaml` is one case: manifests plus one document of
//! `kind: PalisadeTestCase` (no apiVersion, so the loader skips it):
//!
//! ```yaml
//! kind: PalisadeTestCase
//! description: what the case shows
//! withDefaults: false        # optional, default true: add the bootstrap policy
//! risks:                     # exactly the subjects with risks, and their risks
//!   sa shop/default: [rbac/pod-create@shop, rbac/cluster-admin]   # id[@namespace]
//! paths:                     # exactly the sources with a path
//!   pod shop/web:
//!     clusterAdmin: pod shop/web -> sa shop/default -> (...) -> cluster-admin
//!     secrets: pod shop/web -> ...
//! findings:                  # optional: `palisade scan` findings, `id fieldPath line`
//! - rbac/pod-create subjects[0] 12
//! ```
//!
//! `risks` and `paths` are both required (`{}` for none), so a case always states what the
//! analysis must say.

use palisade_model::{Inventory, LoadOptions};
use palisade_rbac::analysis::{self, Holdings, Principal};
use palisade_rbac::{Authorizer, Binding, PolicyRule, RbacStore, UserInfo};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Header {
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default = "yes")]
    with_defaults: bool,
    risks: Option<BTreeMap<String, Vec<String>>>,
    paths: Option<BTreeMap<String, Expected>>,
    #[serde(default)]
    findings: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expected {
    #[serde(default)]
    cluster_admin: Option<String>,
    #[serde(default)]
    secrets: Option<String>,
}

fn yes() -> bool {
    true
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/analysis")
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut headers = Vec::new();
    for doc in palisade_model::yaml::parse_stream(&text, &Default::default()) {
        let doc = doc.map_err(|e| format!("YAML error: {e}"))?;
        let Some(root) = doc.root else { continue };
        if root.get("kind").and_then(|k| k.as_str()) == Some("PalisadeTestCase") {
            headers.push(root);
        }
    }
    if headers.len() != 1 {
        return Err(format!(
            "expected one PalisadeTestCase document, found {}",
            headers.len()
        ));
    }
    let header: Header = serde_json::from_value(headers[0].to_json())
        .map_err(|e| format!("PalisadeTestCase: {e}"))?;
    assert_eq!(header.kind, "PalisadeTestCase");
    if header.description.is_empty() {
        return Err("a case needs a description".into());
    }
    let (Some(want_risks), Some(want_paths)) = (header.risks, header.paths) else {
        return Err("a case needs `risks` and `paths` (use {} for none)".into());
    };
    let mut inv = Inventory::new();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    inv.add_text(&name, &text, &LoadOptions::default());
    let (store, diags) = analysis::load(&inv, header.with_defaults);
    if let Some(d) = diags.first() {
        return Err(format!("unexpected diagnostic: {d}"));
    }
    let a = analysis::analyze(&store, &analysis::token_secrets(&inv));
    let mut failures = Vec::new();

    let got_risks: BTreeMap<String, Vec<String>> = a
        .subjects
        .iter()
        .map(|s| {
            let mut ids: Vec<String> = s
                .hits
                .iter()
                .map(|h| match &h.namespace {
                    Some(ns) => format!("{}@{ns}", h.risk.id),
                    None => h.risk.id.to_string(),
                })
                .collect();
            ids.sort();
            ids.dedup();
            (s.principal.to_string(), ids)
        })
        .collect();
    let want_risks: BTreeMap<String, Vec<String>> = want_risks
        .into_iter()
        .map(|(k, mut v)| {
            v.sort();
            (k, v)
        })
        .collect();
    if got_risks != want_risks {
        failures.push(format!(
            "risks: expected\n{want_risks:#?}\ngot\n{got_risks:#?}"
        ));
    }

    let got_paths: BTreeMap<String, Expected> = a
        .paths
        .iter()
        .map(|sp| {
            (
                sp.source.to_string(),
                Expected {
                    cluster_admin: sp.cluster_admin.as_ref().map(|p| p.to_string()),
                    secrets: sp.secrets.as_ref().map(|p| p.to_string()),
                },
            )
        })
        .collect();
    if got_paths != want_paths {
        failures.push(format!(
            "paths: expected\n{want_paths:#?}\ngot\n{got_paths:#?}"
        ));
    }

    if let Some(want) = header.findings {
        let mut got: Vec<String> = analysis::to_findings(&inv, &a)
            .iter()
            .map(|f| format!("{} {} {}", f.check, f.location.field_path, f.location.line))
            .collect();
        got.sort();
        let mut want = want;
        want.sort();
        if got != want {
            failures.push(format!("findings: expected\n{want:#?}\ngot\n{got:#?}"));
        }
    }
    failures.extend(same_grants_as_the_authorizer(&store));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The rules the analysis holds for each user and service account, per namespace, are exactly
/// those the authorizer applies (`grants_for`): one subject-matching semantics.
fn same_grants_as_the_authorizer(store: &RbacStore) -> Vec<String> {
    let holdings = Holdings::new(store);
    let authorizer = Authorizer::new(store);
    let mut namespaces: BTreeSet<&str> = store.role_bindings.keys().map(String::as_str).collect();
    namespaces.insert("");
    let mut failures = Vec::new();
    for p in holdings.principals() {
        let user = match &p {
            Principal::User { name } => UserInfo::user(name.clone(), Vec::<String>::new()),
            Principal::ServiceAccount { namespace, name } => {
                UserInfo::service_account(namespace, name)
            }
            Principal::Group { .. } => continue,
        };
        let held = holdings.held(&p);
        for ns in &namespaces {
            let mut mine: Vec<(*const Binding, *const PolicyRule)> = held
                .iter()
                .filter(|h| h.namespace().is_none() || h.namespace() == Some(*ns))
                .map(|h| (h.binding as *const Binding, h.rule as *const PolicyRule))
                .collect();
            let mut theirs: Vec<(*const Binding, *const PolicyRule)> = authorizer
                .grants_for(&user, ns)
                .iter()
                .map(|g| (g.binding as *const Binding, g.rule as *const PolicyRule))
                .collect();
            mine.sort();
            theirs.sort();
            if mine != theirs {
                failures.push(format!(
                    "{p} in {ns:?}: the analysis holds {} rules, the authorizer applies {}",
                    mine.len(),
                    theirs.len()
                ));
            }
        }
    }
    failures
}

#[test]
fn analysis_cases() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata/analysis")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 8,
        "expected the analysis cases, found {}",
        paths.len()
    );
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| run_case(p).err().map(|e| format!("{}:\n{e}", p.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn guestbook_frontend_token_reaches_secrets_and_cluster_admin() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guestbook");
    let mut inv = Inventory::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/guestbook")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        inv.add_text(&f.display().to_string(), &text, &LoadOptions::default());
    }
    let (store, _) = analysis::load(&inv, true);
    let a = analysis::analyze(&store, &analysis::token_secrets(&inv));
    let frontend = a
        .paths
        .iter()
        .find(|sp| sp.source.to_string() == "pod guestbook/frontend (Deployment)")
        .expect("a path from the frontend");
    let secrets = frontend.secrets.as_ref().expect("a path to secrets");
    assert_eq!(
        secrets.steps[1].node.to_string(),
        "sa guestbook/default",
        "{secrets}"
    );
    assert!(secrets.target().to_string().starts_with("secrets in"));
    let admin = frontend
        .cluster_admin
        .as_ref()
        .expect("a path to cluster-admin");
    assert_eq!(
        admin.to_string(),
        "pod guestbook/frontend (Deployment) -> sa guestbook/default -> (ClusterRoleBinding guestbook-default-admin: *) -> cluster-admin"
    );
}
