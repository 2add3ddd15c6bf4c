//! The RBAC authorizer: which bindings apply to a user, which rules they grant, and whether a
//! request is allowed.
//!
//! Semantics (those of kube-apiserver's RBAC authorizer and default rule resolver):
//!
//! - members of `system:masters` are allowed everything, before RBAC is consulted;
//! - ClusterRoleBindings are visited first and apply to every request; RoleBindings apply only
//!   to requests whose namespace is the binding's namespace (so a RoleBinding to a ClusterRole
//!   grants that ClusterRole's rules inside one namespace only, and never for cluster-scoped or
//!   all-namespace requests, whose namespace is empty);
//! - a binding applies through its first matching subject: `User` by name, `Group` by
//!   membership, `ServiceAccount` by the `system:serviceaccount:<ns>:<name>` user name, where a
//!   subject without a namespace takes the RoleBinding's namespace (and, in a
//!   ClusterRoleBinding, matches nothing);
//! - a binding whose role does not exist grants nothing (it never denies);
//! - a request is allowed as soon as one rule allows it ([`PolicyRule::allows`]).

use crate::objects::{Binding, PodInfo, RbacStore, Role, RoleKind, Subject, SubjectKind};
use crate::rule::{PolicyRule, Request};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

/// The group whose members bypass RBAC.
pub const MASTERS_GROUP: &str = "system:masters";
/// The group of every authenticated user.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The group of unauthenticated requests.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// The user name of unauthenticated requests.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// Prefix of service-account user names.
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// The group of every service account.
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// An authenticated identity: a user name and its groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UserInfo {
    /// User name (`alice`, `system:serviceaccount:ns:name`, `system:anonymous`).
    pub name: String,
    /// Groups, the implicit ones included.
    pub groups: Vec<String>,
}

fn push_unique(groups: &mut Vec<String>, g: &str) {
    if !groups.iter().any(|x| x == g) {
        groups.push(g.to_owned());
    }
}

/// The groups of the service account `name` of namespace `ns`, without `system:authenticated`.
pub fn service_account_groups(ns: &str) -> [String; 2] {
    [
        SERVICE_ACCOUNTS_GROUP.to_owned(),
        format!("{SERVICE_ACCOUNTS_GROUP}:{ns}"),
    ]
}

/// The user name of a service account.
pub fn service_account_username(ns: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_PREFIX}{ns}:{name}")
}

impl UserInfo {
    /// A user as the API server sees it when impersonated with `--as NAME --as-group G...`:
    /// a service-account user name given without groups gets the service-account groups; every
    /// user but `system:anonymous` gets `system:authenticated`, which gets
    /// `system:unauthenticated` instead.
    pub fn user<S: Into<String>>(
        name: impl Into<String>,
        groups: impl IntoIterator<Item = S>,
    ) -> Self {
        let name = name.into();
        let mut out: Vec<String> = Vec::new();
        for g in groups {
            let g = g.into();
            push_unique(&mut out, &g);
        }
        let mut info = UserInfo {
            name,
            groups: Vec::new(),
        };
        if out.is_empty()
            && let Some((ns, _)) = info.parse_service_account()
        {
            out.extend(service_account_groups(ns));
        }
        if info.name == ANONYMOUS_USER {
            push_unique(&mut out, UNAUTHENTICATED_GROUP);
        } else {
            push_unique(&mut out, AUTHENTICATED_GROUP);
        }
        info.groups = out;
        info
    }

    /// The identity of a service account's token: `system:serviceaccount:<ns>:<name>` in
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
    pub fn service_account(ns: &str, name: &str) -> Self {
        let [all, per_ns] = service_account_groups(ns);
        UserInfo {
            name: service_account_username(ns, name),
            groups: vec![all, per_ns, AUTHENTICATED_GROUP.to_owned()],
        }
    }

    /// `(namespace, name)` when the user name is a service account's.
    pub fn parse_service_account(&self) -> Option<(&str, &str)> {
        let rest = self.name.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
        let (ns, name) = rest.split_once(':')?;
        (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
    }

    /// True when the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// True when the user bypasses RBAC (member of `system:masters`).
    pub fn is_master(&self) -> bool {
        self.in_group(MASTERS_GROUP)
    }
}

impl std::fmt::Display for UserInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} (groups={:?})", self.name, self.groups)
    }
}

