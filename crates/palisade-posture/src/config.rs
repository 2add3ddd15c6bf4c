//! Scan configuration: the `.palisade.yaml` file and command-line overrides.

use palisade_model::{CheckId, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Errors reading a configuration file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// File path.
        path: String,
        /// 1-based line (0 when unknown).
        line: u32,
        /// 1-based column (0 when unknown).
        column: u32,
        /// What is wrong.
        message: String,
    },
}

/// An exemption: findings matching every given field are suppressed.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exemption {
    /// Check ids (or `family/*` globs); empty means every check.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Namespaces; empty means any.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Object kinds; empty means any.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Object names (a trailing `*` matches a prefix); empty means any.
    #[serde(default)]
    pub names: Vec<String>,
    /// Container names; empty means any (findings not about a container still match).
    #[serde(default)]
    pub containers: Vec<String>,
    /// Why the exemption exists (shown with `--show-suppressed`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Pod Security Standards settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PssConfig {
    /// Level used for namespaces without PodSecurity labels (default `restricted`).
    #[serde(default)]
    pub default_level: Option<String>,
    /// Version used for namespaces without PodSecurity labels (default `latest`).
    #[serde(default)]
    pub default_version: Option<String>,
    /// Level that overrides namespace labels (`--pss-level`).
    #[serde(default)]
    pub level: Option<String>,
    /// Version that overrides namespace labels (`--pss-version`).
    #[serde(default)]
    pub version: Option<String>,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Check ids (or `family/*` globs) that are not run.
    #[serde(default)]
    pub disabled_checks: Vec<String>,
    /// Severity per check id.
    #[serde(default)]
    pub severity_overrides: BTreeMap<String, Severity>,
    /// Exemptions.
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
    /// Registries images may come from (`registry.example.com`, `ghcr.io/myorg`); empty means
    /// the registry check is off.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// Pod label that marks untrusted workloads, which must set a `runtimeClassName`.
    #[serde(default = "default_untrusted_label")]
    pub untrusted_label: String,
    /// Runtime classes accepted for untrusted workloads (empty: any runtime class).
    #[serde(default)]
    pub sandbox_runtime_classes: Vec<String>,
    /// Pod Security Standards settings.
    #[serde(default)]
    pub pss: PssConfig,
    /// Kubernetes API server minor version the cluster runs (`--kube-version`).
    #[serde(default)]
    pub kube_version: Option<String>,
}

fn default_untrusted_label() -> String {
    "palisade.dev/untrusted".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            disabled_checks: Vec::new(),
            severity_overrides: BTreeMap::new(),
            exemptions: Vec::new(),
            allowed_registries: Vec::new(),
            untrusted_label: default_untrusted_label(),
            sandbox_runtime_classes: Vec::new(),
            pss: PssConfig::default(),
            kube_version: None,
        }
    }
}

/// True when `pattern` (an id, or a `family/*` / `*` glob) matches `id`.
pub fn id_matches(pattern: &str, id: &CheckId) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.as_str().starts_with(prefix),
        None => pattern == id.as_str(),
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Config {
    /// Parses a configuration file's text; `path` is used in errors.
    pub fn from_yaml(path: &str, text: &str) -> Result<Config, ConfigError> {
        let docs = palisade_model::yaml::parse_stream(text, &Default::default());
        let root = match docs.into_iter().next() {
            None => return Ok(Config::default()),
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
            return Ok(Config::default());
        };
        serde_json::from_value(root.to_json()).map_err(|e| {
            // Point at the top-level key the error is about when we can find it.
            let msg = e.to_string();
            let first_quoted = msg.split('`').nth(1).unwrap_or("");
            let pos = root
                .entries()
                .iter()
                .find(|en| &*en.key == first_quoted)
                .map(|en| en.key_pos)
                .unwrap_or(root.pos);
            ConfigError::Invalid {
                path: path.into(),
                line: pos.line,
                column: pos.col,
                message: msg,
            }
        })
    }

    /// Reads a configuration file.
    pub fn from_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&path.display().to_string(), &text)
    }

    /// True when the check is disabled.
    pub fn is_disabled(&self, id: &CheckId) -> bool {
        self.disabled_checks.iter().any(|p| id_matches(p, id))
    }

    /// The severity for a check after overrides.
    pub fn severity_for(&self, id: &CheckId, default: Severity) -> Severity {
        self.severity_overrides
            .get(id.as_str())
            .copied()
            .unwrap_or(default)
    }

    /// The first exemption matching a finding, if any.
    pub fn exemption_for(
        &self,
        id: &CheckId,
        obj: &palisade_model::ObjectRef,
        container: Option<&str>,
    ) -> Option<&Exemption> {
        self.exemptions.iter().find(|ex| {
            (ex.checks.is_empty() || ex.checks.iter().any(|p| id_matches(p, id)))
                && (ex.namespaces.is_empty()
                    || obj
                        .namespace
                        .as_deref()
                        .is_some_and(|ns| ex.namespaces.iter().any(|p| name_matches(p, ns))))
                && (ex.kinds.is_empty() || ex.kinds.iter().any(|k| k == &obj.kind))
                && (ex.names.is_empty() || ex.names.iter().any(|p| name_matches(p, &obj.name)))
                && (ex.containers.is_empty()
                    || container.is_some_and(|c| ex.containers.iter().any(|p| name_matches(p, c))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let cfg = Config::from_yaml(
            ".palisade.yaml",
            "disabledChecks: [hardening/probes-*]\nseverityOverrides: {pss/privileged: low}\nexemptions:\n- checks: [pss/*]\n  namespaces: [kube-system]\n  containers: [istio-proxy]\n  reason: sidecar\nallowedRegistries: [ghcr.io/acme]\n",
        )
        .unwrap();
        assert!(cfg.is_disabled(&CheckId::new("hardening/probes-missing")));
        assert_eq!(
            cfg.severity_for(&CheckId::new("pss/privileged"), Severity::High),
            Severity::Low
        );
        let obj = palisade_model::ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("kube-system".into()),
            name: "p".into(),
        };
        let id = CheckId::new("pss/privileged");
        assert!(cfg.exemption_for(&id, &obj, Some("istio-proxy")).is_some());
        assert!(cfg.exemption_for(&id, &obj, Some("app")).is_none());
        assert!(cfg.exemption_for(&id, &obj, None).is_none());
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let err =
            Config::from_yaml("c.yaml", "allowedRegistries: []\ndisabledCheck: [x]\n").unwrap_err();
        match err {
            ConfigError::Invalid { line, message, .. } => {
                assert_eq!(line, 2, "{message}");
            }
            e => panic!("unexpected {e}"),
        }
    }
}
