//! `can-i`: kubectl's `auth can-i` answered offline, scope-aware, with explanations; and
//! `can-i --list`, the table kubectl prints from a SelfSubjectRulesReview.

use crate::authorizer::{
    AppliedBinding, Authorizer, Decision, Grant, UserInfo, describe_binding, describe_role,
    describe_subject,
};
use crate::discovery::{self, ResourceInfo};
use crate::objects::{Origin, RoleKind};
use crate::rule::{ALL, PolicyRule, Request, ResourceAttributes};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// The namespace kubectl uses when none is given (the kubeconfig context's default).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Verbs kubectl knows for resources (others get a warning, and are evaluated anyway).
pub const KNOWN_RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
    "attest",
];

/// Verbs kubectl knows for non-resource URLs.
pub const KNOWN_NON_RESOURCE_VERBS: &[&str] = &[
    "get", "put", "post", "head", "options", "delete", "patch", "*",
];

/// Resources that exist only for authorization (impersonation, signers): never served, so
/// not in discovery, but cluster-scoped for the checks that use them.
const VIRTUAL_RESOURCES: &[(&str, &str)] = &[
    ("", "users"),
    ("", "groups"),
    ("", "uids"),
    ("authentication.k8s.io", "userextras"),
    ("authentication.k8s.io", "uids"),
    ("certificates.k8s.io", "signers"),
];

/// A usage error in a question (kubectl exits 1 on these; `palisade` exits 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanIError {
    /// `--subresource` given with a non-resource URL.
    #[error("--subresource can not be used with NonResourceURL")]
    SubresourceWithUrl,
    /// An empty verb or resource.
    #[error("you must specify two arguments: verb resource or verb resource/resourceName.")]
    MissingArgument,
}

/// What kind of scope a resource has, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Namespaced resource.
    Namespaced,
    /// Cluster-scoped resource.
    Cluster,
    /// Not in the discovery table (or `*`): evaluated with the namespace as given.
    Unknown,
}

/// A parsed question: the request as kubectl would send it and as it really happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The request with the namespace kubectl would send (`-n`, `default`, or `""` for -A).
    pub raw: Request,
    /// The request as the API server would see it for a real call: for a cluster-scoped
    /// resource the namespace is empty (a named `namespaces` request carries its own name).
    pub effective: Request,
    /// Scope of the resource.
    pub scope: Scope,
    /// The discovery entry, when known.
    pub info: Option<&'static ResourceInfo>,
    /// Warnings kubectl would print (without the `Warning: ` prefix), and notes of ours.
    pub warnings: Vec<String>,
}

