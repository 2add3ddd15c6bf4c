//! A static discovery table of the built-in API resources: group, version, plural, kind,
//! scope, short names, subresources and verbs, as a v1.3x API server serves them. It resolves
//! what users type (`po`, `deploy`, `deployments.apps`, `Deployment`, `deployments.v1.apps`)
//! and tells whether a resource is namespaced, which the RBAC authorizer itself never knows.

/// One built-in resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Preferred version.
    pub version: &'static str,
    /// Plural resource name.
    pub resource: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// Short names (`po`, `deploy`).
    pub short_names: &'static [&'static str],
    /// Subresources (`log`, `exec`, `scale`, `status`).
    pub subresources: &'static [&'static str],
    /// Verbs the resource serves.
    pub verbs: &'static [&'static str],
}

impl ResourceInfo {
    /// `resource` or `resource.group`, as kubectl names it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const CREATE: &[&str] = &["create"];
const CRUD_NO_COLL: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

macro_rules! r {
    ($g:expr, $v:expr, $res:expr, $kind:expr, $ns:expr, [$($s:expr),*], [$($sub:expr),*], $verbs:expr) => {
        ResourceInfo {
            group: $g,
            version: $v,
            resource: $res,
            kind: $kind,
            namespaced: $ns,
            short_names: &[$($s),*],
            subresources: &[$($sub),*],
            verbs: $verbs,
        }
    };
}

/// The table, in kubectl's group priority order (core first), so that an ambiguous name
/// (`events`) resolves as kubectl resolves it.
pub static RESOURCES: &[ResourceInfo] = &[
    // core
    r!("", "v1", "bindings", "Binding", true, [], [], CREATE),
    r!(
        "",
        "v1",
        "componentstatuses",
        "ComponentStatus",
        false,
        ["cs"],
        [],
        &["get", "list"]
    ),
    r!("", "v1", "configmaps", "ConfigMap", true, ["cm"], [], RW),
    r!("", "v1", "endpoints", "Endpoints", true, ["ep"], [], RW),
    r!("", "v1", "events", "Event", true, ["ev"], [], RW),
    r!(
        "",
        "v1",
        "limitranges",
        "LimitRange",
        true,
        ["limits"],
        [],
        RW
    ),
    r!(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        ["ns"],
        ["finalize", "status"],
        CRUD_NO_COLL
    ),
    r!(
        "",
        "v1",
        "nodes",
        "Node",
        false,
        ["no"],
        ["proxy", "status"],
        RW
    ),
    r!(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        ["pvc"],
        ["status"],
        RW
    ),
    r!(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        ["pv"],
        ["status"],
        RW
    ),
    r!(
        "",
        "v1",
        "pods",
        "Pod",
        true,
        ["po"],
        [
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "resize",
            "status"
        ],
        RW
    ),
    r!("", "v1", "podtemplates", "PodTemplate", true, [], [], RW),
    r!(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
        ["rc"],
        ["scale", "status"],
        RW
    ),
    r!(
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        true,
        ["quota"],
        ["status"],
        RW
    ),
    r!("", "v1", "secrets", "Secret", true, [], [], RW),
    r!(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        ["sa"],
        ["token"],
        RW
    ),
    r!(
        "",
        "v1",
        "services",
        "Service",
        true,
        ["svc"],
        ["proxy", "status"],
        CRUD_NO_COLL
    ),
    // admissionregistration.k8s.io
    r!(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
        [],
        [],
        RW
    ),
    r!(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        false,
        [],
        ["status"],
        RW
    ),
    r!(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        false,
        [],
        [],
        RW
    ),
    r!(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        [],
        [],
        RW
    ),
    // apiextensions.k8s.io
    r!(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        ["crd", "crds"],
        ["status"],
        RW
    ),
    // apiregistration.k8s.io
    r!(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        false,
        [],
        ["status"],
        RW
    ),
    // apps
    r!(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        true,
        [],
        [],
        RW
    ),
    r!(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        ["ds"],
        ["status"],
        RW
    ),
    r!(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        ["deploy"],
        ["scale", "status"],
        RW
    ),
    r!(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        ["rs"],
        ["scale", "status"],
        RW
    ),
    r!(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        ["sts"],
        ["scale", "status"],
        RW
    ),
    // authentication.k8s.io
    r!(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
        [],
        [],
        CREATE
    ),
    r!(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "TokenReview",
        false,
        [],
        [],
        CREATE
    ),
    // authorization.k8s.io
    r!(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        true,
        [],
        [],
        CREATE
    ),
    r!(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
        [],
        [],
        CREATE
    ),
    r!(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        false,
        [],
        [],
        CREATE
    ),
    r!(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        false,
        [],
        [],
        CREATE
    ),
    // autoscaling
    r!(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        ["hpa"],
        ["status"],
        RW
    ),
    // batch
    r!(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        true,
        ["cj"],
        ["status"],
        RW
    ),
    r!("batch", "v1", "jobs", "Job", true, [], ["status"], RW),
    // certificates.k8s.io
    r!(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        false,
        ["csr"],
        ["approval", "status"],
        RW
    ),
    // coordination.k8s.io
    r!(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        [],
        [],
        RW
    ),
    // discovery.k8s.io
    r!(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        [],
        [],
        RW
    ),
    // events.k8s.io
    r!(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
        ["ev"],
        [],
        RW
    ),
    // flowcontrol.apiserver.k8s.io
    r!(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "flowschemas",
        "FlowSchema",
        false,
        [],
        ["status"],
        RW
    ),
    r!(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        false,
        [],
        ["status"],
        RW
    ),
    // networking.k8s.io
    r!(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        false,
        [],
        [],
        RW
    ),
    r!(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        ["ing"],
        ["status"],
        RW
    ),
    r!(
        "networking.k8s.io",
        "v1",
        "ipaddresses",
        "IPAddress",
        false,
        ["ip"],
        [],
        RW
    ),
    r!(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        ["netpol"],
        [],
        RW
    ),
    r!(
        "networking.k8s.io",
        "v1",
        "servicecidrs",
        "ServiceCIDR",
        false,
        [],
        ["status"],
        RW
    ),
    // node.k8s.io
    r!(
        "node.k8s.io",
        "v1",
        "runtimeclasses",
        "RuntimeClass",
        false,
        [],
        [],
        RW
    ),
    // policy
    r!(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        ["pdb"],
        ["status"],
        RW
    ),
    // rbac.authorization.k8s.io
    r!(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        [],
        [],
        RW
    ),
    r!(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        [],
        [],
        RW
    ),
    r!(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        [],
        [],
        RW
    ),
    r!(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        [],
        [],
        RW
    ),
    // resource.k8s.io
    r!(
        "resource.k8s.io",
        "v1",
        "deviceclasses",
        "DeviceClass",
        false,
        [],
        [],
        RW
    ),
    r!(
        "resource.k8s.io",
        "v1",
        "resourceclaims",
        "ResourceClaim",
        true,
        [],
        ["status"],
        RW
    ),
    r!(
        "resource.k8s.io",
        "v1",
        "resourceclaimtemplates",
        "ResourceClaimTemplate",
        true,
        [],
        [],
        RW
    ),
    r!(
        "resource.k8s.io",
        "v1",
        "resourceslices",
        "ResourceSlice",
        false,
        [],
        [],
        RW
    ),
    // scheduling.k8s.io
    r!(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        false,
        ["pc"],
        [],
        RW
    ),
    // storage.k8s.io
    r!(
        "storage.k8s.io",
        "v1",
        "csidrivers",
        "CSIDriver",
        false,
        [],
        [],
        RW
    ),
    r!(
        "storage.k8s.io",
        "v1",
        "csinodes",
        "CSINode",
        false,
        [],
        [],
        RW
    ),
    r!(
        "storage.k8s.io",
        "v1",
        "csistoragecapacities",
        "CSIStorageCapacity",
        true,
        [],
        [],
        RW
    ),
    r!(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
        ["sc"],
        [],
        RW
    ),
    r!(
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        false,
        [],
        ["status"],
        RW
    ),
    r!(
        "storage.k8s.io",
        "v1",
        "volumeattributesclasses",
        "VolumeAttributesClass",
        false,
        ["vac"],
        [],
        RW
    ),
];

/// Looks a resource up by plural, singular (lower-case kind), short name or kind, optionally
/// restricted to a group (`None`: any group, first in priority order). Case-insensitive.
pub fn lookup(name: &str, group: Option<&str>) -> Option<&'static ResourceInfo> {
    let name = name.to_ascii_lowercase();
    RESOURCES.iter().find(|r| {
        group.is_none_or(|g| g == r.group)
            && (r.resource == name
                || r.kind.eq_ignore_ascii_case(&name)
                || r.short_names.contains(&name.as_str()))
    })
}

