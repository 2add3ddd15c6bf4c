//! Data-driven tests of the authorizer, `can-i` (single questions and `--list`) and `who-can`.
//!
//! Every file `testdata/authorizer/<case>.yaml` is one case: manifests plus one document of
//! `kind: PalisadeTestCase` (no apiVersion, so the loader skips it):
//!
//! ```yaml
//! kind: PalisadeTestCase
//! description: what the case shows
//! withDefaults: false          # optional, default true: add the bootstrap policy
//! questions:                   # can-i questions
//! - as: alice                  # or `sa: ns/name`
//!   groups: [dev]              # --as-group (optional)
//!   verb: get
//!   resource: pods             # as typed: po, deployments.apps, secrets/NAME, /healthz
//!   subresource: log           # optional
//!   namespace: prod            # optional: `default`; `allNamespaces: true` for -A
//!   expect: yes                # yes | no
//!   grantedBy: RoleBinding prod/rb -> ClusterRole edit   # optional, for yes
//!   viaMasters: true           # optional, for yes
//!   reason: cluster-scoped     # optional substring of the `no - ...` reason
//! whoCan:                      # who-can, exact set of subjects (system:masters aside)
//! - verb: get
//!   resource: secrets
//!   namespace: prod            # optional: `default`; `allNamespaces: true` for every namespace
//!   subresource: ""            # optional
//!   expect: [User alice, Group dev, ServiceAccount prod/web]
//!   inert: [RoleBinding prod/x] # optional: exact list of never-applying RoleBinding grants
//! lists:                       # can-i --list, exact text
//! - as: alice
//!   namespace: prod
//!   compact: false             # optional
//!   text: |
//!     Resources   Non-Resource URLs   Resource Names   Verbs
//!     ...
//! ```
//!
//! Every yes/no question is also checked against `who-can`: the user is allowed iff who-can
//! lists a subject designating the user (system:masters aside), so both stay the same
//! authorizer. A case without any expectation fails.

