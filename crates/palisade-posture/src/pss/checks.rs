//! The 19 PodSecurity checks, their versions and overrides, and the evaluator.
//!
//! Each check reads the pod spec the way the API server's decoder would hand it to PodSecurity:
//! a pointer field (`securityContext`, `privileged`, ...) is unset when missing, null or of the
//! wrong type; a string field inside a present struct reads as `""` when missing.

use super::quote::{go_quote, join_quote, pluralize};
use super::types::{Level, Policy, PssOptions};
use palisade_model::{CheckId, ContainerRef, FieldPath, Node, PodTemplate};
use std::collections::{BTreeMap, BTreeSet};

/// One PodSecurity check, identified by its PSA check ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PssCheck {
    /// `appArmorProfile` (baseline).
    AppArmorProfile,
    /// `capabilities_baseline` (baseline).
    CapabilitiesBaseline,
    /// `hostNamespaces` (baseline).
    HostNamespaces,
    /// `hostPathVolumes` (baseline).
    HostPathVolumes,
    /// `hostPorts` (baseline).
    HostPorts,
    /// `hostProbesAndHostLifecycle` (baseline, v1.34+).
    HostProbesAndHostLifecycle,
    /// `privileged` (baseline).
    Privileged,
    /// `procMount` (baseline).
    ProcMount,
    /// `seLinuxOptions` (baseline).
    SeLinuxOptions,
    /// `seccompProfile_baseline` (baseline).
    SeccompProfileBaseline,
    /// `sysctls` (baseline).
    Sysctls,
    /// `windowsHostProcess` (baseline).
    WindowsHostProcess,
    /// `allowPrivilegeEscalation` (restricted, v1.8+).
    AllowPrivilegeEscalation,
    /// `capabilities_restricted` (restricted, v1.22+).
    CapabilitiesRestricted,
    /// `procMount_restricted` (restricted, v1.35+).
    ProcMountRestricted,
    /// `restrictedVolumes` (restricted).
    RestrictedVolumes,
    /// `runAsNonRoot` (restricted).
    RunAsNonRoot,
    /// `runAsUser` (restricted, v1.23+).
    RunAsUser,
    /// `seccompProfile_restricted` (restricted, v1.19+).
    SeccompProfileRestricted,
}

impl PssCheck {
    /// Every check in PodSecurity's evaluation order: baseline IDs sorted, then restricted IDs
    /// sorted (byte order).
    pub const ALL: [PssCheck; 19] = [
        PssCheck::AppArmorProfile,
        PssCheck::CapabilitiesBaseline,
        PssCheck::HostNamespaces,
        PssCheck::HostPathVolumes,
        PssCheck::HostPorts,
        PssCheck::HostProbesAndHostLifecycle,
        PssCheck::Privileged,
        PssCheck::ProcMount,
        PssCheck::SeLinuxOptions,
        PssCheck::SeccompProfileBaseline,
        PssCheck::Sysctls,
        PssCheck::WindowsHostProcess,
        PssCheck::AllowPrivilegeEscalation,
        PssCheck::CapabilitiesRestricted,
        PssCheck::ProcMountRestricted,
        PssCheck::RestrictedVolumes,
        PssCheck::RunAsNonRoot,
        PssCheck::RunAsUser,
        PssCheck::SeccompProfileRestricted,
    ];