/// The namespace a ServiceAccount subject designates: its own, else the RoleBinding's; `None`
/// for a ClusterRoleBinding subject without namespace (it matches nothing).
pub fn subject_namespace<'s>(subject: &'s Subject, binding: &'s Binding) -> Option<&'s str> {
    subject
        .namespace
        .as_deref()
        .or(binding.namespace.as_deref())
        .filter(|ns| !ns.is_empty())
}

/// `appliesToUser`: does this subject of `binding` designate `user`?
pub fn subject_applies(subject: &Subject, binding: &Binding, user: &UserInfo) -> bool {
    match subject.kind {
        SubjectKind::User => subject.name == user.name,
        SubjectKind::Group => user.in_group(&subject.name),
        SubjectKind::ServiceAccount => match (
            subject_namespace(subject, binding),
            user.parse_service_account(),
        ) {
            (Some(ns), Some((uns, uname))) => ns == uns && subject.name == uname,
            _ => false,
        },
    }
}

/// One rule that applies to a user: binding -> role -> rule, through a subject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grant<'a> {
    /// The binding.
    pub binding: &'a Binding,
    /// The role it references.
    pub role: &'a Role,
    /// The rule.
    pub rule: &'a PolicyRule,
    /// Index of the rule in the role's rules.
    pub rule_index: usize,
    /// The subject of the binding that designates the user.
    pub subject: &'a Subject,
}

/// A binding that applies to a user, with its role if it exists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppliedBinding<'a> {
    /// The binding.
    pub binding: &'a Binding,
    /// Its role; `None` when the role does not exist (the binding grants nothing).
    pub role: Option<&'a Role>,
    /// The first subject designating the user.
    pub subject: &'a Subject,
}

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'a> {
    /// Allowed?
    pub allowed: bool,
    /// Allowed because the user is in `system:masters` (no grant then).
    pub via_masters: bool,
    /// The first rule that allowed it, in the API server's visiting order.
    pub grant: Option<Grant<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    /// Visiting order: ClusterRoleBindings first, then RoleBindings, in load order.
    order: u32,
    subject_index: u32,
    binding: &'a Binding,
    role: Option<&'a Role>,
    subject: &'a Subject,
}

#[derive(Debug, Default)]
struct Index<'a> {
    users: HashMap<Cow<'a, str>, Vec<Entry<'a>>>,
    groups: HashMap<&'a str, Vec<Entry<'a>>>,
}

impl<'a> Index<'a> {
    fn add(&mut self, e: Entry<'a>) {
        match e.subject.kind {
            SubjectKind::User => self
                .users
                .entry(Cow::Borrowed(e.subject.name.as_str()))
                .or_default()
                .push(e),
            SubjectKind::Group => self
                .groups
                .entry(e.subject.name.as_str())
                .or_default()
                .push(e),
            SubjectKind::ServiceAccount => {
                if let Some(ns) = subject_namespace(e.subject, e.binding) {
                    self.users
                        .entry(Cow::Owned(service_account_username(ns, &e.subject.name)))
                        .or_default()
                        .push(e);
                }
            }
        }
    }

    fn candidates(&self, user: &UserInfo, out: &mut Vec<Entry<'a>>) {
        if let Some(v) = self.users.get(user.name.as_str()) {
            out.extend_from_slice(v);
        }
        for g in &user.groups {
            if let Some(v) = self.groups.get(g.as_str()) {
                out.extend_from_slice(v);
            }
        }
    }

    /// The best (first-visited) allowing entry, as (order, subject index, rule index).
    fn first_allowing(
        &self,
        user: &UserInfo,
        req: &Request,
        best: &mut Option<(u32, u32, usize, Entry<'a>)>,
    ) {
        let mut visit = |v: &[Entry<'a>]| {
            for e in v {
                if let Some((o, s, _, _)) = best
                    && (e.order, e.subject_index) >= (*o, *s)
                {
                    continue;
                }
                let Some(role) = e.role else { continue };
                if let Some(i) = role.rules.iter().position(|r| r.allows(req)) {
                    *best = Some((e.order, e.subject_index, i, *e));
                }
            }
        };
        if let Some(v) = self.users.get(user.name.as_str()) {
            visit(v);
        }
        for g in &user.groups {
            if let Some(v) = self.groups.get(g.as_str()) {
                visit(v);
            }
        }
    }
}

/// The RoleBindings that reference one role.
#[derive(Debug, Clone)]
pub struct RoleBindingGroup<'a> {
    /// The role.
    pub role: &'a Role,
    /// The RoleBindings referencing it (each applies in its own namespace).
    pub bindings: Vec<&'a Binding>,
}

