//! Security-context hardening: read-only root filesystem, user and group ids, capabilities,
//! seccomp and AppArmor (fields and deprecated annotations), and risky host sharing.
//!
//! Container checks here look at init, regular and ephemeral containers and skip Windows pods
//! (`spec.os.name: windows`), where these Linux settings do not exist.

use super::Check;
use super::util::{
    cname, describe, effective_sc, is_windows, pod_sc, spec_field, spec_true, workloads,
};
use crate::sink::Sink;
use palisade_model::{CheckId, ContainerRef, Node, PodTemplate, Severity};

const SC_DOC: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/";
const ESCAPE: &str = "https://attack.mitre.org/techniques/T1611/";

/// `hardening/read-only-root-filesystem`.
pub static READ_ONLY_ROOT_FILESYSTEM: Check = Check {
    id: CheckId::new("hardening/read-only-root-filesystem"),
    title: "Container root filesystem is writable",
    severity: Severity::Medium,
    category: "pod-security",
    rationale: "A writable root filesystem lets an intruder drop tools, modify binaries and persist changes inside the container. Mounting it read-only (with emptyDir volumes for the paths that must be written) removes that foothold.",
    remediation: "spec:\n  containers:\n  - name: app\n    securityContext:\n      readOnlyRootFilesystem: true\n    volumeMounts:\n    - name: tmp\n      mountPath: /tmp\n  volumes:\n  - name: tmp\n    emptyDir: {}\n",
    references: &[
        SC_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.7.3",
        "https://attack.mitre.org/techniques/T1525/",
    ],
};

/// `hardening/root-group`.
pub static ROOT_GROUP: Check = Check {
    id: CheckId::new("hardening/root-group"),
    title: "Pod or container runs with the root group (GID 0)",
    severity: Severity::Medium,
    category: "pod-security",
    rationale: "Group 0 owns many files on the node and in images (often group-writable). A process with runAsGroup 0, or a volume chowned to fsGroup 0, gains access to everything the root group can read or write.",
    remediation: "spec:\n  securityContext:\n    runAsGroup: 10001\n    fsGroup: 10001\n    supplementalGroups: [10001]\n",
    references: &[SC_DOC, "CIS Kubernetes Benchmark v1.9 §5.7.3"],
};

/// `hardening/low-user-id`.
pub static LOW_USER_ID: Check = Check {
    id: CheckId::new("hardening/low-user-id"),
    title: "Container UID is unset or below 10000",
    severity: Severity::Low,
    category: "pod-security",
    rationale: "UIDs below 10000 overlap with system and user accounts on the node; if the container escapes, it acts as that host user. An unset runAsUser leaves the choice to the image, which is often root. A high, explicit UID keeps the container's identity distinct from any host account.",
    remediation: "spec:\n  securityContext:\n    runAsNonRoot: true\n    runAsUser: 10001\n",
    references: &[SC_DOC, "CIS Kubernetes Benchmark v1.9 §5.2.7", ESCAPE],
};

/// `hardening/capability-sys-admin`.
pub static CAPABILITY_SYS_ADMIN: Check = Check {
    id: CheckId::new("hardening/capability-sys-admin"),
    title: "Container adds CAP_SYS_ADMIN",
    severity: Severity::High,
    category: "pod-security",
    rationale: "CAP_SYS_ADMIN is close to full root on the node: it allows mounting filesystems, using many namespace and cgroup operations, and underlies most known container escapes (for example the cgroup v1 release_agent technique).",
    remediation: "spec:\n  containers:\n  - name: app\n    securityContext:\n      capabilities:\n        drop: [ALL]\n",
    references: &[SC_DOC, "CIS Kubernetes Benchmark v1.9 §5.2.9", ESCAPE],
};

