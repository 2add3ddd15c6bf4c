//! Kubernetes objects and the inventory that holds everything loaded.

use crate::diag::{DiagCode, DiagLevel, Diagnostic};
use crate::node::{Node, Pos};
use crate::path::FieldPath;
use crate::yaml::{Limits, parse_stream};
use std::collections::BTreeMap;

/// Index of a source file in an [`Inventory`].
pub type SourceId = usize;
/// Index of an object in an [`Inventory`].
pub type ObjectId = usize;

/// Identity of an object: what reports print and suppressions match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ObjectRef {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Effective namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// `metadata.name` (or `generateName` followed by `*`).
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A Kubernetes object with its source tree.
#[derive(Debug, Clone)]
pub struct Object {
    /// Which file it came from.
    pub source: SourceId,
    /// 0-based document index in that file.
    pub doc_index: usize,
    /// For items of a `kind: List`, the path of the item in the list document.
    pub item_path: FieldPath,
    /// Identity.
    pub id: ObjectRef,
    /// True when `metadata.namespace` was written (false when defaulted).
    pub namespace_explicit: bool,
    /// The whole object; field paths in findings are relative to it.
    pub node: Node,
}

impl Object {
    /// Where the object starts.
    pub fn pos(&self) -> Pos {
        self.node.pos
    }

    /// `metadata`, if present.
    pub fn metadata(&self) -> Option<&Node> {
        self.node.get("metadata")
    }

    /// Value of a label on the object.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.node.at(&["metadata", "labels", key])?.as_str()
    }

    /// Value of an annotation on the object.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.node.at(&["metadata", "annotations", key])?.as_str()
    }

    /// Labels as a map.
    pub fn labels(&self) -> BTreeMap<&str, &str> {
        string_map(self.node.at(&["metadata", "labels"]))
    }

    /// The API group of `apiVersion` (`""` for the core group).
    pub fn group(&self) -> &str {
        self.id.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

/// A `map[string]string` field (labels, annotations, selectors) as a sorted map.
pub fn string_map(node: Option<&Node>) -> BTreeMap<&str, &str> {
    node.map(|n| {
        n.entries()
            .iter()
            .map(|e| (&*e.key, e.value.as_str().unwrap_or("")))
            .collect()
    })
    .unwrap_or_default()
}

/// A loaded source (file or standard input).
#[derive(Debug, Clone)]
pub struct Source {
    /// Name to show: the path as given, or `<stdin>`.
    pub name: String,
}

/// Options for loading.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Namespace for namespaced objects that do not name one.
    pub default_namespace: String,
    /// Size limits.
    pub limits: Limits,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_namespace: "default".into(),
            limits: Limits::default(),
        }
    }
}

/// Everything loaded: sources, objects and input diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Loaded sources.
    pub sources: Vec<Source>,
    /// Objects in load order.
    pub objects: Vec<Object>,
    /// Input problems.
    pub diagnostics: Vec<Diagnostic>,
    /// Namespace name -> index of the first Namespace object with that name.
    namespaces: std::collections::HashMap<String, ObjectId>,
}

/// Kinds that are cluster-scoped (no namespace).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterPolicyReport",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "VolumeAttributesClass",
    "DeviceClass",
    "ConstraintTemplate",
    "GatewayClass",
    "ClusterIssuer",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterTrustBundle",
];