/// The RBAC authorizer over a store, with bindings indexed by subject and namespace.
#[derive(Debug)]
pub struct Authorizer<'a> {
    store: &'a RbacStore,
    cluster: Index<'a>,
    namespaced: HashMap<&'a str, Index<'a>>,
    /// The role of each ClusterRoleBinding, in store order.
    crb_roles: Vec<Option<&'a Role>>,
    /// The role of each RoleBinding, per namespace, in store order.
    rb_roles: HashMap<&'a str, Vec<Option<&'a Role>>>,
    /// RoleBindings grouped by the role they reference (in first-use order), with their
    /// namespaces; RoleBindings whose role is missing are apart.
    rb_by_role: Vec<RoleBindingGroup<'a>>,
    rb_missing: Vec<&'a Binding>,
    /// Pods by (namespace, service account).
    pods_by_sa: HashMap<&'a str, HashMap<&'a str, Vec<&'a PodInfo>>>,
}

/// The role a binding references, if it exists: a `Role` in the binding's namespace or a
/// `ClusterRole`.
pub fn resolve_role<'a>(store: &'a RbacStore, binding: &Binding) -> Option<&'a Role> {
    match binding.role_ref.kind {
        RoleKind::ClusterRole => store.cluster_roles.get(binding.role_ref.name.as_str()),
        RoleKind::Role => {
            let ns = binding.namespace.as_ref()?;
            store
                .roles
                .get(&(ns.clone(), binding.role_ref.name.clone()))
        }
    }
}

impl<'a> Authorizer<'a> {
    /// Indexes the bindings of `store` (run [`RbacStore::aggregate`] before, so that aggregated
    /// ClusterRoles have their rules).
    pub fn new(store: &'a RbacStore) -> Self {
        let mut cluster = Index::default();
        let mut namespaced: HashMap<&'a str, Index<'a>> = HashMap::new();
        let mut order = 0u32;
        let mut crb_roles = Vec::with_capacity(store.cluster_role_bindings.len());
        let mut rb_roles: HashMap<&'a str, Vec<Option<&'a Role>>> = HashMap::new();
        let mut rb_by_role: Vec<RoleBindingGroup<'a>> = Vec::new();
        let mut group_of: HashMap<*const Role, usize> = HashMap::new();
        let mut rb_missing = Vec::new();
        for b in &store.cluster_role_bindings {
            let role = resolve_role(store, b);
            crb_roles.push(role);
            for (i, s) in b.subjects.iter().enumerate() {
                cluster.add(Entry {
                    order,
                    subject_index: i as u32,
                    binding: b,
                    role,
                    subject: s,
                });
            }
            order += 1;
        }
        for (ns, bindings) in &store.role_bindings {
            let idx = namespaced.entry(ns.as_str()).or_default();
            let roles = rb_roles.entry(ns.as_str()).or_default();
            for b in bindings {
                let role = resolve_role(store, b);
                roles.push(role);
                match role {
                    Some(r) => {
                        let next = group_of.len();
                        let g = *group_of.entry(r as *const Role).or_insert(next);
                        if g == rb_by_role.len() {
                            rb_by_role.push(RoleBindingGroup {
                                role: r,
                                bindings: Vec::new(),
                            });
                        }
                        rb_by_role[g].bindings.push(b);
                    }
                    None => rb_missing.push(b),
                }
                for (i, s) in b.subjects.iter().enumerate() {
                    idx.add(Entry {
                        order,
                        subject_index: i as u32,
                        binding: b,
                        role,
                        subject: s,
                    });
                }
                order += 1;
            }
        }
        let mut pods_by_sa: HashMap<&'a str, HashMap<&'a str, Vec<&'a PodInfo>>> = HashMap::new();
        for p in &store.pods {
            pods_by_sa
                .entry(p.namespace.as_str())
                .or_default()
                .entry(p.service_account.as_str())
                .or_default()
                .push(p);
        }
        Authorizer {
            store,
            cluster,
            namespaced,
            crb_roles,
            rb_roles,
            rb_by_role,
            rb_missing,
            pods_by_sa,
        }
    }