/// Parses `VERB RESOURCE[/NAME]` or `VERB /url` as kubectl does. `namespace` is `None` for
/// `--all-namespaces`.
pub fn parse_question(
    verb: &str,
    target: &str,
    subresource: &str,
    namespace: Option<&str>,
) -> Result<Question, CanIError> {
    if verb.is_empty() || target.is_empty() {
        return Err(CanIError::MissingArgument);
    }
    let mut warnings = Vec::new();
    if target.starts_with('/') {
        if !subresource.is_empty() {
            return Err(CanIError::SubresourceWithUrl);
        }
        if !KNOWN_NON_RESOURCE_VERBS.contains(&verb) {
            warnings.push(format!("verb '{verb}' is not a known verb"));
        }
        let req = Request::NonResource {
            verb: verb.to_owned(),
            path: target.to_owned(),
        };
        return Ok(Question {
            raw: req.clone(),
            effective: req,
            scope: Scope::Cluster,
            info: None,
            warnings,
        });
    }
    // kubectl splits TYPE/NAME on the first slash: `pods/log` is the pod named `log`.
    let (res_arg, name) = match target.split_once('/') {
        Some((r, n)) => (r, n),
        None => (target, ""),
    };
    let raw_ns = namespace.unwrap_or("").to_owned();
    let (group, resource, info, scope) = if res_arg == ALL {
        (String::new(), ALL.to_owned(), None, Scope::Unknown)
    } else if let Some(info) = discovery::resolve(res_arg) {
        let scope = if info.namespaced {
            Scope::Namespaced
        } else {
            Scope::Cluster
        };
        (
            info.group.to_owned(),
            info.resource.to_owned(),
            Some(info),
            scope,
        )
    } else {
        let lower = res_arg.to_ascii_lowercase();
        let (res, group) = match lower.split_once('.') {
            Some((r, g)) => (r.to_owned(), g.to_owned()),
            None => (lower.clone(), String::new()),
        };
        if VIRTUAL_RESOURCES.contains(&(group.as_str(), res.as_str())) {
            (group, res, None, Scope::Cluster)
        } else {
            if group.is_empty() {
                warnings.push(format!("the server doesn't have a resource type '{res}'"));
            } else {
                warnings.push(format!(
                    "the server doesn't have a resource type '{res}' in group '{group}'"
                ));
            }
            (group, res, None, Scope::Unknown)
        }
    };
    if let Some(info) = info {
        if !name.is_empty() && subresource.is_empty() && info.subresources.contains(&name) {
            warnings.push(format!(
                "'{target}' names the {} called '{name}'; use --subresource {name} for the subresource",
                info.kind
            ));
        }
        if !subresource.is_empty() && !info.subresources.contains(&subresource) {
            warnings.push(format!(
                "{} has no subresource '{subresource}' in the built-in discovery table",
                info.qualified()
            ));
        }
    }
    if !KNOWN_RESOURCE_VERBS.contains(&verb) {
        warnings.push(format!("verb '{verb}' is not a known verb"));
    }
    let effective_ns = match scope {
        Scope::Cluster if group.is_empty() && resource == "namespaces" => name.to_owned(),
        Scope::Cluster => String::new(),
        _ => raw_ns.clone(),
    };
    let attrs = ResourceAttributes {
        verb: verb.to_owned(),
        group,
        resource,
        subresource: subresource.to_owned(),
        name: name.to_owned(),
        namespace: raw_ns,
    };
    let mut eff = attrs.clone();
    eff.namespace = effective_ns;
    Ok(Question {
        raw: Request::Resource(attrs),
        effective: Request::Resource(eff),
        scope,
        info,
        warnings,
    })
}

/// The answer to a question.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// Allowed (for the effective request)?
    pub allowed: bool,
    /// The authorizer's decision on the effective request.
    pub decision: Decision<'a>,
    /// When the effective answer is no but kubectl's (raw request) would be yes: the grant
    /// kubectl would rely on, inert for real requests.
    pub inert_grant: Option<Grant<'a>>,
    /// The reason printed after `no - `, if any.
    pub reason: Option<String>,
    /// Explanation lines (`--explain`).
    pub explanation: Vec<String>,
}

fn origin_suffix(o: &Origin) -> String {
    match o {
        Origin::Manifest { file, line, .. } => format!(" ({file}:{line})"),
        Origin::Bootstrap => " (bootstrap policy)".to_owned(),
    }
}

/// The "not found" error the API server reports for a binding whose role is missing.
pub fn missing_role_error(ab: &AppliedBinding<'_>) -> String {
    let kind = match ab.binding.role_ref.kind {
        RoleKind::Role => "role",
        RoleKind::ClusterRole => "clusterrole",
    };
    format!(
        "{kind}.rbac.authorization.k8s.io \"{}\" not found",
        ab.binding.role_ref.name
    )
}

/// Go's `utilerrors.NewAggregate(errs).Error()`: one message alone, several in brackets.
pub fn aggregate_errors(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        _ => format!("[{}]", errs.join(", ")),
    }
}

/// Describes one grant for explanations.
pub fn explain_grant(g: &Grant<'_>) -> String {
    format!("{}{}", g.describe(), origin_suffix(&g.binding.origin))
}

