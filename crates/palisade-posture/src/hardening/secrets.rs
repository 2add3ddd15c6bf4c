//! Credentials where they do not belong: literal env values, ConfigMaps; Secrets exposed as
//! environment variables; duplicated env names. Env checks look at every container (init,
//! regular, ephemeral). Messages never repeat the credential itself. ConfigMap `data` values are
//! inspected; `binaryData` (base64, usually not text) is not.

use super::Check;
use super::util::{cname, describe, workloads};
use crate::sink::Sink;
use palisade_model::{CheckId, FieldPath, Node, Severity};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const SECRET_DOC: &str = "https://kubernetes.io/docs/concepts/configuration/secret/";
const CREDS_IN_FILES: &str = "https://attack.mitre.org/techniques/T1552/001/";
const CONTAINER_API: &str = "https://attack.mitre.org/techniques/T1552/007/";

/// `hardening/env-literal-credential`.
pub static ENV_LITERAL_CREDENTIAL: Check = Check {
    id: CheckId::new("hardening/env-literal-credential"),
    title: "Credential written literally in a container env value",
    severity: Severity::High,
    category: "secrets",
    rationale: "A password, token or key written as a literal env value is stored in plain text in the manifest, in version control, in the object in etcd and in every tool that can read pod specs (anyone with get on the workload). Reference a Secret instead.",
    remediation: "spec:\n  containers:\n  - name: app\n    env:\n    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef:\n          name: db-credentials\n          key: password\n",
    references: &[
        SECRET_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.4.1",
        CREDS_IN_FILES,
        CONTAINER_API,
    ],
};

/// `hardening/configmap-credential`.
pub static CONFIGMAP_CREDENTIAL: Check = Check {
    id: CheckId::new("hardening/configmap-credential"),
    title: "ConfigMap contains something that looks like a credential",
    severity: Severity::High,
    category: "secrets",
    rationale: "ConfigMaps are not meant for confidential data: they are readable by many roles, printed by kubectl describe, and never encrypted at rest. Private keys, cloud access keys, tokens and passwords belong in Secrets (or an external secret store).",
    remediation: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-credentials\ntype: Opaque\nstringData:\n  password: change-me\n",
    references: &[
        SECRET_DOC,
        "https://kubernetes.io/docs/concepts/configuration/configmap/",
        CREDS_IN_FILES,
    ],
};

/// `hardening/env-secret-reference`.
pub static ENV_SECRET_REFERENCE: Check = Check {
    id: CheckId::new("hardening/env-secret-reference"),
    title: "Secret exposed to the container as environment variables",
    severity: Severity::Info,
    category: "secrets",
    rationale: "Environment variables leak more easily than files: they are inherited by child processes, dumped in crash reports and debug endpoints, and visible in /proc/<pid>/environ. Mounting Secrets as files (read-only, with narrow permissions) is preferred; this is informational.",
    remediation: "spec:\n  containers:\n  - name: app\n    volumeMounts:\n    - name: creds\n      mountPath: /var/run/secrets/app\n      readOnly: true\n  volumes:\n  - name: creds\n    secret:\n      secretName: db-credentials\n      defaultMode: 0400\n",
    references: &[
        SECRET_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.4.1",
        CONTAINER_API,
    ],
};

/// `hardening/duplicate-env-name`.
pub static DUPLICATE_ENV_NAME: Check = Check {
    id: CheckId::new("hardening/duplicate-env-name"),
    title: "Environment variable defined twice in a container",
    severity: Severity::Low,
    category: "workload",
    rationale: "When env lists the same name twice the later entry silently wins. Reviewers read the first one; a security setting (a TLS flag, a secret reference) can be overridden without anyone noticing, and server-side apply merges such lists unpredictably.",
    remediation: "spec:\n  containers:\n  - name: app\n    env:\n    - name: TLS_VERIFY\n      value: \"true\"\n",
    references: &[
        "https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/",
    ],
};