    /// ClusterRoleBindings with their roles (`None`: missing), in store order.
    pub fn cluster_bindings(&self) -> impl Iterator<Item = (&'a Binding, Option<&'a Role>)> + '_ {
        self.store
            .cluster_role_bindings
            .iter()
            .zip(self.crb_roles.iter().copied())
    }

    /// The RoleBindings of `namespace` with their roles (`None`: missing), in store order.
    pub fn role_bindings_in(
        &self,
        namespace: &str,
    ) -> impl Iterator<Item = (&'a Binding, Option<&'a Role>)> + '_ {
        let bindings: &'a [Binding] = self
            .store
            .role_bindings
            .get(namespace)
            .map_or(&[], Vec::as_slice);
        let roles: &[Option<&'a Role>] = self.rb_roles.get(namespace).map_or(&[], Vec::as_slice);
        bindings.iter().zip(roles.iter().copied())
    }

    /// Every RoleBinding of every namespace, grouped by the role it references.
    pub fn role_binding_groups(&self) -> &[RoleBindingGroup<'a>] {
        &self.rb_by_role
    }

    /// Every RoleBinding whose role does not exist.
    pub fn role_bindings_without_role(&self) -> &[&'a Binding] {
        &self.rb_missing
    }

    /// Pods (and workload templates) running as service account `name` of namespace `ns`.
    pub fn pods_of_service_account(&self, ns: &str, name: &str) -> &[&'a PodInfo] {
        self.pods_by_sa
            .get(ns)
            .and_then(|m| m.get(name))
            .map_or(&[], Vec::as_slice)
    }

    /// The store this authorizer reads.
    pub fn store(&self) -> &'a RbacStore {
        self.store
    }

    /// Is `req` allowed for `user`? `system:masters` first, then ClusterRoleBindings, then the
    /// RoleBindings of the request's namespace (none when it is empty).
    pub fn authorize(&self, user: &UserInfo, req: &Request) -> Decision<'a> {
        if user.is_master() {
            return Decision {
                allowed: true,
                via_masters: true,
                grant: None,
            };
        }
        let mut best = None;
        self.cluster.first_allowing(user, req, &mut best);
        let ns = req.namespace();
        if best.is_none()
            && !ns.is_empty()
            && let Some(idx) = self.namespaced.get(ns)
        {
            idx.first_allowing(user, req, &mut best);
        }
        match best {
            Some((_, _, rule_index, e)) => {
                let role = e.role.expect("an allowing entry has a role");
                Decision {
                    allowed: true,
                    via_masters: false,
                    grant: Some(Grant {
                        binding: e.binding,
                        role,
                        rule: &role.rules[rule_index],
                        rule_index,
                        subject: e.subject,
                    }),
                }
            }
            None => Decision {
                allowed: false,
                via_masters: false,
                grant: None,
            },
        }
    }

    /// Every binding that applies to `user` for requests in `namespace` (`""`: cluster-scoped
    /// and all-namespace requests, ClusterRoleBindings only), in visiting order, each once
    /// with its first matching subject.
    pub fn bindings_for(&self, user: &UserInfo, namespace: &str) -> Vec<AppliedBinding<'a>> {
        let mut entries = Vec::new();
        self.cluster.candidates(user, &mut entries);
        if !namespace.is_empty()
            && let Some(idx) = self.namespaced.get(namespace)
        {
            idx.candidates(user, &mut entries);
        }
        entries.sort_by_key(|e| (e.order, e.subject_index));
        entries.dedup_by_key(|e| e.order);
        entries
            .into_iter()
            .map(|e| AppliedBinding {
                binding: e.binding,
                role: e.role,
                subject: e.subject,
            })
            .collect()
    }

    /// Every rule that applies to `user` for requests in `namespace` (`""`: ClusterRoleBindings
    /// only), in visiting order. This is what a SelfSubjectRulesReview returns (without the
    /// `system:masters` bypass, which grants no rule).
    pub fn grants_for(&self, user: &UserInfo, namespace: &str) -> Vec<Grant<'a>> {
        let mut out = Vec::new();
        for ab in self.bindings_for(user, namespace) {
            let Some(role) = ab.role else { continue };
            for (i, rule) in role.rules.iter().enumerate() {
                out.push(Grant {
                    binding: ab.binding,
                    role,
                    rule,
                    rule_index: i,
                    subject: ab.subject,
                });
            }
        }
        out
    }

    /// Every identity named by a binding subject (ServiceAccount subjects with their effective
    /// namespace; ClusterRoleBinding ServiceAccount subjects without namespace are dropped) plus
    /// every ServiceAccount of the store, sorted and deduplicated. `apiGroup` is normalised
    /// (`rbac.authorization.k8s.io` for users and groups, `""` for service accounts).
    pub fn subjects(&self) -> Vec<Subject> {
        let mut set: BTreeSet<Subject> = BTreeSet::new();
        let bindings = self
            .store
            .cluster_role_bindings
            .iter()
            .chain(self.store.role_bindings.values().flatten());
        for b in bindings {
            for s in &b.subjects {
                let (namespace, api_group) = match s.kind {
                    SubjectKind::ServiceAccount => match subject_namespace(s, b) {
                        Some(ns) => (Some(ns.to_owned()), String::new()),
                        None => continue,
                    },
                    _ => (None, crate::objects::RBAC_GROUP.to_owned()),
                };
                set.insert(Subject {
                    kind: s.kind,
                    name: s.name.clone(),
                    namespace,
                    api_group,
                });
            }
        }
        for (ns, name) in self.store.service_accounts.keys() {
            set.insert(Subject {
                kind: SubjectKind::ServiceAccount,
                name: name.clone(),
                namespace: Some(ns.clone()),
                api_group: String::new(),
            });
        }
        set.into_iter().collect()
    }
}

