//! A test HTTPS client that talks to the webhook the way the API server does (TLS verified
//! against the CA bundle, HTTP/1.1, JSON bodies), and a server started in-process on an
//! ephemeral 127.0.0.1 port.

#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use palisade_admission::server::{self, Running, ServeOptions, TlsSource};
use palisade_admission::{Admission, ServerConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub struct Client {
    addr: SocketAddr,
    connector: tokio_rustls::TlsConnector,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Client {
    pub fn new(addr: SocketAddr, ca_pem: &str) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            addr,
            connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        }
    }

    /// Sends one request on a new connection.
    pub async fn request(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Reply, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let io = hyper_util::rt::TokioIo::new(tls);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Reply { status, body })
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.request("POST", path, serde_json::to_vec(body).unwrap())
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, Vec::new()).await.unwrap()
    }
}

pub struct TestServer {
    pub running: Running,
    pub client: Client,
    pub admission: Arc<Admission>,
    pub ca_pem: String,
}

/// Starts a server from a configuration text (paths relative to `dir`), with a fresh
/// self-signed certificate written to `dir/tls.crt` and `dir/tls.key` and polled every 100 ms.
pub async fn start(dir: &Path, config_yaml: &str, opts: ServeOptions) -> TestServer {
    let cfg_path = dir.join("config.yaml");
    std::fs::write(&cfg_path, config_yaml).unwrap();
    let cfg = ServerConfig::from_file(&cfg_path).unwrap();
    let (adm, diags) = Admission::from_config(&cfg).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    let adm = Arc::new(adm);
    let certs = palisade_admission::tls::self_signed(&["localhost".into()]).unwrap();
    std::fs::write(dir.join("tls.crt"), &certs.serving.cert).unwrap();
    std::fs::write(dir.join("tls.key"), &certs.serving.key).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = server::spawn(
        adm.clone(),
        listener,
        TlsSource::Files {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            reload_every: std::time::Duration::from_millis(100),
        },
        opts,
    )
    .unwrap();
    let client = Client::new(running.addr, &certs.ca_pem);
    TestServer {
        running,
        client,
        admission: adm,
        ca_pem: certs.ca_pem,
    }
}

/// An AdmissionReview as the API server sends it.
pub fn review(
    uid: &str,
    operation: &str,
    object: &serde_json::Value,
    extra: serde_json::Value,
) -> serde_json::Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or("");
    let resource = match kind {
        "Pod" => "pods".to_string(),
        "Namespace" => "namespaces".to_string(),
        k => format!("{}s", k.to_ascii_lowercase()),
    };
    let ns = if kind == "Namespace" {
        ""
    } else {
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    };
    let mut req = serde_json::json!({
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": object["metadata"]["name"],
        "namespace": ns,
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    });
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            req[k] = v;
        }
    }
    if ns.is_empty() {
        req.as_object_mut().unwrap().remove("namespace");
    }
    serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}
