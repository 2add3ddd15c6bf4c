//! Helpers shared by the hardening checks.

use palisade_model::{ContainerRef, FieldPath, Inventory, Node, Object, PodTemplate, pod_template};

/// Every object with a pod spec, with that spec.
pub(crate) fn workloads(inv: &Inventory) -> impl Iterator<Item = (&Object, PodTemplate<'_>)> {
    inv.objects
        .iter()
        .filter_map(|o| pod_template(o).map(|t| (o, t)))
}

/// True for pods that declare `spec.os.name: windows`; Linux-only settings do not apply.
pub(crate) fn is_windows(t: &PodTemplate<'_>) -> bool {
    t.spec.at(&["os", "name"]).and_then(Node::as_str) == Some("windows")
}

/// A pod-level `securityContext` field and its path.
pub(crate) fn pod_sc<'a>(t: &PodTemplate<'a>, key: &str) -> Option<(&'a Node, FieldPath)> {
    let n = t
        .spec
        .at(&["securityContext", key])
        .filter(|n| !n.is_null())?;
    Some((n, t.spec_path.keys(&["securityContext", key])))
}

/// The effective value of a `securityContext` field for a container: the container's own
/// setting when present, else the pod's. Returns the node and the path where it is set.
pub(crate) fn effective_sc<'a>(
    t: &PodTemplate<'a>,
    c: &ContainerRef<'a>,
    key: &str,
) -> Option<(&'a Node, FieldPath)> {
    if let Some(n) = c.security_context(key).filter(|n| !n.is_null()) {
        return Some((n, c.field(&["securityContext", key])));
    }
    pod_sc(t, key)
}

/// The path of a pod spec field.
pub(crate) fn spec_field(t: &PodTemplate<'_>, keys: &[&str]) -> FieldPath {
    t.spec_path.keys(keys)
}

/// A boolean field of the pod spec that is `true`.
pub(crate) fn spec_true(t: &PodTemplate<'_>, key: &str) -> bool {
    t.spec.get(key).and_then(Node::as_bool) == Some(true)
}

/// The effective namespace of an object (empty for cluster-scoped ones).
pub(crate) fn namespace(obj: &Object) -> &str {
    obj.id.namespace.as_deref().unwrap_or("")
}

/// Labels rendered as `a=b,c=d` (`<none>` when empty).
pub(crate) fn render_labels(labels: &std::collections::BTreeMap<&str, &str>) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A container described for messages: `container "app"`, `init container "setup"`.
pub(crate) fn describe(c: &ContainerRef<'_>) -> String {
    use palisade_model::ContainerKind::*;
    let kind = match c.kind {
        Init => "init container",
        Regular => "container",
        Ephemeral => "ephemeral container",
    };
    if c.name.is_empty() {
        format!("{kind} #{}", c.index)
    } else {
        format!("{kind} {:?}", c.name)
    }
}

/// The container's name for [`Sink::emit`](crate::sink::Sink::emit).
pub(crate) fn cname<'a>(c: &ContainerRef<'a>) -> Option<&'a str> {
    Some(c.name).filter(|n| !n.is_empty())
}