/// Answers a question for `user`.
pub fn answer<'a>(authz: &Authorizer<'a>, user: &UserInfo, q: &Question) -> Answer<'a> {
    let decision = authz.authorize(user, &q.effective);
    let mut explanation = Vec::new();
    if decision.allowed {
        if decision.via_masters {
            explanation.push(format!(
                "allowed: {} is in group system:masters, which the API server allows before consulting RBAC",
                user.name
            ));
        } else if let Some(g) = &decision.grant {
            explanation.push(format!("allowed by {}", explain_grant(g)));
        }
        return Answer {
            allowed: true,
            decision,
            inert_grant: None,
            reason: None,
            explanation,
        };
    }
    let mut reasons = Vec::new();
    let mut inert_grant = None;
    if q.raw != q.effective {
        let raw = authz.authorize(user, &q.raw);
        if let Some(g) = raw.grant.filter(|_| raw.allowed) {
            let (res, ns) = match &q.raw {
                Request::Resource(r) => (
                    q.info.map_or_else(|| r.resource.clone(), |i| i.qualified()),
                    r.namespace.clone(),
                ),
                Request::NonResource { .. } => (String::new(), String::new()),
            };
            let is_ns = matches!(&q.raw, Request::Resource(r) if r.group.is_empty() && r.resource == "namespaces");
            reasons.push(if is_ns {
                format!(
                    "namespaces is cluster-scoped: {} grants it only on the namespace {ns:?} itself (ask about namespaces/{ns}; kubectl would answer yes)",
                    describe_binding(g.binding)
                )
            } else {
                format!(
                    "{res} is cluster-scoped: {} grants it only to requests in namespace {ns:?}, which requests for {res} never carry (kubectl would answer yes)",
                    describe_binding(g.binding)
                )
            });
            inert_grant = Some(g);
        }
    }
    let ns = q.effective.namespace();
    let applied = authz.bindings_for(user, ns);
    let errors: Vec<String> = applied
        .iter()
        .filter(|ab| ab.role.is_none())
        .map(missing_role_error)
        .collect();
    if !errors.is_empty() {
        reasons.push(format!("RBAC: {}", aggregate_errors(&errors)));
    }
    // Explanation of a no.
    for r in &reasons {
        explanation.push(format!("denied: {r}"));
    }
    if applied.is_empty() {
        explanation.push(if ns.is_empty() {
            format!("no ClusterRoleBinding applies to {user}")
        } else {
            format!(
                "no ClusterRoleBinding, and no RoleBinding in namespace {ns:?}, applies to {user}"
            )
        });
    }
    for ab in &applied {
        let head = format!(
            "{} to {}{}",
            describe_binding(ab.binding),
            describe_subject(ab.subject, ab.binding),
            origin_suffix(&ab.binding.origin)
        );
        match ab.role {
            None => explanation.push(format!(
                "{head}: its {} {:?} does not exist (grants nothing)",
                match ab.binding.role_ref.kind {
                    RoleKind::Role => "Role",
                    RoleKind::ClusterRole => "ClusterRole",
                },
                ab.binding.role_ref.name
            )),
            Some(role) => explanation.push(format!(
                "{head}: no rule of {} ({} rule{}) matches",
                describe_role(role),
                role.rules.len(),
                if role.rules.len() == 1 { "" } else { "s" }
            )),
        }
    }
    if ns.is_empty()
        && let Request::Resource(r) = &q.effective
        && q.scope != Scope::Cluster
    {
        // With --all-namespaces only ClusterRoleBindings count; say where RoleBindings would.
        let mut in_ns = Vec::new();
        for rb_ns in authz.store().role_bindings.keys() {
            let mut r2 = r.clone();
            r2.namespace = rb_ns.clone();
            if authz.authorize(user, &Request::Resource(r2)).allowed {
                in_ns.push(rb_ns.as_str());
            }
        }
        if !in_ns.is_empty() {
            explanation.push(format!(
                "allowed only inside namespaces {in_ns:?} (RoleBindings), not across all namespaces"
            ));
        }
    }
    Answer {
        allowed: false,
        decision,
        inert_grant,
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        explanation,
    }
}

/// The rules a user has in a namespace, as `kubectl auth can-i --list` shows them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleList {
    /// Rules after kubectl's breakdown, compaction and sort.
    pub rules: Vec<PolicyRule>,
    /// Errors that make the list incomplete (missing roles).
    pub incomplete: Vec<String>,
}

