//! The policy comparator of the API server (`Covers`, `BreakdownRule`, `ruleCovers`): does one
//! set of rules hold every permission of another?
//!
//! The servant rules are broken into atoms (one API group × one resource × one verb × at most
//! one resource name, and one non-resource URL × one verb); each atom must be covered by a
//! **single** owner rule. Because atoms are this small, two owner rules that each hold part of a
//! servant rule together cover it (each atom finds its own owner), but an atom written with a
//! wildcard (`*` verb, `*` resource, `*/scale`, `*` group) is only covered by an owner rule
//! holding that same wildcard (or `*`): `get` plus `list` plus every other verb spelled out does
//! not cover `*`. This is the comparison the API server uses for escalation checks and that
//! `kubectl auth reconcile` uses for missing and extra rules.

use crate::rule::{ALL, PolicyRule};

/// `BreakdownRule`: the atoms of a rule, in the order the API server produces them (groups,
/// then resources, then verbs, then names; then non-resource URLs × verbs).
///
/// A rule with resources but no API groups has no resource atoms (it allows nothing and is
/// trivially covered), exactly as upstream.
pub fn breakdown_rule(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut atoms = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    verbs: vec![verb.clone()],
                    api_groups: vec![group.clone()],
                    resources: vec![resource.clone()],
                    resource_names: Vec::new(),
                    non_resource_urls: Vec::new(),
                };
                if rule.resource_names.is_empty() {
                    atoms.push(base);
                } else {
                    for name in &rule.resource_names {
                        atoms.push(PolicyRule {
                            resource_names: vec![name.clone()],
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            atoms.push(PolicyRule {
                verbs: vec![verb.clone()],
                non_resource_urls: vec![url.clone()],
                ..PolicyRule::default()
            });
        }
    }
    atoms
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

/// `resourceCoversAll`: `*`, every entry exactly, or for a `x/sub` entry the owner's `*/sub`.
fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if has(owner, ALL) || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        if has(owner, path) {
            return true;
        }
        match path.split_once('/') {
            Some((_, sub)) => has(owner, &format!("*/{sub}")),
            None => false,
        }
    })
}

/// `nonResourceURLCovers`: equal, or the owner ends in `*` and the path starts with the owner
/// with every trailing `*` removed (so `*` covers every path).
pub fn non_resource_url_covers(owner: &str, path: &str) -> bool {
    owner == path || (owner.ends_with('*') && path.starts_with(owner.trim_end_matches('*')))
}

fn urls_cover(owner: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|p| owner.iter().any(|o| non_resource_url_covers(o, p)))
}

/// `ruleCovers`: does the owner rule hold the whole of `sub` (normally an atom from
/// [`breakdown_rule`])?
///
/// Resource names: an atom without names needs an owner without names; an atom with names is
/// covered by an owner without names or by one listing every name.
pub fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, ALL) || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, ALL) || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls = urls_cover(&owner.non_resource_urls, &sub.non_resource_urls);
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && urls && names
}

