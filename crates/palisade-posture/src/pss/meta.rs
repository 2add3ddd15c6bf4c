//! Titles, severities, rationale and remediation of the `pss/<checkID>` checks.

use super::checks::PssCheck;
use super::types::Level;
use palisade_model::{CheckMeta, Severity};
use std::borrow::Cow;

const PSS_DOC: &str = "https://kubernetes.io/docs/concepts/security/pod-security-standards/";
const PSA_DOC: &str = "https://kubernetes.io/docs/concepts/security/pod-security-admission/";

/// Default severity of a check. Baseline checks that hand a container the host (privileged
/// mode, Windows HostProcess) are critical; the other baseline checks are high; restricted
/// checks (hardening beyond known escalations) are medium.
pub fn severity(c: PssCheck) -> Severity {
    match c {
        PssCheck::Privileged | PssCheck::WindowsHostProcess => Severity::Critical,
        _ if c.level() == Level::Baseline => Severity::High,
        _ => Severity::Medium,
    }
}

struct Text {
    title: &'static str,
    rationale: &'static str,
    remediation: &'static str,
    anchor: &'static str,
}

fn text(c: PssCheck) -> Text {
    let t = |title, rationale, remediation, anchor| Text {
        title,
        rationale,
        remediation,
        anchor,
    };
    match c {
        PssCheck::AppArmorProfile => t(
            "AppArmor profile must not be Unconfined",
            "Disabling AppArmor removes a mandatory access control layer that confines what a container process may touch on the node.",
            "securityContext:\n  appArmorProfile:\n    type: RuntimeDefault   # or Localhost with localhostProfile\n# and no container.apparmor.security.beta.kubernetes.io/<c>: unconfined annotation",
            "baseline",
        ),
        PssCheck::CapabilitiesBaseline => t(
            "Only default capabilities may be added",
            "Capabilities beyond the container runtime's default set (SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, ...) give a container powers that lead to node compromise.",
            "securityContext:\n  capabilities:\n    add: []   # only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD,\n              # NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT",
            "baseline",
        ),
        PssCheck::HostNamespaces => t(
            "Host network, PID and IPC namespaces must not be shared",
            "Sharing the node's network, process or IPC namespace lets a pod sniff node traffic, reach node-local services, and see or signal every process on the node.",
            "spec:\n  hostNetwork: false\n  hostPID: false\n  hostIPC: false",
            "baseline",
        ),
        PssCheck::HostPathVolumes => t(
            "hostPath volumes are forbidden",
            "A hostPath volume exposes the node's filesystem (kubelet credentials, container runtime socket, /etc) to the pod.",
            "volumes:\n- name: data\n  emptyDir: {}   # or a persistentVolumeClaim instead of hostPath",
            "baseline",
        ),
        PssCheck::HostPorts => t(
            "hostPort must not be used",
            "A hostPort binds the node's network interface, bypassing network policy and exposing the container on every node address.",
            "ports:\n- containerPort: 8080   # no hostPort; expose with a Service",
            "baseline",
        ),
        PssCheck::HostProbesAndHostLifecycle => t(
            "Probes and lifecycle hooks must not set host",
            "A probe or lifecycle handler with a host makes the kubelet send requests to arbitrary addresses from the node (server-side request forgery).",
            "livenessProbe:\n  httpGet:\n    path: /healthz\n    port: 8080   # no host: the kubelet probes the pod IP",
            "baseline",
        ),
        PssCheck::Privileged => t(
            "Privileged containers are forbidden",
            "A privileged container has every capability and all host devices; it is equivalent to root on the node.",
            "securityContext:\n  privileged: false",
            "baseline",
        ),
        PssCheck::ProcMount => t(
            "procMount must be Default",
            "An Unmasked /proc exposes kernel interfaces that the default masks hide from containers.",
            "securityContext:\n  procMount: Default   # or remove the field",
            "baseline",
        ),
        PssCheck::SeLinuxOptions => t(
            "SELinux type must be a container type; user and role must not be set",
            "Custom SELinux users, roles or types can lift the confinement SELinux applies to containers.",
            "securityContext:\n  seLinuxOptions:\n    type: container_t   # or container_init_t, container_kvm_t, container_engine_t; no user or role",
            "baseline",
        ),
        PssCheck::SeccompProfileBaseline => t(
            "Seccomp profile must not be Unconfined",
            "An Unconfined seccomp profile lets the container make every system call, widening the kernel attack surface.",
            "securityContext:\n  seccompProfile:\n    type: RuntimeDefault   # or Localhost",
            "baseline",
        ),
        PssCheck::Sysctls => t(
            "Only safe sysctls may be set",
            "Sysctls outside the namespaced, isolated safe set can disable security mechanisms or affect every pod on the node.",
            "securityContext:\n  sysctls:\n  - name: net.ipv4.ip_local_port_range   # only sysctls of the safe set\n    value: \"32768 60999\"",
            "baseline",
        ),
        PssCheck::WindowsHostProcess => t(
            "Windows HostProcess containers are forbidden",
            "A Windows HostProcess container runs directly on the host with full access to it.",
            "securityContext:\n  windowsOptions:\n    hostProcess: false",
            "baseline",
        ),
        PssCheck::AllowPrivilegeEscalation => t(
            "allowPrivilegeEscalation must be false",
            "Without no_new_privs, set-user-ID binaries and file capabilities let a process gain more privileges than its parent.",
            "securityContext:\n  allowPrivilegeEscalation: false",
            "restricted",
        ),
        PssCheck::CapabilitiesRestricted => t(
            "Containers must drop ALL capabilities and add only NET_BIND_SERVICE",
            "Dropping every capability removes the default root powers (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...) a compromised process could abuse.",
            "securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]   # only if needed",
            "restricted",
        ),
        PssCheck::ProcMountRestricted => t(
            "procMount must be Default, even in a user namespace",
            "The restricted level keeps the default /proc masks even for pods with hostUsers: false.",
            "securityContext:\n  procMount: Default   # or remove the field",
            "restricted",
        ),
        PssCheck::RestrictedVolumes => t(
            "Only core volume types may be used",
            "Inline volume sources other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret reach node or network storage directly.",
            "volumes:\n- name: data\n  persistentVolumeClaim:\n    claimName: data   # instead of nfs, hostPath, iscsi, ...",
            "restricted",
        ),
        PssCheck::RunAsNonRoot => t(
            "Containers must run as non-root",
            "Running as root inside the container makes any container escape a root compromise of the node.",
            "spec:\n  securityContext:\n    runAsNonRoot: true   # pod level covers every container",
            "restricted",
        ),
        PssCheck::RunAsUser => t(
            "Containers must not run as UID 0",
            "runAsUser: 0 runs the container as root whatever the image says.",
            "securityContext:\n  runAsUser: 10001   # any non-zero UID",
            "restricted",
        ),
        PssCheck::SeccompProfileRestricted => t(
            "Seccomp profile must be RuntimeDefault or Localhost",
            "Without a seccomp profile, containers may make every system call the kernel offers.",
            "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault   # pod level covers every container",
            "restricted",
        ),
    }
}

/// Metadata of one check.
pub fn meta(c: PssCheck) -> CheckMeta {
    let t = text(c);
    CheckMeta {
        id: c.check_id(),
        title: Cow::Borrowed(t.title),
        severity: severity(c),
        category: Cow::Borrowed("pod-security"),
        rationale: Cow::Owned(format!(
            "{} Pod Security Standards {} level, PodSecurity check `{}`.",
            t.rationale,
            c.level(),
            c.id()
        )),
        remediation: Cow::Borrowed(t.remediation),
        references: vec![
            Cow::Owned(format!("{PSS_DOC}#{}", t.anchor)),
            Cow::Borrowed(PSA_DOC),
        ],
    }
}