/// kubectl's `BreakdownRule`: one rule per group x resource x verb (x name), then one per URL x
/// verb.
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                if rule.resource_names.is_empty() {
                    out.push(PolicyRule {
                        verbs: vec![v.clone()],
                        api_groups: vec![g.clone()],
                        resources: vec![r.clone()],
                        ..Default::default()
                    });
                } else {
                    for n in &rule.resource_names {
                        out.push(PolicyRule {
                            verbs: vec![v.clone()],
                            api_groups: vec![g.clone()],
                            resources: vec![r.clone()],
                            resource_names: vec![n.clone()],
                            ..Default::default()
                        });
                    }
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(PolicyRule {
                verbs: vec![v.clone()],
                non_resource_urls: vec![u.clone()],
                ..Default::default()
            });
        }
    }
    out
}

/// Go's `%v` of a string slice: `[a b]`.
pub fn go_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// The proto `String()` of a PolicyRule, kubectl's sort key for `--list`.
pub fn sort_key(r: &PolicyRule) -> String {
    format!(
        "&PolicyRule{{Verbs:{},APIGroups:{},Resources:{},ResourceNames:{},NonResourceURLs:{},}}",
        go_list(&r.verbs),
        go_list(&r.api_groups),
        go_list(&r.resources),
        go_list(&r.resource_names),
        go_list(&r.non_resource_urls)
    )
}

/// kubectl's `CompactRules` then a stable sort by [`sort_key`]: atoms with one group, one
/// resource and at most one name merge by appending their verbs (duplicates kept).
pub fn compact_and_sort(atoms: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    let mut index: HashMap<(String, String, Option<String>), usize> = HashMap::new();
    for a in atoms {
        let is_simple = a.resource_names.len() <= 1
            && a.non_resource_urls.is_empty()
            && a.api_groups.len() == 1
            && a.resources.len() == 1;
        if is_simple {
            let key = (
                a.api_groups[0].clone(),
                a.resources[0].clone(),
                a.resource_names.first().cloned(),
            );
            match index.get(&key) {
                Some(&i) => simple[i].verbs.extend(a.verbs),
                None => {
                    index.insert(key, simple.len());
                    simple.push(a);
                }
            }
        } else {
            out.push(a);
        }
    }
    out.extend(simple);
    let mut keyed: Vec<(String, PolicyRule)> = out.into_iter().map(|r| (sort_key(&r), r)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// The rules of `user` in `namespace` as a SelfSubjectRulesReview returns them (resource
/// rules, then non-resource rules), broken down, compacted and sorted as kubectl does.
pub fn list_rules(authz: &Authorizer<'_>, user: &UserInfo, namespace: &str) -> RuleList {
    let applied = authz.bindings_for(user, namespace);
    let incomplete: Vec<String> = applied
        .iter()
        .filter(|ab| ab.role.is_none())
        .map(missing_role_error)
        .collect();
    let mut resource_rules = Vec::new();
    let mut url_rules = Vec::new();
    for ab in &applied {
        let Some(role) = ab.role else { continue };
        for r in &role.rules {
            if !r.resources.is_empty() {
                resource_rules.push(PolicyRule {
                    non_resource_urls: Vec::new(),
                    ..r.clone()
                });
            }
            if !r.non_resource_urls.is_empty() {
                url_rules.push(PolicyRule {
                    verbs: r.verbs.clone(),
                    non_resource_urls: r.non_resource_urls.clone(),
                    ..Default::default()
                });
            }
        }
    }
    let atoms: Vec<PolicyRule> = resource_rules
        .iter()
        .chain(&url_rules)
        .flat_map(breakdown)
        .collect();
    RuleList {
        rules: compact_and_sort(atoms),
        incomplete,
    }
}

/// kubectl's `CombineResourceGroup`: `pods`, `deployments.apps/scale`, `*.*`, `""` for none.
pub fn combine_resource_group(resources: &[String], groups: &[String]) -> String {
    let Some(first) = resources.first() else {
        return String::new();
    };
    let (res, sub) = match first.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (first.as_str(), None),
    };
    let mut out = res.to_owned();
    if let Some(g) = groups.first().filter(|g| !g.is_empty()) {
        out.push('.');
        out.push_str(g);
    }
    if let Some(s) = sub {
        out.push('/');
        out.push_str(s);
    }
    out
}

/// Go's `text/tabwriter` as kubectl's printers configure it (minimum width 6, padding 3,
/// spaces): every cell but the last of a line is padded to its column's widest cell plus 3,
/// and to at least 6.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![6usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count() + 3);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// The `--list` table, byte for byte as kubectl prints it.
pub fn render_list(rules: &[PolicyRule], headers: bool) -> String {
    let mut rows = Vec::new();
    if headers {
        rows.push(
            ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
                .map(str::to_owned)
                .to_vec(),
        );
    }
    for r in rules {
        rows.push(vec![
            combine_resource_group(&r.resources, &r.api_groups),
            go_list(&r.non_resource_urls),
            go_list(&r.resource_names),
            go_list(&r.verbs),
        ]);
    }
    tabwrite(&rows)
}

/// One row of the scope-aware `--compact` listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactRow {
    /// `cluster` (ClusterRoleBinding: every namespace and cluster-scoped resources) or
    /// `namespace/<ns>` (RoleBinding).
    pub scope: String,
    /// API group (empty for core and for URLs).
    pub api_group: String,
    /// Resource (with `/subresource`), empty for URLs.
    pub resource: String,
    /// Resource name, or empty for any.
    pub resource_name: String,
    /// Non-resource URL, or empty.
    #[serde(rename = "nonResourceURL")]
    pub non_resource_url: String,
    /// Verbs, sorted and deduplicated (`*` alone when present).
    pub verbs: Vec<String>,
}