/// `Kind "name"` of a binding for messages (`RoleBinding "ns/name"` for RoleBindings).
pub fn describe_binding(b: &Binding) -> String {
    match &b.namespace {
        Some(ns) => format!("RoleBinding \"{ns}/{}\"", b.name),
        None => format!("ClusterRoleBinding \"{}\"", b.name),
    }
}

/// `Kind "name"` of a role for messages.
pub fn describe_role(r: &Role) -> String {
    match &r.namespace {
        Some(ns) => format!("Role \"{ns}/{}\"", r.name),
        None => format!("ClusterRole \"{}\"", r.name),
    }
}

/// `Kind "name"` of a subject for messages (`ServiceAccount "ns/name"`).
pub fn describe_subject(s: &Subject, b: &Binding) -> String {
    match s.kind {
        SubjectKind::User => format!("User \"{}\"", s.name),
        SubjectKind::Group => format!("Group \"{}\"", s.name),
        SubjectKind::ServiceAccount => match subject_namespace(s, b) {
            Some(ns) => format!("ServiceAccount \"{ns}/{}\"", s.name),
            None => format!("ServiceAccount \"{}\" (no namespace)", s.name),
        },
    }
}

/// A rule in the compact form of `kubectl describe`:
/// `{verbs: [get list], apiGroups: [""], resources: [pods]}`.
pub fn describe_rule(r: &PolicyRule) -> String {
    fn list(v: &[String]) -> String {
        let items: Vec<String> = v
            .iter()
            .map(|s| {
                if s.is_empty() {
                    "\"\"".to_owned()
                } else {
                    s.clone()
                }
            })
            .collect();
        format!("[{}]", items.join(" "))
    }
    let mut parts = vec![format!("verbs: {}", list(&r.verbs))];
    if !r.api_groups.is_empty() || !r.resources.is_empty() {
        parts.push(format!("apiGroups: {}", list(&r.api_groups)));
        parts.push(format!("resources: {}", list(&r.resources)));
    }
    if !r.resource_names.is_empty() {
        parts.push(format!("resourceNames: {}", list(&r.resource_names)));
    }
    if !r.non_resource_urls.is_empty() {
        parts.push(format!("nonResourceURLs: {}", list(&r.non_resource_urls)));
    }
    format!("{{{}}}", parts.join(", "))
}

