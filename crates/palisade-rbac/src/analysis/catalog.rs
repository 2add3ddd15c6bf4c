//! The catalogue of risky grants, each a registered check `rbac/<risk>`, and its evaluation
//! with the exact matcher: every risk is a set of requests built as the API server would build
//! them and asked of the rules a principal holds ([`PolicyRule::allows`]), never a comparison
//! of rule text.
//!
//! A risk is evaluated per scope: cluster-wide (the rules of ClusterRoleBindings, requests in
//! every namespace) and per namespace (ClusterRoleBindings plus the namespace's RoleBindings).
//! A RoleBinding never grants a cluster-scoped request, so alternatives on cluster-scoped
//! resources only count rules held through ClusterRoleBindings.

use super::held::{ANONYMOUS, AUTHENTICATED, Held, Principal, SERVICE_ACCOUNTS, UNAUTHENTICATED};
use crate::objects::{Origin, RBAC_GROUP};
use crate::rule::{ALL, PolicyRule, Request, ResourceAttributes, api_group_matches, verb_matches};
use palisade_model::{CheckId, CheckMeta, Severity};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Where a risk is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only cluster-wide (rules held through ClusterRoleBindings).
    Cluster,
    /// Only in single namespaces (at least one rule held through a RoleBinding there).
    Namespace,
    /// Both.
    Both,
}

/// How rules limited by `resourceNames` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// They count like unlimited rules (the names are reported).
    Count,
    /// They do not count.
    Ignore,
    /// The risk fires only when some requirement is met by name-limited rules alone.
    Only,
}

/// One alternative of a requirement: any verb on any resource of one API group.
#[derive(Debug, Clone, Copy)]
pub struct Alt {
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// API group.
    pub group: &'static str,
    /// Resources, with `/subresource` where needed.
    pub resources: &'static [&'static str],
    /// True when the request is cluster-scoped (only ClusterRoleBindings grant it).
    pub cluster: bool,
}

/// How a risk is recognised.
#[derive(Debug, Clone, Copy)]
pub enum Test {
    /// Every requirement (a list of alternatives) must be allowed.
    Requests {
        /// The requirements.
        needs: &'static [&'static [Alt]],
        /// How name-limited rules count.
        names: Names,
        /// Further requirements that, when also allowed, raise the severity.
        also: &'static [&'static [Alt]],
        /// The raised severity.
        also_severity: Severity,
    },
    /// Every verb on every resource of every group (`*` on `*.*`).
    FullAuthority,
    /// A rule with `*` in verbs, apiGroups, resources or nonResourceURLs.
    Wildcard,
    /// A binding to anonymous, unauthenticated, all authenticated users or all service
    /// accounts.
    PublicBinding,
    /// Reported from the escalation paths, not from single grants.
    Path,
}

/// A risky grant.
#[derive(Debug)]
pub struct Risk {
    /// `rbac/<risk>`.
    pub id: CheckId,
    /// One-line title.
    pub title: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Where it is looked for.
    pub scope: Scope,
    /// How it is recognised.
    pub test: Test,
    /// Why it matters.
    pub rationale: &'static str,
    /// How to fix it (YAML).
    pub remediation: &'static str,
    /// References.
    pub references: &'static [&'static str],
}

impl Risk {
    /// The check metadata.
    pub fn meta(&self) -> CheckMeta {
        CheckMeta {
            id: self.id.clone(),
            title: Cow::Borrowed(self.title),
            severity: self.severity,
            category: Cow::Borrowed("rbac"),
            rationale: Cow::Borrowed(self.rationale),
            remediation: Cow::Borrowed(self.remediation),
            references: self.references.iter().map(|r| Cow::Borrowed(*r)).collect(),
        }
    }
}

const CORE: &str = "";
const APPS: &str = "apps";
const BATCH: &str = "batch";
const CERTS: &str = "certificates.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const APIEXT: &str = "apiextensions.k8s.io";
const AUTHN: &str = "authentication.k8s.io";
const POLICY: &str = "policy";

const RBAC_DOC: &str = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/";
const GOOD: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";
const IMPERSONATION_DOC: &str =
    "https://kubernetes.io/docs/reference/access-authn-authz/user-impersonation/";

const fn ns(
    verbs: &'static [&'static str],
    group: &'static str,
    resources: &'static [&'static str],
) -> Alt {
    Alt {
        verbs,
        group,
        resources,
        cluster: false,
    }
}

const fn cl(
    verbs: &'static [&'static str],
    group: &'static str,
    resources: &'static [&'static str],
) -> Alt {
    Alt {
        verbs,
        group,
        resources,
        cluster: true,
    }
}