/// Name words that mark a credential.
const CRED_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "PRIVATEKEY",
];
/// Adjacent word pairs that mark a credential (`API_KEY`, `ACCESS_KEY`).
const CRED_PAIRS: &[(&str, &str)] = &[
    ("API", "KEY"),
    ("ACCESS", "KEY"),
    ("PRIVATE", "KEY"),
    ("AUTH", "KEY"),
    ("SIGNING", "KEY"),
    ("ENCRYPTION", "KEY"),
    ("MASTER", "KEY"),
    ("CLIENT", "KEY"),
    ("DB", "PASS"),
];
/// Last words that make a credential-looking name about something else (a file, a name, a
/// timeout, a key id).
const NOT_CRED_SUFFIX: &[&str] = &[
    "FILE",
    "PATH",
    "DIR",
    "NAME",
    "REF",
    "ID",
    "TTL",
    "TIMEOUT",
    "EXPIRY",
    "EXPIRATION",
    "EXPIRES",
    "LENGTH",
    "ENABLED",
    "HEADER",
    "URL",
    "ENDPOINT",
    "TYPE",
    "KIND",
    "VERSION",
    "MOUNT",
    "KEYS",
];

/// Splits an env or data key into upper-case words: `dbPassword` → `DB PASSWORD`.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_uppercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// True when a variable or key name says it holds a credential.
pub fn credential_name(name: &str) -> bool {
    let w = words(name);
    let Some(last) = w.last() else { return false };
    if NOT_CRED_SUFFIX.contains(&last.as_str()) {
        return false;
    }
    w.iter().any(|x| CRED_WORDS.contains(&x.as_str()))
        || w.windows(2)
            .any(|p| CRED_PAIRS.iter().any(|(a, b)| p[0] == *a && p[1] == *b))
}

/// True for values that are clearly not a literal credential: empty, booleans, `$(VAR)`
/// references, `${VAR}` / `{{ }}` / `<...>` placeholders.
fn placeholder(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || [
            "true",
            "false",
            "yes",
            "no",
            "none",
            "null",
            "changeme",
            "change-me",
        ]
        .contains(&v.to_ascii_lowercase().as_str())
        || (v.starts_with("$(") && v.ends_with(')'))
        || (v.starts_with("${") && v.ends_with('}'))
        || (v.starts_with("{{") && v.ends_with("}}"))
        || (v.starts_with('<') && v.ends_with('>'))
}

static CONTENT_PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----", "a PEM private key"),
        (r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", "an AWS access key id"),
        (r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", "a GitHub token"),
        (r"\bxox[abprs]-[A-Za-z0-9-]{10,}", "a Slack token"),
        (r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", "a JSON Web Token"),
        (r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@$]+@", "a URL with an embedded password"),
        (
            r#"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\s*[:=]\s*["']?[^\s"'${<]{4,}"#,
            "a password or token assignment",
        ),
    ]
    .into_iter()
    .map(|(re, what)| (Regex::new(re).expect("valid built-in pattern"), what))
    .collect()
});

/// What credential-like content a value holds, if any.
pub fn credential_content(value: &str) -> Option<&'static str> {
    CONTENT_PATTERNS
        .iter()
        .find(|(re, _)| re.is_match(value))
        .map(|(_, what)| *what)
}

