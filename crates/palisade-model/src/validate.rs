//! Type validation of pod specs: fields the security checks read must have the type the API
//! server expects, or the object would be rejected (and a check would misread it). Each
//! mismatch becomes an error [`Diagnostic`] naming the file, line, column and field.

use crate::diag::{DiagCode, DiagLevel, Diagnostic};
use crate::node::{Node, NodeType, Value};
use crate::object::{Inventory, Object};
use crate::path::FieldPath;

/// Expected type of a field.
#[derive(Debug)]
enum Ty {
    Bool,
    Int,
    /// Any non-null scalar (the decoder turns `123` or `yes` into a string for string fields).
    Str,
    List(&'static Ty),
    /// A mapping with known fields (others are not checked).
    Obj(&'static [(&'static str, Ty)]),
    /// A mapping of anything.
    AnyMap,
}

use Ty::*;

static PROFILE: &[(&str, Ty)] = &[("type", Str), ("localhostProfile", Str)];
static SELINUX: &[(&str, Ty)] = &[("user", Str), ("role", Str), ("type", Str), ("level", Str)];
static WINDOWS: &[(&str, Ty)] = &[
    ("hostProcess", Bool),
    ("runAsUserName", Str),
    ("gmsaCredentialSpecName", Str),
];
static CAPS: &[(&str, Ty)] = &[("add", List(&Str)), ("drop", List(&Str))];
static CONTAINER_SC: &[(&str, Ty)] = &[
    ("privileged", Bool),
    ("allowPrivilegeEscalation", Bool),
    ("readOnlyRootFilesystem", Bool),
    ("runAsNonRoot", Bool),
    ("runAsUser", Int),
    ("runAsGroup", Int),
    ("procMount", Str),
    ("capabilities", Obj(CAPS)),
    ("seccompProfile", Obj(PROFILE)),
    ("appArmorProfile", Obj(PROFILE)),
    ("seLinuxOptions", Obj(SELINUX)),
    ("windowsOptions", Obj(WINDOWS)),
];
static SYSCTL: &[(&str, Ty)] = &[("name", Str), ("value", Str)];
static POD_SC: &[(&str, Ty)] = &[
    ("runAsNonRoot", Bool),
    ("runAsUser", Int),
    ("runAsGroup", Int),
    ("fsGroup", Int),
    ("supplementalGroups", List(&Int)),
    ("sysctls", List(&Obj(SYSCTL))),
    ("seccompProfile", Obj(PROFILE)),
    ("appArmorProfile", Obj(PROFILE)),
    ("seLinuxOptions", Obj(SELINUX)),
    ("windowsOptions", Obj(WINDOWS)),
];
static PORT: &[(&str, Ty)] = &[
    ("name", Str),
    ("containerPort", Int),
    ("hostPort", Int),
    ("protocol", Str),
    ("hostIP", Str),
];
static ENV: &[(&str, Ty)] = &[("name", Str), ("value", Str), ("valueFrom", AnyMap)];
static RESOURCES: &[(&str, Ty)] = &[("limits", AnyMap), ("requests", AnyMap)];
static HANDLER: &[(&str, Ty)] = &[
    (
        "httpGet",
        Obj(&[("host", Str), ("path", Str), ("scheme", Str)]),
    ),
    ("tcpSocket", Obj(&[("host", Str)])),
    ("exec", Obj(&[("command", List(&Str))])),
];
static LIFECYCLE: &[(&str, Ty)] = &[("postStart", Obj(HANDLER)), ("preStop", Obj(HANDLER))];
static VOLUME_MOUNT: &[(&str, Ty)] = &[
    ("name", Str),
    ("mountPath", Str),
    ("readOnly", Bool),
    ("subPath", Str),
];
static CONTAINER: &[(&str, Ty)] = &[
    ("name", Str),
    ("image", Str),
    ("imagePullPolicy", Str),
    ("command", List(&Str)),
    ("args", List(&Str)),
    ("ports", List(&Obj(PORT))),
    ("env", List(&Obj(ENV))),
    ("resources", Obj(RESOURCES)),
    ("securityContext", Obj(CONTAINER_SC)),
    ("livenessProbe", Obj(HANDLER)),
    ("readinessProbe", Obj(HANDLER)),
    ("startupProbe", Obj(HANDLER)),
    ("lifecycle", Obj(LIFECYCLE)),
    ("volumeMounts", List(&Obj(VOLUME_MOUNT))),
];
static HOST_PATH: &[(&str, Ty)] = &[("path", Str), ("type", Str)];
static VOLUME: &[(&str, Ty)] = &[("name", Str), ("hostPath", Obj(HOST_PATH))];
static POD_SPEC: &[(&str, Ty)] = &[
    ("containers", List(&Obj(CONTAINER))),
    ("initContainers", List(&Obj(CONTAINER))),
    ("ephemeralContainers", List(&Obj(CONTAINER))),
    ("volumes", List(&Obj(VOLUME))),
    ("securityContext", Obj(POD_SC)),
    ("hostNetwork", Bool),
    ("hostPID", Bool),
    ("hostIPC", Bool),
    ("hostUsers", Bool),
    ("shareProcessNamespace", Bool),
    ("automountServiceAccountToken", Bool),
    ("serviceAccountName", Str),
    ("serviceAccount", Str),
    ("runtimeClassName", Str),
    ("os", Obj(&[("name", Str)])),
    ("hostAliases", List(&AnyMap)),
];
static METADATA: &[(&str, Ty)] = &[
    ("name", Str),
    ("namespace", Str),
    ("labels", AnyMap),
    ("annotations", AnyMap),
];

