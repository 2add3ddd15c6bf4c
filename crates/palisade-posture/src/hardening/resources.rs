//! Resource requests and limits, liveness and readiness probes.
//!
//! Resource checks look at regular containers and at sidecar init containers
//! (`restartPolicy: Always`), which run for the pod's whole life. Ordinary init containers run
//! to completion before the pod starts (their requests only raise the pod's effective request)
//! and ephemeral containers cannot declare resources, so neither is checked. Pod-level
//! `spec.resources` (Kubernetes 1.32+) counts for every container. A missing request is not
//! reported when the limit is set, since the API server then defaults the request to the limit.
//!
//! Probe checks look at regular containers only, and not at batch workloads: Jobs, CronJobs,
//! and Pods whose `restartPolicy` is `Never` or `OnFailure`.

use super::Check;
use super::util::{cname, describe, workloads};
use crate::sink::Sink;
use palisade_model::{CheckId, ContainerKind, ContainerRef, Node, Object, PodTemplate, Severity};

const RESOURCES_DOC: &str =
    "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/";
const PROBES_DOC: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/";
const DOS: &str = "https://attack.mitre.org/techniques/T1499/";

/// `hardening/cpu-requests-missing`.
pub static CPU_REQUESTS_MISSING: Check = Check {
    id: CheckId::new("hardening/cpu-requests-missing"),
    title: "Container has no CPU request",
    severity: Severity::Low,
    category: "resources",
    rationale: "Without a CPU request the scheduler places the pod as if it needed no CPU, and under contention the container gets the smallest share. Noisy neighbours, or an attacker's workload, can starve it.",
    remediation: "spec:\n  containers:\n  - name: app\n    resources:\n      requests:\n        cpu: 250m\n        memory: 256Mi\n",
    references: &[RESOURCES_DOC, DOS],
};

/// `hardening/cpu-limits-missing`.
pub static CPU_LIMITS_MISSING: Check = Check {
    id: CheckId::new("hardening/cpu-limits-missing"),
    title: "Container has no CPU limit",
    severity: Severity::Low,
    category: "resources",
    rationale: "A container without a CPU limit can use every idle core of the node. A runaway loop or a cryptominer planted in it then slows down every other pod on the node.",
    remediation: "spec:\n  containers:\n  - name: app\n    resources:\n      limits:\n        cpu: \"1\"\n        memory: 512Mi\n",
    references: &[
        RESOURCES_DOC,
        DOS,
        "https://attack.mitre.org/techniques/T1496/",
    ],
};

/// `hardening/memory-requests-missing`.
pub static MEMORY_REQUESTS_MISSING: Check = Check {
    id: CheckId::new("hardening/memory-requests-missing"),
    title: "Container has no memory request",
    severity: Severity::Low,
    category: "resources",
    rationale: "Without a memory request the scheduler can overcommit the node, and the pod is among the first evicted under memory pressure (BestEffort or Burstable class).",
    remediation: "spec:\n  containers:\n  - name: app\n    resources:\n      requests:\n        memory: 256Mi\n",
    references: &[RESOURCES_DOC, DOS],
};

/// `hardening/memory-limits-missing`.
pub static MEMORY_LIMITS_MISSING: Check = Check {
    id: CheckId::new("hardening/memory-limits-missing"),
    title: "Container has no memory limit",
    severity: Severity::Medium,
    category: "resources",
    rationale: "A container without a memory limit can consume all of the node's memory; the kernel's OOM killer then terminates other pods or system daemons. A memory leak or a deliberate allocation bomb becomes a node-wide outage.",
    remediation: "spec:\n  containers:\n  - name: app\n    resources:\n      limits:\n        memory: 512Mi\n",
    references: &[RESOURCES_DOC, DOS],
};

/// `hardening/liveness-probe-missing`.
pub static LIVENESS_PROBE_MISSING: Check = Check {
    id: CheckId::new("hardening/liveness-probe-missing"),
    title: "Long-running container has no liveness probe",
    severity: Severity::Low,
    category: "reliability",
    rationale: "Without a liveness probe a container that hangs (deadlock, exhausted pool) keeps running and keeps receiving traffic; nothing restarts it.",
    remediation: "spec:\n  containers:\n  - name: app\n    livenessProbe:\n      httpGet:\n        path: /healthz\n        port: 8080\n      periodSeconds: 10\n",
    references: &[PROBES_DOC],
};

/// `hardening/readiness-probe-missing`.
pub static READINESS_PROBE_MISSING: Check = Check {
    id: CheckId::new("hardening/readiness-probe-missing"),
    title: "Long-running container has no readiness probe",
    severity: Severity::Low,
    category: "reliability",
    rationale: "Without a readiness probe a pod receives Service traffic as soon as its containers start, before the application can answer, and keeps receiving it while it is overloaded; rollouts proceed even when new pods never become healthy.",
    remediation: "spec:\n  containers:\n  - name: app\n    readinessProbe:\n      httpGet:\n        path: /ready\n        port: 8080\n      periodSeconds: 5\n",
    references: &[PROBES_DOC],
};

fn has(node: Option<&Node>, kind: &str, resource: &str) -> bool {
    node.and_then(|n| n.at(&[kind, resource]))
        .is_some_and(|v| !v.is_null())
}

fn resource_checks(sink: &mut Sink<'_>, obj: &Object, t: &PodTemplate<'_>, c: &ContainerRef<'_>) {
    let pod = t.spec.get("resources");
    let own = c.node.get("resources");
    for (resource, req_check, lim_check) in [
        ("cpu", &CPU_REQUESTS_MISSING, &CPU_LIMITS_MISSING),
        ("memory", &MEMORY_REQUESTS_MISSING, &MEMORY_LIMITS_MISSING),
    ] {
        let limit = has(own, "limits", resource) || has(pod, "limits", resource);
        let request = has(own, "requests", resource) || has(pod, "requests", resource);
        if !request && !limit {
            req_check.emit(
                sink,
                obj,
                &c.field(&["resources", "requests", resource]),
                cname(c),
                format!("{} sets no resources.requests.{resource} (and no {resource} limit it would default from)", describe(c)),
            );
        }
        if !limit {
            lim_check.emit(
                sink,
                obj,
                &c.field(&["resources", "limits", resource]),
                cname(c),
                format!("{} sets no resources.limits.{resource}", describe(c)),
            );
        }
    }
}

fn is_batch(obj: &Object, t: &PodTemplate<'_>) -> bool {
    if matches!(obj.id.kind.as_str(), "Job" | "CronJob") {
        return true;
    }
    matches!(
        t.spec.get("restartPolicy").and_then(Node::as_str),
        Some("Never" | "OnFailure")
    )
}

/// Runs the resource and probe checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for (obj, t) in workloads(inv) {
        let batch = is_batch(obj, &t);
        for c in t.containers() {
            let sidecar = c.kind == ContainerKind::Init
                && c.node.get("restartPolicy").and_then(Node::as_str) == Some("Always");
            if sidecar || c.kind == ContainerKind::Regular {
                resource_checks(sink, obj, &t, &c);
            }
            if batch || c.kind != ContainerKind::Regular {
                continue;
            }
            for (key, check) in [
                ("livenessProbe", &LIVENESS_PROBE_MISSING),
                ("readinessProbe", &READINESS_PROBE_MISSING),
            ] {
                if c.node.get(key).is_none_or(Node::is_null) {
                    check.emit(
                        sink,
                        obj,
                        &c.field(&[key]),
                        cname(&c),
                        format!("{} has no {key}", describe(&c)),
                    );
                }
            }
        }
    }
}