/// `hardening/capability-all-added`.
pub static CAPABILITY_ALL_ADDED: Check = Check {
    id: CheckId::new("hardening/capability-all-added"),
    title: "Container adds ALL capabilities",
    severity: Severity::High,
    category: "pod-security",
    rationale: "Adding ALL grants every Linux capability, including SYS_ADMIN, SYS_MODULE and SYS_PTRACE; apart from device access it is equivalent to a privileged container.",
    remediation: "spec:\n  containers:\n  - name: app\n    securityContext:\n      capabilities:\n        drop: [ALL]\n        add: [NET_BIND_SERVICE]\n",
    references: &[SC_DOC, "CIS Kubernetes Benchmark v1.9 §5.2.9", ESCAPE],
};

/// `hardening/capability-net-raw`.
pub static CAPABILITY_NET_RAW: Check = Check {
    id: CheckId::new("hardening/capability-net-raw"),
    title: "Container keeps or adds CAP_NET_RAW",
    severity: Severity::Medium,
    category: "pod-security",
    rationale: "CAP_NET_RAW is in the default capability set of most runtimes. It allows crafting raw packets, which enables ARP and DNS spoofing against other pods on the node and has been used in kernel exploits. Few applications need it (ping can use ICMP sockets instead).",
    remediation: "spec:\n  containers:\n  - name: app\n    securityContext:\n      capabilities:\n        drop: [ALL]\n",
    references: &[
        SC_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.2.8",
        "https://attack.mitre.org/techniques/T1557/",
    ],
};

/// `hardening/dangerous-capabilities`.
pub static DANGEROUS_CAPABILITIES: Check = Check {
    id: CheckId::new("hardening/dangerous-capabilities"),
    title: "Container adds a dangerous capability",
    severity: Severity::High,
    category: "pod-security",
    rationale: "Capabilities such as SYS_MODULE, SYS_PTRACE, SYS_RAWIO, DAC_READ_SEARCH, BPF, PERFMON, NET_ADMIN or MAC_ADMIN let a process load kernel code, read other processes' memory, bypass file permission checks or reconfigure the node's network and security modules; each has been used to break out of containers.",
    remediation: "spec:\n  containers:\n  - name: app\n    securityContext:\n      capabilities:\n        drop: [ALL]\n        add: [NET_BIND_SERVICE]\n",
    references: &[SC_DOC, "CIS Kubernetes Benchmark v1.9 §5.2.9", ESCAPE],
};

/// `hardening/seccomp-profile-not-set`.
pub static SECCOMP_PROFILE_NOT_SET: Check = Check {
    id: CheckId::new("hardening/seccomp-profile-not-set"),
    title: "No seccomp profile set for the container",
    severity: Severity::Medium,
    category: "pod-security",
    rationale: "Unless the kubelet runs with --seccomp-default, a container without a seccomp profile runs Unconfined and can call every system call, including those behind many kernel privilege-escalation bugs. Setting RuntimeDefault explicitly makes the protection independent of node configuration.",
    remediation: "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n",
    references: &[
        "https://kubernetes.io/docs/tutorials/security/seccomp/",
        "CIS Kubernetes Benchmark v1.9 §5.7.2",
        ESCAPE,
    ],
};

/// `hardening/apparmor-profile-not-set`.
pub static APPARMOR_PROFILE_NOT_SET: Check = Check {
    id: CheckId::new("hardening/apparmor-profile-not-set"),
    title: "No AppArmor profile set for the container",
    severity: Severity::Low,
    category: "pod-security",
    rationale: "Without an explicit AppArmor profile the container gets whatever the node's runtime applies by default, which differs between distributions and is nothing on nodes without AppArmor enabled. Declaring RuntimeDefault (or a Localhost profile) makes the confinement visible and enforced where AppArmor is available.",
    remediation: "spec:\n  securityContext:\n    appArmorProfile:\n      type: RuntimeDefault\n",
    references: &[
        "https://kubernetes.io/docs/tutorials/security/apparmor/",
        "CIS Kubernetes Benchmark v1.9 §5.7.3",
    ],
};

