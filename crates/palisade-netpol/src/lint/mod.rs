//! `netpol/<id>` lint checks: the common NetworkPolicy mistakes, each reported at the line of
//! the offending field.
//!
//! The checks read the policies as written ([`view`]): rules the API server would ignore
//! (egress rules without `Egress` in an explicit `policyTypes`) and values it would reject
//! (an `except` outside its `cidr`) are findings, not silently dropped input. Checks that need
//! to know which pods exist (a policy selecting no pod, a peer matching nothing, a named port
//! nobody exposes) only judge namespaces whose workloads are in the input, so linting a
//! directory of policies alone does not flood the output with guesses.
//!
//! ```
//! use palisade_model::{Inventory, LoadOptions};
//! let mut inv = Inventory::new();
//! inv.add_text("np.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  podSelector: {}\n  ingress:\n  - {}\n", &LoadOptions::default());
//! let f = palisade_netpol::lint::findings(&inv);
//! assert_eq!(f[0].check.as_str(), "netpol/rule-allows-all");
//! assert_eq!(f[0].location.line, 7);
//! ```

use palisade_model::{
    CheckId, CheckMeta, FieldPath, Finding, Inventory, Location, Object, Severity,
};
use std::borrow::Cow;

mod checks;
mod subsume;
mod view;

const NP_DOC: &str = "https://kubernetes.io/docs/concepts/services-networking/network-policies/";
const NP_API: &str =
    "https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/";
const LATERAL: &str = "https://attack.mitre.org/techniques/T1210/";

/// A lint check: id and the metadata reports show.
#[derive(Debug)]
pub struct Check {
    /// `netpol/<kebab-name>`.
    pub id: CheckId,
    /// One-line title.
    pub title: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Why it matters.
    pub rationale: &'static str,
    /// How to fix it: a YAML snippet.
    pub remediation: &'static str,
    /// Documentation links.
    pub references: &'static [&'static str],
}

impl Check {
    /// The check's metadata in the shared vocabulary (category `network`).
    pub fn meta(&self) -> CheckMeta {
        CheckMeta {
            id: self.id.clone(),
            title: Cow::Borrowed(self.title),
            severity: self.severity,
            category: Cow::Borrowed("network"),
            rationale: Cow::Borrowed(self.rationale),
            remediation: Cow::Borrowed(self.remediation),
            references: self.references.iter().map(|r| Cow::Borrowed(*r)).collect(),
        }
    }

    /// A finding of this check about `obj` at `path`.
    fn finding(&self, inv: &Inventory, obj: &Object, path: &FieldPath, message: String) -> Finding {
        Finding {
            check: self.id.clone(),
            severity: self.severity,
            message,
            object: obj.id.clone(),
            container: None,
            location: Location::of(inv, obj, path),
            suppressed: None,
        }
    }
}

/// `netpol/policy-selects-no-pods`.
pub static POLICY_SELECTS_NO_PODS: Check = Check {
    id: CheckId::new("netpol/policy-selects-no-pods"),
    title: "NetworkPolicy selects none of the namespace's pods",
    severity: Severity::Low,
    rationale: "A policy whose podSelector matches no pod protects nothing. Usually a label was renamed on the workload but not in the policy, and the pods it was written for are left open. Judged only for namespaces whose workloads are in the input.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\nspec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: web   # the labels of the pod template\n",
    references: &[NP_DOC],
};

/// `netpol/peer-selects-nothing`.
pub static PEER_SELECTS_NOTHING: Check = Check {
    id: CheckId::new("netpol/peer-selects-nothing"),
    title: "Peer selector matches no pod or namespace in the input",
    severity: Severity::Low,
    rationale: "A from/to peer that matches nothing allows nothing: the traffic the rule was written for is denied, and the rule gives a false sense of what is allowed. Typical causes are a misspelt label or a namespace selected by a label the Namespace does not carry (use kubernetes.io/metadata.name). Pod selectors are judged only for namespaces whose workloads are in the input; namespace selectors only when the input declares Namespaces, and never for one selected by its name.",
    remediation: "ingress:\n- from:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: monitoring\n    podSelector:\n      matchLabels:\n        app.kubernetes.io/name: prometheus   # labels the pods really carry\n",
    references: &[
        NP_DOC,
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-namespace-by-its-name",
    ],
};

/// `netpol/egress-dns-blocked`.
pub static EGRESS_DNS_BLOCKED: Check = Check {
    id: CheckId::new("netpol/egress-dns-blocked"),
    title: "Egress isolation without DNS allowed",
    severity: Severity::Medium,
    rationale: "Once a pod is isolated for egress, every connection it opens must be allowed, including name lookups. Without UDP and TCP port 53 to the cluster DNS (kube-dns in kube-system), the pod cannot resolve Service names and fails in ways that look unrelated to the policy; DNS over TCP is used for large answers.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-dns\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n    - {protocol: UDP, port: 53}\n    - {protocol: TCP, port: 53}\n",
    references: &[
        NP_DOC,
        "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/",
    ],
};