const fn req(needs: &'static [&'static [Alt]], names: Names) -> Test {
    Test::Requests {
        needs,
        names,
        also: &[],
        also_severity: Severity::Info,
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete"];
const MODIFY: &[&str] = &["update", "patch"];
const PROXY_VERBS: &[&str] = &["get", "create", "update", "patch", "delete"];

const SECRETS_GET: &[&[Alt]] = &[&[ns(READ, CORE, &["secrets"])]];

/// `rbac/cluster-admin`.
pub static CLUSTER_ADMIN: Risk = Risk {
    id: CheckId::new("rbac/cluster-admin"),
    title: "Subject holds cluster-admin-equivalent rights",
    severity: Severity::Critical,
    scope: Scope::Cluster,
    test: Test::FullAuthority,
    rationale: "Every verb on every resource of every API group in every namespace: reading every Secret, running privileged pods on any node, changing any role. One stolen credential of this subject is the whole cluster.",
    remediation: "# Bind a role listing what is needed, in the namespaces where it is needed:\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployer, namespace: shop}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}\nsubjects:\n- {kind: ServiceAccount, name: deployer, namespace: shop}\n",
    references: &[RBAC_DOC, GOOD, "CIS Kubernetes Benchmark §5.1.1"],
};

/// `rbac/namespace-admin`.
pub static NAMESPACE_ADMIN: Risk = Risk {
    id: CheckId::new("rbac/namespace-admin"),
    title: "Subject holds every right in a namespace",
    severity: Severity::High,
    scope: Scope::Namespace,
    test: Test::FullAuthority,
    rationale: "Every verb on every resource of the namespace, including the namespace object itself: its Secrets, every service account token (by creating pods), and its Pod Security labels.",
    remediation: "rules:\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get, list, watch, update, patch]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/secrets-read-cluster`.
pub static SECRETS_READ_CLUSTER: Risk = Risk {
    id: CheckId::new("rbac/secrets-read-cluster"),
    title: "Subject can read Secrets in every namespace",
    severity: Severity::Critical,
    scope: Scope::Cluster,
    test: req(SECRETS_GET, Names::Ignore),
    rationale: "get, list and watch on secrets cluster-wide return the contents of every Secret (list and watch as much as get), including service account tokens of kube-system controllers, registry credentials and TLS keys.",
    remediation: "# Read only named Secrets, in one namespace:\nkind: Role\nrules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  resourceNames: [app-settings]\n  verbs: [get]\n",
    references: &[RBAC_DOC, GOOD, "CIS Kubernetes Benchmark §5.1.2"],
};

/// `rbac/secrets-read`.
pub static SECRETS_READ: Risk = Risk {
    id: CheckId::new("rbac/secrets-read"),
    title: "Subject can read every Secret of a namespace",
    severity: Severity::High,
    scope: Scope::Namespace,
    test: req(SECRETS_GET, Names::Ignore),
    rationale: "get, list and watch on secrets return their contents, including legacy service account token Secrets, so the subject gets the rights of those service accounts too.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  resourceNames: [app-settings]\n  verbs: [get]\n",
    references: &[RBAC_DOC, GOOD, "CIS Kubernetes Benchmark §5.1.2"],
};

/// `rbac/secrets-read-named`.
pub static SECRETS_READ_NAMED: Risk = Risk {
    id: CheckId::new("rbac/secrets-read-named"),
    title: "Subject can read named Secrets",
    severity: Severity::Low,
    scope: Scope::Both,
    test: req(SECRETS_GET, Names::Only),
    rationale: "Reading Secrets limited by resourceNames is the least-privilege form; it is listed so that the named Secrets can be reviewed (a name may be a service account token).",
    remediation: "# Keep the list of names short and review it:\nresourceNames: [app-settings]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/secrets-write`.
pub static SECRETS_WRITE: Risk = Risk {
    id: CheckId::new("rbac/secrets-write"),
    title: "Subject can create or change Secrets",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(
        &[&[ns(&["create", "update", "patch"], CORE, &["secrets"])]],
        Names::Count,
    ),
    rationale: "Creating a Secret of type kubernetes.io/service-account-token annotated with a service account name makes the token controller fill in a token for that account; changing Secrets also swaps the credentials workloads use.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  resourceNames: [app-settings]\n  verbs: [get, update]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/pod-create`.
pub static POD_CREATE: Risk = Risk {
    id: CheckId::new("rbac/pod-create"),
    title: "Subject can create pods",
    severity: Severity::High,
    scope: Scope::Both,
    test: req(&[&[ns(&["create"], CORE, &["pods"])]], Names::Count),
    rationale: "A pod can mount the token of any service account of its namespace and, unless Pod Security admission forbids it, run privileged on a node. Creating pods is holding the rights of every service account of the namespace.",
    remediation: "# Let a controller create pods; give people and workloads read access:\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list, watch]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/workload-create`.
pub static WORKLOAD_CREATE: Risk = Risk {
    id: CheckId::new("rbac/workload-create"),
    title: "Subject can create or change pod controllers",
    severity: Severity::High,
    scope: Scope::Both,
    test: req(
        &[&[
            ns(
                &["create", "update", "patch"],
                APPS,
                &["deployments", "daemonsets", "statefulsets", "replicasets"],
            ),
            ns(&["create", "update", "patch"], BATCH, &["jobs", "cronjobs"]),
            ns(
                &["create", "update", "patch"],
                CORE,
                &["replicationcontrollers"],
            ),
        ]],
        Names::Count,
    ),
    rationale: "Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs and ReplicationControllers create pods from a template the subject writes, with any service account of the namespace.",
    remediation: "rules:\n- apiGroups: [apps]\n  resources: [deployments]\n  resourceNames: [web]\n  verbs: [get, patch]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/pod-update`.
pub static POD_UPDATE: Risk = Risk {
    id: CheckId::new("rbac/pod-update"),
    title: "Subject can update or patch pods",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(&[&[ns(MODIFY, CORE, &["pods"])]], Names::Count),
    rationale: "Patching a pod's container image runs code of the subject's choosing with the pod's service account token and volumes; patching labels moves it in or out of Services and NetworkPolicies.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list, watch]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/pod-exec`.
pub static POD_EXEC: Risk = Risk {
    id: CheckId::new("rbac/pod-exec"),
    title: "Subject can exec into pods",
    severity: Severity::High,
    scope: Scope::Both,
    test: req(
        &[&[ns(&["create", "get"], CORE, &["pods/exec"])]],
        Names::Count,
    ),
    rationale: "pods/exec runs commands in a container, with its service account token, Secrets and network position. get is enough for websocket exec on API servers without the AuthorizePodWebsocketUpgradeCreatePermission check.",
    remediation: "# Remove pods/exec (create and get) from the role; debug with ephemeral, audited access.\nrules:\n- apiGroups: [\"\"]\n  resources: [pods, pods/log]\n  verbs: [get, list]\n",
    references: &[
        RBAC_DOC,
        GOOD,
        "https://github.com/kubernetes/kubernetes/issues/78741",
    ],
};

/// `rbac/pod-attach`.
pub static POD_ATTACH: Risk = Risk {
    id: CheckId::new("rbac/pod-attach"),
    title: "Subject can attach to pods",
    severity: Severity::High,
    scope: Scope::Both,
    test: req(
        &[&[ns(&["create", "get"], CORE, &["pods/attach"])]],
        Names::Count,
    ),
    rationale: "pods/attach connects to a running container's standard input and output, which for a shell is the same as exec. get is enough over websockets on older API servers.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [pods, pods/log]\n  verbs: [get, list]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/pod-ephemeral-containers`.
pub static POD_EPHEMERAL: Risk = Risk {
    id: CheckId::new("rbac/pod-ephemeral-containers"),
    title: "Subject can add ephemeral containers to pods",
    severity: Severity::High,
    scope: Scope::Both,
    test: req(
        &[&[ns(MODIFY, CORE, &["pods/ephemeralcontainers"])]],
        Names::Count,
    ),
    rationale: "An ephemeral container is a new container of the subject's choosing in an existing pod, with its service account token and volumes.",
    remediation: "# Remove pods/ephemeralcontainers from the role.\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/pod-portforward`.
pub static POD_PORTFORWARD: Risk = Risk {
    id: CheckId::new("rbac/pod-portforward"),
    title: "Subject can port-forward to pods",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(
        &[&[ns(&["create", "get"], CORE, &["pods/portforward"])]],
        Names::Count,
    ),
    rationale: "Port-forwarding reaches any port of a pod from outside the cluster, around NetworkPolicies and Service exposure.",
    remediation: "# Remove pods/portforward from the role.\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/pod-proxy`.
pub static POD_PROXY: Risk = Risk {
    id: CheckId::new("rbac/pod-proxy"),
    title: "Subject can proxy to pods through the API server",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(&[&[ns(PROXY_VERBS, CORE, &["pods/proxy"])]], Names::Count),
    rationale: "pods/proxy sends HTTP requests to any port of a pod from the API server's network position, around NetworkPolicies.",
    remediation: "# Remove pods/proxy from the role.\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/service-proxy`.
pub static SERVICE_PROXY: Risk = Risk {
    id: CheckId::new("rbac/service-proxy"),
    title: "Subject can proxy to services through the API server",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(
        &[&[ns(PROXY_VERBS, CORE, &["services/proxy"])]],
        Names::Count,
    ),
    rationale: "services/proxy reaches a Service's pods from the API server's network position, around NetworkPolicies and authentication that trusts the cluster network.",
    remediation: "# Remove services/proxy from the role.\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/node-proxy`.
pub static NODE_PROXY: Risk = Risk {
    id: CheckId::new("rbac/node-proxy"),
    title: "Subject can reach the kubelet API through nodes/proxy",
    severity: Severity::Critical,
    scope: Scope::Cluster,
    test: req(
        &[&[cl(&["get", "create"], CORE, &["nodes/proxy"])]],
        Names::Count,
    ),
    rationale: "nodes/proxy reaches the kubelet API, which runs commands in any pod of the node without admission or audit of the exec. get is not read-only: websocket upgrades of GET requests execute commands.",
    remediation: "# Monitoring needs nodes/metrics and nodes/stats, not nodes/proxy:\nrules:\n- apiGroups: [\"\"]\n  resources: [nodes/metrics, nodes/stats]\n  verbs: [get]\n",
    references: &[
        GOOD,
        "https://github.com/kubernetes/kubernetes/issues/119640",
    ],
};

/// `rbac/escalate`.
pub static ESCALATE: Risk = Risk {
    id: CheckId::new("rbac/escalate"),
    title: "Subject can escalate roles",
    severity: Severity::Critical,
    scope: Scope::Both,
    test: req(
        &[&[
            ns(&["escalate"], RBAC_GROUP, &["roles"]),
            cl(&["escalate"], RBAC_GROUP, &["clusterroles"]),
        ]],
        Names::Count,
    ),
    rationale: "The escalate verb lifts the API server's check that a role may only be written with rights its author holds: the subject can write any rule into a role bound to it.",
    remediation: "# Remove escalate; write roles with an account that holds the rights it grants.\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/bind`.
pub static BIND: Risk = Risk {
    id: CheckId::new("rbac/bind"),
    title: "Subject can bind roles it does not hold",
    severity: Severity::High,
    scope: Scope::Both,
    test: Test::Requests {
        needs: &[&[ns(&["bind"], RBAC_GROUP, &["roles", "clusterroles"])]],
        names: Names::Count,
        also: &[&[
            ns(
                &["create", "update", "patch"],
                RBAC_GROUP,
                &["rolebindings"],
            ),
            cl(
                &["create", "update", "patch"],
                RBAC_GROUP,
                &["clusterrolebindings"],
            ),
        ]],
        also_severity: Severity::Critical,
    },
    rationale: "The bind verb lifts the check that a binding may only grant rights its author holds; with create on bindings the subject can bind itself to cluster-admin (in a namespace through a RoleBinding, everywhere through a ClusterRoleBinding).",
    remediation: "# Limit bind to the roles the subject may hand out:\nrules:\n- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n  resourceNames: [view]\n  verbs: [bind]\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/impersonate`.
pub static IMPERSONATE: Risk = Risk {
    id: CheckId::new("rbac/impersonate"),
    title: "Subject can impersonate other identities",
    severity: Severity::Critical,
    scope: Scope::Both,
    test: req(
        &[&[
            cl(&["impersonate"], CORE, &["users", "groups"]),
            ns(&["impersonate"], CORE, &["serviceaccounts"]),
            cl(&["impersonate"], AUTHN, &["userextras", "uids"]),
            cl(
                &["impersonate:user-info"],
                AUTHN,
                &["users", "groups", "userextras", "uids"],
            ),
            ns(&["impersonate:serviceaccount"], AUTHN, &["serviceaccounts"]),
            cl(
                &["impersonate:arbitrary-node", "impersonate:associated-node"],
                AUTHN,
                &["nodes"],
            ),
        ]],
        Names::Count,
    ),
    rationale: "Impersonation acts with the rights of another user, group or service account. Impersonating any group includes system:masters, which bypasses RBAC: cluster-admin.",
    remediation: "# Limit impersonation to named identities:\nrules:\n- apiGroups: [\"\"]\n  resources: [serviceaccounts]\n  resourceNames: [ci-readonly]\n  verbs: [impersonate]\n",
    references: &[IMPERSONATION_DOC, GOOD],
};

/// `rbac/csr-approve`.
pub static CSR_APPROVE: Risk = Risk {
    id: CheckId::new("rbac/csr-approve"),
    title: "Subject can request and approve client certificates",
    severity: Severity::High,
    scope: Scope::Cluster,
    test: Test::Requests {
        needs: &[
            &[cl(
                &["update", "patch"],
                CERTS,
                &["certificatesigningrequests/approval"],
            )],
            &[cl(&["approve"], CERTS, &["signers"])],
        ],
        names: Names::Count,
        also: &[&[cl(&["create"], CERTS, &["certificatesigningrequests"])]],
        also_severity: Severity::Critical,
    },
    rationale: "Approving CertificateSigningRequests for the kube-apiserver-client signer issues client certificates with any user and group, system:masters included; with create on CSRs the subject can issue itself one.",
    remediation: "# Approve only for a specific signer, and not kube-apiserver-client:\nrules:\n- apiGroups: [certificates.k8s.io]\n  resources: [signers]\n  resourceNames: [example.com/app-serving]\n  verbs: [approve]\n",
    references: &[
        GOOD,
        "https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/",
    ],
};

/// `rbac/csr-sign`.
pub static CSR_SIGN: Risk = Risk {
    id: CheckId::new("rbac/csr-sign"),
    title: "Subject can sign certificates",
    severity: Severity::High,
    scope: Scope::Cluster,
    test: req(
        &[
            &[cl(&["sign"], CERTS, &["signers"])],
            &[cl(
                &["update", "patch"],
                CERTS,
                &["certificatesigningrequests/status"],
            )],
        ],
        Names::Count,
    ),
    rationale: "Signing for a signer writes the issued certificate into CSRs: with the key of a signer the cluster trusts, the subject issues credentials.",
    remediation: "rules:\n- apiGroups: [certificates.k8s.io]\n  resources: [signers]\n  resourceNames: [example.com/app-serving]\n  verbs: [sign]\n",
    references: &[
        "https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/",
    ],
};

/// `rbac/token-request`.
pub static TOKEN_REQUEST: Risk = Risk {
    id: CheckId::new("rbac/token-request"),
    title: "Subject can mint service account tokens",
    severity: Severity::High,
    scope: Scope::Both,
    test: req(
        &[&[ns(&["create"], CORE, &["serviceaccounts/token"])]],
        Names::Count,
    ),
    rationale: "create on serviceaccounts/token (the TokenRequest API) issues a token for any service account of the namespace: their rights become the subject's.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [serviceaccounts/token]\n  resourceNames: [build-bot]\n  verbs: [create]\n",
    references: &[
        GOOD,
        "https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/",
    ],
};

/// `rbac/admission-webhooks`.
pub static ADMISSION_WEBHOOKS: Risk = Risk {
    id: CheckId::new("rbac/admission-webhooks"),
    title: "Subject can change admission webhooks",
    severity: Severity::Critical,
    scope: Scope::Cluster,
    test: req(
        &[&[cl(
            WRITE,
            ADMISSION,
            &[
                "mutatingwebhookconfigurations",
                "validatingwebhookconfigurations",
            ],
        )]],
        Names::Count,
    ),
    rationale: "A mutating webhook sees and rewrites every object it selects (Secrets, pods: inject containers, mount tokens); deleting a validating webhook removes a policy control.",
    remediation: "# Leave webhook configurations to the cluster operators' deployment tooling.\n",
    references: &[GOOD],
};

/// `rbac/admission-policies`.
pub static ADMISSION_POLICIES: Risk = Risk {
    id: CheckId::new("rbac/admission-policies"),
    title: "Subject can change admission policies",
    severity: Severity::High,
    scope: Scope::Cluster,
    test: req(
        &[&[cl(
            WRITE,
            ADMISSION,
            &[
                "validatingadmissionpolicies",
                "validatingadmissionpolicybindings",
                "mutatingadmissionpolicies",
                "mutatingadmissionpolicybindings",
            ],
        )]],
        Names::Count,
    ),
    rationale: "ValidatingAdmissionPolicies and their bindings are cluster policy: changing them lifts controls on every namespace; mutating policies rewrite objects.",
    remediation: "# Leave admission policies to the cluster operators.\n",
    references: &[
        "https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/",
    ],
};

/// `rbac/crd-write`.
pub static CRD_WRITE: Risk = Risk {
    id: CheckId::new("rbac/crd-write"),
    title: "Subject can change CustomResourceDefinitions",
    severity: Severity::Medium,
    scope: Scope::Cluster,
    test: req(
        &[&[cl(WRITE, APIEXT, &["customresourcedefinitions"])]],
        Names::Count,
    ),
    rationale: "CRDs are cluster-wide API: changing or deleting one changes or deletes every custom resource of it (policies of policy engines among them), and conversion webhooks see every object.",
    remediation: "# Install CRDs with the cluster operators' tooling, not with workload credentials.\n",
    references: &[GOOD],
};

/// `rbac/pv-create`.
pub static PV_CREATE: Risk = Risk {
    id: CheckId::new("rbac/pv-create"),
    title: "Subject can create PersistentVolumes",
    severity: Severity::High,
    scope: Scope::Cluster,
    test: req(
        &[&[cl(&["create"], CORE, &["persistentvolumes"])]],
        Names::Count,
    ),
    rationale: "A hostPath PersistentVolume mounts any directory of a node into a pod that claims it, around Pod Security's hostPath restrictions.",
    remediation: "# Provision volumes through StorageClasses; let users create PersistentVolumeClaims only.\n",
    references: &[GOOD],
};

/// `rbac/namespace-modify`.
pub static NAMESPACE_MODIFY: Risk = Risk {
    id: CheckId::new("rbac/namespace-modify"),
    title: "Subject can change namespace labels",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(&[&[ns(MODIFY, CORE, &["namespaces"])]], Names::Count),
    rationale: "Namespace labels set the Pod Security level (pod-security.kubernetes.io/enforce) and are what NetworkPolicy namespaceSelectors match: relabelling lifts both.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [namespaces]\n  verbs: [get, list, watch]\n",
    references: &[
        GOOD,
        "https://kubernetes.io/docs/concepts/security/pod-security-admission/",
    ],
};

/// `rbac/service-status`.
pub static SERVICE_STATUS: Risk = Risk {
    id: CheckId::new("rbac/service-status"),
    title: "Subject can change Service status",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(&[&[ns(MODIFY, CORE, &["services/status"])]], Names::Count),
    rationale: "Setting status.loadBalancer.ingress of a Service makes kube-proxy send traffic for that IP to the Service (CVE-2020-8554 man-in-the-middle).",
    remediation: "# Only the load-balancer controller should write services/status.\n",
    references: &["https://github.com/kubernetes/kubernetes/issues/97076"],
};

/// `rbac/pod-status`.
pub static POD_STATUS: Risk = Risk {
    id: CheckId::new("rbac/pod-status"),
    title: "Subject can change pod status",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(&[&[ns(MODIFY, CORE, &["pods/status"])]], Names::Count),
    rationale: "Writing pods/status can change a pod's labels and readiness, pulling Service traffic to a pod of the subject's choosing.",
    remediation: "# Only kubelets should write pods/status.\n",
    references: &[GOOD],
};

/// `rbac/node-status`.
pub static NODE_STATUS: Risk = Risk {
    id: CheckId::new("rbac/node-status"),
    title: "Subject can change node status",
    severity: Severity::Medium,
    scope: Scope::Cluster,
    test: req(&[&[cl(MODIFY, CORE, &["nodes/status"])]], Names::Count),
    rationale: "Node status drives scheduling (capacity, conditions, labels through status patches): a subject can attract pods to a node it controls or starve others.",
    remediation: "# Only kubelets should write nodes/status.\n",
    references: &[GOOD],
};

/// `rbac/steal-pods`.
pub static STEAL_PODS: Risk = Risk {
    id: CheckId::new("rbac/steal-pods"),
    title: "Subject can evict pods and cordon nodes",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: req(
        &[
            &[
                ns(&["delete", "deletecollection"], CORE, &["pods"]),
                ns(&["create"], CORE, &["pods/eviction"]),
                ns(&["create"], POLICY, &["pods/eviction"]),
            ],
            &[cl(MODIFY, CORE, &["nodes"])],
        ],
        Names::Count,
    ),
    rationale: "Deleting or evicting pods and making nodes unschedulable moves workloads (and their service account tokens and Secrets) onto a node the subject controls.",
    remediation: "# Separate node maintenance (cordon) from pod deletion; neither for workloads.\n",
    references: &[GOOD],
};

/// `rbac/wildcard`.
pub static WILDCARD: Risk = Risk {
    id: CheckId::new("rbac/wildcard"),
    title: "Subject holds a rule with a wildcard",
    severity: Severity::Medium,
    scope: Scope::Both,
    test: Test::Wildcard,
    rationale: "A * in verbs, resources or apiGroups grants everything that exists now and everything added later: new CRDs, subresources such as pods/exec, verbs such as escalate, bind and impersonate.",
    remediation: "rules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get, list, watch]\n",
    references: &[RBAC_DOC, GOOD, "CIS Kubernetes Benchmark §5.1.3"],
};

/// `rbac/anonymous-binding`.
pub static ANONYMOUS_BINDING: Risk = Risk {
    id: CheckId::new("rbac/anonymous-binding"),
    title: "Role bound to anonymous, all authenticated users or all service accounts",
    severity: Severity::High,
    scope: Scope::Both,
    test: Test::PublicBinding,
    rationale: "system:anonymous and system:unauthenticated are anyone who can reach the API server; system:authenticated is every user and service account (on managed clusters often every account of the cloud provider); system:serviceaccounts is every pod's token.",
    remediation: "subjects:\n- kind: Group\n  name: shop-operators\n  apiGroup: rbac.authorization.k8s.io\n",
    references: &[RBAC_DOC, GOOD],
};

/// `rbac/path-to-cluster-admin`.
pub static PATH_TO_CLUSTER_ADMIN: Risk = Risk {
    id: CheckId::new("rbac/path-to-cluster-admin"),
    title: "Escalation path to cluster-admin",
    severity: Severity::Critical,
    scope: Scope::Both,
    test: Test::Path,
    rationale: "Through the token a pod mounts, and grants that hand over other identities (creating pods with another service account, impersonation, token requests, bind and escalate, the kubelet API), this workload or subject reaches cluster-admin rights.",
    remediation: "# Break the first hop: do not mount the token where the API is not needed,\n# and bind only what the workload uses.\nspec:\n  automountServiceAccountToken: false\n",
    references: &[GOOD],
};

/// `rbac/path-to-secrets`.
pub static PATH_TO_SECRETS: Risk = Risk {
    id: CheckId::new("rbac/path-to-secrets"),
    title: "Escalation path to reading Secrets",
    severity: Severity::High,
    scope: Scope::Both,
    test: Test::Path,
    rationale: "Through the token a pod mounts and the grants that hand over other identities, this workload or subject reaches the right to read Secrets.",
    remediation: "spec:\n  automountServiceAccountToken: false\n",
    references: &[GOOD],
};

/// Every risk of the catalogue.
pub static CATALOG: &[&Risk] = &[
    &CLUSTER_ADMIN,
    &NAMESPACE_ADMIN,
    &SECRETS_READ_CLUSTER,
    &SECRETS_READ,
    &SECRETS_READ_NAMED,
    &SECRETS_WRITE,
    &POD_CREATE,
    &WORKLOAD_CREATE,
    &POD_UPDATE,
    &POD_EXEC,
    &POD_ATTACH,
    &POD_EPHEMERAL,
    &POD_PORTFORWARD,
    &POD_PROXY,
    &SERVICE_PROXY,
    &NODE_PROXY,
    &ESCALATE,
    &BIND,
    &IMPERSONATE,
    &CSR_APPROVE,
    &CSR_SIGN,
    &TOKEN_REQUEST,
    &ADMISSION_WEBHOOKS,
    &ADMISSION_POLICIES,
    &CRD_WRITE,
    &PV_CREATE,
    &NAMESPACE_MODIFY,
    &SERVICE_STATUS,
    &POD_STATUS,
    &NODE_STATUS,
    &STEAL_PODS,
    &WILDCARD,
    &ANONYMOUS_BINDING,
    &PATH_TO_CLUSTER_ADMIN,
    &PATH_TO_SECRETS,
];

/// The risk with this id.
pub fn risk(id: &str) -> Option<&'static Risk> {
    CATALOG.iter().copied().find(|r| r.id.as_str() == id)
}

/// A risk found for a principal in one scope.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    /// The risk.
    pub risk: &'static Risk,
    /// The namespace, `None` for cluster-wide.
    pub namespace: Option<String>,
    /// Severity (the risk's, or raised by further grants).
    pub severity: Severity,
    /// What is allowed, as `verb resource[.group][/sub]`.
    pub asks: Vec<String>,
    /// Resource names limiting the grants, when they are name-limited.
    pub names: Vec<String>,
    /// The rules that grant it, the one to report first.
    pub grants: Vec<Held<'a>>,
    /// True when the hit belongs to this principal: one of its grants names the principal
    /// itself (not one of its groups: those are reported on the group) and, in a namespace,
    /// comes from a RoleBinding of that namespace.
    pub reported: bool,
}

/// `verb resource[.group][/sub]`, as kubectl writes a resource.
pub fn ask_text(verb: &str, group: &str, resource: &str) -> String {
    format!("{verb} {}", resource_text(group, resource))
}

/// `resource[.group][/sub]`, as kubectl writes a resource.
pub fn resource_text(group: &str, resource: &str) -> String {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let mut s = res.to_string();
    if !group.is_empty() {
        s.push('.');
        s.push_str(group);
    }
    if !sub.is_empty() {
        s.push('/');
        s.push_str(sub);
    }
    s
}

/// The allowed requests of a hit in words: `create/update/patch deployments.apps,
/// daemonsets.apps` (resources with the same verbs share them).
pub fn asks_text(asks: &[String]) -> String {
    let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
    for a in asks {
        let (verbs, what) = a.split_once(' ').unwrap_or(("", a));
        match grouped.iter_mut().find(|(v, _)| *v == verbs) {
            Some((_, list)) => list.push(what),
            None => grouped.push((verbs, vec![what])),
        }
    }
    grouped
        .into_iter()
        .map(|(verbs, list)| format!("{verbs} {}", list.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The request an alternative asks, in namespace `ns` (`""` for cluster-wide).
pub fn request(verb: &str, group: &str, resource: &str, name: &str, ns: &str) -> Request {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    Request::Resource(ResourceAttributes {
        verb: verb.into(),
        group: group.into(),
        resource: res.into(),
        subresource: sub.into(),
        name: name.into(),
        namespace: ns.into(),
    })
}

/// A held rule that allows one request of a requirement.
struct Matched<'h, 'a> {
    held: &'h Held<'a>,
    verb: &'static str,
    what: String,
    /// `None`: any name; otherwise the names the rule is limited to.
    names: Option<Vec<String>>,
}

/// The names of a rule with `resourceNames` for which it allows the request.
fn allowed_names(
    rule: &PolicyRule,
    verb: &str,
    group: &str,
    resource: &str,
    ns: &str,
) -> Vec<String> {
    rule.resource_names
        .iter()
        .filter(|n| rule.allows(&request(verb, group, resource, n, ns)))
        .cloned()
        .collect()
}

/// Matches of a requirement among `set`, in namespace `ns` (`""` cluster-wide).
fn eval_need<'h, 'a>(set: &[&'h Held<'a>], alts: &[Alt], ns: &str) -> Vec<Matched<'h, 'a>> {
    let mut out = Vec::new();
    for alt in alts {
        let req_ns = if alt.cluster { "" } else { ns };
        for res in alt.resources {
            for verb in alt.verbs {
                // A RoleBinding never grants a cluster-scoped request; and the request is only
                // built when some rule has the verb and group at all (most have neither).
                let candidates = set.iter().filter(|h| {
                    !(alt.cluster && h.namespace().is_some())
                        && verb_matches(h.rule, verb)
                        && api_group_matches(h.rule, alt.group)
                });
                let mut candidates = candidates.peekable();
                if candidates.peek().is_none() {
                    continue;
                }
                let unnamed = request(verb, alt.group, res, "", req_ns);
                for &h in candidates {
                    if h.rule.allows(&unnamed) {
                        out.push(Matched {
                            held: h,
                            verb,
                            what: resource_text(alt.group, res),
                            names: None,
                        });
                    } else if !h.rule.resource_names.is_empty() {
                        let names = allowed_names(h.rule, verb, alt.group, res, req_ns);
                        if !names.is_empty() {
                            out.push(Matched {
                                held: h,
                                verb,
                                what: resource_text(alt.group, res),
                                names: Some(names),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Outcome of all requirements: the matches used, and whether name-limited rules were needed.
fn eval_needs<'h, 'a>(
    set: &[&'h Held<'a>],
    needs: &[&[Alt]],
    names: Names,
    ns: &str,
) -> Option<(Vec<Matched<'h, 'a>>, bool)> {
    let mut used = Vec::new();
    let mut named = false;
    for need in needs {
        let (unnamed, limited): (Vec<_>, Vec<_>) = eval_need(set, need, ns)
            .into_iter()
            .partition(|m| m.names.is_none());
        if !unnamed.is_empty() {
            used.extend(unnamed);
        } else if names != Names::Ignore && !limited.is_empty() {
            named = true;
            used.extend(limited);
        } else {
            return None;
        }
    }
    if names == Names::Only && !named {
        return None;
    }
    Some((used, named))
}

/// The full-authority request: every verb, group and resource.
fn full_authority() -> Request {
    request(ALL, ALL, ALL, "", "")
}

/// True when the rule holds every non-resource URL with every verb.
fn all_urls(rule: &PolicyRule) -> bool {
    rule.allows(&Request::NonResource {
        verb: ALL.into(),
        path: ALL.into(),
    })
}

/// True when a rule lists `*` in verbs, apiGroups, resources or nonResourceURLs; returns the
/// first such field.
pub fn wildcard_field(rule: &PolicyRule) -> Option<(&'static str, usize)> {
    let fields: [(&'static str, &Vec<String>); 4] = [
        ("verbs", &rule.verbs),
        ("apiGroups", &rule.api_groups),
        ("resources", &rule.resources),
        ("nonResourceURLs", &rule.non_resource_urls),
    ];
    fields
        .into_iter()
        .find_map(|(f, list)| list.iter().position(|x| x == ALL).map(|i| (f, i)))
}

fn dedup_grants<'a>(matches: impl IntoIterator<Item = Held<'a>>) -> Vec<Held<'a>> {
    let mut out: Vec<Held<'a>> = Vec::new();
    for h in matches {
        if !out
            .iter()
            .any(|x| std::ptr::eq(x.rule, h.rule) && std::ptr::eq(x.binding, h.binding))
        {
            out.push(h);
        }
    }
    // Direct grants first: they are the ones to report.
    out.sort_by_key(|h| !h.direct);
    out
}

/// Evaluates the whole catalogue for a principal holding `held`: every risk its rights give
/// it, with [`Hit::reported`] set on those that are its own. In a namespace, a hit needs a
/// grant from a RoleBinding of that namespace (otherwise it is the cluster-wide hit again).
pub fn evaluate<'a>(p: &Principal, held: &[Held<'a>]) -> Vec<Hit<'a>> {
    let mut hits = Vec::new();
    if p.is_master() {
        return hits;
    }
    let namespaces: BTreeSet<&str> = held.iter().filter_map(|h| h.namespace()).collect();
    let cluster_set: Vec<&Held<'a>> = held.iter().filter(|h| h.namespace().is_none()).collect();
    let ns_sets: Vec<(&str, Vec<&Held<'a>>)> = namespaces
        .iter()
        .map(|n| {
            (
                *n,
                held.iter()
                    .filter(|h| h.namespace().is_none_or(|x| x == *n))
                    .collect(),
            )
        })
        .collect();
    let reportable = |grants: &[Held<'a>], ns: Option<&str>| {
        grants
            .iter()
            .any(|h| h.direct && (ns.is_none() || h.namespace() == ns))
    };
    let local = |grants: &[Held<'a>], ns: Option<&str>| {
        ns.is_none() || grants.iter().any(|h| h.namespace() == ns)
    };
    for risk in CATALOG {
        let mut scopes: Vec<(Option<&str>, &[&Held<'a>])> = Vec::new();
        if risk.scope != Scope::Namespace {
            scopes.push((None, &cluster_set));
        }
        if risk.scope != Scope::Cluster {
            scopes.extend(ns_sets.iter().map(|(n, s)| (Some(*n), s.as_slice())));
        }
        match risk.test {
            Test::Requests {
                needs,
                names,
                also,
                also_severity,
            } => {
                for (ns, set) in scopes {
                    let Some((used, named)) = eval_needs(set, needs, names, ns.unwrap_or(""))
                    else {
                        continue;
                    };
                    let mut severity = risk.severity;
                    let mut asks: Vec<(String, Vec<&str>)> = Vec::new();
                    let mut limited: BTreeSet<String> = BTreeSet::new();
                    let mut grants: Vec<Held<'a>> = Vec::new();
                    let mut take = |m: Matched<'_, 'a>| {
                        match asks.iter_mut().find(|(w, _)| *w == m.what) {
                            Some((_, verbs)) => {
                                if !verbs.contains(&m.verb) {
                                    verbs.push(m.verb);
                                }
                            }
                            None => asks.push((m.what, vec![m.verb])),
                        }
                        if let Some(n) = m.names {
                            limited.extend(n);
                        }
                        grants.push(*m.held);
                    };
                    used.into_iter().for_each(&mut take);
                    if !also.is_empty()
                        && let Some((more, _)) =
                            eval_needs(set, also, Names::Count, ns.unwrap_or(""))
                    {
                        severity = severity.max(also_severity);
                        more.into_iter().for_each(&mut take);
                    }
                    let grants = dedup_grants(grants);
                    if !local(&grants, ns) {
                        continue;
                    }
                    let asks = asks
                        .into_iter()
                        .map(|(what, verbs)| format!("{} {what}", verbs.join("/")))
                        .collect();
                    hits.push(Hit {
                        risk,
                        namespace: ns.map(str::to_owned),
                        severity,
                        asks,
                        names: if named {
                            limited.into_iter().collect()
                        } else {
                            Vec::new()
                        },
                        reported: reportable(&grants, ns),
                        grants,
                    });
                }
            }
            Test::FullAuthority => {
                for (ns, set) in scopes {
                    let all = full_authority();
                    let grants =
                        dedup_grants(set.iter().filter(|h| h.rule.allows(&all)).map(|h| **h));
                    if grants.is_empty() || !local(&grants, ns) {
                        continue;
                    }
                    let mut asks = vec!["* *.*".to_string()];
                    if ns.is_none() && set.iter().any(|h| all_urls(h.rule)) {
                        asks.push("* non-resource URLs *".into());
                    }
                    hits.push(Hit {
                        risk,
                        namespace: ns.map(str::to_owned),
                        severity: risk.severity,
                        asks,
                        names: Vec::new(),
                        reported: reportable(&grants, ns),
                        grants,
                    });
                }
            }
            Test::Wildcard => {
                for h in held.iter().filter(|h| h.direct) {
                    if matches!(h.role.origin, Origin::Bootstrap) {
                        continue;
                    }
                    if let Some((field, _)) = wildcard_field(h.rule) {
                        hits.push(Hit {
                            risk,
                            namespace: h.namespace().map(str::to_owned),
                            severity: risk.severity,
                            asks: vec![format!("* in {field}")],
                            names: Vec::new(),
                            grants: vec![*h],
                            reported: true,
                        });
                    }
                }
            }
            Test::PublicBinding => {
                let severity = match p {
                    Principal::User { name } if name == ANONYMOUS => Severity::Critical,
                    Principal::Group { name } if name == UNAUTHENTICATED => Severity::Critical,
                    Principal::Group { name } if name == AUTHENTICATED => Severity::High,
                    Principal::Group { name } if name == SERVICE_ACCOUNTS => Severity::Medium,
                    _ => continue,
                };
                let mut seen: Vec<*const crate::objects::Binding> = Vec::new();
                for h in held.iter().filter(|h| h.direct) {
                    let b = h.binding as *const crate::objects::Binding;
                    if seen.contains(&b) || matches!(h.binding.origin, Origin::Bootstrap) {
                        continue;
                    }
                    seen.push(b);
                    hits.push(Hit {
                        risk,
                        namespace: h.namespace().map(str::to_owned),
                        severity,
                        asks: vec![format!("role {}", h.binding.role_ref.name)],
                        names: Vec::new(),
                        grants: vec![*h],
                        reported: true,
                    });
                }
            }
            Test::Path => {}
        }
    }
    hits
}

fn is_full(h: &Held<'_>) -> bool {
    h.rule.allows(&full_authority())
}

/// Drops what a full-authority hit already says: a hit granted only by `*` on `*.*` rules
/// when `cluster-admin` (or `namespace-admin` there) is reported, and, in a namespace, the
/// ClusterRoleBinding grants of a risk also found cluster-wide (they are reported there).
pub fn subsume(hits: Vec<Hit<'_>>) -> Vec<Hit<'_>> {
    let family = |h: &Hit<'_>| {
        let id = h.risk.id.as_str();
        id.strip_suffix("-cluster").unwrap_or(id).to_string()
    };
    let full_in = |ns: &Option<String>| {
        hits.iter().any(|h| {
            matches!(h.risk.test, Test::FullAuthority)
                && (h.namespace.is_none() || h.namespace == *ns)
        })
    };
    let cluster_wide: BTreeSet<String> = hits
        .iter()
        .filter(|h| h.namespace.is_none())
        .map(family)
        .collect();
    let mut out = Vec::new();
    for mut h in hits.iter().cloned() {
        match h.risk.test {
            Test::Requests { .. } => {
                if h.namespace.is_some() && cluster_wide.contains(&family(&h)) {
                    let local: Vec<_> = h
                        .grants
                        .iter()
                        .copied()
                        .filter(|g| g.namespace().is_some())
                        .collect();
                    if !local.is_empty() {
                        h.grants = local;
                    }
                }
                if full_in(&h.namespace) && h.grants.iter().all(is_full) {
                    continue;
                }
            }
            Test::Wildcard
                if full_in(&h.namespace)
                    && h.grants.iter().all(|g| is_full(g) || all_urls(g.rule)) =>
            {
                continue;
            }
            _ => {}
        }
        out.push(h);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::held::Holdings;
    use crate::objects::RbacStore;
    use palisade_model::{Inventory, LoadOptions};
    use std::collections::HashSet;

    /// The reported risks (`id` or `id@namespace`) of service account app/sa when a
    /// ClusterRole with `rules` is bound to it by a ClusterRoleBinding (`crb`) or a
    /// RoleBinding in `app`.
    fn fired(rules: &str, crb: bool) -> BTreeSet<String> {
        let binding = if crb {
            "kind: ClusterRoleBinding\nmetadata: {name: b}\n"
        } else {
            "kind: RoleBinding\nmetadata: {name: b, namespace: app}\n"
        };
        let text = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: r}}\nrules: {rules}\n---\napiVersion: rbac.authorization.k8s.io/v1\n{binding}roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}}\nsubjects: [{{kind: ServiceAccount, name: sa, namespace: app}}]\n"
        );
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", &text, &LoadOptions::default());
        assert!(!inv.has_errors(), "{:?}", inv.diagnostics);
        let (store, diags) = RbacStore::from_inventory(&inv);
        assert!(diags.is_empty(), "{diags:?}");
        let holdings = Holdings::new(&store);
        let p = Principal::sa("app", "sa");
        let held = holdings.held(&p);
        subsume(evaluate(&p, &held))
            .into_iter()
            .filter(|h| h.reported)
            .map(|h| match h.namespace {
                Some(ns) => format!("{}@{ns}", h.risk.id),
                None => h.risk.id.to_string(),
            })
            .collect()
    }

    /// (rules, ClusterRoleBinding?, must fire, must not fire).
    const CASES: &[(&str, bool, &[&str], &[&str])] = &[
        (
            "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]",
            true,
            &["rbac/cluster-admin"],
            &["rbac/secrets-read-cluster", "rbac/pod-create"],
        ),
        (
            "[{apiGroups: ['*'], resources: ['*'], verbs: [get, list, create, update, patch, delete]}]",
            true,
            &["rbac/secrets-read-cluster", "rbac/pod-create"],
            &["rbac/cluster-admin", "rbac/escalate", "rbac/impersonate"],
        ),
        (
            "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]",
            false,
            &["rbac/namespace-admin@app"],
            &["rbac/cluster-admin", "rbac/node-proxy"],
        ),
        (
            "[{apiGroups: [''], resources: ['*'], verbs: ['*']}]",
            false,
            &["rbac/secrets-read@app"],
            &["rbac/namespace-admin@app"],
        ),
        (
            "[{apiGroups: [''], resources: [secrets], verbs: [list]}]",
            true,
            &["rbac/secrets-read-cluster"],
            &["rbac/secrets-read-named"],
        ),
        (
            "[{apiGroups: [''], resources: [secrets], verbs: [watch]}]",
            false,
            &["rbac/secrets-read@app"],
            &["rbac/secrets-read-cluster"],
        ),
        (
            "[{apiGroups: [''], resources: [secrets], resourceNames: [a], verbs: [get]}]",
            false,
            &["rbac/secrets-read-named@app"],
            &["rbac/secrets-read@app"],
        ),
        (
            "[{apiGroups: [''], resources: [secrets], resourceNames: [a], verbs: [list]}]",
            true,
            &["rbac/secrets-read-named"],
            &["rbac/secrets-read-cluster"],
        ),
        (
            "[{apiGroups: [''], resources: [configmaps], verbs: [get, list]}]",
            false,
            &[],
            &["rbac/secrets-read@app", "rbac/secrets-read-named@app"],
        ),
        (
            "[{apiGroups: [''], resources: [secrets], verbs: [create]}]",
            false,
            &["rbac/secrets-write@app"],
            &["rbac/secrets-read@app"],
        ),
        (
            "[{apiGroups: [''], resources: [secrets], verbs: [delete]}]",
            false,
            &[],
            &["rbac/secrets-write@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods], verbs: [create]}]",
            false,
            &["rbac/pod-create@app"],
            &["rbac/pod-exec@app"],
        ),
        (
            "[{apiGroups: [apps], resources: [pods], verbs: [create]}]",
            false,
            &[],
            &["rbac/pod-create@app"],
        ),
        (
            "[{apiGroups: [batch], resources: [cronjobs], verbs: [patch]}]",
            false,
            &["rbac/workload-create@app"],
            &[],
        ),
        (
            "[{apiGroups: [apps], resources: [deployments], verbs: [get, list, delete]}]",
            false,
            &[],
            &["rbac/workload-create@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods], verbs: [patch]}]",
            false,
            &["rbac/pod-update@app"],
            &["rbac/pod-create@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods/log], verbs: [patch]}]",
            false,
            &[],
            &["rbac/pod-update@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods/exec], verbs: [get]}]",
            false,
            &["rbac/pod-exec@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [pods/*], verbs: [create, get]}]",
            false,
            &[],
            &["rbac/pod-exec@app", "rbac/pod-attach@app"],
        ),
        (
            "[{apiGroups: [''], resources: ['*/exec'], verbs: [create]}]",
            false,
            &["rbac/pod-exec@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [pods/exec], resourceNames: [web-0], verbs: [create]}]",
            false,
            &["rbac/pod-exec@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [pods/attach], verbs: [create]}]",
            false,
            &["rbac/pod-attach@app"],
            &["rbac/pod-exec@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods/log], verbs: [create, get]}]",
            false,
            &[],
            &["rbac/pod-attach@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods/ephemeralcontainers], verbs: [patch]}]",
            false,
            &["rbac/pod-ephemeral-containers@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [pods/ephemeralcontainers], verbs: [get]}]",
            false,
            &[],
            &["rbac/pod-ephemeral-containers@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods/portforward], verbs: [create]}]",
            false,
            &["rbac/pod-portforward@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [pods/portforward], verbs: [list]}]",
            false,
            &[],
            &["rbac/pod-portforward@app"],
        ),
        (
            "[{apiGroups: [''], resources: ['*/proxy'], verbs: [get]}]",
            true,
            &["rbac/pod-proxy", "rbac/service-proxy", "rbac/node-proxy"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [services/proxy], verbs: [create]}]",
            false,
            &["rbac/service-proxy@app"],
            &["rbac/pod-proxy@app"],
        ),
        (
            "[{apiGroups: [''], resources: [services], verbs: [get, create]}]",
            false,
            &[],
            &["rbac/service-proxy@app"],
        ),
        (
            "[{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}]",
            true,
            &["rbac/node-proxy"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}]",
            false,
            &[],
            &["rbac/node-proxy", "rbac/node-proxy@app"],
        ),
        (
            "[{apiGroups: [''], resources: [nodes/stats, nodes/metrics], verbs: [get]}]",
            true,
            &[],
            &["rbac/node-proxy"],
        ),
        (
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}]",
            true,
            &["rbac/escalate"],
            &["rbac/bind"],
        ),
        (
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}]",
            false,
            &[],
            &["rbac/escalate@app"],
        ),
        (
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [escalate]}]",
            false,
            &["rbac/escalate@app"],
            &[],
        ),
        (
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles, roles], verbs: [update, create]}]",
            true,
            &[],
            &["rbac/escalate"],
        ),
        (
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]",
            false,
            &["rbac/bind@app"],
            &["rbac/escalate@app"],
        ),
        (
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}]",
            false,
            &[],
            &["rbac/bind@app"],
        ),
        (
            "[{apiGroups: [''], resources: [groups], verbs: [impersonate]}]",
            true,
            &["rbac/impersonate"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [users], verbs: [impersonate]}]",
            false,
            &[],
            &["rbac/impersonate@app"],
        ),
        (
            "[{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}]",
            false,
            &["rbac/impersonate@app"],
            &[],
        ),
        (
            "[{apiGroups: [authentication.k8s.io], resources: [uids], verbs: [impersonate]}]",
            true,
            &["rbac/impersonate"],
            &[],
        ),
        (
            "[{apiGroups: [authentication.k8s.io], resources: [serviceaccounts], verbs: ['impersonate:serviceaccount']}]",
            false,
            &["rbac/impersonate@app"],
            &[],
        ),
        (
            "[{apiGroups: [authentication.k8s.io], resources: [users], verbs: [impersonate]}]",
            true,
            &[],
            &["rbac/impersonate"],
        ),
        (
            "[{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}, {apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve]}]",
            true,
            &["rbac/csr-approve"],
            &["rbac/csr-sign"],
        ),
        (
            "[{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}]",
            true,
            &[],
            &["rbac/csr-approve"],
        ),
        (
            "[{apiGroups: [certificates.k8s.io], resources: [signers], verbs: [sign]}, {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/status], verbs: [patch]}]",
            true,
            &["rbac/csr-sign"],
            &["rbac/csr-approve"],
        ),
        (
            "[{apiGroups: [certificates.k8s.io], resources: [signers], verbs: [sign]}]",
            true,
            &[],
            &["rbac/csr-sign"],
        ),
        (
            "[{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}]",
            false,
            &["rbac/token-request@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [serviceaccounts], verbs: [create]}]",
            false,
            &[],
            &["rbac/token-request@app"],
        ),
        (
            "[{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [patch]}]",
            true,
            &["rbac/admission-webhooks"],
            &["rbac/admission-policies"],
        ),
        (
            "[{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [get, list]}]",
            true,
            &[],
            &["rbac/admission-webhooks"],
        ),
        (
            "[{apiGroups: [admissionregistration.k8s.io], resources: [validatingadmissionpolicybindings], verbs: [create]}]",
            true,
            &["rbac/admission-policies"],
            &[],
        ),
        (
            "[{apiGroups: [admissionregistration.k8s.io], resources: [validatingadmissionpolicies], verbs: [list]}]",
            true,
            &[],
            &["rbac/admission-policies"],
        ),
        (
            "[{apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [delete]}]",
            true,
            &["rbac/crd-write"],
            &[],
        ),
        (
            "[{apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [get]}]",
            true,
            &[],
            &["rbac/crd-write"],
        ),
        (
            "[{apiGroups: [''], resources: [persistentvolumes], verbs: [create]}]",
            true,
            &["rbac/pv-create"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [persistentvolumeclaims], verbs: [create]}]",
            true,
            &[],
            &["rbac/pv-create"],
        ),
        (
            "[{apiGroups: [''], resources: [namespaces], verbs: [patch]}]",
            false,
            &["rbac/namespace-modify@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [namespaces], verbs: [create, get]}]",
            true,
            &[],
            &["rbac/namespace-modify"],
        ),
        (
            "[{apiGroups: [''], resources: [services/status], verbs: [patch]}]",
            false,
            &["rbac/service-status@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [services], verbs: [patch]}]",
            false,
            &[],
            &["rbac/service-status@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods/status], verbs: [update]}]",
            false,
            &["rbac/pod-status@app"],
            &["rbac/pod-update@app"],
        ),
        (
            "[{apiGroups: [''], resources: [nodes/status], verbs: [patch]}]",
            true,
            &["rbac/node-status"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [nodes/status], verbs: [patch]}]",
            false,
            &[],
            &["rbac/node-status", "rbac/node-status@app"],
        ),
        (
            "[{apiGroups: [''], resources: [pods], verbs: [delete]}, {apiGroups: [''], resources: [nodes], verbs: [patch]}]",
            true,
            &["rbac/steal-pods"],
            &[],
        ),
        (
            "[{apiGroups: [policy], resources: [pods/eviction], verbs: [create]}, {apiGroups: [''], resources: [nodes], verbs: [update]}]",
            true,
            &["rbac/steal-pods"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [pods], verbs: [delete]}]",
            true,
            &[],
            &["rbac/steal-pods"],
        ),
        (
            "[{apiGroups: [''], resources: [configmaps], verbs: ['*']}]",
            false,
            &["rbac/wildcard@app"],
            &[],
        ),
        (
            "[{apiGroups: [''], resources: [configmaps], verbs: [get]}]",
            false,
            &[],
            &["rbac/wildcard@app"],
        ),
    ];

    #[test]
    fn each_risk_fires_on_a_minimal_grant_and_not_on_a_near_miss() {
        let mut covered: BTreeSet<String> = BTreeSet::new();
        let mut failures = Vec::new();
        for (rules, crb, must, must_not) in CASES {
            let got = fired(rules, *crb);
            for m in *must {
                covered.insert(m.split('@').next().unwrap_or(m).to_string());
                if !got.contains(*m) {
                    failures.push(format!("{rules} (crb: {crb}): expected {m}, got {got:?}"));
                }
            }
            for m in *must_not {
                if got.contains(*m) {
                    failures.push(format!("{rules} (crb: {crb}): unexpected {m}, got {got:?}"));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Every single-grant risk is shown firing at least once (the others: fixtures).
        for r in CATALOG {
            if matches!(
                r.test,
                Test::Requests { .. } | Test::FullAuthority | Test::Wildcard
            ) {
                assert!(
                    covered.contains(r.id.as_str()),
                    "{} has no firing case",
                    r.id
                );
            }
        }
    }

    #[test]
    fn bind_with_binding_writes_is_critical_and_names_are_reported() {
        let rules = "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [view], verbs: [bind]}, {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}]";
        let text = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: r}}\nrules: {rules}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: b, namespace: app}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}}\nsubjects: [{{kind: User, name: alice}}]\n"
        );
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", &text, &LoadOptions::default());
        let (store, _) = RbacStore::from_inventory(&inv);
        let holdings = Holdings::new(&store);
        let p = Principal::user("alice");
        let hits = evaluate(&p, &holdings.held(&p));
        let bind = hits.iter().find(|h| h.risk.id == BIND.id).expect("bind");
        assert_eq!(bind.severity, Severity::Critical);
        assert_eq!(bind.names, vec!["view".to_string()]);
        assert_eq!(bind.namespace.as_deref(), Some("app"));
    }

    #[test]
    fn group_grants_are_reported_on_the_group() {
        let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: [{apiGroups: [''], resources: [pods], verbs: [create]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: app}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects: [{kind: Group, name: 'system:serviceaccounts:app'}]\n";
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", text, &LoadOptions::default());
        let (store, _) = RbacStore::from_inventory(&inv);
        let holdings = Holdings::new(&store);
        let sa = Principal::sa("app", "web");
        let sa_hits = evaluate(&sa, &holdings.held(&sa));
        assert!(
            sa_hits
                .iter()
                .any(|h| h.risk.id == POD_CREATE.id && !h.reported)
        );
        let g = Principal::group("system:serviceaccounts:app");
        let g_hits = evaluate(&g, &holdings.held(&g));
        assert!(
            g_hits
                .iter()
                .any(|h| h.risk.id == POD_CREATE.id && h.reported)
        );
    }

    #[test]
    fn catalogue_is_complete_and_unique() {
        assert!(CATALOG.len() >= 25);
        let ids: HashSet<&str> = CATALOG.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), CATALOG.len());
        for r in CATALOG {
            assert_eq!(r.id.family(), "rbac");
            assert!(!r.rationale.is_empty() && !r.remediation.is_empty());
            assert!(!r.references.is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn ask_texts() {
        assert_eq!(ask_text("create", "", "pods/exec"), "create pods/exec");
        assert_eq!(
            ask_text("create", "apps", "deployments"),
            "create deployments.apps"
        );
        assert_eq!(
            ask_text("update", CERTS, "certificatesigningrequests/approval"),
            "update certificatesigningrequests.certificates.k8s.io/approval"
        );
    }
}
