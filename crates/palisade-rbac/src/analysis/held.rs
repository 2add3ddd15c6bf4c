//! Who holds which rules: the principals of an analysis (users, groups and service accounts)
//! and every rule bound to each of them, directly or through a group.
//!
//! Subject matching follows the API server's rule resolver: a `User` subject matches the user
//! name (a service account's user name is `system:serviceaccount:<ns>:<name>`), a `Group`
//! subject matches one of the user's groups, and a `ServiceAccount` subject without a namespace
//! takes its RoleBinding's namespace (in a ClusterRoleBinding it matches nothing).

use crate::objects::{Binding, RbacStore, Role, RoleKind, Subject, SubjectKind};
use crate::rule::PolicyRule;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// Group of every authenticated user.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Group of every unauthenticated request.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// User name of unauthenticated requests.
pub const ANONYMOUS: &str = "system:anonymous";
/// Group of every service account.
pub const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
/// Group that bypasses RBAC.
pub const MASTERS: &str = "system:masters";
const SA_PREFIX: &str = "system:serviceaccount:";

/// An identity whose rights are analysed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Principal {
    /// A user (member of `system:authenticated`, or `system:unauthenticated` for
    /// `system:anonymous`).
    User {
        /// User name.
        name: String,
    },
    /// Any member of a group.
    Group {
        /// Group name.
        name: String,
    },
    /// A service account.
    ServiceAccount {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

impl Principal {
    /// A user; `system:serviceaccount:<ns>:<name>` becomes the service account.
    pub fn user(name: &str) -> Principal {
        match parse_sa_username(name) {
            Some((ns, n)) => Principal::sa(ns, n),
            None => Principal::User { name: name.into() },
        }
    }

    /// A group.
    pub fn group(name: &str) -> Principal {
        Principal::Group { name: name.into() }
    }

    /// A service account.
    pub fn sa(namespace: &str, name: &str) -> Principal {
        Principal::ServiceAccount {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The groups the principal is a member of besides itself (the ones the API server adds).
    pub fn groups(&self) -> Vec<String> {
        match self {
            Principal::User { name } if name == ANONYMOUS => vec![UNAUTHENTICATED.into()],
            Principal::User { .. } => vec![AUTHENTICATED.into()],
            Principal::Group { name } if name == UNAUTHENTICATED || name == AUTHENTICATED => {
                Vec::new()
            }
            Principal::Group { .. } => vec![AUTHENTICATED.into()],
            Principal::ServiceAccount { namespace, .. } => vec![
                SERVICE_ACCOUNTS.into(),
                format!("{SERVICE_ACCOUNTS}:{namespace}"),
                AUTHENTICATED.into(),
            ],
        }
    }

    /// True for the members of `system:masters`, which bypass RBAC.
    pub fn is_master(&self) -> bool {
        matches!(self, Principal::Group { name } if name == MASTERS)
    }

    fn own_keys(&self) -> Vec<SubjectKey> {
        match self {
            Principal::User { name } => vec![SubjectKey::User(name.clone())],
            Principal::Group { name } => vec![SubjectKey::Group(name.clone())],
            Principal::ServiceAccount { namespace, name } => vec![
                SubjectKey::Sa(namespace.clone(), name.clone()),
                SubjectKey::User(format!("{SA_PREFIX}{namespace}:{name}")),
            ],
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User { name } => write!(f, "user {name}"),
            Principal::Group { name } => write!(f, "group {name}"),
            Principal::ServiceAccount { namespace, name } => write!(f, "sa {namespace}/{name}"),
        }
    }
}

/// Splits `system:serviceaccount:<ns>:<name>`.
pub fn parse_sa_username(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SA_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SubjectKey {
    User(String),
    Group(String),
    Sa(String, String),
}

/// The key a binding subject matches, `None` for a service account without namespace in a
/// ClusterRoleBinding (it matches nobody).
fn subject_key(b: &Binding, s: &Subject) -> Option<SubjectKey> {
    Some(match s.kind {
        SubjectKind::User => SubjectKey::User(s.name.clone()),
        SubjectKind::Group => SubjectKey::Group(s.name.clone()),
        SubjectKind::ServiceAccount => {
            let ns = s.namespace.clone().or_else(|| b.namespace.clone())?;
            SubjectKey::Sa(ns, s.name.clone())
        }
    })
}

/// One rule held by a principal: the binding that grants it, the subject of the binding that
/// matches the principal, the role and the rule.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// The binding.
    pub binding: &'a Binding,
    /// Index of the matching subject in `binding.subjects`.
    pub subject_index: usize,
    /// The role the binding refers to.
    pub role: &'a Role,
    /// The rule.
    pub rule: &'a PolicyRule,
    /// Index of the rule in `role.rules`.
    pub rule_index: usize,
    /// True when the subject names the principal itself (not one of its groups).
    pub direct: bool,
}

impl<'a> Held<'a> {
    /// The subject of the binding that matched.
    pub fn subject(&self) -> &'a Subject {
        &self.binding.subjects[self.subject_index]
    }

    /// The RoleBinding's namespace, `None` for a ClusterRoleBinding.
    pub fn namespace(&self) -> Option<&'a str> {
        self.binding.namespace.as_deref()
    }
}

/// The role a binding refers to, if it exists.
pub fn role_of<'a>(store: &'a RbacStore, b: &Binding) -> Option<&'a Role> {
    match b.role_ref.kind {
        RoleKind::ClusterRole => store.cluster_roles.get(&b.role_ref.name),
        RoleKind::Role => store.roles.get(&(
            b.namespace.clone().unwrap_or_default(),
            b.role_ref.name.clone(),
        )),
    }
}

