//! hostPath volumes: container runtime sockets, sensitive node paths, writable mounts.
//!
//! A volume that mounts a runtime socket is reported only by the socket check, not again as a
//! sensitive path. Writable mounts are reported per container (init, regular and ephemeral)
//! and `volumeMount`.

use super::Check;
use super::util::{cname, describe, spec_field, workloads};
use crate::sink::Sink;
use palisade_model::{CheckId, Node, Severity};
use std::collections::BTreeMap;

const HOSTPATH_DOC: &str = "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath";
const ESCAPE: &str = "https://attack.mitre.org/techniques/T1611/";

/// `hardening/host-path-runtime-socket`.
pub static RUNTIME_SOCKET: Check = Check {
    id: CheckId::new("hardening/host-path-runtime-socket"),
    title: "Container runtime socket mounted from the host",
    severity: Severity::Critical,
    category: "host-access",
    rationale: "The Docker, containerd or CRI-O socket is the runtime's control API. Whoever can talk to it can start a privileged container with the node's root filesystem mounted, which is root on the node and access to every pod's secrets on it.",
    remediation: "spec:\n  volumes:\n  - name: cache\n    emptyDir: {}\n",
    references: &[
        HOSTPATH_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.2.12",
        ESCAPE,
        "https://attack.mitre.org/techniques/T1610/",
    ],
};

/// `hardening/host-path-sensitive`.
pub static SENSITIVE: Check = Check {
    id: CheckId::new("hardening/host-path-sensitive"),
    title: "Sensitive host path mounted into the pod",
    severity: Severity::High,
    category: "host-access",
    rationale: "Paths such as /, /etc, /proc, /sys, /dev, /boot, /root, /home, /var/run, /var/log and /var/lib/kubelet expose node credentials (kubelet and cluster certificates, SSH keys, service-account tokens of other pods), kernel interfaces and log files that can be abused to read any file on the node.",
    remediation: "spec:\n  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: app-data\n",
    references: &[
        HOSTPATH_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.2.12",
        ESCAPE,
    ],
};

/// `hardening/host-path-writable`.
pub static WRITABLE: Check = Check {
    id: CheckId::new("hardening/host-path-writable"),
    title: "hostPath volume mounted writable",
    severity: Severity::Medium,
    category: "host-access",
    rationale: "A writable hostPath mount lets the container change files on the node: plant binaries or cron jobs, alter configuration, or create symlinks that the kubelet later follows. Mount host paths readOnly unless writing is the point.",
    remediation: "spec:\n  containers:\n  - name: agent\n    volumeMounts:\n    - name: host-logs\n      mountPath: /host/var/log\n      readOnly: true\n",
    references: &[
        HOSTPATH_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.2.12",
        ESCAPE,
    ],
};

const SOCKET_FILES: &[&str] = &[
    "docker.sock",
    "containerd.sock",
    "crio.sock",
    "cri-dockerd.sock",
    "dockershim.sock",
    "podman.sock",
];
const SOCKET_DIRS: &[&str] = &[
    "/var/run/docker",
    "/run/docker",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/crio",
    "/run/crio",
    "/run/k3s/containerd",
    "/var/run/cri-dockerd",
    "/run/cri-dockerd",
];
/// Sensitive in themselves and everything below them.
const SENSITIVE_TREES: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/var/log",
    "/var/lib/kubelet",
    "/var/lib/etcd",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/etc/kubernetes",
];
/// Sensitive when mounted whole (their subdirectories vary too much to judge).
const SENSITIVE_EXACT: &[&str] = &[
    "/", "/var", "/var/run", "/run", "/var/lib", "/usr", "/lib", "/bin", "/sbin", "/opt",
];
/// Harmless files below sensitive trees that many workloads mount.
const HARMLESS: &[&str] = &["/etc/localtime", "/etc/timezone"];

/// Normalizes a host path: collapses `//` and `/./`, resolves `..` lexically, drops trailing `/`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn under(path: &str, root: &str) -> bool {
    path == root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/'))
}