/// True when objects of `kind` are cluster-scoped.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Name of a source.
    pub fn source_name(&self, id: SourceId) -> &str {
        &self.sources[id].name
    }

    /// The source file name of an object.
    pub fn file_of(&self, obj: &Object) -> &str {
        self.source_name(obj.source)
    }

    /// True when any error diagnostic was recorded.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == DiagLevel::Error)
    }

    /// Parses `text` as the content of source `name` and adds its objects.
    pub fn add_text(&mut self, name: &str, text: &str, opts: &LoadOptions) -> SourceId {
        let source = self.sources.len();
        self.sources.push(Source { name: name.into() });
        for doc in parse_stream(text, &opts.limits) {
            match doc {
                Err(e) => {
                    let code = if e.message.contains("too large") || e.message.contains("nesting") {
                        DiagCode::Limit
                    } else {
                        DiagCode::Syntax
                    };
                    self.diagnostics.push(Diagnostic {
                        level: DiagLevel::Error,
                        code,
                        file: name.into(),
                        pos: Some(e.pos),
                        field: None,
                        message: format!("document {}: {}", e.index + 1, e.message),
                    });
                }
                Ok(doc) => {
                    if let Some(root) = doc.root {
                        self.add_document(source, doc.index, FieldPath::root(), root, opts, 0);
                    }
                }
            }
        }
        self.validate_source(source);
        source
    }

    fn diag(
        &mut self,
        source: SourceId,
        level: DiagLevel,
        code: DiagCode,
        pos: Pos,
        field: Option<String>,
        message: String,
    ) {
        let file = self.sources[source].name.clone();
        self.diagnostics.push(Diagnostic {
            level,
            code,
            file,
            pos: Some(pos),
            field,
            message,
        });
    }

    fn add_document(
        &mut self,
        source: SourceId,
        doc_index: usize,
        item_path: FieldPath,
        root: Node,
        opts: &LoadOptions,
        depth: usize,
    ) {
        if !root.is_map() {
            if !root.is_null() {
                self.diag(
                    source,
                    DiagLevel::Notice,
                    DiagCode::NotKubernetes,
                    root.pos,
                    None,
                    format!(
                        "document {} skipped: not a Kubernetes object (a {}, not a mapping)",
                        doc_index + 1,
                        root.node_type()
                    ),
                );
            }
            return;
        }
        let api_version = root
            .get("apiVersion")
            .and_then(Node::as_str)
            .map(str::to_owned);
        let kind = root.get("kind").and_then(Node::as_str).map(str::to_owned);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            let missing = if root.get("kind").is_none() && root.get("apiVersion").is_none() {
                "no apiVersion/kind"
            } else if root.get("kind").is_none() {
                "no kind"
            } else {
                "no apiVersion"
            };
            self.diag(
                source,
                DiagLevel::Notice,
                DiagCode::NotKubernetes,
                root.pos,
                None,
                format!(
                    "document {} skipped: not a Kubernetes object ({missing})",
                    doc_index + 1
                ),
            );
            return;
        };
        if kind.ends_with("List") && root.get("items").is_some_and(Node::is_seq) {
            if depth > 2 {
                self.diag(
                    source,
                    DiagLevel::Error,
                    DiagCode::Limit,
                    root.pos,
                    None,
                    "lists nested too deeply".into(),
                );
                return;
            }
            // Items of a typed list (`PodList`, as the API returns it) may omit their kind
            // and apiVersion: they are the list's.
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            let item_kind = item_kind.map(|k| (k.to_string(), api_version.clone()));
            let Node { value, .. } = root;
            let crate::node::Value::Map(entries) = value else {
                unreachable!()
            };
            for e in entries {
                if &*e.key == "items" {
                    let crate::node::Value::Seq(items) = e.value.value else {
                        continue;
                    };
                    for (i, mut item) in items.into_iter().enumerate() {
                        if let (Some((k, av)), crate::node::Value::Map(fields)) =
                            (&item_kind, &mut item.value)
                        {
                            for (key, text) in [("kind", k), ("apiVersion", av)] {
                                if !fields.iter().any(|f| &*f.key == key) {
                                    fields.push(crate::node::Entry {
                                        key: key.into(),
                                        key_pos: item.pos,
                                        value: Node::scalar(text, true, item.pos),
                                    });
                                }
                            }
                        }
                        self.add_document(
                            source,
                            doc_index,
                            item_path.key("items").index(i),
                            item,
                            opts,
                            depth + 1,
                        );
                    }
                }
            }
            return;
        }
        let meta = root.get("metadata");
        if let Some(m) = meta
            && !m.is_map()
            && !m.is_null()
        {
            self.diag(
                source,
                DiagLevel::Error,
                DiagCode::InvalidField,
                m.pos,
                Some("metadata".into()),
                format!("expected a mapping, got {}", m.node_type()),
            );
            return;
        }
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .map(str::to_owned)
            .or_else(|| {
                meta.and_then(|m| m.get("generateName"))
                    .and_then(Node::as_str)
                    .map(|g| format!("{g}*"))
            });
        let name = match name {
            Some(n) => n,
            None => {
                self.diag(
                    source,
                    DiagLevel::Warning,
                    DiagCode::MissingField,
                    root.pos,
                    Some("metadata.name".into()),
                    format!("{kind} has no metadata.name"),
                );
                String::from("<unnamed>")
            }
        };
        let explicit_ns = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let namespace_explicit = explicit_ns.is_some();
        let namespace = if is_cluster_scoped(&kind) {
            None
        } else {
            Some(explicit_ns.unwrap_or_else(|| opts.default_namespace.clone()))
        };
        if kind == "Namespace" {
            self.namespaces
                .entry(name.clone())
                .or_insert(self.objects.len());
        }
        self.objects.push(Object {
            source,
            doc_index,
            item_path,
            id: ObjectRef {
                api_version,
                kind,
                namespace,
                name,
            },
            namespace_explicit,
            node: root,
        });
    }

    /// Objects of a kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.id.kind == kind)
    }

    /// The Namespace object named `name`, if loaded.
    pub fn namespace(&self, name: &str) -> Option<&Object> {
        self.namespaces.get(name).map(|&i| &self.objects[i])
    }

    /// Appends everything from `other` (loaded separately, e.g. on another thread) after this
    /// inventory's content, keeping load order.
    pub fn append(&mut self, other: Inventory) {
        let source_base = self.sources.len();
        let object_base = self.objects.len();
        self.sources.extend(other.sources);
        for (name, i) in other.namespaces {
            self.namespaces.entry(name).or_insert(object_base + i);
        }
        self.objects.extend(other.objects.into_iter().map(|mut o| {
            o.source += source_base;
            o
        }));
        self.diagnostics.extend(other.diagnostics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_list_items_inherit_kind_and_api_version() {
        let mut inv = Inventory::new();
        let text = "kind: PodList\napiVersion: v1\nitems:\n- metadata: {name: a}\n- kind: ConfigMap\n  apiVersion: v1\n  metadata: {name: b}\n---\nkind: List\napiVersion: v1\nitems:\n- metadata: {name: c}\n";
        inv.add_text("f.yaml", text, &LoadOptions::default());
        let ids: Vec<String> = inv.objects.iter().map(|o| o.id.to_string()).collect();
        assert_eq!(ids, ["Pod/default/a", "ConfigMap/default/b"]);
        assert_eq!(inv.objects[0].id.api_version, "v1");
        assert_eq!(inv.diagnostics.len(), 1, "an untyped List item has no kind");
    }

    #[test]
    fn lists_namespaces_and_notices() {
        let mut inv = Inventory::new();
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: ns1}\n---\nfoo: bar\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\n";
        inv.add_text("f.yaml", text, &LoadOptions::default());
        assert_eq!(inv.objects.len(), 3);
        assert_eq!(inv.objects[0].id.namespace.as_deref(), Some("default"));
        assert_eq!(inv.objects[0].item_path.to_string(), "items[0]");
        assert_eq!(inv.objects[0].pos().line, 4);
        assert_eq!(inv.objects[1].id.namespace, None);
        assert_eq!(inv.objects[2].id.namespace.as_deref(), Some("x"));
        assert!(inv.objects[2].namespace_explicit);
        assert_eq!(inv.diagnostics.len(), 1);
        assert_eq!(inv.diagnostics[0].code, DiagCode::NotKubernetes);
        assert!(!inv.has_errors());
    }
}
