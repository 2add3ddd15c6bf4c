//! Aggregated ClusterRoles, as the cluster-role aggregation controller builds them.
//!
//! For every ClusterRole with an `aggregationRule`, the ClusterRoles matching any of its
//! `clusterRoleSelectors` (the role itself excepted) are taken in name order, their rules
//! appended in order with exact duplicates dropped, and the result *replaces* the role's
//! rules. The controller re-runs on every change, so chains (`view` into `edit` into `admin`)
//! converge: here the pass is repeated until nothing changes (a fixpoint). A cycle of roles
//! aggregating each other also converges, since rule sets only grow from the non-aggregated
//! sources and exact duplicates are dropped.

use crate::objects::RbacStore;
use crate::rule::PolicyRule;
use std::collections::BTreeMap;

/// Upper bound on passes; a chain longer than the number of aggregated roles cannot exist, so
/// this is only a guard against a bug.
const MAX_PASSES: usize = 1000;

impl RbacStore {
    /// Computes the rules of every aggregated ClusterRole to a fixpoint. Returns the number of
    /// passes made (1 when nothing aggregates or no chain exists).
    pub fn aggregate(&mut self) -> usize {
        let aggregated: Vec<String> = self
            .cluster_roles
            .values()
            .filter(|r| r.aggregation.is_some())
            .map(|r| r.name.clone())
            .collect();
        if aggregated.is_empty() {
            return 0;
        }
        // Sources of each aggregated role, fixed by labels (aggregation does not change labels).
        let mut sources: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in &aggregated {
            let selectors = self.cluster_roles[name]
                .aggregation
                .clone()
                .unwrap_or_default();
            let mut matched = Vec::new();
            // `cluster_roles` is a BTreeMap: iteration is in name order.
            for (other, role) in &self.cluster_roles {
                if other == name {
                    continue;
                }
                let labels: BTreeMap<&str, &str> = role
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                if selectors.iter().any(|s| s.matches(&labels)) {
                    matched.push(other.clone());
                }
            }
            sources.insert(name.clone(), matched);
        }
        let mut passes = 0;
        loop {
            passes += 1;
            let mut changed = false;
            for name in &aggregated {
                let mut rules: Vec<PolicyRule> = Vec::new();
                for src in &sources[name] {
                    for r in &self.cluster_roles[src].rules {
                        if !rules.contains(r) {
                            rules.push(r.clone());
                        }
                    }
                }
                let role = self.cluster_roles.get_mut(name).expect("listed above");
                if role.rules != rules {
                    role.rules = rules;
                    changed = true;
                }
            }
            if !changed || passes >= MAX_PASSES {
                return passes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::objects::RbacStore;
    use palisade_model::{Inventory, LoadOptions};

    fn store(text: &str) -> RbacStore {
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", text, &LoadOptions::default());
        let (s, diags) = RbacStore::from_inventory(&inv);
        assert!(diags.is_empty(), "{diags:?}");
        s
    }

    #[test]
    fn chains_converge_and_replace_rules() {
        let mut s = store(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: top}\naggregationRule:\n  clusterRoleSelectors: [{matchLabels: {to-top: 'true'}}]\nrules: [{verbs: [delete], apiGroups: [''], resources: [stale]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: mid, labels: {to-top: 'true'}}\naggregationRule:\n  clusterRoleSelectors: [{matchLabels: {to-mid: 'true'}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: b-leaf, labels: {to-mid: 'true'}}\nrules: [{verbs: [get], apiGroups: [''], resources: [pods]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a-leaf, labels: {to-mid: 'true', to-top: 'true'}}\nrules: [{verbs: [list], apiGroups: [''], resources: [pods]}, {verbs: [get], apiGroups: [''], resources: [pods]}]\n",
        );
        s.aggregate();
        let verbs = |name: &str| -> Vec<String> {
            s.cluster_roles[name]
                .rules
                .iter()
                .map(|r| r.verbs.join(","))
                .collect()
        };
        // mid: a-leaf's two rules, then b-leaf's rule (an exact duplicate, dropped).
        assert_eq!(verbs("mid"), ["list", "get"]);
        // top: a-leaf then mid (sorted by name); the stale rule is replaced.
        assert_eq!(verbs("top"), ["list", "get"]);
    }
}