    /// The PSA check ID (`runAsNonRoot`, `capabilities_baseline`, ...).
    pub const fn id(self) -> &'static str {
        match self {
            PssCheck::AppArmorProfile => "appArmorProfile",
            PssCheck::CapabilitiesBaseline => "capabilities_baseline",
            PssCheck::HostNamespaces => "hostNamespaces",
            PssCheck::HostPathVolumes => "hostPathVolumes",
            PssCheck::HostPorts => "hostPorts",
            PssCheck::HostProbesAndHostLifecycle => "hostProbesAndHostLifecycle",
            PssCheck::Privileged => "privileged",
            PssCheck::ProcMount => "procMount",
            PssCheck::SeLinuxOptions => "seLinuxOptions",
            PssCheck::SeccompProfileBaseline => "seccompProfile_baseline",
            PssCheck::Sysctls => "sysctls",
            PssCheck::WindowsHostProcess => "windowsHostProcess",
            PssCheck::AllowPrivilegeEscalation => "allowPrivilegeEscalation",
            PssCheck::CapabilitiesRestricted => "capabilities_restricted",
            PssCheck::ProcMountRestricted => "procMount_restricted",
            PssCheck::RestrictedVolumes => "restrictedVolumes",
            PssCheck::RunAsNonRoot => "runAsNonRoot",
            PssCheck::RunAsUser => "runAsUser",
            PssCheck::SeccompProfileRestricted => "seccompProfile_restricted",
        }
    }

    /// The Palisade check id, `pss/<PSA check ID>`.
    pub const fn check_id(self) -> CheckId {
        CheckId::new(match self {
            PssCheck::AppArmorProfile => "pss/appArmorProfile",
            PssCheck::CapabilitiesBaseline => "pss/capabilities_baseline",
            PssCheck::HostNamespaces => "pss/hostNamespaces",
            PssCheck::HostPathVolumes => "pss/hostPathVolumes",
            PssCheck::HostPorts => "pss/hostPorts",
            PssCheck::HostProbesAndHostLifecycle => "pss/hostProbesAndHostLifecycle",
            PssCheck::Privileged => "pss/privileged",
            PssCheck::ProcMount => "pss/procMount",
            PssCheck::SeLinuxOptions => "pss/seLinuxOptions",
            PssCheck::SeccompProfileBaseline => "pss/seccompProfile_baseline",
            PssCheck::Sysctls => "pss/sysctls",
            PssCheck::WindowsHostProcess => "pss/windowsHostProcess",
            PssCheck::AllowPrivilegeEscalation => "pss/allowPrivilegeEscalation",
            PssCheck::CapabilitiesRestricted => "pss/capabilities_restricted",
            PssCheck::ProcMountRestricted => "pss/procMount_restricted",
            PssCheck::RestrictedVolumes => "pss/restrictedVolumes",
            PssCheck::RunAsNonRoot => "pss/runAsNonRoot",
            PssCheck::RunAsUser => "pss/runAsUser",
            PssCheck::SeccompProfileRestricted => "pss/seccompProfile_restricted",
        })
    }

    /// The check with PSA check ID `id`.
    pub fn from_id(id: &str) -> Option<PssCheck> {
        PssCheck::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The level the check belongs to.
    pub const fn level(self) -> Level {
        match self {
            PssCheck::AllowPrivilegeEscalation
            | PssCheck::CapabilitiesRestricted
            | PssCheck::ProcMountRestricted
            | PssCheck::RestrictedVolumes
            | PssCheck::RunAsNonRoot
            | PssCheck::RunAsUser
            | PssCheck::SeccompProfileRestricted => Level::Restricted,
            _ => Level::Baseline,
        }
    }

    /// The first policy minor version the check exists in.
    pub const fn since_minor(self) -> u64 {
        match self {
            PssCheck::HostProbesAndHostLifecycle => 34,
            PssCheck::AllowPrivilegeEscalation => 8,
            PssCheck::CapabilitiesRestricted => 22,
            PssCheck::ProcMountRestricted => 35,
            PssCheck::RunAsUser => 23,
            PssCheck::SeccompProfileRestricted => 19,
            _ => 0,
        }
    }

    /// The policy minor versions at which the check changes (its PSA `MinimumVersion`s).
    pub fn versions(self) -> &'static [u64] {
        match self {
            PssCheck::ProcMount => &[0, 35],
            PssCheck::SeLinuxOptions => &[0, 31],
            PssCheck::SeccompProfileBaseline => &[0, 19],
            PssCheck::Sysctls => &[0, 27, 29, 32, 37],
            PssCheck::HostProbesAndHostLifecycle => &[34],
            PssCheck::AllowPrivilegeEscalation => &[8, 25],
            PssCheck::CapabilitiesRestricted => &[22, 25],
            PssCheck::ProcMountRestricted => &[35],
            PssCheck::RunAsNonRoot => &[0, 35],
            PssCheck::RunAsUser => &[23, 35],
            PssCheck::SeccompProfileRestricted => &[19, 25],
            _ => &[0],
        }
    }

    /// The baseline check this restricted check replaces at the restricted level.
    pub const fn overrides(self) -> Option<PssCheck> {
        match self {
            PssCheck::CapabilitiesRestricted => Some(PssCheck::CapabilitiesBaseline),
            PssCheck::RestrictedVolumes => Some(PssCheck::HostPathVolumes),
            PssCheck::SeccompProfileRestricted => Some(PssCheck::SeccompProfileBaseline),
            PssCheck::ProcMountRestricted => Some(PssCheck::ProcMount),
            _ => None,
        }
    }

    fn exists_at(self, minor: u64) -> bool {
        minor >= self.since_minor()
    }
}

impl std::fmt::Display for PssCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The checks run for `level` at policy minor `minor`, in PodSecurity's order.
pub fn active_checks(level: Level, minor: u64) -> Vec<PssCheck> {
    match level {
        Level::Privileged => Vec::new(),
        Level::Baseline => PssCheck::ALL
            .into_iter()
            .filter(|c| c.level() == Level::Baseline && c.exists_at(minor))
            .collect(),
        Level::Restricted => {
            let overridden: Vec<PssCheck> = PssCheck::ALL
                .into_iter()
                .filter(|c| c.level() == Level::Restricted && c.exists_at(minor))
                .filter_map(PssCheck::overrides)
                .collect();
            PssCheck::ALL
                .into_iter()
                .filter(|c| c.exists_at(minor) && !overridden.contains(c))
                .collect()
        }
    }
}

