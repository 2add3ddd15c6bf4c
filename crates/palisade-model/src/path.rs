//! Field paths (`spec.containers[0].securityContext.privileged`) and their source positions.

use crate::node::{Node, Pos, Value};
use std::borrow::Cow;
use std::fmt;

/// A path key. Field names common in pod specs share one static copy instead of being
/// allocated each time a path is built (checks build paths for every container).
fn key_text(k: &str) -> Cow<'static, str> {
    let common: &'static str = match k {
        "metadata" => "metadata",
        "annotations" => "annotations",
        "labels" => "labels",
        "name" => "name",
        "namespace" => "namespace",
        "spec" => "spec",
        "template" => "template",
        "jobTemplate" => "jobTemplate",
        "containers" => "containers",
        "initContainers" => "initContainers",
        "ephemeralContainers" => "ephemeralContainers",
        "securityContext" => "securityContext",
        "image" => "image",
        "imagePullPolicy" => "imagePullPolicy",
        "ports" => "ports",
        "containerPort" => "containerPort",
        "hostPort" => "hostPort",
        "env" => "env",
        "value" => "value",
        "valueFrom" => "valueFrom",
        "resources" => "resources",
        "limits" => "limits",
        "requests" => "requests",
        "cpu" => "cpu",
        "memory" => "memory",
        "volumes" => "volumes",
        "volumeMounts" => "volumeMounts",
        "hostPath" => "hostPath",
        "path" => "path",
        "readOnly" => "readOnly",
        "privileged" => "privileged",
        "allowPrivilegeEscalation" => "allowPrivilegeEscalation",
        "readOnlyRootFilesystem" => "readOnlyRootFilesystem",
        "runAsNonRoot" => "runAsNonRoot",
        "runAsUser" => "runAsUser",
        "runAsGroup" => "runAsGroup",
        "fsGroup" => "fsGroup",
        "capabilities" => "capabilities",
        "add" => "add",
        "drop" => "drop",
        "seccompProfile" => "seccompProfile",
        "appArmorProfile" => "appArmorProfile",
        "seLinuxOptions" => "seLinuxOptions",
        "windowsOptions" => "windowsOptions",
        "procMount" => "procMount",
        "type" => "type",
        "sysctls" => "sysctls",
        "hostNetwork" => "hostNetwork",
        "hostPID" => "hostPID",
        "hostIPC" => "hostIPC",
        "hostUsers" => "hostUsers",
        "serviceAccountName" => "serviceAccountName",
        "automountServiceAccountToken" => "automountServiceAccountToken",
        "livenessProbe" => "livenessProbe",
        "readinessProbe" => "readinessProbe",
        "startupProbe" => "startupProbe",
        "lifecycle" => "lifecycle",
        "os" => "os",
        "selector" => "selector",
        "rules" => "rules",
        "subjects" => "subjects",
        "roleRef" => "roleRef",
        "data" => "data",
        "tls" => "tls",
        "ingress" => "ingress",
        "egress" => "egress",
        "podSelector" => "podSelector",
        "policyTypes" => "policyTypes",
        "hostAliases" => "hostAliases",
        "runtimeClassName" => "runtimeClassName",
        _ => return Cow::Owned(k.to_owned()),
    };
    Cow::Borrowed(common)
}

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// A mapping key.
    Key(Cow<'static, str>),
    /// A sequence index.
    Index(usize),
}

/// A path from an object's root to one of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The empty path (the object itself).
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Parses a dotted path such as `spec.template.spec` (no indices).
    pub fn parse(dotted: &str) -> Self {
        FieldPath(
            dotted
                .split('.')
                .filter(|s| !s.is_empty())
                .map(|s| Seg::Key(key_text(s)))
                .collect(),
        )
    }

    /// This path with a key appended.
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key_text(k)));
        p
    }

    /// This path with several keys appended.
    pub fn keys(&self, ks: &[&str]) -> Self {
        let mut p = self.clone();
        p.0.extend(ks.iter().map(|k| Seg::Key(key_text(k))));
        p
    }

    /// This path with an index appended.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// True for the empty path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Finds the position of this path in `root`: the key of the last segment when the field
    /// exists, otherwise the position of the deepest existing ancestor. Returns the position
    /// and whether the whole path exists.
    pub fn locate(&self, root: &Node) -> (Pos, bool) {
        let mut node = root;
        let mut pos = root.pos;
        for seg in &self.0 {
            match (seg, &node.value) {
                (Seg::Key(k), Value::Map(_)) => match node.entry(k) {
                    Some(e) => {
                        pos = e.key_pos;
                        node = &e.value;
                    }
                    None => return (pos, false),
                },
                (Seg::Index(i), Value::Seq(items)) if *i < items.len() => {
                    node = &items[*i];
                    pos = node.pos;
                }
                _ => return (pos, false),
            }
        }
        (pos, true)
    }

    /// The node at this path, if it exists.
    pub fn resolve<'a>(&self, root: &'a Node) -> Option<&'a Node> {
        self.0.iter().try_fold(root, |n, seg| match seg {
            Seg::Key(k) => n.get(k),
            Seg::Index(i) => n.items().get(*i),
        })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) if k.contains(['.', '/', '[', ']', ' ']) || k.is_empty() => {
                    write!(f, "[{k:?}]")?
                }
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse_stream};

    #[test]
    fn display_and_locate() {
        let p = FieldPath::parse("spec.containers")
            .index(1)
            .keys(&["securityContext", "privileged"]);
        assert_eq!(
            p.to_string(),
            "spec.containers[1].securityContext.privileged"
        );
        let a = FieldPath::parse("metadata.annotations")
            .key("container.apparmor.security.beta.kubernetes.io/app");
        assert_eq!(
            a.to_string(),
            "metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/app\"]"
        );
        let text = "spec:\n  containers:\n  - name: a\n  - name: b\n    securityContext:\n      privileged: true\n";
        let doc = parse_stream(text, &Limits::default()).remove(0).unwrap();
        let root = doc.root.unwrap();
        assert_eq!(p.locate(&root), (Pos::new(6, 7), true));
        let missing = FieldPath::parse("spec.containers")
            .index(0)
            .key("securityContext");
        assert_eq!(missing.locate(&root), (Pos::new(3, 5), false));
    }
}
