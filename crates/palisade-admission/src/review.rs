//! `admission.k8s.io/v1` AdmissionReview: parsing requests, building responses.
//!
//! Parsing never panics: a body that is not an AdmissionReview the API server could have sent
//! gives a [`ReviewError`] naming the field, which the server answers with HTTP 400.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// The parts of an `AdmissionRequest` the policies read. The whole request stays available as
/// JSON in [`AdmissionReview::request_json`] (Gatekeeper's `input.review`).
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
#[derive(Debug, Clone)]
pub struct AdmissionReview {
    /// The request fields.
    pub request: Request,
    /// `request` as JSON (with `object` and `oldObject`).
    pub request_json: Value,
}

impl AdmissionReview {
    /// `request.object`, if present and not null.
    pub fn object(&self) -> Option<&Value> {
        self.request_json.get("object").filter(|v| !v.is_null())
    }

    /// `request.oldObject`, if present and not null.
    pub fn old_object(&self) -> Option<&Value> {
        self.request_json.get("oldObject").filter(|v| !v.is_null())
    }
}

fn opt_str<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, ReviewError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(field_err(
            field,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn obj<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a Map<String, Value>>, ReviewError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(field_err(
            field,
            format!("expected an object, found {}", type_name(other)),
        )),
    }
}

/// Parses an AdmissionReview body.
pub fn parse(body: &[u8]) -> Result<AdmissionReview, ReviewError> {
    let mut root: Value =
        serde_json::from_slice(body).map_err(|e| ReviewError::Json(e.to_string()))?;
    let Value::Object(top) = &mut root else {
        return Err(field_err(
            "(body)",
            format!("expected a JSON object, found {}", type_name(&root)),
        ));
    };
    let api_version = opt_str(top, "apiVersion", "apiVersion")?;
    if api_version != API_VERSION {
        return Err(field_err(
            "apiVersion",
            format!("expected {API_VERSION:?}, found {api_version:?}"),
        ));
    }
    let kind = opt_str(top, "kind", "kind")?;
    if kind != KIND {
        return Err(field_err(
            "kind",
            format!("expected {KIND:?}, found {kind:?}"),
        ));
    }
    let request_json = match top.remove("request") {
        Some(v @ Value::Object(_)) => v,
        None | Some(Value::Null) => return Err(field_err("request", "missing")),
        Some(other) => {
            return Err(field_err(
                "request",
                format!("expected an object, found {}", type_name(&other)),
            ));
        }
    };
    let Value::Object(r) = &request_json else {
        unreachable!("checked above")
    };
    let uid = opt_str(r, "uid", "request.uid")?;
    if uid.is_empty() {
        return Err(field_err("request.uid", "missing or empty"));
    }
    let kind = match obj(r, "kind", "request.kind")? {
        Some(k) => Gvk {
            group: opt_str(k, "group", "request.kind.group")?.to_owned(),
            version: opt_str(k, "version", "request.kind.version")?.to_owned(),
            kind: opt_str(k, "kind", "request.kind.kind")?.to_owned(),
        },
        None => return Err(field_err("request.kind", "missing")),
    };
    let resource = match obj(r, "resource", "request.resource")? {
        Some(k) => Gvr {
            group: opt_str(k, "group", "request.resource.group")?.to_owned(),
            version: opt_str(k, "version", "request.resource.version")?.to_owned(),
            resource: opt_str(k, "resource", "request.resource.resource")?.to_owned(),
        },
        None => return Err(field_err("request.resource", "missing")),
    };
    let op_text = opt_str(r, "operation", "request.operation")?;
    let operation = Operation::parse(op_text).ok_or_else(|| {
        field_err(
            "request.operation",
            format!("expected CREATE, UPDATE, DELETE or CONNECT, found {op_text:?}"),
        )
    })?;
    let (username, groups) = match obj(r, "userInfo", "request.userInfo")? {
        Some(u) => {
            let groups = match u.get("groups") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|g| {
                        g.as_str().map(str::to_owned).ok_or_else(|| {
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
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(field_err(
                "request.dryRun",
                format!("expected a boolean, found {}", type_name(other)),
            ));
        }
    };
    for (key, field) in [
        ("object", "request.object"),
        ("oldObject", "request.oldObject"),
    ] {
        obj(r, key, field)?;
    }
    if matches!(operation, Operation::Create | Operation::Update)
        && r.get("object").is_none_or(Value::is_null)
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
        sub_resource: opt_str(r, "subResource", "request.subResource")?.to_owned(),
        name: opt_str(r, "name", "request.name")?.to_owned(),
        namespace: opt_str(r, "namespace", "request.namespace")?.to_owned(),
        operation,
        username,
        groups,
        dry_run,
    };
    Ok(AdmissionReview {
        request,
        request_json,
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