/// The result of the `--compact` listing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompactList {
    /// Rows, cluster scope first.
    pub rows: Vec<CompactRow>,
    /// Atoms dropped because they can never apply (cluster-scoped resources or URLs granted
    /// through a RoleBinding), as `binding: atom` strings.
    pub inert: Vec<String>,
    /// Errors that make the list incomplete.
    pub incomplete: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Atom {
    cluster: bool,
    group: String,
    resource: String,
    name: String,
    url: String,
    verb: String,
}

fn any_or(list: &str, want: &str) -> bool {
    list == ALL || list == want
}

fn resource_covers(owner: &str, res: &str) -> bool {
    owner == ALL
        || owner == res
        || (owner.starts_with("*/")
            && res
                .split_once('/')
                .is_some_and(|(_, sub)| &owner[2..] == sub))
}

impl Atom {
    /// Does `self` (owner) make `other` redundant?
    fn covers(&self, other: &Atom) -> bool {
        // A namespace grant never makes a cluster-wide one redundant.
        if (other.cluster && !self.cluster) || !any_or(&self.verb, &other.verb) {
            return false;
        }
        if !self.url.is_empty() || !other.url.is_empty() {
            return !self.url.is_empty()
                && !other.url.is_empty()
                && (self.url == ALL
                    || self.url == other.url
                    || self
                        .url
                        .strip_suffix('*')
                        .is_some_and(|p| other.url.starts_with(p)));
        }
        any_or(&self.group, &other.group)
            && resource_covers(&self.resource, &other.resource)
            && (self.name.is_empty() || self.name == other.name)
    }
}

/// A request on a namespace object carries that namespace's name as its namespace, so a
/// RoleBinding's grant on `namespaces` applies to its own namespace, for requests that name it
/// (not `list`, `create` or `deletecollection`, which name none).
fn namespace_itself(info: &ResourceInfo, atom: &Atom, namespace: &str) -> bool {
    info.group.is_empty()
        && info.resource == "namespaces"
        && (atom.name.is_empty() || atom.name == namespace)
        && !matches!(atom.verb.as_str(), "list" | "create" | "deletecollection")
}

