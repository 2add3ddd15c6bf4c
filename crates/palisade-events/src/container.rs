//! Container ids from cgroup paths.
//!
//! Container runtimes name the cgroup of a container after its id. The forms recognised, nearest
//! the root first (so a container inside a container reports the outer one, as Tracee does):
//! `docker-<id>.scope`, `crio-<id>.scope` (not `crio-conmon-`), `cri-containerd-<id>.scope`,
//! `libpod-<id>.scope`, `<runtime>:cri-containerd:<id>` (cgroupfs driver), and a bare component of
//! 64 hexadecimal digits (Docker's and containerd's cgroupfs layout, runc's `--cgroup-manager
//! cgroupfs` default when the caller names the cgroup after the id).

use serde::{Deserialize, Serialize};

/// The runtime a cgroup path points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Docker (moby).
    Docker,
    /// containerd (CRI plugin or plain).
    Containerd,
    /// CRI-O.
    Crio,
    /// Podman.
    Podman,
    /// A 64-hex id whose runtime cannot be told from the path.
    Unknown,
}

/// A container recognised in a cgroup path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRef {
    /// Container id.
    pub id: String,
    /// The runtime, as far as the path tells.
    pub runtime: Runtime,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container a cgroup path (from `/proc/<pid>/cgroup` or the cgroupfs) belongs to.
pub fn from_cgroup_path(path: &str) -> Option<ContainerRef> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate() {
        let c = comp.strip_suffix(".scope").unwrap_or(comp);
        let prefixed = [
            ("docker-", Runtime::Docker),
            ("cri-containerd-", Runtime::Containerd),
            ("libpod-", Runtime::Podman),
        ];
        for (p, rt) in prefixed {
            if let Some(id) = c.strip_prefix(p)
                && id.len() >= 28
                && id.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Some(ContainerRef {
                    id: id.into(),
                    runtime: rt,
                });
            }
        }
        if let Some(id) = c.strip_prefix("crio-")
            && !id.starts_with("conmon-")
            && id.len() >= 28
            && id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(ContainerRef {
                id: id.into(),
                runtime: Runtime::Crio,
            });
        }
        if let Some(pos) = c.find(":cri-containerd:") {
            let id = &c[pos + ":cri-containerd:".len()..];
            if !id.is_empty() {
                return Some(ContainerRef {
                    id: id.into(),
                    runtime: Runtime::Containerd,
                });
            }
        }
        if is_hex64(c) {
            let prev = if i > 0 { comps[i - 1] } else { "" };
            let runtime = if prev == "docker" || prev == "actions_job" {
                Runtime::Docker
            } else if prev.starts_with("pod") || prev.contains("kubepods") {
                Runtime::Containerd
            } else {
                Runtime::Unknown
            };
            return Some(ContainerRef {
                id: c.into(),
                runtime,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f9a1c0e5b7d2a4f6e8c0b1d3a5f7e9c2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";

    #[test]
    fn forms() {
        let cases = [
            (
                format!("/system.slice/docker-{ID}.scope"),
                Some(Runtime::Docker),
            ),
            (format!("/docker/{ID}"), Some(Runtime::Docker)),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{ID}.scope"
                ),
                Some(Runtime::Containerd),
            ),
            (
                format!("/kubepods/besteffort/pod123/{ID}"),
                Some(Runtime::Containerd),
            ),
            (
                format!("/machine.slice/crio-{ID}.scope"),
                Some(Runtime::Crio),
            ),
            (
                format!("/machine.slice/libpod-{ID}.scope"),
                Some(Runtime::Podman),
            ),
            (
                format!("/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:{ID}"),
                Some(Runtime::Containerd),
            ),
            (format!("/palisade-test/{ID}"), Some(Runtime::Unknown)),
            ("/user.slice/user-0.slice/session-3.scope".to_string(), None),
            (format!("/machine.slice/crio-conmon-{ID}.scope"), None),
            ("/".to_string(), None),
        ];
        for (path, rt) in cases {
            let got = from_cgroup_path(&path);
            assert_eq!(got.as_ref().map(|c| c.runtime), rt, "{path}");
            if let Some(c) = got {
                assert_eq!(c.id, ID, "{path}");
            }
        }
    }

    #[test]
    fn outermost_wins() {
        let inner = "a".repeat(64);
        let path = format!("/docker/{ID}/docker/{inner}");
        assert_eq!(from_cgroup_path(&path).unwrap().id, ID);
    }
}
