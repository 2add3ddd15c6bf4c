//! `who-can`: every subject allowed to make a request, with the binding -> role -> rule chain,
//! computed with the same matcher and scoping as [`crate::Authorizer`] (the API server's
//! "subject locator" turned offline), and the pods that run as the service accounts found.

use crate::authorizer::{
    AUTHENTICATED_GROUP, Authorizer, MASTERS_GROUP, SERVICE_ACCOUNT_PREFIX, SERVICE_ACCOUNTS_GROUP,
    subject_namespace,
};
use crate::objects::{Binding, PodInfo, RBAC_GROUP, Role, Subject, SubjectKind};
use crate::rule::{PolicyRule, Request};
use std::collections::{BTreeMap, HashMap};

/// One way a subject is allowed: binding -> role -> rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chain<'a> {
    /// The binding.
    pub binding: &'a Binding,
    /// Its role.
    pub role: &'a Role,
    /// The first rule of the role that allows the request.
    pub rule: &'a PolicyRule,
    /// Index of that rule.
    pub rule_index: usize,
    /// The namespace the request was evaluated in (a RoleBinding's, or the request's).
    pub namespace: &'a str,
}

/// A subject allowed to make the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed<'a> {
    /// The subject, normalised (ServiceAccount subjects carry their effective namespace).
    pub subject: Subject,
    /// `true` for `system:masters`, which bypasses RBAC (no chain needed).
    pub bypass: bool,
    /// Every binding chain that grants it.
    pub chains: Vec<Chain<'a>>,
    /// Pods (and workload templates) whose service-account identity is (or, for groups such
    /// as `system:serviceaccounts:<ns>`, belongs to) this subject.
    pub pods: Vec<&'a PodInfo>,
}

/// The answer to a who-can question.
#[derive(Debug, Clone, Default)]
pub struct WhoCan<'a> {
    /// Allowed subjects: `system:masters` first, then sorted by kind, namespace and name.
    pub allowed: Vec<Allowed<'a>>,
    /// RoleBinding grants that match the request's verb and resource but can never apply:
    /// the resource is cluster-scoped, so its requests carry no namespace.
    pub inert: Vec<Chain<'a>>,
    /// Bindings that would be consulted but whose role does not exist.
    pub missing_roles: Vec<&'a Binding>,
}

fn normalise(s: &Subject, b: &Binding) -> Option<Subject> {
    Some(match s.kind {
        SubjectKind::ServiceAccount => Subject {
            kind: s.kind,
            name: s.name.clone(),
            namespace: Some(subject_namespace(s, b)?.to_owned()),
            api_group: String::new(),
        },
        _ => Subject {
            kind: s.kind,
            name: s.name.clone(),
            namespace: None,
            api_group: RBAC_GROUP.to_owned(),
        },
    })
}

/// Pods whose token identity is, or belongs to, `subject`.
pub fn pods_of<'a>(authz: &Authorizer<'a>, subject: &Subject) -> Vec<&'a PodInfo> {
    let store = authz.store();
    let sa = |ns: &str, name: &str| -> Vec<&'a PodInfo> {
        authz.pods_of_service_account(ns, name).to_vec()
    };
    match subject.kind {
        SubjectKind::ServiceAccount => {
            sa(subject.namespace.as_deref().unwrap_or(""), &subject.name)
        }
        SubjectKind::User => match subject
            .name
            .strip_prefix(SERVICE_ACCOUNT_PREFIX)
            .and_then(|r| r.split_once(':'))
        {
            Some((ns, name)) => sa(ns, name),
            None => Vec::new(),
        },
        SubjectKind::Group => {
            if subject.name == SERVICE_ACCOUNTS_GROUP || subject.name == AUTHENTICATED_GROUP {
                store.pods.iter().collect()
            } else if let Some(ns) = subject
                .name
                .strip_prefix(SERVICE_ACCOUNTS_GROUP)
                .and_then(|r| r.strip_prefix(':'))
            {
                store.pods.iter().filter(|p| p.namespace == ns).collect()
            } else {
                Vec::new()
            }
        }
    }
}

/// Which namespaces' RoleBindings to consult.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespaces<'n> {
    /// The request's own namespace only (exactly the authorizer).
    Request,
    /// Every namespace: each RoleBinding is evaluated as if the request were in its
    /// namespace ("who can do it somewhere").
    All,
    /// This namespace (ignored for cluster-scoped requests, whose namespace is empty).
    One(&'n str),
}