/// `hardening/deprecated-seccomp-annotation`.
pub static DEPRECATED_SECCOMP_ANNOTATION: Check = Check {
    id: CheckId::new("hardening/deprecated-seccomp-annotation"),
    title: "Seccomp profile set with a deprecated annotation",
    severity: Severity::Low,
    category: "pod-security",
    rationale: "The seccomp.security.alpha.kubernetes.io/pod and container.seccomp.security.alpha.kubernetes.io/<container> annotations were replaced by the securityContext.seccompProfile field (GA in Kubernetes 1.19). Support for the annotations has been winding down since Kubernetes 1.25 (the API server no longer keeps them in sync with the field), so a profile declared only this way risks silently not being applied on newer clusters.",
    remediation: "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n",
    references: &[
        "https://kubernetes.io/docs/tutorials/security/seccomp/",
        "CIS Kubernetes Benchmark v1.9 §5.7.2",
    ],
};

/// `hardening/deprecated-apparmor-annotation`.
pub static DEPRECATED_APPARMOR_ANNOTATION: Check = Check {
    id: CheckId::new("hardening/deprecated-apparmor-annotation"),
    title: "AppArmor profile set with a deprecated annotation",
    severity: Severity::Low,
    category: "pod-security",
    rationale: "The container.apparmor.security.beta.kubernetes.io/<container> annotation was replaced by the securityContext.appArmorProfile field (GA in Kubernetes 1.30). The annotation is deprecated; the field is the supported way and is what current tooling and admission policies read.",
    remediation: "spec:\n  containers:\n  - name: app\n    securityContext:\n      appArmorProfile:\n        type: Localhost\n        localhostProfile: k8s-app\n",
    references: &["https://kubernetes.io/docs/tutorials/security/apparmor/"],
};

/// `hardening/apparmor-annotation-unknown-container`.
pub static APPARMOR_ANNOTATION_UNKNOWN_CONTAINER: Check = Check {
    id: CheckId::new("hardening/apparmor-annotation-unknown-container"),
    title: "AppArmor annotation names a container that is not in the pod",
    severity: Severity::Medium,
    category: "pod-security",
    rationale: "The AppArmor annotation key ends with a container name. When it names a container that does not exist (a typo, or the pod or workload name by mistake), no container gets the intended profile and nothing warns about it.",
    remediation: "spec:\n  template:\n    metadata:\n      annotations:\n        container.apparmor.security.beta.kubernetes.io/app: runtime/default\n    spec:\n      containers:\n      - name: app\n",
    references: &["https://kubernetes.io/docs/tutorials/security/apparmor/"],
};

/// `hardening/privileged-host-pid`.
pub static PRIVILEGED_HOST_PID: Check = Check {
    id: CheckId::new("hardening/privileged-host-pid"),
    title: "Privileged container in a pod that shares the host PID namespace",
    severity: Severity::Critical,
    category: "pod-security",
    rationale: "A privileged container that sees the node's processes can enter the namespaces of PID 1 (nsenter --target 1 --mount --uts --ipc --net --pid) and get a root shell on the node: a one-command node takeover.",
    remediation: "spec:\n  hostPID: false\n  containers:\n  - name: app\n    securityContext:\n      privileged: false\n",
    references: &[
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
        "CIS Kubernetes Benchmark v1.9 §5.2.2",
        "CIS Kubernetes Benchmark v1.9 §5.2.3",
        ESCAPE,
    ],
};

/// `hardening/share-process-namespace`.
pub static SHARE_PROCESS_NAMESPACE: Check = Check {
    id: CheckId::new("hardening/share-process-namespace"),
    title: "Containers of the pod share one process namespace",
    severity: Severity::Low,
    category: "pod-security",
    rationale: "With shareProcessNamespace every container sees and can signal the others' processes, and can read their environment and filesystem through /proc/<pid>/root. A compromise of one container (a sidecar, say) exposes the secrets of all of them.",
    remediation: "spec:\n  shareProcessNamespace: false\n",
    references: &[
        "https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/",
    ],
};

