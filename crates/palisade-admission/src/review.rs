//! `admission.k8s.io/v1` AdmissionReview: parsing requests, building responses.
//!
//! Parsing never panics: a body that is not an AdmissionReview the API server could have sent
//! gives a [`ReviewError`] naming the field, which the server answers with HTTP 400.

use crate::object::{json_null, json_str, node_to_json, object_from_node, parse_node};
use palisade_model::{Node, Object, Scalar, Value as NodeValue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The API version of every review this server reads and writes.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The kind of every review.
pub const KIND: &str = "AdmissionReview";

/// Why a body is not a usable AdmissionReview.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// Not JSON at all.
    #[error("request body is not valid JSON: {0}")]
    Json(String),
    /// JSON, but a field is missing or has the wrong type.
    #[error("invalid AdmissionReview: {field}: {problem}")]
    Field {
        /// The JSON path of the field (`request.uid`).
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn field_err(field: &'static str, problem: impl Into<String>) -> ReviewError {
    ReviewError::Field {
        field,
        problem: problem.into(),
    }
}

/// The operation of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `CREATE`.
    Create,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
}

impl Operation {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Operation> {
        Some(match s {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// Group, version and kind (`request.kind`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gvk {
    /// API group (`""` for the core group).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Group, version and resource (`request.resource`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gvr {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Resource (plural, lower case).
    pub resource: String,
}

/// The parts of an `AdmissionRequest` the policies read. The whole request stays available
/// as a model tree and, built on first use, as JSON ([`AdmissionReview::request_json`],
/// Gatekeeper's `input.review`).
#[derive(Debug, Clone)]
pub struct Request {
    /// Round-trip id, echoed in the response.
    pub uid: String,
    /// Kind of the object.
    pub kind: Gvk,
    /// Resource.
    pub resource: Gvr,
    /// Subresource (`""` for none).
    pub sub_resource: String,
    /// Object name (may be empty on CREATE with `generateName`).
    pub name: String,
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Operation.
    pub operation: Operation,
    /// `userInfo.username`.
    pub username: String,
    /// `userInfo.groups`.
    pub groups: Vec<String>,
    /// `dryRun`: nothing may be persisted, so the server records no side effects.
    pub dry_run: bool,
}

/// A parsed AdmissionReview.
///
/// The body is parsed once, straight into the model tree the posture checks read
/// ([`crate::object::parse_node`]); `request.object` becomes a model [`Object`] (kind,
/// namespace and name of the request) without a copy. The JSON of the request is only built
/// when something asks for it (Gatekeeper).
#[derive(Debug, Clone)]
pub struct AdmissionReview {
    /// The request fields.
    pub request: Request,
    /// `request` without the values of `object` and `oldObject` (held below).
    rest: Node,
    object: Option<Object>,
    old_object: Option<Node>,
    json: OnceLock<Value>,
}

impl AdmissionReview {
    /// `request.object` as a model object of the request's kind, namespace and name, if
    /// present and not null.
    pub fn object_model(&self) -> Option<&Object> {
        self.object.as_ref()
    }

    /// `request.object`, if present and not null.
    pub fn object(&self) -> Option<&Node> {
        self.object.as_ref().map(|o| &o.node)
    }

    /// `request.oldObject`, if present and not null.
    pub fn old_object(&self) -> Option<&Node> {
        self.old_object.as_ref()
    }

    /// `request` as JSON (with `object` and `oldObject`), exactly as it came; built on the
    /// first call.
    pub fn request_json(&self) -> &Value {
        self.json.get_or_init(|| {
            Value::Object(
                self.request_fields()
                    .map(|(k, v)| (k.to_owned(), node_to_json(v)))
                    .collect(),
            )
        })
    }

    /// The fields of `request` in order, `object` and `oldObject` included (the request is a
    /// JSON object: [`parse`] refuses anything else).
    pub fn request_fields(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.rest.entries().iter().map(|e| {
            let held = match &*e.key {
                "object" => self.object(),
                "oldObject" => self.old_object(),
                _ => None,
            };
            (&*e.key, held.unwrap_or(&e.value))
        })
    }

    /// `request.<key>` (`object` and `oldObject` included).
    pub fn request_field(&self, key: &str) -> Option<&Node> {
        match key {
            "object" => self.object().or_else(|| self.rest.get(key)),
            "oldObject" => self.old_object().or_else(|| self.rest.get(key)),
            _ => self.rest.get(key),
        }
    }
}

fn opt_str<'a>(m: &'a Node, key: &str, field: &'static str) -> Result<&'a str, ReviewError> {
    match m.get(key) {
        None => Ok(""),
        Some(v) if json_null(v) => Ok(""),
        Some(v) => json_str(v)
            .ok_or_else(|| field_err(field, format!("expected a string, found {}", type_name(v)))),
    }
}

fn type_name(v: &Node) -> &'static str {
    match &v.value {
        NodeValue::Scalar(s) if !s.plain => "a string",
        NodeValue::Scalar(s) => match &*s.text {
            "null" => "null",
            "true" | "false" => "a boolean",
            _ => "a number",
        },
        NodeValue::Seq(_) => "a list",
        NodeValue::Map(_) => "an object",
    }
}

fn obj<'a>(m: &'a Node, key: &str, field: &'static str) -> Result<Option<&'a Node>, ReviewError> {
    match m.get(key) {
        None => Ok(None),
        Some(v) if json_null(v) => Ok(None),
        Some(v) if v.is_map() => Ok(Some(v)),
        Some(other) => Err(field_err(
            field,
            format!("expected an object, found {}", type_name(other)),
        )),
    }
}

/// Takes the value of `key` out of a mapping (leaving `null` in its place), when it is a
/// mapping.
fn take_map(m: &mut Node, key: &str) -> Option<Node> {
    let NodeValue::Map(entries) = &mut m.value else {
        return None;
    };
    let e = entries.iter_mut().find(|e| &*e.key == key)?;
    let pos = e.value.pos;
    e.value.is_map().then(|| {
        std::mem::replace(
            &mut e.value,
            Node {
                value: NodeValue::Scalar(Scalar {
                    text: "null".into(),
                    plain: true,
                }),
                pos,
            },
        )
    })
}

/// Parses an AdmissionReview body.
pub fn parse(body: &[u8]) -> Result<AdmissionReview, ReviewError> {
    let root = parse_node(body).map_err(|e| ReviewError::Json(e.to_string()))?;
    let NodeValue::Map(top) = root.value else {
        return Err(field_err(
            "(body)",
            format!("expected a JSON object, found {}", type_name(&root)),
        ));
    };
    let top = Node {
        value: NodeValue::Map(top),
        pos: root.pos,
    };
    let api_version = opt_str(&top, "apiVersion", "apiVersion")?;
    if api_version != API_VERSION {
        return Err(field_err(
            "apiVersion",
            format!("expected {API_VERSION:?}, found {api_version:?}"),
        ));
    }
    let kind = opt_str(&top, "kind", "kind")?;
    if kind != KIND {
        return Err(field_err(
            "kind",
            format!("expected {KIND:?}, found {kind:?}"),
        ));
    }
    let NodeValue::Map(mut top) = top.value else {
        unreachable!("checked above")
    };
    // The last `request` wins, as with a JSON decoder (keys are unique after parsing).
    let mut r = match top.iter().position(|e| &*e.key == "request") {
        Some(i) => top.swap_remove(i).value,
        None => return Err(field_err("request", "missing")),
    };
    if json_null(&r) {
        return Err(field_err("request", "missing"));
    }
    if !r.is_map() {
        return Err(field_err(
            "request",
            format!("expected an object, found {}", type_name(&r)),
        ));
    }
    let uid = opt_str(&r, "uid", "request.uid")?;
    if uid.is_empty() {
        return Err(field_err("request.uid", "missing or empty"));
    }
    let kind = match obj(&r, "kind", "request.kind")? {
        Some(k) => Gvk {
            group: opt_str(k, "group", "request.kind.group")?.to_owned(),
            version: opt_str(k, "version", "request.kind.version")?.to_owned(),
            kind: opt_str(k, "kind", "request.kind.kind")?.to_owned(),
        },
        None => return Err(field_err("request.kind", "missing")),
    };
    let resource = match obj(&r, "resource", "request.resource")? {
        Some(k) => Gvr {
            group: opt_str(k, "group", "request.resource.group")?.to_owned(),
            version: opt_str(k, "version", "request.resource.version")?.to_owned(),
            resource: opt_str(k, "resource", "request.resource.resource")?.to_owned(),
        },
        None => return Err(field_err("request.resource", "missing")),
    };
    let op_text = opt_str(&r, "operation", "request.operation")?;
    let operation = Operation::parse(op_text).ok_or_else(|| {
        field_err(
            "request.operation",
            format!("expected CREATE, UPDATE, DELETE or CONNECT, found {op_text:?}"),
        )
    })?;
    let (username, groups) = match obj(&r, "userInfo", "request.userInfo")? {
        Some(u) => {
            let groups = match u.get("groups") {
                None => Vec::new(),
                Some(g) if json_null(g) => Vec::new(),
                Some(g) if g.is_seq() => g
                    .items()
                    .iter()
                    .map(|g| {
                        json_str(g).map(str::to_owned).ok_or_else(|| {
                            field_err("request.userInfo.groups", "expected a list of strings")
                        })
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(field_err(
                        "request.userInfo.groups",
                        format!("expected a list, found {}", type_name(other)),
                    ));
                }
            };
            (
                opt_str(u, "username", "request.userInfo.username")?.to_owned(),
                groups,
            )
        }
        None => (String::new(), Vec::new()),
    };
    let dry_run = match r.get("dryRun") {
        None => false,
        Some(v) if json_null(v) => false,
        Some(v) => match (&v.value, type_name(v)) {
            (NodeValue::Scalar(s), "a boolean") => &*s.text == "true",
            (_, other) => {
                return Err(field_err(
                    "request.dryRun",
                    format!("expected a boolean, found {other}"),
                ));
            }
        },
    };
    for (key, field) in [
        ("object", "request.object"),
        ("oldObject", "request.oldObject"),
    ] {
        obj(&r, key, field)?;
    }
    if matches!(operation, Operation::Create | Operation::Update)
        && r.get("object").is_none_or(json_null)
    {
        return Err(field_err(
            "request.object",
            format!("missing on {}", operation.as_str()),
        ));
    }
    let request = Request {
        uid: uid.to_owned(),
        kind,
        resource,
        sub_resource: opt_str(&r, "subResource", "request.subResource")?.to_owned(),
        name: opt_str(&r, "name", "request.name")?.to_owned(),
        namespace: opt_str(&r, "namespace", "request.namespace")?.to_owned(),
        operation,
        username,
        groups,
        dry_run,
    };
    let object = take_map(&mut r, "object")
        .map(|o| object_from_node(o, &request.kind, &request.namespace, &request.name));
    let old_object = take_map(&mut r, "oldObject");
    Ok(AdmissionReview {
        request,
        rest: r,
        object,
        old_object,
        json: OnceLock::new(),
    })
}

/// `metav1.Status` of a denied request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// HTTP-like code: 403 for policy denials, 400 for undecodable objects, 422 for invalid
    /// namespace labels.
    pub code: u16,
    /// `Forbidden`, `BadRequest`, `Invalid`, `InternalError`.
    pub reason: &'static str,
    /// The message the user sees (prefixed by the API server with the webhook's name).
    pub message: String,
}

impl Status {
    /// A 403 Forbidden status.
    pub fn forbidden(message: String) -> Status {
        Status {
            code: 403,
            reason: "Forbidden",
            message,
        }
    }
}

/// The decision for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// Set when denied.
    pub status: Option<Status>,
    /// Warnings returned to the client.
    pub warnings: Vec<String>,
    /// Audit annotations (the API server prefixes each key with the webhook's name).
    pub audit_annotations: BTreeMap<String, String>,
    /// JSONPatch operations (mutating webhook only).
    pub patch: Vec<Value>,
}

impl Response {
    /// An allowed response with nothing attached.
    pub fn allow() -> Response {
        Response {
            allowed: true,
            ..Default::default()
        }
    }

    /// A denied response.
    pub fn deny(status: Status) -> Response {
        Response {
            allowed: false,
            status: Some(status),
            ..Default::default()
        }
    }

    /// Serialises the response as an AdmissionReview with `uid`.
    pub fn to_review(&self, uid: &str) -> Vec<u8> {
        use base64::Engine as _;
        let patch = (!self.patch.is_empty()).then(|| {
            let bytes = serde_json::to_vec(&self.patch).unwrap_or_default();
            base64::engine::general_purpose::STANDARD.encode(bytes)
        });
        let review = WireReview {
            api_version: API_VERSION,
            kind: KIND,
            response: WireResponse {
                uid,
                allowed: self.allowed,
                status: self.status.as_ref().map(|s| WireStatus {
                    metadata: WireEmpty {},
                    status: "Failure",
                    message: &s.message,
                    reason: s.reason,
                    code: s.code,
                }),
                patch_type: patch.as_ref().map(|_| "JSONPatch"),
                patch,
                audit_annotations: (!self.audit_annotations.is_empty())
                    .then_some(&self.audit_annotations),
                warnings: (!self.warnings.is_empty()).then_some(&self.warnings),
            },
        };
        serde_json::to_vec(&review).unwrap_or_default()
    }
}

// The response as written on the wire, serialised directly (no intermediate JSON tree).
#[derive(serde::Serialize)]
struct WireReview<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    response: WireResponse<'a>,
}

#[derive(serde::Serialize)]
struct WireResponse<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<WireStatus<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(rename = "auditAnnotations", skip_serializing_if = "Option::is_none")]
    audit_annotations: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<&'a Vec<String>>,
}

