//! The server configuration file (YAML).
//!
//! ```yaml
//! listen: 0.0.0.0:8443
//! tls: {certFile: /tls/tls.crt, keyFile: /tls/tls.key, reloadSeconds: 10}
//! namespaces: [/etc/palisade/namespaces]      # manifests with Namespace objects
//! cluster: {enabled: auto, kubeconfig: /path}  # or watch Namespaces (and Pods) live
//! podSecurity:
//!   kubeVersion: "1.37"
//!   defaults: {enforce: baseline, enforceVersion: latest, warn: restricted}
//!   exemptions: {usernames: [], namespaces: [kube-system], runtimeClasses: []}
//! gatekeeper: [/etc/palisade/policies]          # ConstraintTemplates and Constraints
//! mutation:
//!   enabled: false                              # mutate in every namespace
//!   namespaceLabel: palisade.dev/mutate         # ... or where this label is "enabled"
//!   nonRootImages: ["registry.example/distroless/*"]
//! limits: {maxBodyBytes: 6291456, timeoutMilliseconds: 9000}
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong.
        message: String,
    },
}

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerConfig {
    /// Address to listen on (default `0.0.0.0:8443`).
    #[serde(default)]
    pub listen: Option<String>,
    /// Certificate and key.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Files or directories of manifests holding the Namespace objects (their labels).
    #[serde(default)]
    pub namespaces: Vec<PathBuf>,
    /// Pod Security settings.
    #[serde(default)]
    pub pod_security: PodSecurityConfig,
    /// Files or directories of Gatekeeper ConstraintTemplates and Constraints.
    #[serde(default)]
    pub gatekeeper: Vec<PathBuf>,
    /// Mutation settings.
    #[serde(default)]
    pub mutation: MutationConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// Live cluster state from the API server.
    #[serde(default)]
    pub cluster: ClusterConfig,
}

/// `cluster.enabled`: `true`, `false` or `"auto"`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Switch {
    /// `true` or `false`.
    Bool(bool),
    /// `"auto"` (any other word is rejected when the configuration is checked).
    Word(String),
}

/// Where the server's view of the cluster comes from: the API server (Namespaces watched live,
/// Pods and the kinds listed in `inventory` too) instead of manifest files.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterConfig {
    /// `true`, `false` (default) or `auto`: on when running in a cluster (the
    /// `KUBERNETES_SERVICE_HOST` environment variable is set) or when `kubeconfig` is given.
    #[serde(default)]
    pub enabled: Option<Switch>,
    /// A kubeconfig file (default: in-cluster service account, then `$KUBECONFIG` or
    /// `~/.kube/config`).
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Watch Pods too (default true): PodSecurity warns about the existing pods of a
    /// namespace whose enforce level is tightened.
    #[serde(default)]
    pub pods: Option<bool>,
    /// Further kinds to watch for Gatekeeper's `data.inventory` (like Gatekeeper's
    /// `syncOnly`); Namespaces are always there, Pods when listed here.
    #[serde(default)]
    pub inventory: Vec<InventoryKind>,
}

/// A kind for `data.inventory`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InventoryKind {
    /// `v1`, `apps/v1`, ...
    pub api_version: String,
    /// `ConfigMap`, `Ingress`, ...
    pub kind: String,
    /// The resource (plural) name when it is not the kind's regular plural.
    #[serde(default)]
    pub resource: Option<String>,
    /// Whether the kind is namespaced (default true).
    #[serde(default)]
    pub namespaced: Option<bool>,
}

/// Whether live cluster state is on, resolved from [`ClusterConfig::enabled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterMode {
    /// Namespaces come from the configured manifests.
    Off,
    /// Namespaces come from the API server.
    Live,
}

impl ClusterConfig {
    /// Resolves `enabled` (`auto` looks at the environment and at `kubeconfig`).
    pub fn mode(&self) -> ClusterMode {
        let on = match &self.enabled {
            None | Some(Switch::Bool(false)) => false,
            Some(Switch::Bool(true)) => true,
            Some(Switch::Word(_)) => {
                self.kubeconfig.is_some()
                    || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
            }
        };
        if on {
            ClusterMode::Live
        } else {
            ClusterMode::Off
        }
    }

    /// Whether Pods are watched (live mode only).
    pub fn watch_pods(&self) -> bool {
        self.pods.unwrap_or(true)
    }
}

/// Serving certificate and key (PEM files).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsConfig {
    /// Certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// How often the files are checked for changes (seconds, default 10).
    #[serde(default)]
    pub reload_seconds: Option<u64>,
}

/// PodSecurity admission settings, as in its `PodSecurityConfiguration`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodSecurityConfig {
    /// Whether PSS is evaluated at all (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The API server version whose PodSecurity is modelled (default 1.37).
    #[serde(default)]
    pub kube_version: Option<String>,
    /// Levels and versions for modes a namespace does not label.
    #[serde(default)]
    pub defaults: PssDefaults,
    /// Requests PodSecurity does not evaluate.
    #[serde(default)]
    pub exemptions: PssExemptions,
    /// What a Pod or workload in a namespace the server does not know gets: `error`
    /// (PodSecurity admission's answer when its namespace lookup fails: Pods denied with 500
    /// `failed to lookup namespace`, workloads allowed with an `error` audit annotation) or
    /// `defaults` (the configured defaults, as for an unlabelled namespace). Default: `error`
    /// with live cluster state, `defaults` with namespace manifests (which can be incomplete).
    #[serde(default)]
    pub unknown_namespace: Option<String>,
}