/// `hardening/host-network-host-port`.
pub static HOST_NETWORK_HOST_PORT: Check = Check {
    id: CheckId::new("hardening/host-network-host-port"),
    title: "Host port opened by a pod on the host network",
    severity: Severity::Medium,
    category: "network",
    rationale: "With hostNetwork the container binds directly on every interface of the node, outside NetworkPolicy control, and its hostPort is reachable from anywhere the node is. Such ports are often forgotten administrative endpoints.",
    remediation: "spec:\n  hostNetwork: false\n  containers:\n  - name: app\n    ports:\n    - containerPort: 8080\n",
    references: &[
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
        "CIS Kubernetes Benchmark v1.9 §5.2.5",
        "CIS Kubernetes Benchmark v1.9 §5.2.13",
    ],
};

/// `hardening/host-aliases`.
pub static HOST_ALIASES: Check = Check {
    id: CheckId::new("hardening/host-aliases"),
    title: "Pod overrides name resolution with hostAliases",
    severity: Severity::Low,
    category: "workload",
    rationale: "hostAliases writes entries into the pod's /etc/hosts, bypassing cluster DNS. It can silently redirect traffic for well-known names and hides dependencies on fixed IP addresses.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: backend\nspec:\n  type: ExternalName\n  externalName: backend.example.com\n",
    references: &["https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/"],
};

/// Capabilities (besides ALL, SYS_ADMIN and NET_RAW, which have their own checks) reported by
/// [`DANGEROUS_CAPABILITIES`], with what each allows.
const DANGEROUS: &[(&str, &str)] = &[
    ("SYS_MODULE", "load kernel modules"),
    ("SYS_PTRACE", "trace and inject code into other processes"),
    ("SYS_RAWIO", "raw I/O on devices and ports"),
    ("SYS_BOOT", "reboot the node or load a new kernel"),
    ("SYS_TIME", "set the node clock"),
    (
        "DAC_READ_SEARCH",
        "bypass file read permission checks (open_by_handle_at escapes)",
    ),
    ("BPF", "load eBPF programs into the kernel"),
    ("PERFMON", "use perf and BPF tracing on the node"),
    (
        "NET_ADMIN",
        "reconfigure interfaces, routes and firewall rules",
    ),
    ("MAC_ADMIN", "change the AppArmor/SELinux policy"),
    ("MAC_OVERRIDE", "override AppArmor/SELinux decisions"),
    ("SYSLOG", "read the kernel log, including kernel addresses"),
];

/// A capability name as runtimes accept it: upper-case, without the `CAP_` prefix.
pub(crate) fn normalize_cap(raw: &str) -> String {
    let up = raw.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_owned).unwrap_or(up)
}

/// Runs the security-context checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for (obj, t) in workloads(inv) {
        pod_level(sink, obj, &t);
        let windows = is_windows(&t);
        for c in t.containers() {
            if !windows {
                read_only_root(sink, obj, &c);
                user_id(sink, obj, &t, &c);
                capabilities(sink, obj, &c);
                seccomp(sink, obj, &t, &c);
                apparmor(sink, obj, &t, &c);
            }
            privileged_host_pid(sink, obj, &t, &c);
            host_port(sink, obj, &t, &c);
        }
        annotations(sink, obj, &t);
    }
}