#[derive(serde::Serialize)]
struct WireStatus<'a> {
    metadata: WireEmpty,
    status: &'static str,
    message: &'a str,
    reason: &'static str,
    code: u16,
}

#[derive(serde::Serialize)]
struct WireEmpty {}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(request: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": API_VERSION, "kind": KIND, "request": request
        }))
        .unwrap()
    }

    #[test]
    fn parses_a_pod_create() {
        let body = review(serde_json::json!({
            "uid": "abc", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": "ns", "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["dev"]},
            "object": {"apiVersion": "v1", "kind": "Pod"}, "dryRun": true
        }));
        let r = parse(&body).unwrap();
        assert_eq!(r.request.uid, "abc");
        assert_eq!(r.request.kind.api_version(), "v1");
        assert_eq!(r.request.resource.resource, "pods");
        assert_eq!(r.request.operation, Operation::Create);
        assert_eq!(r.request.username, "alice");
        assert_eq!(r.request.groups, ["dev"]);
        assert!(r.request.dry_run);
        assert!(r.object().is_some());
        assert!(r.old_object().is_none());
    }

    #[test]
    fn request_json_is_the_request_as_sent() {
        let request = serde_json::json!({
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "ns", "operation": "UPDATE", "options": null, "dryRun": false,
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
                "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}],
                    "activeDeadlineSeconds": 1.5}},
            "oldObject": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
            "extra": [1, "two", true, null, {"x": -7}]
        });
        let r = parse(&review(request.clone())).unwrap();
        assert_eq!(r.request_json(), &request);
        assert_eq!(
            serde_json::to_string(r.request_json()).unwrap(),
            serde_json::to_string(&request).unwrap(),
            "same key order"
        );
        let obj = r.object_model().unwrap();
        assert_eq!((obj.id.kind.as_str(), obj.id.name.as_str()), ("Pod", "p"));
        assert_eq!(obj.id.namespace.as_deref(), Some("ns"));
        assert!(r.old_object().is_some_and(|o| o.get("spec").is_none()));
        // DELETE: object null stays null, the old object is there
        let delete = serde_json::json!({
            "uid": "d", "kind": {"kind": "Pod"}, "resource": {"resource": "pods"},
            "operation": "DELETE", "object": null, "oldObject": {"kind": "Pod"}
        });
        let r = parse(&review(delete.clone())).unwrap();
        assert!(r.object().is_none());
        assert_eq!(r.request_json(), &delete);
        // a duplicated key: the last value, at the first place, as a JSON decoder reads it
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"kind":"Pod"},"resource":{"resource":"pods"},"operation":"DELETE","uid":"y"}}"#;
        let r = parse(body).unwrap();
        assert_eq!(r.request.uid, "y");
        let want: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(r.request_json(), &want["request"]);
    }

    #[test]
    fn names_the_bad_field() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{".to_vec(), "not valid JSON"),
            (b"[]".to_vec(), "expected a JSON object"),
            (
                br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#.to_vec(),
                "apiVersion",
            ),
            (
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
                "request: missing",
            ),
            (review(serde_json::json!({"uid": ""})), "request.uid"),
            (review(serde_json::json!({"uid": 5})), "request.uid"),
            (review(serde_json::json!({"uid": "u"})), "request.kind"),
            (
                review(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
                    "resource": {"resource": "pods"}, "operation": "PATCH"})),
                "request.operation",
            ),
            (
                review(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
                    "resource": {"resource": "pods"}, "operation": "CREATE"})),
                "request.object: missing on CREATE",
            ),
            (
                review(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
                    "resource": {"resource": "pods"}, "operation": "CREATE", "object": []})),
                "request.object: expected an object",
            ),
            (
                review(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
                    "resource": {"resource": "pods"}, "operation": "DELETE", "dryRun": "yes"})),
                "request.dryRun",
            ),
            (
                review(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
                    "resource": {"resource": "pods"}, "operation": "DELETE", "dryRun": 1})),
                "request.dryRun: expected a boolean, found a number",
            ),
            (
                review(serde_json::json!({"uid": true})),
                "request.uid: expected a string, found a boolean",
            ),
            (
                review(serde_json::json!({"uid": "u", "kind": "Pod"})),
                "request.kind: expected an object, found a string",
            ),
            (
                review(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
                    "resource": {"resource": "pods"}, "operation": "DELETE",
                    "userInfo": {"groups": ["a", 1]}})),
                "request.userInfo.groups: expected a list of strings",
            ),
            (b"null".to_vec(), "expected a JSON object, found null"),
            (
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[]}"#
                    .to_vec(),
                "request: expected an object, found a list",
            ),
        ];
        for (body, want) in cases {
            let err = parse(&body).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    #[test]
    fn response_echoes_uid_and_encodes_patch() {
        let mut r = Response::deny(Status::forbidden("no".into()));
        r.warnings.push("w".into());
        let v: Value = serde_json::from_slice(&r.to_review("u-1")).unwrap();
        assert_eq!(v["response"]["uid"], "u-1");
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(v["response"]["status"]["code"], 403);
        assert_eq!(v["response"]["warnings"][0], "w");
        assert!(v["response"].get("patch").is_none());
        let mut ok = Response::allow();
        ok.patch
            .push(serde_json::json!({"op": "add", "path": "/a", "value": 1}));
        let v: Value = serde_json::from_slice(&ok.to_review("u-2")).unwrap();
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v["response"]["patch"].as_str().unwrap())
            .unwrap();
        let ops: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(ops[0]["path"], "/a");
    }
}