/// Every subject allowed to make `req` (ClusterRoleBindings, plus the RoleBindings of the
/// request's namespace, or of every namespace with [`Namespaces::All`]). `cluster_scoped`
/// says the resource is cluster-scoped: RoleBinding grants are then reported as inert.
pub fn who_can<'a>(
    authz: &Authorizer<'a>,
    req: &Request,
    namespaces: Namespaces<'_>,
    cluster_scoped: bool,
) -> WhoCan<'a> {
    let mut out = WhoCan::default();
    let mut by_subject: BTreeMap<Subject, Vec<Chain<'a>>> = BTreeMap::new();
    let mut cache: HashMap<*const Role, Option<usize>> = HashMap::new();
    let mut first_rule = |role: &'a Role, req: &Request| -> Option<usize> {
        *cache
            .entry(role as *const Role)
            .or_insert_with(|| role.rules.iter().position(|r| r.allows(req)))
    };
    for (b, role) in authz.cluster_bindings() {
        let Some(role) = role else {
            out.missing_roles.push(b);
            continue;
        };
        let Some(i) = first_rule(role, req) else {
            continue;
        };
        for s in &b.subjects {
            let Some(subject) = normalise(s, b) else {
                continue;
            };
            by_subject.entry(subject).or_default().push(Chain {
                binding: b,
                role,
                rule: &role.rules[i],
                rule_index: i,
                namespace: "",
            });
        }
    }
    let wide = cluster_scoped
        || matches!(namespaces, Namespaces::All)
        || matches!(req, Request::NonResource { .. });
    if wide {
        // Every RoleBinding, one role at a time (rule matching ignores the namespace). For
        // cluster-scoped and non-resource requests they never apply: reported as inert.
        let inert = cluster_scoped || matches!(req, Request::NonResource { .. });
        for group in authz.role_binding_groups() {
            let role = group.role;
            let Some(i) = first_rule(role, req) else {
                continue;
            };
            for b in &group.bindings {
                let chain = Chain {
                    binding: b,
                    role,
                    rule: &role.rules[i],
                    rule_index: i,
                    namespace: b.namespace.as_deref().unwrap_or(""),
                };
                if inert {
                    out.inert.push(chain);
                    continue;
                }
                for s in &b.subjects {
                    let Some(subject) = normalise(s, b) else {
                        continue;
                    };
                    by_subject.entry(subject).or_default().push(chain);
                }
            }
        }
        out.inert
            .sort_by(|a, b| (a.namespace, &a.binding.name).cmp(&(b.namespace, &b.binding.name)));
        if !inert {
            out.missing_roles
                .extend(authz.role_bindings_without_role().iter().copied());
        }
    } else {
        let ns = match namespaces {
            Namespaces::One(ns) => ns,
            _ => req.namespace(),
        };
        if !ns.is_empty() {
            for (b, role) in authz.role_bindings_in(ns) {
                let Some(role) = role else {
                    out.missing_roles.push(b);
                    continue;
                };
                let Some(i) = first_rule(role, req) else {
                    continue;
                };
                let chain = Chain {
                    binding: b,
                    role,
                    rule: &role.rules[i],
                    rule_index: i,
                    namespace: b.namespace.as_deref().unwrap_or(""),
                };
                for s in &b.subjects {
                    let Some(subject) = normalise(s, b) else {
                        continue;
                    };
                    by_subject.entry(subject).or_default().push(chain);
                }
            }
        }
    }
    // ClusterRoleBindings first (store order), then RoleBindings by namespace and name.
    let key = |c: &Chain<'a>| -> (bool, &'a str, &'a str) {
        match c.binding.namespace {
            None => (false, "", ""),
            Some(_) => (true, c.namespace, c.binding.name.as_str()),
        }
    };
    for chains in by_subject.values_mut() {
        chains.sort_by_key(key);
    }
    let masters = Subject {
        kind: SubjectKind::Group,
        name: MASTERS_GROUP.to_owned(),
        namespace: None,
        api_group: RBAC_GROUP.to_owned(),
    };
    let masters_chains = by_subject.remove(&masters).unwrap_or_default();
    out.allowed.push(Allowed {
        subject: masters,
        bypass: true,
        chains: masters_chains,
        pods: Vec::new(),
    });
    for (subject, chains) in by_subject {
        let pods = pods_of(authz, &subject);
        out.allowed.push(Allowed {
            subject,
            bypass: false,
            chains,
            pods,
        });
    }
    out
}
