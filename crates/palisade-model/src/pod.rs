//! Pod specs inside objects: Pods, workload templates, and any kind with a pod template.

use crate::node::Node;
use crate::object::Object;
use crate::path::FieldPath;

/// Where a pod spec lives in an object.
#[derive(Debug, Clone)]
pub struct PodTemplate<'a> {
    /// The object holding it.
    pub object: &'a Object,
    /// True for a `Pod` (the pod itself); false for a template in a workload.
    pub is_pod: bool,
    /// The pod's (or template's) `metadata`, if present.
    pub meta: Option<&'a Node>,
    /// The pod spec.
    pub spec: &'a Node,
    /// Path of `metadata` in the object.
    pub meta_path: FieldPath,
    /// Path of the spec in the object.
    pub spec_path: FieldPath,
}

impl<'a> PodTemplate<'a> {
    /// An annotation of the pod (template metadata for workloads).
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.meta?.at(&["annotations", key])?.as_str()
    }

    /// All annotations of the pod, in source order.
    pub fn annotations(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        self.meta
            .and_then(|m| m.get("annotations"))
            .map(Node::entries)
            .unwrap_or(&[])
            .iter()
            .map(|e| (&*e.key, e.value.as_str()))
    }

    /// Labels of the pod (template labels for workloads).
    pub fn labels(&self) -> std::collections::BTreeMap<&'a str, &'a str> {
        crate::object::string_map(self.meta.and_then(|m| m.get("labels")))
    }

    /// Every container in PodSecurity order: init containers, containers, ephemeral containers.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'a>> + 'a {
        containers(self.spec, self.spec_path.clone())
    }
}

/// Kinds that always carry their pod template at `spec.template`.
const TEMPLATE_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "ReplicationController",
];

fn looks_like_pod_spec(n: &Node) -> bool {
    n.is_map() && (n.get("containers").is_some() || n.get("initContainers").is_some())
}

/// Finds the pod spec of an object: `Pod` (`spec`), `PodTemplate` (`template.spec`),
/// `CronJob` and anything with `spec.jobTemplate.spec.template.spec`, and the workload kinds or
/// any other kind (Argo Rollouts, Knative, ...) with a pod spec at `spec.template.spec`.
pub fn pod_template(obj: &Object) -> Option<PodTemplate<'_>> {
    let root = &obj.node;
    let kind = obj.id.kind.as_str();
    let group = obj.group();
    let core = group.is_empty();
    let make = |meta_path: &str, spec_path: &str, is_pod: bool| {
        let meta_path = FieldPath::parse(meta_path);
        let spec_path = FieldPath::parse(spec_path);
        let spec = spec_path.resolve(root)?;
        if !spec.is_map() {
            return None;
        }
        Some(PodTemplate {
            object: obj,
            is_pod,
            meta: meta_path.resolve(root),
            spec,
            meta_path,
            spec_path,
        })
    };
    match kind {
        "Pod" if core => make("metadata", "spec", true),
        "PodTemplate" if core => make("template.metadata", "template.spec", false),
        "CronJob" => make(
            "spec.jobTemplate.spec.template.metadata",
            "spec.jobTemplate.spec.template.spec",
            false,
        ),
        _ if TEMPLATE_KINDS.contains(&kind) => {
            make("spec.template.metadata", "spec.template.spec", false)
        }
        _ => {
            if root
                .at(&["spec", "template", "spec"])
                .is_some_and(looks_like_pod_spec)
            {
                make("spec.template.metadata", "spec.template.spec", false)
            } else if root
                .at(&["spec", "jobTemplate", "spec", "template", "spec"])
                .is_some_and(looks_like_pod_spec)
            {
                make(
                    "spec.jobTemplate.spec.template.metadata",
                    "spec.jobTemplate.spec.template.spec",
                    false,
                )
            } else {
                None
            }
        }
    }
}

/// Which list of a pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ContainerKind {
    /// `initContainers`.
    Init,
    /// `containers`.
    Regular,
    /// `ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The pod spec field holding this kind of container.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A container of a pod spec.
#[derive(Debug, Clone)]
pub struct ContainerRef<'a> {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Index in that list.
    pub index: usize,
    /// `name` (empty if missing).
    pub name: &'a str,
    /// The container node.
    pub node: &'a Node,
    /// Path of the container in the object.
    pub path: FieldPath,
}

impl<'a> ContainerRef<'a> {
    /// A field of the container's `securityContext`.
    pub fn security_context(&self, key: &str) -> Option<&'a Node> {
        self.node.at(&["securityContext", key])
    }

    /// Path of a field below the container.
    pub fn field(&self, keys: &[&str]) -> FieldPath {
        self.path.keys(keys)
    }
}

/// Every container of a pod spec in PodSecurity order.
pub fn containers(
    spec: &Node,
    spec_path: FieldPath,
) -> impl Iterator<Item = ContainerRef<'_>> + '_ {
    [
        ContainerKind::Init,
        ContainerKind::Regular,
        ContainerKind::Ephemeral,
    ]
    .into_iter()
    .flat_map(move |kind| {
        let list_path = spec_path.key(kind.field());
        spec.get(kind.field())
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .map(move |(index, node)| ContainerRef {
                kind,
                index,
                name: node.get("name").and_then(Node::as_str).unwrap_or(""),
                node,
                path: list_path.index(index),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Inventory, LoadOptions};

    fn load(text: &str) -> Inventory {
        let mut inv = Inventory::new();
        inv.add_text("t.yaml", text, &LoadOptions::default());
        inv
    }

    #[test]
    fn finds_templates_in_known_and_unknown_kinds() {
        let inv = load(concat!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: a}]\n",
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  template:\n    metadata: {labels: {app: r}}\n    spec:\n      initContainers: [{name: i}]\n      containers: [{name: a}]\n      ephemeralContainers: [{name: e}]\n",
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n",
        ));
        let c = pod_template(&inv.objects[0]).unwrap();
        assert!(!c.is_pod);
        assert_eq!(
            c.spec_path.to_string(),
            "spec.jobTemplate.spec.template.spec"
        );
        let r = pod_template(&inv.objects[1]).unwrap();
        assert_eq!(r.labels().get("app"), Some(&"r"));
        let names: Vec<_> = r
            .containers()
            .map(|c| (c.name, c.path.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("i", "spec.template.spec.initContainers[0]".to_string()),
                ("a", "spec.template.spec.containers[0]".to_string()),
                ("e", "spec.template.spec.ephemeralContainers[0]".to_string())
            ]
        );
        assert!(pod_template(&inv.objects[2]).is_none());
    }
}