fn pod_level(sink: &mut Sink<'_>, obj: &palisade_model::Object, t: &PodTemplate<'_>) {
    if !is_windows(t) {
        for key in ["runAsGroup", "fsGroup"] {
            if let Some((n, path)) = pod_sc(t, key)
                && n.as_i64() == Some(0)
            {
                ROOT_GROUP.emit(
                    sink,
                    obj,
                    &path,
                    None,
                    format!("pod securityContext.{key} is 0 (the root group)"),
                );
            }
        }
        if let Some((n, path)) = pod_sc(t, "supplementalGroups") {
            for (i, g) in n.items().iter().enumerate() {
                if g.as_i64() == Some(0) {
                    ROOT_GROUP.emit(
                        sink,
                        obj,
                        &path.index(i),
                        None,
                        "pod securityContext.supplementalGroups includes 0 (the root group)".into(),
                    );
                }
            }
        }
    }
    if spec_true(t, "shareProcessNamespace") {
        let names: Vec<_> = t.containers().map(|c| c.name).collect();
        SHARE_PROCESS_NAMESPACE.emit(
            sink,
            obj,
            &spec_field(t, &["shareProcessNamespace"]),
            None,
            format!("shareProcessNamespace: true lets containers {} see and signal each other's processes", names.join(", ")),
        );
    }
    if let Some(aliases) = t.spec.get("hostAliases").filter(|n| !n.items().is_empty()) {
        let mut entries = Vec::new();
        for a in aliases.items() {
            let ip = a.get("ip").and_then(Node::as_str).unwrap_or("?");
            let names: Vec<_> = a
                .get("hostnames")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .filter_map(Node::as_str)
                .collect();
            entries.push(format!("{} -> {ip}", names.join(",")));
        }
        HOST_ALIASES.emit(
            sink,
            obj,
            &spec_field(t, &["hostAliases"]),
            None,
            format!("hostAliases overrides /etc/hosts: {}", entries.join("; ")),
        );
    }
}

fn read_only_root(sink: &mut Sink<'_>, obj: &palisade_model::Object, c: &ContainerRef<'_>) {
    let node = c.security_context("readOnlyRootFilesystem");
    if node.and_then(Node::as_bool) == Some(true) {
        return;
    }
    let msg = match node.filter(|n| !n.is_null()) {
        Some(n) => format!(
            "{} sets readOnlyRootFilesystem: {}; its root filesystem is writable",
            describe(c),
            n.as_str().unwrap_or("?")
        ),
        None => format!(
            "{} does not set securityContext.readOnlyRootFilesystem: true",
            describe(c)
        ),
    };
    let path = c.field(&["securityContext", "readOnlyRootFilesystem"]);
    READ_ONLY_ROOT_FILESYSTEM.emit(sink, obj, &path, cname(c), msg);
}

fn user_id(
    sink: &mut Sink<'_>,
    obj: &palisade_model::Object,
    t: &PodTemplate<'_>,
    c: &ContainerRef<'_>,
) {
    match effective_sc(t, c, "runAsUser") {
        Some((n, path)) => {
            if let Some(uid) = n.as_i64()
                && uid < 10000
            {
                let what = if uid == 0 { " (root)" } else { "" };
                LOW_USER_ID.emit(
                    sink,
                    obj,
                    &path,
                    cname(c),
                    format!("{} runs as UID {uid}{what}, below 10000", describe(c)),
                );
            }
        }
        None => {
            let path = c.field(&["securityContext", "runAsUser"]);
            LOW_USER_ID.emit(
                sink,
                obj,
                &path,
                cname(c),
                format!("{} sets no runAsUser (neither does the pod); the image's user, often root, is used", describe(c)),
            );
        }
    }
    if let Some(n) = c.security_context("runAsGroup")
        && n.as_i64() == Some(0)
    {
        let path = c.field(&["securityContext", "runAsGroup"]);
        ROOT_GROUP.emit(
            sink,
            obj,
            &path,
            cname(c),
            format!("{} sets runAsGroup: 0 (the root group)", describe(c)),
        );
    }
}