fn check(node: &Node, ty: &Ty, path: &FieldPath, out: &mut Vec<(FieldPath, Node, String)>) {
    if node.is_null() {
        return;
    }
    let got = node.node_type();
    let ok = match ty {
        Bool => node.as_bool().is_some(),
        Int => node.as_i64().is_some(),
        Str => matches!(node.value, Value::Scalar(_)),
        List(item) => {
            if let Value::Seq(items) = &node.value {
                for (i, it) in items.iter().enumerate() {
                    check(it, item, &path.index(i), out);
                }
                true
            } else {
                false
            }
        }
        Obj(fields) => {
            if node.is_map() {
                for (k, t) in fields.iter() {
                    if let Some(child) = node.get(k) {
                        check(child, t, &path.key(k), out);
                    }
                }
                true
            } else {
                false
            }
        }
        AnyMap => {
            if node.is_map() {
                // Labels and annotations are map[string]string: values must be scalars.
                true
            } else {
                false
            }
        }
    };
    if !ok {
        let want = match ty {
            Bool => "a boolean (true or false)",
            Int => "an integer",
            Str => "a string",
            List(_) => "a list",
            Obj(_) | AnyMap => "a mapping",
        };
        let shown = match (&node.value, got) {
            (Value::Scalar(s), NodeType::String) => format!("string {:?}", &*s.text),
            (Value::Scalar(s), t) => format!("{t} {}", s.text),
            (_, t) => t.to_string(),
        };
        out.push((
            path.clone(),
            node.clone(),
            format!("expected {want}, got {shown}"),
        ));
    }
}

/// Checks the types of an object's metadata and pod spec; returns (field path, message) pairs
/// with the position of each bad value.
pub fn validate_object(obj: &Object) -> Vec<(FieldPath, crate::node::Pos, String)> {
    let mut out = Vec::new();
    if let Some(meta) = obj.node.get("metadata") {
        check(
            meta,
            &Obj(METADATA),
            &FieldPath::parse("metadata"),
            &mut out,
        );
    }
    if let Some(t) = crate::pod::pod_template(obj) {
        if !t.is_pod
            && let Some(meta) = t.meta
        {
            check(meta, &Obj(METADATA), &t.meta_path, &mut out);
        }
        check(t.spec, &Obj(POD_SPEC), &t.spec_path, &mut out);
    }
    let mut v: Vec<_> = out
        .into_iter()
        .map(|(p, node, msg)| {
            let (pos, _) = p.locate(&obj.node);
            let pos = if pos.line == 0 { node.pos } else { pos };
            (p, pos, msg)
        })
        .collect();
    v.sort_by_key(|(_, pos, _)| *pos);
    v
}

impl Inventory {
    /// Validates every object loaded from `source` and records type errors as diagnostics.
    pub(crate) fn validate_source(&mut self, source: crate::object::SourceId) {
        let mut diags = Vec::new();
        let first = self
            .objects
            .iter()
            .rposition(|o| o.source != source)
            .map_or(0, |i| i + 1);
        for obj in &self.objects[first..] {
            for (path, pos, msg) in validate_object(obj) {
                diags.push(Diagnostic {
                    level: DiagLevel::Error,
                    code: DiagCode::InvalidField,
                    file: self.sources[source].name.clone(),
                    pos: Some(pos),
                    field: Some(format!("{} {}", obj.id, path)),
                    message: msg,
                });
            }
        }
        self.diagnostics.extend(diags);
    }
}

#[cfg(test)]
mod tests {
    use crate::{DiagCode, Inventory, LoadOptions, Pos};

    #[test]
    fn wrong_types_are_errors_with_field_and_line() {
        let mut inv = Inventory::new();
        inv.add_text(
            "d.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      hostPID: \"true\"\n      containers:\n      - name: a\n        securityContext:\n          privileged: yes\n          runAsUser: root\n          capabilities: {add: NET_ADMIN}\n",
            &LoadOptions::default(),
        );
        let errs: Vec<_> = inv
            .diagnostics
            .iter()
            .filter(|d| d.code == DiagCode::InvalidField)
            .map(|d| (d.pos.unwrap(), d.field.clone().unwrap(), d.message.clone()))
            .collect();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_eq!(errs[0].0, Pos::new(7, 7));
        assert!(errs[0].1.ends_with("spec.template.spec.hostPID"));
        assert_eq!(
            errs[0].2,
            "expected a boolean (true or false), got string \"true\""
        );
        assert!(
            errs[1]
                .1
                .ends_with("spec.template.spec.containers[0].securityContext.runAsUser")
        );
        assert!(errs[2].1.ends_with("capabilities.add"));
        assert!(errs[2].2.contains("expected a list"));
        // `privileged: yes` is a boolean for the API server's YAML decoder.
        assert!(!errs.iter().any(|e| e.1.contains("privileged")));
    }
}