/// Runs the env and ConfigMap checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for (obj, t) in workloads(inv) {
        for c in t.containers() {
            let who = describe(&c);
            let env_path = c.field(&["env"]);
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, e) in c
                .node
                .get("env")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                let Some(name) = e.get("name").and_then(Node::as_str) else {
                    continue;
                };
                if let Some(first) = seen.insert(name, i) {
                    DUPLICATE_ENV_NAME.emit(
                        sink,
                        obj,
                        &env_path.index(i).key("name"),
                        cname(&c),
                        format!("{who} defines env {name} at env[{first}] and again at env[{i}]; the later value wins"),
                    );
                }
                if let Some(value) = e.get("value").and_then(Node::as_str) {
                    let reason = if credential_name(name) && !placeholder(value) {
                        Some("its name marks it as a credential")
                    } else {
                        credential_content(value)
                    };
                    if let Some(reason) = reason {
                        let reason = if reason.starts_with("its name") {
                            reason.to_string()
                        } else {
                            format!("the value looks like {reason}")
                        };
                        ENV_LITERAL_CREDENTIAL.emit(
                            sink,
                            obj,
                            &env_path.index(i).key("value"),
                            cname(&c),
                            format!("{who} sets env {name} to a literal value ({reason}); use valueFrom.secretKeyRef"),
                        );
                    }
                }
                if let Some(r) = e.at(&["valueFrom", "secretKeyRef"]) {
                    let secret = r.get("name").and_then(Node::as_str).unwrap_or("?");
                    let key = r.get("key").and_then(Node::as_str).unwrap_or("?");
                    ENV_SECRET_REFERENCE.emit(
                        sink,
                        obj,
                        &env_path.index(i).keys(&["valueFrom", "secretKeyRef"]),
                        cname(&c),
                        format!("{who} reads key {key:?} of Secret {secret:?} into env {name}"),
                    );
                }
            }
            for (i, e) in c
                .node
                .get("envFrom")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                if let Some(r) = e.get("secretRef") {
                    let secret = r.get("name").and_then(Node::as_str).unwrap_or("?");
                    ENV_SECRET_REFERENCE.emit(
                        sink,
                        obj,
                        &c.field(&["envFrom"]).index(i).key("secretRef"),
                        cname(&c),
                        format!("{who} loads every key of Secret {secret:?} into its environment (envFrom)"),
                    );
                }
            }
        }
    }
    for cm in inv.of_kind("ConfigMap").filter(|o| o.group().is_empty()) {
        for e in cm.node.get("data").map(Node::entries).unwrap_or(&[]) {
            let value = e.value.as_str().unwrap_or("");
            let reason = match credential_content(value) {
                Some(what) => format!("its value contains {what}"),
                None if credential_name(&e.key) && !placeholder(value) => {
                    "its key names a credential and it has a literal value".to_string()
                }
                None => continue,
            };
            CONFIGMAP_CREDENTIAL.emit(
                sink,
                cm,
                &FieldPath::parse("data").key(&e.key),
                None,
                format!(
                    "ConfigMap {} key {:?} looks like a credential: {reason}; move it to a Secret",
                    cm.id.name, &*e.key
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for yes in [
            "PASSWORD",
            "DB_PASSWORD",
            "dbPassword",
            "API_KEY",
            "apiKey",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "client-secret",
            "db.pass",
        ] {
            assert!(credential_name(yes), "{yes}");
        }
        for no in [
            "PWD",
            "PASSWORD_FILE",
            "TOKEN_TTL",
            "SECRET_NAME",
            "AWS_ACCESS_KEY_ID",
            "TOKENIZER_MODEL",
            "HOME",
            "KEY",
            "",
        ] {
            assert!(!credential_name(no), "{no}");
        }
        assert_eq!(words("dbPassword2Hash"), ["DB", "PASSWORD2", "HASH"]);
    }

    #[test]
    fn contents() {
        assert_eq!(
            credential_content("-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            Some("a PEM private key")
        );
        assert_eq!(
            credential_content("-----BEGIN OPENSSH PRIVATE KEY-----"),
            Some("a PEM private key")
        );
        assert_eq!(
            credential_content("key: AKIAIOSFODNN7EXAMPLE"),
            Some("an AWS access key id")
        );
        assert_eq!(
            credential_content("postgres://app:s3cr3t@db:5432/x"),
            Some("a URL with an embedded password")
        );
        assert_eq!(
            credential_content("db.password=hunter22"),
            Some("a password or token assignment")
        );
        assert_eq!(credential_content("password: ${DB_PASSWORD}"), None);
        assert_eq!(credential_content("-----BEGIN CERTIFICATE-----"), None);
        assert_eq!(credential_content("log_level=debug\nport=8080"), None);
        assert_eq!(credential_content("postgres://db:5432/x"), None);
    }

    #[test]
    fn placeholders() {
        assert!(placeholder("$(DB_PASS)"));
        assert!(placeholder(""));
        assert!(placeholder("true"));
        assert!(!placeholder("hunter2"));
    }
}
