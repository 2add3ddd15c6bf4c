//! Audit: every policy of the admission controller over existing objects, reported as
//! findings (the vocabulary `palisade scan` reports in), like Gatekeeper's audit.
//!
//! * Pod Security: each pod and pod template is evaluated against the policy of its namespace
//!   (labels, or the configured defaults; exempt namespaces and runtime classes skipped). A
//!   check failed under the enforce policy is a `pss/<check>` finding at the check's severity
//!   ("pod violates PodSecurity ..." for pods, "pods of this Deployment would be rejected" for
//!   templates); a check failed only under the audit or warn policy is reported one severity
//!   lower ("would violate PodSecurity ...").
//! * Gatekeeper: every violation of a constraint at the audit enforcement point is a
//!   `gatekeeper/<ConstraintKind>` finding, high for `deny`, medium for `warn`, low for
//!   `dryrun`, with Gatekeeper's message prefixed by the constraint's name.

use crate::engine::Admission;
use crate::gatekeeper::EnforcementAction;
use palisade_model::{
    CheckId, CheckMeta, FieldPath, Finding, Inventory, Location, Severity, pod_template,
};
use palisade_posture::pss::{self, PssCheck};
use std::borrow::Cow;
use std::collections::BTreeMap;

fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

/// Evaluates every object of `inv` and returns the findings and the metadata of every check
/// they name (PSS checks and one per Gatekeeper constraint kind).
pub fn audit(adm: &Admission, inv: &Inventory) -> (Vec<Finding>, Vec<CheckMeta>) {
    let mut findings = Vec::new();
    let mut gk_checks: BTreeMap<String, (String, Severity)> = BTreeMap::new();
    let state = adm.state();
    for obj in &inv.objects {
        let ns = obj.id.namespace.as_deref().unwrap_or("");
        if let (Some(podsec), Some(t)) = (adm.pod_security(), pod_template(obj)) {
            let evaluated = crate::pss::POD_TEMPLATE_KINDS
                .contains(&(obj.group(), obj.id.kind.as_str()))
                || (t.is_pod && obj.group().is_empty());
            let rc = t
                .spec
                .get("runtimeClassName")
                .and_then(|n| n.as_str())
                .unwrap_or("");
            if evaluated && !podsec.exempt_namespace(ns) && !podsec.exempt_runtime_class(rc) {
                let (policy, _) = match state.namespace(ns) {
                    Some(info) => podsec.policy(&info.labels),
                    None => (podsec.defaults, Vec::new()),
                };
                let enforce = pss::evaluate(&t, policy.enforce, &podsec.opts);
                let audit = pss::evaluate(&t, policy.audit, &podsec.opts);
                let warn = pss::evaluate(&t, policy.warn, &podsec.opts);
                let kind = obj.id.kind.as_str();
                for r in &enforce {
                    let text = pss::message(policy.enforce, std::slice::from_ref(r));
                    let message = if t.is_pod {
                        format!("pod {text}")
                    } else {
                        format!("pods of this {kind} would be rejected: {text}")
                    };
                    findings.push(finding(
                        inv,
                        obj,
                        r,
                        pss::severity(r.check),
                        message,
                        &t.spec_path,
                    ));
                }
                for check in PssCheck::ALL {
                    if enforce.iter().any(|r| r.check == check) {
                        continue;
                    }
                    let found = warn
                        .iter()
                        .find(|r| r.check == check)
                        .map(|r| (r, policy.warn))
                        .or_else(|| {
                            audit
                                .iter()
                                .find(|r| r.check == check)
                                .map(|r| (r, policy.audit))
                        });
                    if let Some((r, p)) = found {
                        let message = crate::pss::would(pss::message(p, std::slice::from_ref(r)));
                        findings.push(finding(
                            inv,
                            obj,
                            r,
                            lower(pss::severity(check)),
                            message,
                            &t.spec_path,
                        ));
                    }
                }
            }
        }
        for v in adm.audit_gatekeeper(obj) {
            let severity = match v.enforcement_action {
                EnforcementAction::Deny => Severity::High,
                EnforcementAction::Warn => Severity::Medium,
                _ => Severity::Low,
            };
            let id = format!("gatekeeper/{}", v.constraint_kind);
            gk_checks
                .entry(id.clone())
                .or_insert_with(|| (v.template.clone(), severity));
            findings.push(Finding {
                check: CheckId::owned(id),
                severity,
                message: format!("[{}] {}", v.constraint_name, v.message),
                object: obj.id.clone(),
                container: None,
                location: Location::of(inv, obj, &FieldPath::root()),
                suppressed: None,
            });
        }
    }
    let mut checks = pss::checks();
    for (id, (template, severity)) in gk_checks {
        checks.push(CheckMeta {
            id: CheckId::owned(id),
            title: Cow::Owned(format!("Gatekeeper constraint of template {template}")),
            severity,
            category: Cow::Borrowed("policy"),
            rationale: Cow::Borrowed("A Gatekeeper constraint loaded into the admission controller reports a violation."),
            remediation: Cow::Borrowed("Change the object so that the constraint's policy holds, or exclude it in the constraint's match."),
            references: vec![Cow::Borrowed("https://open-policy-agent.github.io/gatekeeper/website/docs/audit")],
        });
    }
    (findings, checks)
}

fn finding(
    inv: &Inventory,
    obj: &palisade_model::Object,
    r: &pss::CheckResult,
    severity: Severity,
    message: String,
    spec_path: &FieldPath,
) -> Finding {
    let path = r.fields.first().unwrap_or(spec_path);
    Finding {
        check: r.check.check_id(),
        severity,
        message,
        object: obj.id.clone(),
        container: match r.containers.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
        location: Location::of(inv, obj, path),
        suppressed: None,
    }
}