fn capabilities(sink: &mut Sink<'_>, obj: &palisade_model::Object, c: &ContainerRef<'_>) {
    let caps = c.security_context("capabilities");
    let add = caps
        .and_then(|n| n.get("add"))
        .map(Node::items)
        .unwrap_or(&[]);
    let drop = caps
        .and_then(|n| n.get("drop"))
        .map(Node::items)
        .unwrap_or(&[]);
    let add_path = c.field(&["securityContext", "capabilities", "add"]);
    let mut net_raw_added = false;
    for (i, cap) in add.iter().enumerate() {
        let Some(raw) = cap.as_str() else { continue };
        let name = normalize_cap(raw);
        let path = add_path.index(i);
        match name.as_str() {
            "SYS_ADMIN" => CAPABILITY_SYS_ADMIN.emit(
                sink,
                obj,
                &path,
                cname(c),
                format!("{} adds {raw}", describe(c)),
            ),
            "ALL" => CAPABILITY_ALL_ADDED.emit(
                sink,
                obj,
                &path,
                cname(c),
                format!("{} adds ALL capabilities", describe(c)),
            ),
            "NET_RAW" => {
                net_raw_added = true;
                CAPABILITY_NET_RAW.emit(
                    sink,
                    obj,
                    &path,
                    cname(c),
                    format!("{} adds {raw}", describe(c)),
                );
            }
            other => {
                if let Some((_, what)) = DANGEROUS.iter().find(|(n, _)| *n == other) {
                    DANGEROUS_CAPABILITIES.emit(
                        sink,
                        obj,
                        &path,
                        cname(c),
                        format!("{} adds {raw}, which allows it to {what}", describe(c)),
                    );
                }
            }
        }
    }
    if !net_raw_added {
        let dropped = drop
            .iter()
            .filter_map(Node::as_str)
            .map(normalize_cap)
            .any(|d| d == "NET_RAW" || d == "ALL");
        if !dropped {
            let path = c.field(&["securityContext", "capabilities", "drop"]);
            CAPABILITY_NET_RAW.emit(
                sink,
                obj,
                &path,
                cname(c),
                format!(
                    "{} does not drop NET_RAW (capabilities.drop has neither NET_RAW nor ALL)",
                    describe(c)
                ),
            );
        }
    }
}

fn seccomp(
    sink: &mut Sink<'_>,
    obj: &palisade_model::Object,
    t: &PodTemplate<'_>,
    c: &ContainerRef<'_>,
) {
    if effective_sc(t, c, "seccompProfile").is_some() {
        return;
    }
    let container_key = format!("container.seccomp.security.alpha.kubernetes.io/{}", c.name);
    if t.annotation("seccomp.security.alpha.kubernetes.io/pod")
        .is_some()
        || t.annotation(&container_key).is_some()
    {
        return;
    }
    let path = c.field(&["securityContext", "seccompProfile"]);
    SECCOMP_PROFILE_NOT_SET.emit(
        sink,
        obj,
        &path,
        cname(c),
        format!("neither {} nor its pod sets securityContext.seccompProfile; it runs Unconfined unless the kubelet defaults to RuntimeDefault", describe(c)),
    );
}

fn apparmor(
    sink: &mut Sink<'_>,
    obj: &palisade_model::Object,
    t: &PodTemplate<'_>,
    c: &ContainerRef<'_>,
) {
    if effective_sc(t, c, "appArmorProfile").is_some() {
        return;
    }
    let key = format!("container.apparmor.security.beta.kubernetes.io/{}", c.name);
    if t.annotation(&key).is_some() {
        return;
    }
    let path = c.field(&["securityContext", "appArmorProfile"]);
    APPARMOR_PROFILE_NOT_SET.emit(
        sink,
        obj,
        &path,
        cname(c),
        format!(
            "neither {} nor its pod sets securityContext.appArmorProfile",
            describe(c)
        ),
    );
}

/// The field value equivalent to a deprecated seccomp/AppArmor annotation value.
fn profile_field_for(value: &str) -> String {
    match value {
        "runtime/default" | "docker/default" => "type: RuntimeDefault".into(),
        "unconfined" => "type: Unconfined".into(),
        v => match v.strip_prefix("localhost/") {
            Some(p) => format!("type: Localhost, localhostProfile: {p}"),
            None => format!("a profile equivalent to {v:?}"),
        },
    }
}

const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

