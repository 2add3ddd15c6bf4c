//! The RBAC bootstrap policy: the ClusterRoles and ClusterRoleBindings kube-apiserver creates
//! in every cluster, so that offline answers are those of a real cluster.
//!
//! The data (`bootstrap.yaml`) follows the Kubernetes v1.3x series (around v1.31) without
//! feature-gated rules; see [`KUBERNETES_VERSION`]. It holds the user-facing roles
//! (`cluster-admin`, `admin`, `edit`, `view` and the `system:aggregate-to-*` roles), the roles
//! of every user (`system:basic-user`, `system:discovery`, `system:public-info-viewer`), the
//! component roles (`system:kube-scheduler`, `system:kube-controller-manager`, `system:node`,
//! `system:node-proxier`, `system:volume-scheduler`, `system:monitoring`, ...), the CSR
//! approver roles and the `system:controller:*` roles of kube-controller-manager (those no
//! feature gate guards),
//! whose bindings (each to the ServiceAccount of the same name in `kube-system`) are generated
//! here.
//! Namespaced bootstrap Roles (leader locking in `kube-system`, the bootstrap signer) are not
//! included.

use crate::objects::SubjectKind;
use crate::objects::{Binding, Origin, RBAC_GROUP, RbacStore, RoleKind, RoleRef, Subject};
use palisade_model::{Inventory, LoadOptions};

/// The Kubernetes release whose bootstrap policy [`RbacStore::add_bootstrap`] reproduces.
pub const KUBERNETES_VERSION: &str = "v1.31 (rules of the v1.3x series, feature gates off)";

/// The bootstrap policy as manifests.
pub const BOOTSTRAP_YAML: &str = include_str!("bootstrap.yaml");

/// Prefix of the controller roles, bound to `kube-system` ServiceAccounts of the same name.
pub const CONTROLLER_PREFIX: &str = "system:controller:";

/// Label every bootstrap object carries.
pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");

/// Annotation every bootstrap object carries (the API server reconciles them at start-up).
pub const AUTOUPDATE_ANNOTATION: (&str, &str) =
    ("rbac.authorization.kubernetes.io/autoupdate", "true");

/// The bootstrap policy alone, as a store (no aggregation computed).
pub fn bootstrap_store() -> RbacStore {
    let mut inv = Inventory::new();
    inv.add_text("<bootstrap>", BOOTSTRAP_YAML, &LoadOptions::default());
    let (mut store, diags) = RbacStore::from_inventory(&inv);
    debug_assert!(diags.is_empty(), "bootstrap.yaml: {diags:?}");
    debug_assert!(
        inv.diagnostics.is_empty(),
        "bootstrap.yaml: {:?}",
        inv.diagnostics
    );
    let controllers: Vec<String> = store
        .cluster_roles
        .keys()
        .filter(|n| n.starts_with(CONTROLLER_PREFIX))
        .cloned()
        .collect();
    for name in controllers {
        let sa = name[CONTROLLER_PREFIX.len()..].to_owned();
        store.cluster_role_bindings.push(Binding {
            name: name.clone(),
            namespace: None,
            role_ref: RoleRef {
                kind: RoleKind::ClusterRole,
                name,
                api_group: RBAC_GROUP.to_owned(),
            },
            subjects: vec![Subject {
                kind: SubjectKind::ServiceAccount,
                name: sa,
                namespace: Some("kube-system".to_owned()),
                api_group: String::new(),
            }],
            labels: Default::default(),
            annotations: Default::default(),
            origin: Origin::Bootstrap,
        });
    }
    let mark = |labels: &mut std::collections::BTreeMap<String, String>,
                annotations: &mut std::collections::BTreeMap<String, String>,
                origin: &mut Origin| {
        labels.insert(BOOTSTRAP_LABEL.0.into(), BOOTSTRAP_LABEL.1.into());
        annotations.insert(
            AUTOUPDATE_ANNOTATION.0.into(),
            AUTOUPDATE_ANNOTATION.1.into(),
        );
        *origin = Origin::Bootstrap;
    };
    for r in store.cluster_roles.values_mut() {
        mark(&mut r.labels, &mut r.annotations, &mut r.origin);
    }
    for b in &mut store.cluster_role_bindings {
        mark(&mut b.labels, &mut b.annotations, &mut b.origin);
    }
    // The bootstrap text's namespaces (none) must not leak into the user's namespace list.
    store.namespaces.clear();
    store
}