/// One failed check, with PodSecurity's reason and detail text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Which check failed.
    pub check: PssCheck,
    /// PSA's `ForbiddenReason` (`allowPrivilegeEscalation != false`).
    pub reason: String,
    /// PSA's `ForbiddenDetail` (`container "app" must set ...`); may be empty.
    pub detail: String,
    /// Object-relative paths of the offending fields (the nearest existing parent when the
    /// field is missing), most useful first.
    pub fields: Vec<FieldPath>,
    /// Names of the containers concerned, in visit order, without duplicates.
    pub containers: Vec<String>,
}

impl CheckResult {
    /// `reason (detail)`, or just the reason when the detail is empty, as PSA joins them.
    pub fn text(&self) -> String {
        if self.detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// PodSecurity's aggregate message for failed checks:
/// `violates PodSecurity "restricted:latest": <reason> (<detail>), <reason> (<detail>)`.
pub fn message(policy: Policy, results: &[CheckResult]) -> String {
    let body: Vec<String> = results.iter().map(CheckResult::text).collect();
    format!("violates PodSecurity \"{policy}\": {}", body.join(", "))
}

/// Evaluates a pod (or pod template) against a policy. Returns the failed checks in
/// PodSecurity's order; an empty list means the pod is allowed.
pub fn evaluate(t: &PodTemplate<'_>, policy: Policy, opts: &PssOptions) -> Vec<CheckResult> {
    let minor = policy.version.effective_minor(opts.max_policy_minor());
    let checks = active_checks(policy.level, minor);
    if checks.is_empty() {
        return Vec::new();
    }
    let ctx = Ctx::new(t, opts);
    checks
        .into_iter()
        .filter_map(|c| {
            let f = run_check(c, minor, &ctx)?;
            Some(CheckResult {
                check: c,
                reason: f.reason,
                detail: f.detail,
                fields: f.fields.into_iter().map(|p| ctx.nearest(p)).collect(),
                containers: f.containers,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading the spec with Go decoding semantics.

/// A child that decodes into a Go struct pointer: present only when it is a mapping.
fn obj<'a>(n: Option<&'a Node>, key: &str) -> Option<&'a Node> {
    n?.get(key).filter(|v| v.is_map())
}

/// A `*bool` field.
fn opt_bool(n: Option<&Node>, key: &str) -> Option<bool> {
    n?.get(key)?.as_bool()
}

/// A `*string` field (nil when missing or null).
fn opt_str<'a>(n: Option<&'a Node>, key: &str) -> Option<&'a str> {
    n?.get(key)?.as_str()
}

/// A `string` field of a present struct (`""` when missing).
fn string<'a>(n: &'a Node, key: &str) -> &'a str {
    n.get(key).and_then(Node::as_str).unwrap_or("")
}

/// A `[]string` field; null items decode as `""`.
fn strings<'a>(n: &'a Node, key: &str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    n.get(key)
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.as_str().unwrap_or("")))
}

struct Ctx<'a> {
    root: &'a Node,
    meta_path: FieldPath,
    spec: &'a Node,
    spec_path: FieldPath,
    containers: Vec<ContainerRef<'a>>,
    annotations: BTreeMap<&'a str, &'a str>,
    opts: PssOptions,
}

impl<'a> Ctx<'a> {
    fn new(t: &PodTemplate<'a>, opts: &PssOptions) -> Self {
        let annotations = t
            .meta
            .and_then(|m| m.get("annotations"))
            .map(Node::entries)
            .unwrap_or(&[])
            .iter()
            .map(|e| (&*e.key, e.value.as_str().unwrap_or("")))
            .collect();
        Ctx {
            root: &t.object.node,
            meta_path: t.meta_path.clone(),
            spec: t.spec,
            spec_path: t.spec_path.clone(),
            containers: t.containers().collect(),
            annotations,
            opts: *opts,
        }
    }

    fn pod_sc(&self) -> Option<&'a Node> {
        obj(Some(self.spec), "securityContext")
    }

    fn pod_path(&self, keys: &[&str]) -> FieldPath {
        self.spec_path.keys(keys)
    }

    fn annotation_path(&self, key: &str) -> FieldPath {
        self.meta_path.key("annotations").key(key)
    }

    fn is_windows(&self) -> bool {
        obj(Some(self.spec), "os").is_some_and(|os| string(os, "name") == "windows")
    }

    fn host_users_false(&self) -> bool {
        opt_bool(Some(self.spec), "hostUsers") == Some(false)
    }

    /// Truncates `p` to its deepest prefix that exists in the object.
    fn nearest(&self, mut p: FieldPath) -> FieldPath {
        while !p.is_root() && p.resolve(self.root).is_none() {
            p.0.pop();
        }
        p
    }
}

fn csc<'a>(c: &ContainerRef<'a>) -> Option<&'a Node> {
    obj(Some(c.node), "securityContext")
}

/// What a failing check returns before field paths are resolved.
#[derive(Default)]
struct Fail {
    reason: String,
    detail: String,
    fields: Vec<FieldPath>,
    containers: Vec<String>,
}

