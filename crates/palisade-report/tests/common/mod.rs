//! A small, fixed scan result shared by the report tests: several objects and severities, a
//! cluster-scoped object, standard input, suppressed findings, a check without metadata, a
//! finding without a position, and markup characters in messages.

#![allow(dead_code)]

use palisade_model::{
    CheckId, CheckMeta, DiagCode, DiagLevel, Diagnostic, Finding, Location, ObjectRef, Pos,
    Severity, SuppressedBy, Suppression,
};
use palisade_report::{Format, RenderOptions, Report, render};
use std::borrow::Cow;

pub fn obj(api: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api.into(),
        kind: kind.into(),
        namespace: ns.map(str::to_owned),
        name: name.into(),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn finding(
    check: &'static str,
    severity: Severity,
    object: &ObjectRef,
    container: Option<&str>,
    file: &str,
    (line, column): (u32, u32),
    field_path: &str,
    message: &str,
) -> Finding {
    Finding {
        check: CheckId::new(check),
        severity,
        message: message.into(),
        object: object.clone(),
        container: container.map(str::to_owned),
        location: Location {
            file: file.into(),
            line,
            column,
            field_path: field_path.into(),
        },
        suppressed: None,
    }
}

pub fn suppressed(mut f: Finding, by: SuppressedBy, reason: Option<&str>) -> Finding {
    f.suppressed = Some(Suppression {
        by,
        reason: reason.map(str::to_owned),
    });
    f
}

fn meta(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    category: &'static str,
    remediation: &'static str,
    references: &[&'static str],
) -> CheckMeta {
    CheckMeta {
        id: CheckId::new(id),
        title: Cow::Borrowed(title),
        severity,
        category: Cow::Borrowed(category),
        rationale: Cow::Owned(format!("Rationale for {id}: it matters.")),
        remediation: Cow::Borrowed(remediation),
        references: references.iter().map(|r| Cow::Borrowed(*r)).collect(),
    }
}

pub fn checks() -> Vec<CheckMeta> {
    vec![
        meta(
            "pss/privileged",
            "Privileged containers",
            Severity::High,
            "pod-security",
            "securityContext:\n  privileged: false\n",
            &["https://kubernetes.io/docs/concepts/security/pod-security-standards/"],
        ),
        meta(
            "pss/hostPID",
            "Host PID namespace",
            Severity::Critical,
            "pod-security",
            "spec:\n  hostPID: false\n",
            &[],
        ),
        meta(
            "pss/runAsNonRoot",
            "Containers must not run as root",
            Severity::Medium,
            "pod-security",
            "securityContext:\n  runAsNonRoot: true\n",
            &[],
        ),
        meta(
            "hardening/read-only-root-filesystem",
            "Writable root filesystem",
            Severity::Medium,
            "workload",
            "securityContext:\n  readOnlyRootFilesystem: true\n",
            &["https://example.invalid/docs?check=rofs&v=2"],
        ),
        meta(
            "rbac/cluster-admin-binding",
            "Binding to cluster-admin",
            Severity::Critical,
            "rbac",
            "",
            &[],
        ),
        meta(
            "hardening/liveness-probe",
            "No liveness probe",
            Severity::Low,
            "workload",
            "livenessProbe:\n  httpGet: {path: /healthz, port: 8080}\n",
            &[],
        ),
    ]
}

pub fn findings() -> Vec<Finding> {
    let web = obj("apps/v1", "Deployment", Some("prod"), "web");
    let debug = obj("v1", "Pod", Some("default"), "debug");
    let crb = obj(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        None,
        "admin-all",
    );
    let ns = obj("v1", "Namespace", None, "team-a");
    vec![
        finding(
            "pss/privileged",
            Severity::High,
            &web,
            Some("app"),
            "k8s/web.yaml",
            (20, 13),
            "spec.template.spec.containers[0].securityContext.privileged",
            "container \"app\" is privileged <&\"'>",
        ),
        finding(
            "hardening/read-only-root-filesystem",
            Severity::Medium,
            &web,
            Some("app"),
            "k8s/web.yaml",
            (18, 11),
            "spec.template.spec.containers[0].securityContext",
            "container \"app\" may write to its root filesystem",
        ),
        finding(
            "pss/privileged",
            Severity::High,
            &web,
            Some("sidecar"),
            "k8s/web.yaml",
            (31, 13),
            "spec.template.spec.containers[1].securityContext.privileged",
            "container \"sidecar\" is privileged",
        ),
        suppressed(
            finding(
                "pss/runAsNonRoot",
                Severity::Medium,
                &web,
                Some("app"),
                "k8s/web.yaml",
                (18, 11),
                "spec.template.spec.containers[0].securityContext",
                "container \"app\" may run as root",
            ),
            SuppressedBy::Config,
            None,
        ),
        finding(
            "pss/hostPID",
            Severity::Critical,
            &debug,
            None,
            "<stdin>",
            (5, 3),
            "spec.hostPID",
            "hostPID is true: the pod sees every process on the node",
        ),
        suppressed(
            finding(
                "hardening/read-only-root-filesystem",
                Severity::Low,
                &debug,
                Some("shell"),
                "<stdin>",
                (9, 5),
                "spec.containers[0]",
                "container \"shell\" may write to its root filesystem",
            ),
            SuppressedBy::Annotation,
            Some("debug pod, see <JIRA-1> & \"co\""),
        ),
        finding(
            "rbac/cluster-admin-binding",
            Severity::Critical,
            &crb,
            None,
            "rbac/crb.yaml",
            (8, 1),
            "roleRef",
            "binds cluster-admin to group \"system:authenticated\"",
        ),
        finding(
            "custom/no-metadata",
            Severity::Info,
            &ns,
            None,
            "rbac/crb.yaml",
            (0, 0),
            "",
            "policy from a file without metadata: yes: no",
        ),
    ]
}

pub fn diagnostics() -> Vec<Diagnostic> {
    vec![
        Diagnostic {
            level: DiagLevel::Error,
            code: DiagCode::Syntax,
            file: "broken.yaml".into(),
            pos: Some(Pos::new(3, 1)),
            field: None,
            message: "mapping values are not allowed here".into(),
        },
        Diagnostic {
            level: DiagLevel::Notice,
            code: DiagCode::NotKubernetes,
            file: "values.yaml".into(),
            pos: None,
            field: None,
            message: "not a Kubernetes object (no apiVersion/kind); skipped".into(),
        },
    ]
}

/// Owns the data a [`Report`] borrows.
pub struct Fixture {
    pub findings: Vec<Finding>,
    pub checks: Vec<CheckMeta>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            findings: findings(),
            checks: checks(),
            diagnostics: diagnostics(),
        }
    }

    pub fn report(&self, show_suppressed: bool) -> Report<'_> {
        Report {
            findings: &self.findings,
            checks: &self.checks,
            diagnostics: &self.diagnostics,
            files_scanned: 4,
            objects_scanned: 9,
            show_suppressed,
            tool_version: "0.1.0-test",
        }
    }
}

pub fn render_to_string(format: Format, report: &Report<'_>, color: bool) -> String {
    let mut out = Vec::new();
    render(format, report, &mut out, &RenderOptions { color }).expect("render");
    String::from_utf8(out).expect("utf-8 output")
}