/// `netpol/selector-and-or-confusion`.
pub static AND_OR_CONFUSION: Check = Check {
    id: CheckId::new("netpol/selector-and-or-confusion"),
    title: "namespaceSelector and podSelector in separate peers (OR) where one peer (AND) was likely meant",
    severity: Severity::Medium,
    rationale: "`- namespaceSelector: ...` followed by `- podSelector: ...` is two peers: every pod of the selected namespaces OR the selected pods of the policy's namespace. Written as one peer (no dash before podSelector) it means the selected pods IN the selected namespaces. One dash too many opens the rule to whole namespaces.",
    remediation: "ingress:\n- from:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: monitoring\n    podSelector:          # same peer: AND\n      matchLabels:\n        app: prometheus\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors",
    ],
};

/// `netpol/rule-allows-all`.
pub static RULE_ALLOWS_ALL: Check = Check {
    id: CheckId::new("netpol/rule-allows-all"),
    title: "Rule allows all traffic (`ingress: [{}]` / `egress: [{}]`)",
    severity: Severity::Medium,
    rationale: "A rule with neither peers nor ports allows every connection in its direction: from or to every pod of every namespace and every address outside the cluster, on every port. It cancels the isolation of the selected pods in that direction.",
    remediation: "ingress:\n- from:\n  - podSelector:\n      matchLabels:\n        app: frontend\n  ports:\n  - {protocol: TCP, port: 8080}\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#allow-all-ingress-traffic",
        LATERAL,
    ],
};

/// `netpol/named-port-not-exposed`.
pub static NAMED_PORT_NOT_EXPOSED: Check = Check {
    id: CheckId::new("netpol/named-port-not-exposed"),
    title: "Named port that no destination pod exposes",
    severity: Severity::Medium,
    rationale: "A named port is resolved against the destination pod's container ports, by name and protocol. When no destination pod declares a port of that name and protocol, the port entry matches nothing and the traffic is denied; named ports never match addresses of an ipBlock. Judged only when destination pods are in the input.",
    remediation: "# in the destination pod template\ncontainers:\n- name: web\n  ports:\n  - name: http\n    containerPort: 8080\n    protocol: TCP\n# in the policy\nports:\n- {protocol: TCP, port: http}\n",
    references: &[NP_API],
};

/// `netpol/ipblock-invalid`.
pub static IPBLOCK_INVALID: Check = Check {
    id: CheckId::new("netpol/ipblock-invalid"),
    title: "ipBlock with an invalid CIDR or an except outside its cidr",
    severity: Severity::Medium,
    rationale: "The API server rejects an ipBlock whose cidr or except entries are not CIDRs, or whose except entries are not strict subsets of the cidr, so the policy is never applied. A cidr with host bits set (10.0.0.5/24) is accepted but means the whole network, which is rarely what was meant.",
    remediation: "to:\n- ipBlock:\n    cidr: 10.0.0.0/16\n    except:\n    - 10.0.5.0/24\n",
    references: &[NP_API],
};

/// `netpol/port-range-invalid`.
pub static PORT_RANGE_INVALID: Check = Check {
    id: CheckId::new("netpol/port-range-invalid"),
    title: "Invalid port or port range (endPort below port, endPort with a named or missing port)",
    severity: Severity::Medium,
    rationale: "endPort must be at least port and requires a numeric port; ports must lie in 1-65535. The API server rejects such a policy. A CNI plugin without endPort support would also apply only the first port of a range.",
    remediation: "ports:\n- protocol: TCP\n  port: 32000\n  endPort: 32768\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-range-of-ports",
    ],
};

/// `netpol/pod-not-selected`.
pub static POD_NOT_SELECTED: Check = Check {
    id: CheckId::new("netpol/pod-not-selected"),
    title: "No NetworkPolicy selects the pod",
    severity: Severity::Medium,
    rationale: "Pods that no NetworkPolicy selects accept traffic from, and send traffic to, every pod in the cluster and beyond. A single compromised pod can then reach databases, internal admin interfaces and cloud metadata endpoints. hostNetwork pods are not reported (policies do not apply to them).",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\nspec:\n  podSelector:\n    matchLabels:\n      app: web\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          app: frontend\n    ports:\n    - port: 8080\n",
    references: &[NP_DOC, "CIS Kubernetes Benchmark v1.9 §5.3.2", LATERAL],
};