impl Fail {
    fn new(reason: impl Into<String>, detail: String) -> Self {
        Fail {
            reason: reason.into(),
            detail,
            ..Default::default()
        }
    }

    fn with(mut self, fields: Vec<FieldPath>, containers: &[&str]) -> Self {
        self.fields = fields;
        for c in containers {
            if !self.containers.iter().any(|x| x == c) {
                self.containers.push((*c).to_owned());
            }
        }
        self
    }
}

fn containers_phrase(names: &[&str]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

fn list(set: &BTreeSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

fn run_check(c: PssCheck, minor: u64, ctx: &Ctx<'_>) -> Option<Fail> {
    let server = ctx.opts.server.minor;
    let gate = ctx.opts.user_namespaces_gate;
    // User-namespace relaxation: unconditional in the v1.35 checks; in 1.29–1.34 servers the
    // older checks relaxed behind an alpha feature gate.
    let relax = |since_server: u64| {
        ctx.host_users_false() && (minor >= 35 || (gate && (since_server..=34).contains(&server)))
    };
    match c {
        PssCheck::AppArmorProfile => app_armor(ctx, server >= 30),
        PssCheck::CapabilitiesBaseline => capabilities_baseline(ctx),
        PssCheck::HostNamespaces => host_namespaces(ctx),
        PssCheck::HostPathVolumes => host_path_volumes(ctx),
        PssCheck::HostPorts => host_ports(ctx),
        PssCheck::HostProbesAndHostLifecycle => host_probes(ctx),
        PssCheck::Privileged => privileged(ctx),
        PssCheck::ProcMount => {
            if relax(31) {
                None
            } else {
                proc_mount(ctx)
            }
        }
        PssCheck::SeLinuxOptions => se_linux(ctx, minor >= 31, server >= 26),
        PssCheck::SeccompProfileBaseline => {
            if minor < 19 {
                seccomp_annotations(ctx)
            } else {
                seccomp_fields(ctx, false)
            }
        }
        PssCheck::Sysctls => sysctls(ctx, minor),
        PssCheck::WindowsHostProcess => windows_host_process(ctx),
        PssCheck::AllowPrivilegeEscalation => {
            if minor >= 25 && ctx.is_windows() {
                None
            } else {
                allow_privilege_escalation(ctx)
            }
        }
        PssCheck::CapabilitiesRestricted => {
            if minor >= 25 && ctx.is_windows() {
                None
            } else {
                capabilities_restricted(ctx)
            }
        }
        PssCheck::ProcMountRestricted => proc_mount(ctx),
        PssCheck::RestrictedVolumes => restricted_volumes(ctx, server >= 33),
        PssCheck::RunAsNonRoot => {
            if relax(29) {
                None
            } else {
                run_as_non_root(ctx)
            }
        }
        PssCheck::RunAsUser => {
            if relax(29) {
                None
            } else {
                run_as_user(ctx)
            }
        }
        PssCheck::SeccompProfileRestricted => {
            if minor >= 25 && ctx.is_windows() {
                None
            } else {
                seccomp_fields(ctx, true)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Baseline checks.

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn app_armor(ctx: &Ctx<'_>, fields_supported: bool) -> Option<Fail> {
    let mut setters: Vec<String> = Vec::new();
    let mut values = BTreeSet::new();
    let mut fields = Vec::new();
    let mut bad_containers = Vec::new();
    let allowed_type = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    if fields_supported {
        if let Some(p) = obj(ctx.pod_sc(), "appArmorProfile") {
            let t = string(p, "type");
            if !allowed_type(t) {
                setters.push("pod".into());
                values.insert(t.to_owned());
                fields.push(ctx.pod_path(&["securityContext", "appArmorProfile", "type"]));
            }
        }
        for c in &ctx.containers {
            if let Some(p) = obj(csc(c), "appArmorProfile") {
                let t = string(p, "type");
                if !allowed_type(t) {
                    bad_containers.push(c.name);
                    values.insert(t.to_owned());
                    fields.push(c.field(&["securityContext", "appArmorProfile", "type"]));
                }
            }
        }
        if !bad_containers.is_empty() {
            setters.push(containers_phrase(&bad_containers));
        }
    }
    let mut annotations = Vec::new();
    for (k, v) in &ctx.annotations {
        let allowed = v.is_empty() || *v == "runtime/default" || v.starts_with("localhost/");
        if k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed {
            annotations.push(format!("{k}={}", go_quote(v)));
            fields.push(ctx.annotation_path(k));
        }
    }
    annotations.sort();
    if !fields_supported {
        if annotations.is_empty() {
            return None;
        }
        return Some(
            Fail::new(
                pluralize(
                    "forbidden AppArmor profile",
                    "forbidden AppArmor profiles",
                    annotations.len(),
                ),
                annotations.join(", "),
            )
            .with(fields, &[]),
        );
    }
    let mut bad_values: Vec<String> = values.into_iter().collect();
    if !annotations.is_empty() {
        setters.push(pluralize("annotation", "annotations", annotations.len()).into());
        bad_values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            pluralize(
                "forbidden AppArmor profile",
                "forbidden AppArmor profiles",
                bad_values.len(),
            ),
            format!(
                "{} must not set AppArmor profile type to {}",
                setters.join(" and "),
                join_quote(&bad_values)
            ),
        )
        .with(fields, &bad_containers),
    )
}

const CAPABILITIES_ALLOWED_BASELINE: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut caps = BTreeSet::new();
    let mut fields = Vec::new();
    for c in &ctx.containers {
        let Some(capabilities) = obj(csc(c), "capabilities") else {
            continue;
        };
        let mut valid = true;
        for (i, cap) in strings(capabilities, "add") {
            if !CAPABILITIES_ALLOWED_BASELINE.contains(&cap) {
                valid = false;
                caps.insert(cap.to_owned());
                fields.push(
                    c.field(&["securityContext", "capabilities", "add"])
                        .index(i),
                );
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "non-default capabilities",
            format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&bad),
                join_quote(&list(&caps))
            ),
        )
        .with(fields, &bad),
    )
}

fn host_namespaces(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut set = Vec::new();
    let mut fields = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if opt_bool(Some(ctx.spec), key) == Some(true) {
            set.push(format!("{key}=true"));
            fields.push(ctx.pod_path(&[key]));
        }
    }
    if set.is_empty() {
        return None;
    }
    Some(Fail::new("host namespaces", set.join(", ")).with(fields, &[]))
}

fn volumes<'a>(ctx: &Ctx<'a>) -> impl Iterator<Item = (usize, &'a Node)> + 'a {
    ctx.spec
        .get("volumes")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
}

fn host_path_volumes(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut names = Vec::new();
    let mut fields = Vec::new();
    for (i, v) in volumes(ctx) {
        if obj(Some(v), "hostPath").is_some() {
            names.push(string(v, "name"));
            fields.push(ctx.pod_path(&["volumes"]).index(i).key("hostPath"));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "hostPath volumes",
            format!(
                "{} {}",
                pluralize("volume", "volumes", names.len()),
                join_quote(&names)
            ),
        )
        .with(fields, &[]),
    )
}

fn host_ports(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    let mut fields = Vec::new();
    for c in &ctx.containers {
        let mut valid = true;
        let items = c.node.get("ports").map(Node::items).unwrap_or(&[]);
        for (i, p) in items.iter().enumerate() {
            let port = p
                .get("hostPort")
                .and_then(Node::as_i64)
                .filter(|v| i32::try_from(*v).is_ok())
                .unwrap_or(0);
            if port != 0 {
                valid = false;
                ports.insert(port.to_string());
                fields.push(c.field(&["ports"]).index(i).key("hostPort"));
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "hostPort",
            format!(
                "{} {} {} {}",
                containers_phrase(&bad),
                pluralize("uses", "use", bad.len()),
                pluralize("hostPort", "hostPorts", ports.len()),
                list(&ports).join(", ")
            ),
        )
        .with(fields, &bad),
    )
}

fn host_probes(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut fields = Vec::new();
    let mut visit_order = Vec::new();
    for c in &ctx.containers {
        let handlers = [
            (&["livenessProbe"][..], obj(Some(c.node), "livenessProbe")),
            (&["readinessProbe"][..], obj(Some(c.node), "readinessProbe")),
            (&["startupProbe"][..], obj(Some(c.node), "startupProbe")),
            (
                &["lifecycle", "postStart"][..],
                obj(obj(Some(c.node), "lifecycle"), "postStart"),
            ),
            (
                &["lifecycle", "preStop"][..],
                obj(obj(Some(c.node), "lifecycle"), "preStop"),
            ),
        ];
        for (path, handler) in handlers {
            for kind in ["httpGet", "tcpSocket"] {
                if let Some(h) = obj(handler, kind) {
                    let host = string(h, "host");
                    if !host.is_empty() {
                        bad.insert(c.name.to_owned());
                        hosts.insert(host.to_owned());
                        fields.push(c.path.keys(path).keys(&[kind, "host"]));
                        visit_order.push(c.name);
                    }
                }
            }
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "probe or lifecycle host",
            format!(
                "{} {} {} {} {}",
                pluralize("container", "containers", bad.len()),
                join_quote(&list(&bad)),
                pluralize("uses", "use", bad.len()),
                pluralize(
                    "probe or lifecycle host",
                    "probe or lifecycle hosts",
                    hosts.len()
                ),
                join_quote(&list(&hosts))
            ),
        )
        .with(fields, &visit_order),
    )
}

fn privileged(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut fields = Vec::new();
    for c in &ctx.containers {
        if opt_bool(csc(c), "privileged") == Some(true) {
            bad.push(c.name);
            fields.push(c.field(&["securityContext", "privileged"]));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "privileged",
            format!(
                "{} must not set securityContext.privileged=true",
                containers_phrase(&bad)
            ),
        )
        .with(fields, &bad),
    )
}

fn proc_mount(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    let mut fields = Vec::new();
    for c in &ctx.containers {
        if let Some(pm) = opt_str(csc(c), "procMount")
            && pm != "Default"
        {
            bad.push(c.name);
            types.insert(pm.to_owned());
            fields.push(c.field(&["securityContext", "procMount"]));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "procMount",
            format!(
                "{} must not set securityContext.procMount to {}",
                containers_phrase(&bad),
                join_quote(&list(&types))
            ),
        )
        .with(fields, &bad),
    )
}

fn se_linux(ctx: &Ctx<'_>, engine_allowed: bool, modern_detail: bool) -> Option<Fail> {
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut fields = Vec::new();
    let mut check = |opts: &Node, base: FieldPath| -> bool {
        let mut valid = true;
        let t = string(opts, "type");
        let allowed = matches!(
            t,
            "" | "container_t" | "container_init_t" | "container_kvm_t"
        ) || (engine_allowed && t == "container_engine_t");
        if !allowed {
            valid = false;
            bad_types.insert(t.to_owned());
            fields.push(base.key("type"));
        }
        if !string(opts, "user").is_empty() {
            valid = false;
            set_user = true;
            fields.push(base.key("user"));
        }
        if !string(opts, "role").is_empty() {
            valid = false;
            set_role = true;
            fields.push(base.key("role"));
        }
        valid
    };
    let mut setters = Vec::new();
    if let Some(o) = obj(ctx.pod_sc(), "seLinuxOptions")
        && !check(o, ctx.pod_path(&["securityContext", "seLinuxOptions"]))
    {
        setters.push("pod".to_owned());
    }
    let mut bad = Vec::new();
    for c in &ctx.containers {
        if let Some(o) = obj(csc(c), "seLinuxOptions")
            && !check(o, c.field(&["securityContext", "seLinuxOptions"]))
        {
            bad.push(c.name);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&list(&bad_types))
        ));
    }
    // Servers before 1.26 only mentioned user/role when a type was also bad.
    if modern_detail || !bad_types.is_empty() {
        if set_user {
            data.push("user may not be set".into());
        }
        if set_role {
            data.push("role may not be set".into());
        }
    }
    Some(
        Fail::new(
            "seLinuxOptions",
            format!(
                "{} set forbidden securityContext.seLinuxOptions: {}",
                setters.join(" and "),
                data.join("; ")
            ),
        )
        .with(fields, &bad),
    )
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn seccomp_annotations(ctx: &Ctx<'_>) -> Option<Fail> {
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let mut forbidden = BTreeSet::new();
    let mut fields = Vec::new();
    let mut bad = Vec::new();
    if let Some(v) = ctx.annotations.get(SECCOMP_POD_ANNOTATION)
        && !valid(v)
    {
        forbidden.insert(format!("{SECCOMP_POD_ANNOTATION}={}", go_quote(v)));
        fields.push(ctx.annotation_path(SECCOMP_POD_ANNOTATION));
    }
    for c in &ctx.containers {
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name);
        if let Some(v) = ctx.annotations.get(key.as_str())
            && !valid(v)
        {
            forbidden.insert(format!("{key}={}", go_quote(v)));
            fields.push(ctx.annotation_path(&key));
            bad.push(c.name);
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "seccompProfile",
            format!(
                "forbidden {} {}",
                pluralize("annotation", "annotations", forbidden.len()),
                list(&forbidden).join(", ")
            ),
        )
        .with(fields, &bad),
    )
}

/// `seccompProfile_baseline` (v1.19+) and, with `restricted`, `seccompProfile_restricted`.
fn seccomp_fields(ctx: &Ctx<'_>, restricted: bool) -> Option<Fail> {
    let valid = |t: &str| t == "Localhost" || t == "RuntimeDefault";
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut fields = Vec::new();
    let mut pod_set = false;
    let pod_field = ctx.pod_path(&["securityContext", "seccompProfile", "type"]);
    if let Some(p) = obj(ctx.pod_sc(), "seccompProfile") {
        let t = string(p, "type");
        if !valid(t) {
            setters.push("pod".to_owned());
            values.insert(t.to_owned());
            fields.push(pod_field.clone());
        } else {
            pod_set = true;
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_fields = Vec::new();
    for c in &ctx.containers {
        let field = c.field(&["securityContext", "seccompProfile", "type"]);
        if let Some(p) = obj(csc(c), "seccompProfile") {
            let t = string(p, "type");
            if !valid(t) {
                explicit.push(c.name);
                values.insert(t.to_owned());
                fields.push(field);
            }
        } else if !pod_set {
            implicit.push(c.name);
            implicit_fields.push(field);
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return Some(
            Fail::new(
                "seccompProfile",
                format!(
                    "{} must not set securityContext.seccompProfile.type to {}",
                    setters.join(" and "),
                    join_quote(&list(&values))
                ),
            )
            .with(fields, &explicit),
        );
    }
    if restricted && !implicit.is_empty() {
        let mut fields = vec![pod_field];
        fields.extend(implicit_fields);
        return Some(
            Fail::new(
                "seccompProfile",
                format!(
                    "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                    containers_phrase(&implicit)
                ),
            )
            .with(fields, &implicit),
        );
    }
    None
}

/// Sysctls allowed by the baseline policy, with the policy minor that allows them.
pub const SAFE_SYSCTLS: &[(&str, u64)] = &[
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
    ("net.ipv4.tcp_slow_start_after_idle", 37),
    ("net.ipv4.tcp_notsent_lowat", 37),
];

fn sysctls(ctx: &Ctx<'_>, minor: u64) -> Option<Fail> {
    let sc = ctx.pod_sc()?;
    let allowed = |name: &str| {
        SAFE_SYSCTLS
            .iter()
            .any(|(n, since)| *n == name && minor >= *since)
    };
    let mut forbidden = Vec::new();
    let mut fields = Vec::new();
    for (i, s) in sc
        .get("sysctls")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let name = string(s, "name");
        if !allowed(name) {
            forbidden.push(name);
            fields.push(
                ctx.pod_path(&["securityContext", "sysctls"])
                    .index(i)
                    .key("name"),
            );
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    Some(Fail::new("forbidden sysctls", forbidden.join(", ")).with(fields, &[]))
}

fn windows_host_process(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut fields = Vec::new();
    let pod_bad = opt_bool(obj(ctx.pod_sc(), "windowsOptions"), "hostProcess") == Some(true);
    if pod_bad {
        fields.push(ctx.pod_path(&["securityContext", "windowsOptions", "hostProcess"]));
    }
    for c in &ctx.containers {
        if opt_bool(obj(csc(c), "windowsOptions"), "hostProcess") == Some(true) {
            bad.push(c.name);
            fields.push(c.field(&["securityContext", "windowsOptions", "hostProcess"]));
        }
    }
    let mut setters = Vec::new();
    if pod_bad {
        setters.push("pod".to_owned());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "hostProcess",
            format!(
                "{} must not set securityContext.windowsOptions.hostProcess=true",
                setters.join(" and ")
            ),
        )
        .with(fields, &bad),
    )
}

// ---------------------------------------------------------------------------------------------
// Restricted checks.

fn allow_privilege_escalation(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut bad = Vec::new();
    let mut fields = Vec::new();
    for c in &ctx.containers {
        if opt_bool(csc(c), "allowPrivilegeEscalation") != Some(false) {
            bad.push(c.name);
            fields.push(c.field(&["securityContext", "allowPrivilegeEscalation"]));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "allowPrivilegeEscalation != false",
            format!(
                "{} must set securityContext.allowPrivilegeEscalation=false",
                containers_phrase(&bad)
            ),
        )
        .with(fields, &bad),
    )
}

fn capabilities_restricted(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = BTreeSet::new();
    let mut fields = Vec::new();
    let mut involved = Vec::new();
    for c in &ctx.containers {
        let drop_path = c.field(&["securityContext", "capabilities", "drop"]);
        let Some(caps) = obj(csc(c), "capabilities") else {
            missing_drop.push(c.name);
            involved.push(c.name);
            fields.push(drop_path);
            continue;
        };
        if !strings(caps, "drop").any(|(_, d)| d == "ALL") {
            missing_drop.push(c.name);
            involved.push(c.name);
            fields.push(drop_path);
        }
        let mut added_forbidden = false;
        for (i, a) in strings(caps, "add") {
            if a != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(a.to_owned());
                fields.push(
                    c.field(&["securityContext", "capabilities", "add"])
                        .index(i),
                );
            }
        }
        if added_forbidden {
            adding.push(c.name);
            involved.push(c.name);
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&list(&forbidden))
        ));
    }
    if details.is_empty() {
        return None;
    }
    Some(Fail::new("unrestricted capabilities", details.join("; ")).with(fields, &involved))
}

/// Volume sources `restrictedVolumes` allows (`image` only from 1.33 servers).
const ALLOWED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Volume sources `restrictedVolumes` names when it rejects them, in PSA's order.
const NAMED_RESTRICTED_VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

fn restricted_volumes(ctx: &Ctx<'_>, image_allowed: bool) -> Option<Fail> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut fields = Vec::new();
    for (i, v) in volumes(ctx) {
        let has = |k: &str| obj(Some(v), k).is_some();
        let allowed_source = ALLOWED_VOLUME_SOURCES
            .iter()
            .find(|k| (image_allowed || **k != "image") && has(k));
        if allowed_source.is_some() {
            continue;
        }
        let named = NAMED_RESTRICTED_VOLUME_SOURCES.iter().find(|k| has(k));
        if named.is_none() && !has("image") {
            // No source the API knows: defaulting makes it an emptyDir.
            continue;
        }
        names.push(string(v, "name"));
        let path = ctx.pod_path(&["volumes"]).index(i);
        match named {
            Some(k) => {
                types.insert((*k).to_owned());
                fields.push(path.key(k));
            }
            None => {
                types.insert("unknown".to_owned());
                fields.push(path.key("image"));
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "restricted volume types",
            format!(
                "{} {} {} {} {}",
                pluralize("volume", "volumes", names.len()),
                join_quote(&names),
                pluralize("uses", "use", names.len()),
                pluralize(
                    "restricted volume type",
                    "restricted volume types",
                    types.len()
                ),
                join_quote(&list(&types))
            ),
        )
        .with(fields, &[]),
    )
}

fn run_as_non_root(ctx: &Ctx<'_>) -> Option<Fail> {
    let mut setters = Vec::new();
    let mut fields = Vec::new();
    let pod_field = ctx.pod_path(&["securityContext", "runAsNonRoot"]);
    let mut pod_true = false;
    match opt_bool(ctx.pod_sc(), "runAsNonRoot") {
        Some(false) => {
            setters.push("pod".to_owned());
            fields.push(pod_field.clone());
        }
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_fields = Vec::new();
    for c in &ctx.containers {
        let field = c.field(&["securityContext", "runAsNonRoot"]);
        match opt_bool(csc(c), "runAsNonRoot") {
            Some(false) => {
                explicit.push(c.name);
                fields.push(field);
            }
            Some(true) => {}
            None => {
                if !pod_true {
                    implicit.push(c.name);
                    implicit_fields.push(field);
                }
            }
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return Some(
            Fail::new(
                "runAsNonRoot != true",
                format!(
                    "{} must not set securityContext.runAsNonRoot=false",
                    setters.join(" and ")
                ),
            )
            .with(fields, &explicit),
        );
    }
    if !implicit.is_empty() {
        let mut fields = vec![pod_field];
        fields.extend(implicit_fields);
        return Some(
            Fail::new(
                "runAsNonRoot != true",
                format!(
                    "pod or {} must set securityContext.runAsNonRoot=true",
                    containers_phrase(&implicit)
                ),
            )
            .with(fields, &implicit),
        );
    }
    None
}

fn run_as_user(ctx: &Ctx<'_>) -> Option<Fail> {
    let is_root =
        |sc: Option<&Node>| sc.and_then(|s| s.get("runAsUser")).and_then(Node::as_i64) == Some(0);
    let mut setters = Vec::new();
    let mut fields = Vec::new();
    if is_root(ctx.pod_sc()) {
        setters.push("pod".to_owned());
        fields.push(ctx.pod_path(&["securityContext", "runAsUser"]));
    }
    let mut bad = Vec::new();
    for c in &ctx.containers {
        if is_root(csc(c)) {
            bad.push(c.name);
            fields.push(c.field(&["securityContext", "runAsUser"]));
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    Some(
        Fail::new(
            "runAsUser=0",
            format!("{} must not set runAsUser=0", setters.join(" and ")),
        )
        .with(fields, &bad),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_sorted_ids_baseline_then_restricted() {
        for level in [Level::Baseline, Level::Restricted] {
            let ids: Vec<&str> = PssCheck::ALL
                .iter()
                .filter(|c| c.level() == level)
                .map(|c| c.id())
                .collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(ids, sorted);
        }
        let first_restricted = PssCheck::ALL
            .iter()
            .position(|c| c.level() == Level::Restricted)
            .unwrap();
        assert!(
            PssCheck::ALL[first_restricted..]
                .iter()
                .all(|c| c.level() == Level::Restricted)
        );
        for c in PssCheck::ALL {
            assert_eq!(PssCheck::from_id(c.id()), Some(c));
            assert_eq!(c.check_id().as_str(), format!("pss/{}", c.id()));
            assert_eq!(c.versions()[0], c.since_minor());
        }
    }

    #[test]
    fn active_sets_per_version() {
        assert!(active_checks(Level::Privileged, 37).is_empty());
        assert_eq!(active_checks(Level::Baseline, 33).len(), 11);
        assert_eq!(active_checks(Level::Baseline, 34).len(), 12);
        let r0 = active_checks(Level::Restricted, 0);
        assert!(r0.contains(&PssCheck::RestrictedVolumes));
        assert!(!r0.contains(&PssCheck::HostPathVolumes));
        assert!(r0.contains(&PssCheck::SeccompProfileBaseline));
        assert!(r0.contains(&PssCheck::CapabilitiesBaseline));
        let r22 = active_checks(Level::Restricted, 22);
        assert!(!r22.contains(&PssCheck::SeccompProfileBaseline));
        assert!(!r22.contains(&PssCheck::CapabilitiesBaseline));
        let r35 = active_checks(Level::Restricted, 35);
        assert!(!r35.contains(&PssCheck::ProcMount));
        assert!(r35.contains(&PssCheck::ProcMountRestricted));
        assert_eq!(r35.len(), 12 - 4 + 7);
    }
}