use palisade_model::{Inventory, LoadOptions};
use palisade_rbac::cani::{self, Scope};
use palisade_rbac::objects::SubjectKind;
use palisade_rbac::whocan::{self, Namespaces};
use palisade_rbac::{Authorizer, RbacStore, UserInfo};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Header {
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default = "yes")]
    with_defaults: bool,
    #[serde(default)]
    questions: Vec<QuestionCase>,
    #[serde(default)]
    who_can: Vec<WhoCanCase>,
    #[serde(default)]
    lists: Vec<ListCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WhoCanCase {
    verb: String,
    resource: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    all_namespaces: bool,
    expect: Vec<String>,
    #[serde(default)]
    inert: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum YesNo {
    Bool(bool),
    Text(String),
}

impl YesNo {
    fn value(&self) -> Result<bool, String> {
        match self {
            YesNo::Bool(b) => Ok(*b),
            YesNo::Text(t) if t == "yes" => Ok(true),
            YesNo::Text(t) if t == "no" => Ok(false),
            YesNo::Text(t) => Err(format!("expect: {t:?} is neither yes nor no")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct QuestionCase {
    #[serde(default, rename = "as")]
    as_user: Option<String>,
    #[serde(default)]
    sa: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    verb: String,
    resource: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    all_namespaces: bool,
    expect: YesNo,
    #[serde(default)]
    granted_by: Option<String>,
    #[serde(default)]
    via_masters: Option<bool>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListCase {
    #[serde(default, rename = "as")]
    as_user: Option<String>,
    #[serde(default)]
    sa: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    compact: bool,
    text: String,
}

fn user_of(
    as_user: &Option<String>,
    sa: &Option<String>,
    groups: &[String],
) -> Result<UserInfo, String> {
    match (as_user, sa) {
        (Some(u), None) => Ok(UserInfo::user(u.as_str(), groups.iter().cloned())),
        (None, Some(s)) => {
            let (ns, name) = s
                .split_once('/')
                .ok_or(format!("sa {s:?}: expected ns/name"))?;
            let mut u = UserInfo::service_account(ns, name);
            u.groups.extend(groups.iter().cloned());
            Ok(u)
        }
        _ => Err("give exactly one of `as` and `sa`".into()),
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/authorizer")
}

fn run_case(path: &Path) -> Result<usize, String> {
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
    if header.questions.is_empty() && header.lists.is_empty() && header.who_can.is_empty() {
        return Err("a case needs questions, whoCan or lists".into());
    }
    let mut inv = Inventory::new();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    inv.add_text(&name, &text, &LoadOptions::default());
    if inv.has_errors() {
        return Err(format!("manifest errors: {:?}", inv.diagnostics));
    }
    let (mut store, diags) = RbacStore::from_inventory(&inv);
    if !diags.is_empty() {
        return Err(format!("RBAC diagnostics: {diags:?}"));
    }
    if header.with_defaults {
        store.add_bootstrap();
    }
    store.aggregate();
    let authz = Authorizer::new(&store);
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, q) in header.questions.iter().enumerate() {
        let label = format!(
            "question {i} ({} {} {}{})",
            q.as_user.as_deref().or(q.sa.as_deref()).unwrap_or("?"),
            q.verb,
            q.resource,
            if q.subresource.is_empty() {
                String::new()
            } else {
                format!(" --subresource {}", q.subresource)
            }
        );
        let user = user_of(&q.as_user, &q.sa, &q.groups).map_err(|e| format!("{label}: {e}"))?;
        let ns = if q.all_namespaces {
            None
        } else {
            Some(q.namespace.as_deref().unwrap_or("default"))
        };
        let question = cani::parse_question(&q.verb, &q.resource, &q.subresource, ns)
            .map_err(|e| format!("{label}: {e}"))?;
        let expect = q.expect.value().map_err(|e| format!("{label}: {e}"))?;
        let ans = cani::answer(&authz, &user, &question);
        checked += 1;
        if ans.allowed != expect {
            failures.push(format!(
                "{label}: expected {}, got {} ({:?}; {:?})",
                if expect { "yes" } else { "no" },
                if ans.allowed { "yes" } else { "no" },
                ans.reason,
                ans.explanation
            ));
            continue;
        }
        if let Some(want) = &q.granted_by {
            let got = ans.decision.grant.map(|g| {
                let b = match &g.binding.namespace {
                    Some(ns) => format!("RoleBinding {ns}/{}", g.binding.name),
                    None => format!("ClusterRoleBinding {}", g.binding.name),
                };
                let r = match &g.role.namespace {
                    Some(ns) => format!("Role {ns}/{}", g.role.name),
                    None => format!("ClusterRole {}", g.role.name),
                };
                format!("{b} -> {r}")
            });
            if got.as_deref() != Some(want.as_str()) {
                failures.push(format!("{label}: grantedBy {want:?}, got {got:?}"));
            }
        }
        if let Some(m) = q.via_masters
            && ans.decision.via_masters != m
        {
            failures.push(format!(
                "{label}: viaMasters {m}, got {}",
                ans.decision.via_masters
            ));
        }
        if let Some(r) = &q.reason
            && !ans.reason.as_deref().unwrap_or("").contains(r.as_str())
        {
            failures.push(format!(
                "{label}: reason should contain {r:?}, got {:?}",
                ans.reason
            ));
        }
        // who-can must agree with the authorizer.
        let cluster_scoped =
            question.scope == Scope::Cluster && question.effective.namespace().is_empty();
        let wc = whocan::who_can(
            &authz,
            &question.effective,
            Namespaces::Request,
            cluster_scoped,
        );
        let listed = wc.allowed.iter().any(|a| {
            (a.bypass && user.is_master())
                || (!a.chains.is_empty()
                    && match a.subject.kind {
                        SubjectKind::User => a.subject.name == user.name,
                        SubjectKind::Group => user.in_group(&a.subject.name),
                        SubjectKind::ServiceAccount => {
                            user.parse_service_account()
                                == Some((
                                    a.subject.namespace.as_deref().unwrap_or(""),
                                    a.subject.name.as_str(),
                                ))
                        }
                    })
        });
        if listed != ans.allowed {
            failures.push(format!(
                "{label}: who-can {} the user but can-i says {}",
                if listed { "lists" } else { "does not list" },
                ans.allowed
            ));
        }
    }
    for (i, w) in header.who_can.iter().enumerate() {
        let ns = if w.all_namespaces {
            None
        } else {
            Some(w.namespace.as_deref().unwrap_or("default"))
        };
        let q = cani::parse_question(&w.verb, &w.resource, &w.subresource, ns)
            .map_err(|e| format!("whoCan {i}: {e}"))?;
        let cluster_scoped = q.scope == Scope::Cluster && q.effective.namespace().is_empty();
        let mode = if w.all_namespaces {
            Namespaces::All
        } else {
            Namespaces::Request
        };
        let res = whocan::who_can(&authz, &q.effective, mode, cluster_scoped);
        checked += 1;
        if !res
            .allowed
            .first()
            .is_some_and(|a| a.bypass && a.subject.name == "system:masters")
        {
            failures.push(format!("whoCan {i}: system:masters is not listed first"));
        }
        let mut got: Vec<String> = res
            .allowed
            .iter()
            .filter(|a| !a.bypass)
            .map(|a| match (&a.subject.kind, &a.subject.namespace) {
                (SubjectKind::ServiceAccount, Some(ns)) => {
                    format!("ServiceAccount {ns}/{}", a.subject.name)
                }
                (k, _) => format!("{k:?} {}", a.subject.name),
            })
            .collect();
        got.sort();
        let mut want = w.expect.clone();
        want.sort();
        if got != want {
            failures.push(format!(
                "whoCan {i} ({} {}): expected {want:?}, got {got:?}",
                w.verb, w.resource
            ));
        }
        if let Some(inert) = &w.inert {
            let got: Vec<String> = res
                .inert
                .iter()
                .map(|c| {
                    format!(
                        "RoleBinding {}/{}",
                        c.binding.namespace.as_deref().unwrap_or(""),
                        c.binding.name
                    )
                })
                .collect();
            if &got != inert {
                failures.push(format!("whoCan {i}: inert {inert:?}, got {got:?}"));
            }
        }
        for a in res.allowed.iter().filter(|a| !a.bypass) {
            if a.chains.is_empty() {
                failures.push(format!(
                    "whoCan {i}: {:?} listed without a chain",
                    a.subject
                ));
            }
        }
    }
    for (i, l) in header.lists.iter().enumerate() {
        let user = user_of(&l.as_user, &l.sa, &l.groups).map_err(|e| format!("list {i}: {e}"))?;
        let ns = l.namespace.as_deref().unwrap_or("default");
        let got = if l.compact {
            cani::render_compact(&cani::compact_list(&authz, &user, ns), true)
        } else {
            cani::render_list(&cani::list_rules(&authz, &user, ns).rules, true)
        };
        checked += 1;
        if got != l.text {
            failures.push(format!("list {i}: expected\n{}\ngot\n{}", l.text, got));
        }
    }
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(failures.join("\n"))
    }
}

#[test]
fn authorizer_cases() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata/authorizer")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the authorizer cases, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    let mut total = 0;
    for p in &paths {
        match run_case(p) {
            Ok(n) => total += n,
            Err(e) => failures.push(format!("{}:\n{e}", p.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{} cases, {total} checks", paths.len());
}