/// An index from binding subjects to bindings.
pub struct Holdings<'a> {
    /// The store analysed.
    pub store: &'a RbacStore,
    by_subject: HashMap<SubjectKey, Vec<(&'a Binding, usize)>>,
}

impl<'a> Holdings<'a> {
    /// Indexes every binding of the store.
    pub fn new(store: &'a RbacStore) -> Self {
        let mut by_subject: HashMap<SubjectKey, Vec<(&'a Binding, usize)>> = HashMap::new();
        let all = store
            .cluster_role_bindings
            .iter()
            .chain(store.role_bindings.values().flatten());
        for b in all {
            for (i, s) in b.subjects.iter().enumerate() {
                if let Some(k) = subject_key(b, s) {
                    let list = by_subject.entry(k).or_default();
                    // A binding naming the same subject twice grants it once.
                    if !list.iter().any(|(x, _)| std::ptr::eq(*x, b)) {
                        list.push((b, i));
                    }
                }
            }
        }
        Holdings { store, by_subject }
    }

    /// Every principal worth analysing: the subjects of the bindings, every ServiceAccount and
    /// the service accounts of the pods. Sorted.
    pub fn principals(&self) -> Vec<Principal> {
        let mut out = BTreeSet::new();
        for k in self.by_subject.keys() {
            out.insert(match k {
                SubjectKey::User(n) => Principal::user(n),
                SubjectKey::Group(n) => Principal::group(n),
                SubjectKey::Sa(ns, n) => Principal::sa(ns, n),
            });
        }
        for (ns, n) in self.store.service_accounts.keys() {
            out.insert(Principal::sa(ns, n));
        }
        for p in &self.store.pods {
            out.insert(Principal::sa(&p.namespace, &p.service_account));
        }
        out.into_iter().collect()
    }

    /// Every rule the principal holds, through its own name and through its groups, in
    /// binding order (ClusterRoleBindings first). Bindings to missing roles hold nothing.
    pub fn held(&self, p: &Principal) -> Vec<Held<'a>> {
        let own = p.own_keys();
        let mut keys: Vec<(SubjectKey, bool)> = own.into_iter().map(|k| (k, true)).collect();
        keys.extend(
            p.groups()
                .into_iter()
                .map(|g| (SubjectKey::Group(g), false)),
        );
        let mut bindings: Vec<(&'a Binding, usize, bool)> = Vec::new();
        for (k, direct) in keys {
            for &(b, i) in self.by_subject.get(&k).map(Vec::as_slice).unwrap_or(&[]) {
                match bindings.iter_mut().find(|(x, _, _)| std::ptr::eq(*x, b)) {
                    Some(entry) => {
                        if direct && !entry.2 {
                            *entry = (b, i, true);
                        }
                    }
                    None => bindings.push((b, i, direct)),
                }
            }
        }
        bindings.sort_by_key(|(b, _, _)| b.namespace.is_some());
        let mut out = Vec::new();
        for (b, subject_index, direct) in bindings {
            let Some(role) = role_of(self.store, b) else {
                continue;
            };
            for (rule_index, rule) in role.rules.iter().enumerate() {
                out.push(Held {
                    binding: b,
                    subject_index,
                    role,
                    rule,
                    rule_index,
                    direct,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_user_names() {
        assert_eq!(
            parse_sa_username("system:serviceaccount:ns:web"),
            Some(("ns", "web"))
        );
        assert_eq!(parse_sa_username("system:serviceaccount:ns"), None);
        assert_eq!(parse_sa_username("system:serviceaccount::x"), None);
        assert_eq!(
            Principal::user("system:serviceaccount:a:b"),
            Principal::sa("a", "b")
        );
        assert_eq!(
            Principal::user(ANONYMOUS).groups(),
            vec![UNAUTHENTICATED.to_string()]
        );
        assert!(
            Principal::sa("a", "b")
                .groups()
                .contains(&"system:serviceaccounts:a".to_string())
        );
    }
}