impl RbacStore {
    /// Adds the bootstrap ClusterRoles and ClusterRoleBindings. Objects of the manifests win:
    /// a bootstrap object whose name is already present is skipped. Call before
    /// [`RbacStore::aggregate`].
    pub fn add_bootstrap(&mut self) {
        let boot = bootstrap_store();
        for (name, role) in boot.cluster_roles {
            self.cluster_roles.entry(name).or_insert(role);
        }
        let existing: std::collections::HashSet<String> = self
            .cluster_role_bindings
            .iter()
            .map(|b| b.name.clone())
            .collect();
        // Bootstrap bindings go first: the API server created them before anything else.
        let mut bindings: Vec<Binding> = boot
            .cluster_role_bindings
            .into_iter()
            .filter(|b| !existing.contains(&b.name))
            .collect();
        bindings.append(&mut self.cluster_role_bindings);
        self.cluster_role_bindings = bindings;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_parses_cleanly() {
        let mut inv = Inventory::new();
        inv.add_text("<bootstrap>", BOOTSTRAP_YAML, &LoadOptions::default());
        assert!(inv.diagnostics.is_empty(), "{:?}", inv.diagnostics);
        let (store, diags) = RbacStore::from_inventory(&inv);
        assert!(diags.is_empty(), "{diags:?}");
        for name in [
            "cluster-admin",
            "admin",
            "edit",
            "view",
            "system:aggregate-to-admin",
            "system:aggregate-to-edit",
            "system:aggregate-to-view",
            "system:basic-user",
            "system:discovery",
            "system:public-info-viewer",
            "system:node-proxier",
            "system:node",
            "system:kube-scheduler",
            "system:kube-controller-manager",
            "system:monitoring",
            "system:auth-delegator",
            "system:heapster",
            "system:kube-aggregator",
            "system:volume-scheduler",
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "system:controller:replicaset-controller",
        ] {
            assert!(store.cluster_roles.contains_key(name), "{name}");
        }
        // Every rule has verbs and either resources with groups or URLs, never both.
        for r in store.cluster_roles.values() {
            for rule in &r.rules {
                assert!(!rule.verbs.is_empty(), "{}", r.name);
                let res = !rule.resources.is_empty() && !rule.api_groups.is_empty();
                assert!(res == rule.non_resource_urls.is_empty(), "{}", r.name);
            }
        }
        // Every binding references an existing role.
        for b in &store.cluster_role_bindings {
            assert!(
                store.cluster_roles.contains_key(&b.role_ref.name),
                "{}",
                b.name
            );
        }
    }

    #[test]
    fn manifests_win_and_controllers_are_bound() {
        let mut s = RbacStore::default();
        s.cluster_roles.insert(
            "view".into(),
            crate::objects::Role {
                name: "view".into(),
                namespace: None,
                rules: Vec::new(),
                aggregation: None,
                labels: Default::default(),
                annotations: Default::default(),
                origin: Origin::Manifest {
                    object: 0,
                    file: "x.yaml".into(),
                    line: 1,
                },
            },
        );
        s.add_bootstrap();
        assert!(matches!(
            s.cluster_roles["view"].origin,
            Origin::Manifest { .. }
        ));
        assert_eq!(s.cluster_roles["edit"].origin, Origin::Bootstrap);
        let b = s
            .cluster_role_bindings
            .iter()
            .find(|b| b.name == "system:controller:job-controller")
            .unwrap();
        assert_eq!(b.subjects[0].name, "job-controller");
        assert_eq!(b.subjects[0].namespace.as_deref(), Some("kube-system"));
        assert_eq!(
            s.cluster_roles["cluster-admin"].labels[BOOTSTRAP_LABEL.0],
            BOOTSTRAP_LABEL.1
        );
    }
}