/// A deduplicated, scope-aware listing: atoms that can never apply are dropped (and
/// reported), atoms covered by a broader grant of the same or a wider scope are dropped, and
/// the rest is grouped per (scope, group, resource, name) with sorted verbs.
pub fn compact_list(authz: &Authorizer<'_>, user: &UserInfo, namespace: &str) -> CompactList {
    let applied = authz.bindings_for(user, namespace);
    let mut out = CompactList {
        incomplete: applied
            .iter()
            .filter(|ab| ab.role.is_none())
            .map(missing_role_error)
            .collect(),
        ..Default::default()
    };
    let mut atoms: Vec<Atom> = Vec::new();
    for ab in &applied {
        let Some(role) = ab.role else { continue };
        let cluster = ab.binding.namespace.is_none();
        for rule in &role.rules {
            for a in breakdown(rule) {
                let atom = Atom {
                    cluster,
                    group: a.api_groups.first().cloned().unwrap_or_default(),
                    resource: a.resources.first().cloned().unwrap_or_default(),
                    name: a.resource_names.first().cloned().unwrap_or_default(),
                    url: a.non_resource_urls.first().cloned().unwrap_or_default(),
                    verb: a.verbs[0].clone(),
                };
                if !cluster {
                    let base = atom.resource.split('/').next().unwrap_or("");
                    let inert = !atom.url.is_empty()
                        || (atom.group != ALL
                            && discovery::find(&atom.group, base).is_some_and(|i| {
                                !i.namespaced && !namespace_itself(i, &atom, namespace)
                            }));
                    if inert {
                        out.inert.push(format!(
                            "{}: {} {}",
                            describe_binding(ab.binding),
                            atom.verb,
                            if atom.url.is_empty() {
                                combine_resource_group(
                                    std::slice::from_ref(&atom.resource),
                                    std::slice::from_ref(&atom.group),
                                )
                            } else {
                                atom.url.clone()
                            }
                        ));
                        continue;
                    }
                }
                atoms.push(atom);
            }
        }
    }
    atoms.sort();
    atoms.dedup();
    let kept: Vec<&Atom> = atoms
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !atoms
                .iter()
                .enumerate()
                .any(|(j, b)| j != *i && b.covers(a) && (!a.covers(b) || j < *i))
        })
        .map(|(_, a)| a)
        .collect();
    let mut groups: BTreeMap<(bool, String, String, String, String), Vec<String>> = BTreeMap::new();
    for a in kept {
        groups
            .entry((
                !a.cluster,
                a.group.clone(),
                a.resource.clone(),
                a.name.clone(),
                a.url.clone(),
            ))
            .or_default()
            .push(a.verb.clone());
    }
    for ((ns_scoped, group, resource, name, url), mut verbs) in groups {
        verbs.sort();
        verbs.dedup();
        if verbs.iter().any(|v| v == ALL) {
            verbs = vec![ALL.to_owned()];
        }
        out.rows.push(CompactRow {
            scope: if ns_scoped {
                format!("namespace/{namespace}")
            } else {
                "cluster".to_owned()
            },
            api_group: group,
            resource,
            resource_name: name,
            non_resource_url: url,
            verbs,
        });
    }
    out
}