/// Finds the resource of `(group, plural)` exactly.
pub fn find(group: &str, resource: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.resource == resource)
}

/// Resolves what a user types, as kubectl's `ParseResourceArg` + REST mapper do: `*`,
/// `pods`, `po`, `pod`, `Deployment`, `deployments.apps`, `deployments.v1.apps`. `None` when
/// the resource is unknown.
pub fn resolve(arg: &str) -> Option<&'static ResourceInfo> {
    let arg = arg.to_ascii_lowercase();
    // `resource.version.group` (two dots or more) first, as a fully specified resource.
    let parts: Vec<&str> = arg.splitn(3, '.').collect();
    if parts.len() == 3
        && let Some(r) = lookup(parts[0], Some(parts[2]))
        && r.version == parts[1]
    {
        return Some(r);
    }
    match arg.split_once('.') {
        Some((res, group)) => lookup(res, Some(group)),
        None => lookup(&arg, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_kubectl_forms() {
        assert_eq!(resolve("po").unwrap().resource, "pods");
        assert_eq!(resolve("pod").unwrap().resource, "pods");
        assert_eq!(resolve("deploy").unwrap().group, "apps");
        assert_eq!(resolve("Deployment").unwrap().resource, "deployments");
        assert_eq!(resolve("deployments.apps").unwrap().group, "apps");
        assert_eq!(resolve("deployments.v1.apps").unwrap().group, "apps");
        assert_eq!(resolve("events").unwrap().group, "");
        assert_eq!(
            resolve("events.events.k8s.io").unwrap().group,
            "events.k8s.io"
        );
        assert_eq!(resolve("cronjobs.batch").unwrap().resource, "cronjobs");
        assert!(resolve("deployments.batch").is_none());
        assert!(resolve("widgets").is_none());
        assert!(!resolve("nodes").unwrap().namespaced);
        assert!(resolve("secrets").unwrap().namespaced);
        assert_eq!(
            resolve("clusterroles.rbac.authorization.k8s.io")
                .unwrap()
                .kind,
            "ClusterRole"
        );
    }

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for r in RESOURCES {
            assert!(seen.insert((r.group, r.resource)), "{r:?}");
            assert!(!r.verbs.is_empty());
            assert_eq!(r.resource, r.resource.to_ascii_lowercase());
        }
    }
}
