//! Policy rules and the exact matching of the API server's RBAC authorizer
//! (`RuleAllows` and its helpers).

use palisade_model::{FieldPath, Node, Pos};
use serde::Serialize;

/// The wildcard of verbs, groups, resources and non-resource URLs.
pub const ALL: &str = "*";

/// One entry of a Role's or ClusterRole's `rules`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups` (`""` is the core group).
    pub api_groups: Vec<String>,
    /// `resources` (`pods`, `pods/log`, `*/scale`, `*`).
    pub resources: Vec<String>,
    /// `resourceNames` (empty: any name).
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// What is being asked: a resource request or a non-resource request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Request {
    /// A request on an API resource.
    Resource(ResourceAttributes),
    /// A request on a non-resource URL (`/healthz`, `/metrics`, `/api`).
    NonResource {
        /// Verb (`get`, `post`, ...).
        verb: String,
        /// URL path.
        path: String,
    },
}

/// The attributes of a resource request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct ResourceAttributes {
    /// Verb.
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// Resource (plural, without subresource).
    pub resource: String,
    /// Subresource, or empty.
    pub subresource: String,
    /// Object name, or empty (create, list without a name selector...).
    pub name: String,
    /// Namespace, or empty for cluster-scoped requests and requests across all namespaces.
    pub namespace: String,
}

impl Request {
    /// The verb of the request.
    pub fn verb(&self) -> &str {
        match self {
            Request::Resource(r) => &r.verb,
            Request::NonResource { verb, .. } => verb,
        }
    }

    /// The namespace of the request (`""` for non-resource and cluster-wide requests).
    pub fn namespace(&self) -> &str {
        match self {
            Request::Resource(r) => &r.namespace,
            Request::NonResource { .. } => "",
        }
    }
}

/// `VerbMatches`: `*` or the exact verb (custom verbs included).
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// `APIGroupMatches`: `*` or the exact group.
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == ALL || g == group)
}

/// `ResourceMatches`: `*`, the exact `resource[/subresource]`, or `*/<subresource>` when the
/// request has that subresource. There is no `pods/*` form.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

/// `ResourceNameMatches`: no names matches everything; otherwise the exact name (a request
/// without a name never matches a rule with names).
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `NonResourceURLMatches`: `*`, the exact path, or a trailing-`*` plain string prefix.
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| {
        u == ALL
            || u == path
            || u.strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

impl PolicyRule {
    /// `RuleAllows`: does this rule allow the request?
    pub fn allows(&self, req: &Request) -> bool {
        match req {
            Request::Resource(r) => {
                if !verb_matches(self, &r.verb) || !api_group_matches(self, &r.group) {
                    return false;
                }
                let matched = if r.subresource.is_empty() {
                    resource_matches(self, &r.resource, "")
                } else {
                    let combined = format!("{}/{}", r.resource, r.subresource);
                    resource_matches(self, &combined, &r.subresource)
                };
                matched && resource_name_matches(self, &r.name)
            }
            Request::NonResource { verb, path } => {
                verb_matches(self, verb) && non_resource_url_matches(self, path)
            }
        }
    }

    /// Parses one rule; `path` is used in errors.
    pub fn parse(node: &Node, path: &FieldPath) -> Result<PolicyRule, RuleError> {
        if !node.is_map() {
            return Err(RuleError {
                pos: node.pos,
                field: path.to_string(),
                message: format!("expected a mapping, got {}", node.node_type()),
            });
        }
        let list = |key: &str| -> Result<Vec<String>, RuleError> {
            match node.get(key) {
                None => Ok(Vec::new()),
                Some(n) if n.is_null() => Ok(Vec::new()),
                Some(n) if n.is_seq() => n
                    .items()
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        item.as_str().map(str::to_owned).ok_or_else(|| RuleError {
                            pos: item.pos,
                            field: path.key(key).index(i).to_string(),
                            message: format!("expected a string, got {}", item.node_type()),
                        })
                    })
                    .collect(),
                Some(n) => Err(RuleError {
                    pos: n.pos,
                    field: path.key(key).to_string(),
                    message: format!("expected a list of strings, got {}", n.node_type()),
                }),
            }
        };
        Ok(PolicyRule {
            verbs: list("verbs")?,
            api_groups: list("apiGroups")?,
            resources: list("resources")?,
            resource_names: list("resourceNames")?,
            non_resource_urls: list("nonResourceURLs")?,
        })
    }
}

/// A rule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: field {field}: {message}")]
pub struct RuleError {
    /// Position of the bad value.
    pub pos: Pos,
    /// Field path inside the object.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: v(names),
            non_resource_urls: Vec::new(),
        }
    }

    fn req(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Request {
        Request::Resource(ResourceAttributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: "ns".into(),
        })
    }

    #[test]
    fn subresources_wildcards_and_names() {
        let scale = rule(&["get"], &["apps"], &["*/scale"], &[]);
        assert!(scale.allows(&req("get", "apps", "deployments", "scale", "")));
        assert!(!scale.allows(&req("get", "apps", "deployments", "", "")));
        assert!(!scale.allows(&req("get", "apps", "deployments", "status", "")));
        let pods_star = rule(&["get"], &[""], &["pods/*"], &[]);
        assert!(
            !pods_star.allows(&req("get", "", "pods", "log", "")),
            "no pods/* form"
        );
        let pods = rule(&["get"], &[""], &["pods"], &[]);
        assert!(!pods.allows(&req("get", "", "pods", "log", "")));
        let named = rule(&["get", "create"], &[""], &["secrets"], &["a"]);
        assert!(named.allows(&req("get", "", "secrets", "", "a")));
        assert!(!named.allows(&req("create", "", "secrets", "", "")));
        let all = rule(&["*"], &["*"], &["*"], &[]);
        assert!(all.allows(&req(
            "escalate",
            "rbac.authorization.k8s.io",
            "roles",
            "",
            ""
        )));
        assert!(all.allows(&req("get", "", "pods", "exec", "")));
    }

    #[test]
    fn non_resource_urls_are_plain_prefixes() {
        let r = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/api*".into(), "/healthz/*".into()],
            ..Default::default()
        };
        let nr = |p: &str| Request::NonResource {
            verb: "get".into(),
            path: p.into(),
        };
        assert!(r.allows(&nr("/apis")));
        assert!(r.allows(&nr("/api/v1")));
        assert!(r.allows(&nr("/healthz/etcd")));
        assert!(!r.allows(&nr("/healthz")));
    }
}