/// The `--compact` table.
pub fn render_compact(list: &CompactList, headers: bool) -> String {
    let mut rows = Vec::new();
    if headers {
        rows.push(
            [
                "Scope",
                "Resources",
                "Non-Resource URLs",
                "Resource Names",
                "Verbs",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
    }
    for r in &list.rows {
        rows.push(vec![
            r.scope.clone(),
            if r.resource.is_empty() {
                String::new()
            } else {
                combine_resource_group(
                    std::slice::from_ref(&r.resource),
                    std::slice::from_ref(&r.api_group),
                )
            },
            if r.non_resource_url.is_empty() {
                "[]".to_owned()
            } else {
                format!("[{}]", r.non_resource_url)
            },
            if r.resource_name.is_empty() {
                "[]".to_owned()
            } else {
                format!("[{}]", r.resource_name)
            },
            go_list(&r.verbs),
        ]);
    }
    let mut out = tabwrite(&rows);
    if !list.inert.is_empty() {
        let _ = writeln!(
            out,
            "\n{} grant(s) through RoleBindings never apply (cluster-scoped resources or URLs):",
            list.inert.len()
        );
        for i in &list.inert {
            let _ = writeln!(out, "  {i}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        verbs: &[&str],
        groups: &[&str],
        res: &[&str],
        names: &[&str],
        urls: &[&str],
    ) -> PolicyRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(res),
            resource_names: v(names),
            non_resource_urls: v(urls),
        }
    }

    #[test]
    fn kubectl_list_layout() {
        // The shape of kubectl's own unit-test expectation: two resource rules with a name,
        // two URL rules.
        let atoms: Vec<PolicyRule> = [
            rule(&["get", "list"], &["*"], &["job"], &["test-resource"], &[]),
            rule(&["get", "list"], &["*"], &["pod"], &["test-resource"], &[]),
            rule(&["get"], &[], &[], &[], &["/version"]),
            rule(&["get"], &[], &[], &[], &["/apis/*"]),
        ]
        .iter()
        .flat_map(breakdown)
        .collect();
        let text = render_list(&compact_and_sort(atoms), true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "Resources   Non-Resource URLs   Resource Names    Verbs",
                "job.*       []                  [test-resource]   [get list]",
                "pod.*       []                  [test-resource]   [get list]",
                "            [/apis/*]           []                [get]",
                "            [/version]          []                [get]",
            ]
        );
    }

    #[test]
    fn compaction_keeps_duplicate_verbs_and_urls() {
        let atoms: Vec<PolicyRule> = [
            rule(&["get", "list"], &[""], &["pods"], &[], &[]),
            rule(&["get"], &[""], &["pods"], &[], &[]),
            rule(&["get"], &[], &[], &[], &["/healthz"]),
            rule(&["get"], &[], &[], &[], &["/healthz"]),
        ]
        .iter()
        .flat_map(breakdown)
        .collect();
        let rules = compact_and_sort(atoms);
        assert_eq!(rules.len(), 3);
        // Sorted on the proto string, verbs first: `[get list get]` < `[get]`.
        assert_eq!(rules[0].verbs, ["get", "list", "get"]);
        assert_eq!(
            combine_resource_group(&rules[0].resources, &rules[0].api_groups),
            "pods"
        );
        assert_eq!(rules[1], rules[2], "URL atoms are never merged");
    }

    #[test]
    fn resource_group_cells() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            combine_resource_group(&s(&["deployments/scale"]), &s(&["apps"])),
            "deployments.apps/scale"
        );
        assert_eq!(combine_resource_group(&s(&["*"]), &s(&["*"])), "*.*");
        assert_eq!(
            combine_resource_group(&s(&["pods/log"]), &s(&[""])),
            "pods/log"
        );
        assert_eq!(combine_resource_group(&[], &[]), "");
    }

    #[test]
    fn parsing_follows_kubectl() {
        let q = parse_question("get", "pods/log", "", Some("ns")).unwrap();
        let Request::Resource(r) = &q.raw else {
            panic!()
        };
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.subresource.as_str()),
            ("pods", "log", "")
        );
        assert!(q.warnings.iter().any(|w| w.contains("--subresource log")));
        let q = parse_question("get", "nodes", "", Some("ns")).unwrap();
        assert_eq!(q.scope, Scope::Cluster);
        assert_eq!(q.effective.namespace(), "");
        assert_eq!(q.raw.namespace(), "ns");
        let q = parse_question("delete", "ns/team-a", "", Some("other")).unwrap();
        assert_eq!(q.effective.namespace(), "team-a");
        let q = parse_question("get", "widgets.example.com", "", Some("ns")).unwrap();
        let Request::Resource(r) = &q.effective else {
            panic!()
        };
        assert_eq!(
            (r.group.as_str(), r.resource.as_str(), r.namespace.as_str()),
            ("example.com", "widgets", "ns")
        );
        assert_eq!(q.warnings.len(), 1);
        assert!(parse_question("get", "/healthz", "x", None).is_err());
        let q = parse_question("impersonate", "users/bob", "", Some("ns")).unwrap();
        assert!(q.warnings.is_empty(), "{:?}", q.warnings);
        assert_eq!(q.effective.namespace(), "");
    }
}