fn annotations(sink: &mut Sink<'_>, obj: &palisade_model::Object, t: &PodTemplate<'_>) {
    let names: Vec<&str> = t.containers().map(|c| c.name).collect();
    for (key, value) in t.annotations() {
        let path = t.meta_path.keys(&["annotations", key]);
        let value = value.unwrap_or("");
        if key == SECCOMP_POD {
            DEPRECATED_SECCOMP_ANNOTATION.emit(
                sink,
                obj,
                &path,
                None,
                format!("annotation {key}: {value:?} is deprecated; set spec.securityContext.seccompProfile ({})", profile_field_for(value)),
            );
        } else if let Some(name) = key.strip_prefix(SECCOMP_CONTAINER) {
            DEPRECATED_SECCOMP_ANNOTATION.emit(
                sink,
                obj,
                &path,
                Some(name),
                format!("annotation {key}: {value:?} is deprecated; set securityContext.seccompProfile ({}) on container {name:?}", profile_field_for(value)),
            );
        } else if let Some(name) = key.strip_prefix(APPARMOR_CONTAINER) {
            let known = names.contains(&name);
            DEPRECATED_APPARMOR_ANNOTATION.emit(
                sink,
                obj,
                &path,
                Some(name).filter(|_| known),
                format!("annotation {key}: {value:?} is deprecated; set securityContext.appArmorProfile ({}) on container {name:?}", profile_field_for(value)),
            );
            if !known {
                let pod_name = obj.id.name.as_str();
                let hint = if name == pod_name {
                    format!(
                        " ({name:?} is the {} name; the key takes a container name)",
                        obj.id.kind
                    )
                } else {
                    String::new()
                };
                APPARMOR_ANNOTATION_UNKNOWN_CONTAINER.emit(
                    sink,
                    obj,
                    &path,
                    None,
                    format!("annotation {key} names container {name:?}, but the pod has only {}{hint}; no profile is applied", names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")),
                );
            }
        }
    }
}

fn privileged_host_pid(
    sink: &mut Sink<'_>,
    obj: &palisade_model::Object,
    t: &PodTemplate<'_>,
    c: &ContainerRef<'_>,
) {
    if !spec_true(t, "hostPID") {
        return;
    }
    if c.security_context("privileged").and_then(Node::as_bool) == Some(true) {
        let path = c.field(&["securityContext", "privileged"]);
        PRIVILEGED_HOST_PID.emit(
            sink,
            obj,
            &path,
            cname(c),
            format!("{} is privileged and the pod sets hostPID: true; it can enter the node's PID 1 namespaces and take over the node", describe(c)),
        );
    }
}

fn host_port(
    sink: &mut Sink<'_>,
    obj: &palisade_model::Object,
    t: &PodTemplate<'_>,
    c: &ContainerRef<'_>,
) {
    if !spec_true(t, "hostNetwork") {
        return;
    }
    for (i, p) in c
        .node
        .get("ports")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if let Some(hp) = p.get("hostPort").and_then(Node::as_i64).filter(|v| *v > 0) {
            let path = c.field(&["ports"]).index(i).key("hostPort");
            HOST_NETWORK_HOST_PORT.emit(
                sink,
                obj,
                &path,
                cname(c),
                format!("{} opens hostPort {hp} while the pod uses hostNetwork: true; it listens on every node interface", describe(c)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_normalize() {
        assert_eq!(normalize_cap("cap_sys_admin"), "SYS_ADMIN");
        assert_eq!(normalize_cap(" NET_RAW "), "NET_RAW");
        assert_eq!(normalize_cap("all"), "ALL");
    }

    #[test]
    fn annotation_values_map_to_fields() {
        assert_eq!(profile_field_for("runtime/default"), "type: RuntimeDefault");
        assert_eq!(
            profile_field_for("localhost/prof.json"),
            "type: Localhost, localhostProfile: prof.json"
        );
        assert_eq!(profile_field_for("unconfined"), "type: Unconfined");
    }
}