/// Default levels and versions (PodSecurity's `defaults`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PssDefaults {
    /// Enforce level (default `privileged`).
    #[serde(default)]
    pub enforce: Option<String>,
    /// Enforce version (default `latest`).
    #[serde(default)]
    pub enforce_version: Option<String>,
    /// Audit level.
    #[serde(default)]
    pub audit: Option<String>,
    /// Audit version.
    #[serde(default)]
    pub audit_version: Option<String>,
    /// Warn level.
    #[serde(default)]
    pub warn: Option<String>,
    /// Warn version.
    #[serde(default)]
    pub warn_version: Option<String>,
}

/// PodSecurity exemptions.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PssExemptions {
    /// Authenticated user names.
    #[serde(default)]
    pub usernames: Vec<String>,
    /// Namespaces.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Runtime class names.
    #[serde(default)]
    pub runtime_classes: Vec<String>,
}

/// Mutation settings (`/mutate`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MutationConfig {
    /// Mutate in every namespace.
    #[serde(default)]
    pub enabled: bool,
    /// Mutate in namespaces carrying this label with the value `enabled` or `true`
    /// (default `palisade.dev/mutate`).
    #[serde(default)]
    pub namespace_label: Option<String>,
    /// Images known to run as a non-root user: exact references, or prefixes ending in `*`.
    /// Pods whose every container uses such an image get `runAsNonRoot: true`.
    #[serde(default)]
    pub non_root_images: Vec<String>,
    /// Files or directories with the cluster's RBAC objects (Roles, ClusterRoles, bindings).
    /// When given, pods whose service account no binding grants anything get
    /// `automountServiceAccountToken: false`.
    #[serde(default)]
    pub rbac: Vec<PathBuf>,
}

/// Request limits.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Largest request body accepted (default 6 MiB: an object and its old version at the API
    /// server's 3 MiB limit each); larger bodies get HTTP 413.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Per-request deadline in milliseconds (default 9000, under the API server's 10 s
    /// default webhook timeout); late requests get HTTP 503.
    #[serde(default)]
    pub timeout_milliseconds: Option<u64>,
    /// Time given to in-flight requests on shutdown, in seconds (default 10).
    #[serde(default)]
    pub shutdown_grace_seconds: Option<u64>,
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
/// The default body limit.
pub const DEFAULT_MAX_BODY: usize = 6 << 20;
/// The default per-request timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 9000;
/// The default namespace label that opts a namespace into mutation.
pub const DEFAULT_MUTATE_LABEL: &str = "palisade.dev/mutate";

impl ServerConfig {
    /// Parses a configuration from YAML text; `path` names the file in errors. Relative paths
    /// in the file are resolved against the file's directory.
    pub fn from_yaml(path: &str, text: &str) -> Result<ServerConfig, ConfigError> {
        let docs = palisade_model::yaml::parse_stream(text, &Default::default());
        let root = match docs.into_iter().next() {
            None => return Ok(ServerConfig::default()),
            Some(Err(e)) => {
                return Err(ConfigError::Invalid {
                    path: path.into(),
                    line: e.pos.line,
                    column: e.pos.col,
                    message: e.message,
                });
            }
            Some(Ok(d)) => d.root,
        };
        let Some(root) = root else {
            return Ok(ServerConfig::default());
        };
        let mut cfg: ServerConfig = serde_json::from_value(root.to_json()).map_err(|e| {
            let msg = e.to_string();
            // Point at the key the error names when it can be found anywhere in the file.
            let quoted = msg.split('`').nth(1).unwrap_or("");
            let pos = find_key(&root, quoted).unwrap_or(root.pos);
            ConfigError::Invalid {
                path: path.into(),
                line: pos.line,
                column: pos.col,
                message: msg,
            }
        })?;
        let base = Path::new(path).parent().unwrap_or(Path::new(""));
        cfg.resolve_paths(base);
        cfg.check(path)?;
        Ok(cfg)
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&path.display().to_string(), &text)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        self.namespaces.iter_mut().for_each(fix);
        if let Some(k) = &mut self.cluster.kubeconfig {
            fix(k);
        }
        self.gatekeeper.iter_mut().for_each(fix);
        self.mutation.rbac.iter_mut().for_each(fix);
        if let Some(t) = &mut self.tls {
            fix(&mut t.cert_file);
            fix(&mut t.key_file);
        }
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.into(),
            line: 1,
            column: 1,
            message,
        };
        if let Some(l) = &self.listen {
            l.parse::<std::net::SocketAddr>()
                .map_err(|e| invalid(format!("listen: {l:?}: {e}")))?;
        }
        crate::pss::PodSecurity::from_config(&self.pod_security).map_err(invalid)?;
        if let Some(Switch::Word(w)) = &self.cluster.enabled
            && w != "auto"
        {
            return Err(invalid(format!(
                "cluster.enabled: expected true, false or auto, found {w:?}"
            )));
        }
        if let Some(u) = &self.pod_security.unknown_namespace
            && u != "error"
            && u != "defaults"
        {
            return Err(invalid(format!(
                "podSecurity.unknownNamespace: expected error or defaults, found {u:?}"
            )));
        }
        for (i, k) in self.cluster.inventory.iter().enumerate() {
            if k.api_version.is_empty() || k.kind.is_empty() {
                return Err(invalid(format!(
                    "cluster.inventory[{i}]: apiVersion and kind must not be empty"
                )));
            }
        }
        Ok(())
    }

    /// What a request for a namespace the server does not know gets (see
    /// [`PodSecurityConfig::unknown_namespace`]).
    pub fn unknown_namespace(&self) -> crate::engine::UnknownNamespace {
        use crate::engine::UnknownNamespace;
        match self.pod_security.unknown_namespace.as_deref() {
            Some("error") => UnknownNamespace::Error,
            Some(_) => UnknownNamespace::Defaults,
            None if self.cluster.mode() == ClusterMode::Live => UnknownNamespace::Error,
            None => UnknownNamespace::Defaults,
        }
    }

    /// The listen address.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        self.listen
            .as_deref()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"))
    }
}