/// `Covers`: do `owner_rules` hold every permission of `servant_rules`? Returns the answer and
/// the servant atoms no single owner rule covers, in breakdown order.
pub fn covers(owner_rules: &[PolicyRule], servant_rules: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let uncovered: Vec<PolicyRule> = servant_rules
        .iter()
        .flat_map(breakdown_rule)
        .filter(|atom| !owner_rules.iter().any(|o| rule_covers(o, atom)))
        .collect();
    (uncovered.is_empty(), uncovered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: v(names),
            non_resource_urls: Vec::new(),
        }
    }

    fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: v(verbs),
            non_resource_urls: v(urls),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn breakdown_is_the_cartesian_product() {
        let r = rule(
            &["get", "list"],
            &["", "apps"],
            &["pods", "deployments"],
            &[],
        );
        let atoms = breakdown_rule(&r);
        assert_eq!(atoms.len(), 8);
        assert_eq!(atoms[0], rule(&["get"], &[""], &["pods"], &[]));
        assert_eq!(atoms[1], rule(&["list"], &[""], &["pods"], &[]));
        assert_eq!(atoms[2], rule(&["get"], &[""], &["deployments"], &[]));
        assert_eq!(atoms[7], rule(&["list"], &["apps"], &["deployments"], &[]));

        let named = rule(&["get"], &[""], &["secrets"], &["a", "b"]);
        assert_eq!(
            breakdown_rule(&named),
            vec![
                rule(&["get"], &[""], &["secrets"], &["a"]),
                rule(&["get"], &[""], &["secrets"], &["b"])
            ]
        );

        let nr = urls(&["get", "post"], &["/healthz", "/api*"]);
        assert_eq!(
            breakdown_rule(&nr),
            vec![
                urls(&["get"], &["/healthz"]),
                urls(&["post"], &["/healthz"]),
                urls(&["get"], &["/api*"]),
                urls(&["post"], &["/api*"]),
            ]
        );
        // No API group: no resource atoms at all (upstream quirk).
        assert!(breakdown_rule(&rule(&["get"], &[], &["pods"], &[])).is_empty());
        assert!(covers(&[], &[rule(&["get"], &[], &["pods"], &[])]).0);
    }

    #[test]
    fn wildcards_cover_everything_of_their_field() {
        let star = rule(&["*"], &["*"], &["*"], &[]);
        for sub in [
            rule(&["get"], &[""], &["pods"], &[]),
            rule(
                &["escalate"],
                &["rbac.authorization.k8s.io"],
                &["roles"],
                &["x"],
            ),
            rule(&["get"], &["apps"], &["deployments/scale"], &[]),
            rule(&["*"], &["*"], &["*/scale"], &[]),
        ] {
            assert!(
                covers(std::slice::from_ref(&star), std::slice::from_ref(&sub)).0,
                "{sub:?}"
            );
        }
        // Resources only: non-resource URLs are not covered by `*` resources.
        let (ok, missing) = covers(&[star], &[urls(&["get"], &["/healthz"])]);
        assert!(!ok);
        assert_eq!(missing, vec![urls(&["get"], &["/healthz"])]);
        // And non-resource `*` does not cover resources.
        assert!(
            !covers(
                &[urls(&["*"], &["*"])],
                &[rule(&["get"], &[""], &["pods"], &[])]
            )
            .0
        );
    }

    #[test]
    fn wildcard_atoms_need_a_wildcard_owner() {
        let spelled = rule(
            &[
                "get", "list", "watch", "create", "update", "patch", "delete",
            ],
            &[""],
            &["pods"],
            &[],
        );
        let (ok, missing) = covers(&[spelled], &[rule(&["*"], &[""], &["pods"], &[])]);
        assert!(!ok);
        assert_eq!(missing, vec![rule(&["*"], &[""], &["pods"], &[])]);
        // `*` resource is not covered by a list of resources.
        assert!(
            !covers(
                &[rule(&["get"], &[""], &["pods", "services"], &[])],
                &[rule(&["get"], &[""], &["*"], &[])]
            )
            .0
        );
        // `*` group is not covered by the core group.
        assert!(
            !covers(
                &[rule(&["get"], &[""], &["pods"], &[])],
                &[rule(&["get"], &["*"], &["pods"], &[])]
            )
            .0
        );
    }

    #[test]
    fn scale_subresources() {
        let any_scale = rule(&["get"], &["apps"], &["*/scale"], &[]);
        assert!(
            covers(
                std::slice::from_ref(&any_scale),
                &[rule(
                    &["get"],
                    &["apps"],
                    &["deployments/scale", "statefulsets/scale"],
                    &[]
                )]
            )
            .0
        );
        // `*/scale` does not cover the parent resource nor another subresource.
        assert!(
            !covers(
                std::slice::from_ref(&any_scale),
                &[rule(&["get"], &["apps"], &["deployments"], &[])]
            )
            .0
        );
        assert!(
            !covers(
                std::slice::from_ref(&any_scale),
                &[rule(&["get"], &["apps"], &["deployments/status"], &[])]
            )
            .0
        );
        // Spelled-out scale subresources do not cover `*/scale`.
        assert!(
            !covers(
                &[rule(
                    &["get"],
                    &["apps"],
                    &["deployments/scale", "replicasets/scale"],
                    &[]
                )],
                &[any_scale]
            )
            .0
        );
        // There is no `pods/*` form: it covers only the literal entry.
        assert!(
            !covers(
                &[rule(&["get"], &[""], &["pods/*"], &[])],
                &[rule(&["get"], &[""], &["pods/log"], &[])]
            )
            .0
        );
        // The parent does not cover a subresource.
        assert!(
            !covers(
                &[rule(&["get"], &[""], &["pods"], &[])],
                &[rule(&["get"], &[""], &["pods/log"], &[])]
            )
            .0
        );
        // A nested subresource path matches `*/` plus everything after the first slash.
        assert!(
            covers(
                &[rule(&["get"], &["x"], &["*/a/b"], &[])],
                &[rule(&["get"], &["x"], &["r/a/b"], &[])]
            )
            .0
        );
    }

    #[test]
    fn resource_names() {
        let ab = rule(&["get"], &[""], &["secrets"], &["a", "b"]);
        assert!(
            covers(
                std::slice::from_ref(&ab),
                &[rule(&["get"], &[""], &["secrets"], &["a"])]
            )
            .0
        );
        let (ok, missing) = covers(
            std::slice::from_ref(&ab),
            &[rule(&["get"], &[""], &["secrets"], &["a", "c"])],
        );
        assert!(!ok);
        assert_eq!(missing, vec![rule(&["get"], &[""], &["secrets"], &["c"])]);
        // An owner with names never covers an atom without names.
        assert!(!covers(&[ab], &[rule(&["get"], &[""], &["secrets"], &[])]).0);
        // An owner without names covers named atoms.
        assert!(
            covers(
                &[rule(&["get"], &[""], &["secrets"], &[])],
                &[rule(&["get"], &[""], &["secrets"], &["z"])]
            )
            .0
        );
    }

    #[test]
    fn non_resource_url_prefixes() {
        let owner = urls(&["get"], &["/api*", "/healthz/*"]);
        for (path, want) in [
            ("/apis", true),
            ("/api/v1", true),
            ("/api*", true),
            ("/healthz/etcd", true),
            ("/healthz", false),
            ("/metrics", false),
        ] {
            assert_eq!(
                covers(std::slice::from_ref(&owner), &[urls(&["get"], &[path])]).0,
                want,
                "{path}"
            );
        }
        // Every trailing star is trimmed; `*` alone covers all.
        assert!(non_resource_url_covers("/x**", "/xy"));
        assert!(non_resource_url_covers("*", "/anything"));
        assert!(!non_resource_url_covers("/x", "/x/"));
        // A servant prefix is covered only by an owner prefix that is at least as wide.
        assert!(
            !covers(
                &[urls(&["get"], &["/api/v1"])],
                &[urls(&["get"], &["/api*"])]
            )
            .0
        );
        assert!(!covers(&[owner], &[urls(&["post"], &["/apis"])]).0);
    }

    #[test]
    fn union_of_owners_covers_per_atom_only() {
        // Each atom is covered by one of two owner rules: covered.
        let get = rule(&["get"], &[""], &["pods"], &[]);
        let list = rule(&["list"], &[""], &["pods"], &[]);
        let both = rule(&["get", "list"], &[""], &["pods"], &[]);
        assert!(covers(&[get.clone(), list.clone()], std::slice::from_ref(&both)).0);
        // Two owners holding different names cover a two-name servant (one atom per name).
        assert!(
            covers(
                &[
                    rule(&["get"], &[""], &["secrets"], &["a"]),
                    rule(&["get"], &[""], &["secrets"], &["b"])
                ],
                &[rule(&["get"], &[""], &["secrets"], &["a", "b"])]
            )
            .0
        );
        // But an atom that only the union of owners covers stays uncovered: `*` verbs split
        // over rules, or names vs. the nameless atom.
        let (ok, missing) = covers(&[get, list], &[rule(&["*"], &[""], &["pods"], &[])]);
        assert!(!ok);
        assert_eq!(missing.len(), 1);
        assert!(
            !covers(
                &[
                    rule(&["get"], &[""], &["secrets"], &["a"]),
                    rule(&["get"], &[""], &["secrets"], &["b"])
                ],
                &[rule(&["get"], &[""], &["secrets"], &[])]
            )
            .0
        );
        // ruleCovers itself (without breakdown) needs one rule to hold the whole servant.
        assert!(!rule_covers(&rule(&["get"], &[""], &["pods"], &[]), &both));
        assert!(rule_covers(&both, &rule(&["list"], &[""], &["pods"], &[])));
    }

    #[test]
    fn reports_every_uncovered_atom_in_order() {
        let owner = rule(&["get"], &[""], &["pods"], &[]);
        let servant = rule(&["get", "delete"], &["", "apps"], &["pods"], &[]);
        let (ok, missing) = covers(&[owner], &[servant]);
        assert!(!ok);
        assert_eq!(
            missing,
            vec![
                rule(&["delete"], &[""], &["pods"], &[]),
                rule(&["get"], &["apps"], &["pods"], &[]),
                rule(&["delete"], &["apps"], &["pods"], &[]),
            ]
        );
        assert!(covers(&[], &[]).0);
    }
}