/// `netpol/namespace-default-deny-missing`.
pub static NAMESPACE_DEFAULT_DENY_MISSING: Check = Check {
    id: CheckId::new("netpol/namespace-default-deny-missing"),
    title: "Namespace has no default-deny NetworkPolicy (ingress, egress)",
    severity: Severity::Medium,
    rationale: "A default-deny policy (empty podSelector, the direction in policyTypes, no rule allowing everything) isolates every pod of the namespace, so a new workload is closed until a policy opens it. Without one per direction, each new workload is open to the whole cluster (ingress) or can reach anything (egress) until someone writes its policy.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-all\n  namespace: shop\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies",
        "CIS Kubernetes Benchmark v1.9 §5.3.2",
        LATERAL,
    ],
};

/// `netpol/policy-types-missing-direction`.
pub static POLICY_TYPES_MISSING_DIRECTION: Check = Check {
    id: CheckId::new("netpol/policy-types-missing-direction"),
    title: "Rules for a direction that policyTypes does not list (ignored)",
    severity: Severity::High,
    rationale: "When policyTypes is given, it alone decides which directions the policy isolates: egress rules of a policy with policyTypes [Ingress] are ignored, and the selected pods stay open for egress. The policy reads as a restriction that does not exist.",
    remediation: "spec:\n  policyTypes: [Ingress, Egress]\n",
    references: &[NP_API],
};

/// `netpol/redundant-policy`.
pub static REDUNDANT_POLICY: Check = Check {
    id: CheckId::new("netpol/redundant-policy"),
    title: "NetworkPolicy fully covered by another one",
    severity: Severity::Info,
    rationale: "Policies are additive. A policy with the same podSelector as another, isolating no direction the other does not, and allowing nothing the other does not allow changes nothing; it is dead weight that future edits may update inconsistently.",
    remediation: "# delete the redundant policy, or merge its rules into the covering one\n",
    references: &[NP_DOC],
};

/// `netpol/redundant-rule`.
pub static REDUNDANT_RULE: Check = Check {
    id: CheckId::new("netpol/redundant-rule"),
    title: "Rule fully covered by another rule",
    severity: Severity::Info,
    rationale: "A rule whose peers and ports are all admitted by another rule of the same policy (or of a policy with the same podSelector) allows nothing more; usually a leftover of a copy-paste or of a widened rule.",
    remediation: "# delete the covered rule\n",
    references: &[NP_DOC],
};

/// Every lint check, in the order they are listed.
pub static REGISTRY: &[&Check] = &[
    &POLICY_SELECTS_NO_PODS,
    &PEER_SELECTS_NOTHING,
    &EGRESS_DNS_BLOCKED,
    &AND_OR_CONFUSION,
    &RULE_ALLOWS_ALL,
    &NAMED_PORT_NOT_EXPOSED,
    &IPBLOCK_INVALID,
    &PORT_RANGE_INVALID,
    &POD_NOT_SELECTED,
    &NAMESPACE_DEFAULT_DENY_MISSING,
    &POLICY_TYPES_MISSING_DIRECTION,
    &REDUNDANT_POLICY,
    &REDUNDANT_RULE,
];

/// The metadata of every `netpol/` check.
pub fn checks() -> Vec<CheckMeta> {
    REGISTRY.iter().map(|c| c.meta()).collect()
}

/// The `netpol/<id>` findings of an inventory, in check order then source order. Not filtered
/// by any configuration (see `palisade_posture::sink::apply_config`).
pub fn findings(inv: &Inventory) -> Vec<Finding> {
    let v = view::View::new(inv);
    checks::run(&v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn metadata_is_complete_and_ids_unique() {
        let mut ids = BTreeSet::new();
        for c in REGISTRY {
            let id = c.id.as_str();
            assert!(ids.insert(id), "duplicate id {id}");
            let name = id.strip_prefix("netpol/").expect("netpol/ family");
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{id}: kebab-case name"
            );
            assert!(c.title.len() > 10, "{id}: title");
            assert!(c.rationale.len() > 80, "{id}: rationale");
            assert!(!c.remediation.trim().is_empty(), "{id}: remediation");
            assert!(!c.references.is_empty(), "{id}: references");
            assert!(
                c.references.iter().any(|r| r.starts_with("https://")),
                "{id}: a link"
            );
            // The remediation is YAML (comments allowed).
            let docs = palisade_model::yaml::parse_stream(c.remediation, &Default::default());
            assert!(
                docs.iter().all(Result::is_ok),
                "{id}: remediation is not YAML"
            );
            assert_eq!(c.meta().category, "network");
        }
        assert_eq!(checks().len(), REGISTRY.len());
    }
}