fn find_key(n: &palisade_model::Node, key: &str) -> Option<palisade_model::Pos> {
    if key.is_empty() {
        return None;
    }
    for e in n.entries() {
        if &*e.key == key {
            return Some(e.key_pos);
        }
        if let Some(p) = find_key(&e.value, key) {
            return Some(p);
        }
    }
    n.items().iter().find_map(|i| find_key(i, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_paths() {
        let cfg = ServerConfig::from_yaml(
            "/etc/p/config.yaml",
            "listen: 127.0.0.1:9443\ntls: {certFile: tls.crt, keyFile: /abs/tls.key}\nnamespaces: [ns]\npodSecurity:\n  defaults: {enforce: baseline}\n  exemptions: {usernames: [admin]}\n",
        )
        .unwrap();
        assert_eq!(cfg.listen_addr().port(), 9443);
        let tls = cfg.tls.clone().unwrap();
        assert_eq!(tls.cert_file, PathBuf::from("/etc/p/tls.crt"));
        assert_eq!(tls.key_file, PathBuf::from("/abs/tls.key"));
        assert_eq!(cfg.namespaces, [PathBuf::from("/etc/p/ns")]);
        assert_eq!(cfg.pod_security.exemptions.usernames, ["admin"]);
        assert_eq!(cfg.cluster.mode(), ClusterMode::Off);
        assert_eq!(
            cfg.unknown_namespace(),
            crate::engine::UnknownNamespace::Defaults
        );
    }

    #[test]
    fn cluster_section() {
        let cfg = ServerConfig::from_yaml(
            "/etc/p/config.yaml",
            "cluster: {enabled: auto, kubeconfig: kc.yaml, pods: false, inventory: [{apiVersion: v1, kind: ConfigMap}]}\n",
        )
        .unwrap();
        assert_eq!(
            cfg.cluster.kubeconfig.as_deref(),
            Some(Path::new("/etc/p/kc.yaml"))
        );
        // auto with a kubeconfig is on, and then unknown namespaces are errors, as in PSA.
        assert_eq!(cfg.cluster.mode(), ClusterMode::Live);
        assert!(!cfg.cluster.watch_pods());
        assert_eq!(
            cfg.unknown_namespace(),
            crate::engine::UnknownNamespace::Error
        );
        let cfg = ServerConfig::from_yaml(
            "c.yaml",
            "cluster: {enabled: true}\npodSecurity: {unknownNamespace: defaults}\n",
        )
        .unwrap();
        assert_eq!(cfg.cluster.mode(), ClusterMode::Live);
        assert_eq!(
            cfg.unknown_namespace(),
            crate::engine::UnknownNamespace::Defaults
        );
        let e = ServerConfig::from_yaml("c.yaml", "cluster: {enabled: sometimes}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cluster.enabled") && e.contains("sometimes"),
            "{e}"
        );
        let e = ServerConfig::from_yaml("c.yaml", "cluster: {kubeconfg: x}\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:1:") && e.contains("kubeconfg"), "{e}");
        let e = ServerConfig::from_yaml("c.yaml", "podSecurity: {unknownNamespace: allow}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknownNamespace") && e.contains("allow"), "{e}");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = ServerConfig::from_yaml("c.yaml", "listen: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:") && e.contains("listen"), "{e}");
        let e = ServerConfig::from_yaml("c.yaml", "podSecurity:\n  defaults:\n    enforc: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:3:5:") && e.contains("enforc"), "{e}");
        let e = ServerConfig::from_yaml("c.yaml", "podSecurity: {defaults: {enforce: strict}}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("strict"), "{e}");
    }
}