impl Grant<'_> {
    /// `RoleBinding "ns/rb" of ClusterRole "view" to ServiceAccount "ns/sa", rule 3 {...}`,
    /// the API server's "allowed by" wording plus the rule.
    pub fn describe(&self) -> String {
        format!(
            "{} of {} to {}, rule {} {}",
            describe_binding(self.binding),
            describe_role(self.role),
            describe_subject(self.subject, self.binding),
            self.rule_index,
            describe_rule(self.rule)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(text: &str) -> RbacStore {
        let mut inv = palisade_model::Inventory::new();
        inv.add_text("t.yaml", text, &palisade_model::LoadOptions::default());
        let (s, diags) = RbacStore::from_inventory(&inv);
        assert!(diags.is_empty(), "{diags:?}");
        s
    }

    const GRANTS: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: c}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}, {nonResourceURLs: [/x], verbs: [get]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}\nsubjects: [{kind: Group, name: g}, {kind: User, name: u}, {kind: ServiceAccount, name: nons}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}\nsubjects: [{kind: ServiceAccount, name: sa}, {kind: User, name: u}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: missing, namespace: a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: nope}\nsubjects: [{kind: User, name: u}]\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: lonely, namespace: b}\n";

    #[test]
    fn grants_follow_visiting_order_and_scope() {
        let s = store(GRANTS);
        let authz = Authorizer::new(&s);
        let u = UserInfo::user("u", ["g"]);
        let cluster = authz.grants_for(&u, "");
        assert_eq!(cluster.len(), 2, "the ClusterRoleBinding's two rules");
        assert!(cluster.iter().all(|g| g.binding.name == "crb"));
        // The first matching subject is reported: Group g comes before User u.
        assert_eq!(cluster[0].subject.name, "g");
        let in_a = authz.grants_for(&u, "a");
        assert_eq!(in_a.len(), 4);
        assert_eq!(in_a[2].binding.name, "rb");
        let applied = authz.bindings_for(&u, "a");
        assert_eq!(applied.len(), 3);
        assert!(
            applied[2].role.is_none(),
            "the binding to a missing Role applies, grants nothing"
        );
        assert!(
            authz
                .grants_for(&UserInfo::service_account("a", "sa"), "b")
                .is_empty()
        );
        assert_eq!(
            authz
                .grants_for(&UserInfo::service_account("a", "sa"), "a")
                .len(),
            2
        );
    }

    #[test]
    fn subjects_are_normalised() {
        let s = store(GRANTS);
        let subjects = Authorizer::new(&s).subjects();
        let names: Vec<String> = subjects
            .iter()
            .map(|s| {
                format!(
                    "{:?} {}/{}",
                    s.kind,
                    s.namespace.as_deref().unwrap_or(""),
                    s.name
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "User /u",
                "Group /g",
                "ServiceAccount b/lonely",
                "ServiceAccount a/sa"
            ],
            "the namespace-less ServiceAccount of a ClusterRoleBinding designates nobody"
        );
    }

    #[test]
    fn identities() {
        let u = UserInfo::user("alice", ["dev", "dev"]);
        assert_eq!(u.groups, ["dev", AUTHENTICATED_GROUP]);
        let a = UserInfo::user(ANONYMOUS_USER, Vec::<String>::new());
        assert_eq!(a.groups, [UNAUTHENTICATED_GROUP]);
        let sa = UserInfo::user("system:serviceaccount:ns:web", Vec::<String>::new());
        assert_eq!(
            sa.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                AUTHENTICATED_GROUP
            ]
        );
        assert_eq!(sa, UserInfo::service_account("ns", "web"));
        assert_eq!(sa.parse_service_account(), Some(("ns", "web")));
        let explicit = UserInfo::user("system:serviceaccount:ns:web", ["g"]);
        assert_eq!(explicit.groups, ["g", AUTHENTICATED_GROUP]);
        for bad in [
            "system:serviceaccount:ns",
            "system:serviceaccount::x",
            "system:serviceaccount:a:b:c",
        ] {
            assert_eq!(UserInfo::user(bad, ["g"]).parse_service_account(), None);
        }
    }
}