/// Why a host path is a runtime socket or sensitive: `Some((true, ..))` for a runtime socket.
pub fn classify(raw: &str) -> Option<(bool, String)> {
    let path = normalize(raw);
    let file = path.rsplit('/').next().unwrap_or("");
    if SOCKET_FILES.contains(&file) {
        return Some((true, format!("{path} is a container runtime socket")));
    }
    if let Some(dir) = SOCKET_DIRS.iter().find(|d| under(&path, d)) {
        return Some((
            true,
            format!("{path} holds the container runtime socket ({dir})"),
        ));
    }
    if HARMLESS.contains(&path.as_str()) {
        return None;
    }
    if SENSITIVE_EXACT.contains(&path.as_str()) {
        return Some((
            false,
            format!(
                "{path} exposes the node's {}",
                if path == "/" {
                    "entire filesystem"
                } else {
                    "system directories"
                }
            ),
        ));
    }
    SENSITIVE_TREES
        .iter()
        .filter(|t| under(&path, t))
        .max_by_key(|t| t.len())
        .map(|t| {
            let why = if path == *t {
                format!("{path} is a sensitive host directory")
            } else {
                format!("{path} is under the sensitive host directory {t}")
            };
            (false, why)
        })
}

/// Runs the hostPath checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for (obj, t) in workloads(inv) {
        let mut host_vols: BTreeMap<&str, &str> = BTreeMap::new();
        for (i, v) in t
            .spec
            .get("volumes")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let Some(path) = v.at(&["hostPath", "path"]).and_then(Node::as_str) else {
                continue;
            };
            let name = v.get("name").and_then(Node::as_str).unwrap_or("");
            host_vols.insert(name, path);
            let fp = spec_field(&t, &["volumes"])
                .index(i)
                .keys(&["hostPath", "path"]);
            match classify(path) {
                Some((true, why)) => RUNTIME_SOCKET.emit(sink, obj, &fp, None, format!("volume {name:?} mounts hostPath {path}: {why}; access to it is root on the node")),
                Some((false, why)) => SENSITIVE.emit(sink, obj, &fp, None, format!("volume {name:?} mounts hostPath {path}: {why}")),
                None => {}
            }
        }
        if host_vols.is_empty() {
            continue;
        }
        for c in t.containers() {
            for (j, m) in c
                .node
                .get("volumeMounts")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                let Some(name) = m.get("name").and_then(Node::as_str) else {
                    continue;
                };
                let Some(host) = host_vols.get(name) else {
                    continue;
                };
                if m.get("readOnly").and_then(Node::as_bool) == Some(true) {
                    continue;
                }
                let at = m.get("mountPath").and_then(Node::as_str).unwrap_or("?");
                WRITABLE.emit(
                    sink,
                    obj,
                    &c.field(&["volumeMounts"]).index(j).key("readOnly"),
                    cname(&c),
                    format!("{} mounts hostPath volume {name:?} ({host}) at {at} without readOnly: true", describe(&c)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify("/var/run/docker.sock").map(|c| c.0), Some(true));
        assert_eq!(
            classify("/run/containerd/containerd.sock").map(|c| c.0),
            Some(true)
        );
        assert_eq!(classify("/run/containerd").map(|c| c.0), Some(true));
        assert_eq!(
            classify("//var/run//crio/crio.sock").map(|c| c.0),
            Some(true)
        );
        assert_eq!(classify("/etc/").map(|c| c.0), Some(false));
        assert_eq!(classify("/").map(|c| c.0), Some(false));
        assert_eq!(classify("/var/lib/kubelet/pods").map(|c| c.0), Some(false));
        assert_eq!(classify("/proc/../etc/shadow").map(|c| c.0), Some(false));
        assert_eq!(classify("/etc/localtime"), None);
        assert_eq!(classify("/data/app"), None);
        assert_eq!(classify("/var/lib/app"), None);
        assert_eq!(classify("/etcetera"), None);
        assert_eq!(classify("/var/run/app"), None);
    }
}
