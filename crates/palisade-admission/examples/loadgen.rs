//! Open-loop load generator for the admission webhook (used by `scripts/bench-admission`).
//!
//! Sends AdmissionReviews at a fixed rate over keep-alive HTTPS connections, whatever the
//! server's speed: request `i` is released at `start + i / rate` into its connection's queue,
//! and its latency is measured from that release (so queueing behind a slow answer counts: no
//! coordinated omission). Prints one JSON line: sent, ok, errors, achieved rate, latency
//! percentiles in microseconds.
//!
//! ```text
//! cargo run --release -p palisade-admission --example loadgen -- \
//!     --addr 127.0.0.1:8443 --ca ca.crt --rate 2000 --seconds 20 [--connections 64] [--path /validate] \
//!     [--mix all|restricted-pod] [--distinct N] [--in-process CONFIG]
//! ```
//!
//! `--in-process CONFIG` sends nothing: it decides the same number of the same requests in
//! this process (the server's configuration file, one thread, no TLS or HTTP) and prints the
//! mean time per request, the cost of the decisions alone on the machine at that moment.
//!
//! `--mix restricted-pod` sends only the compliant two-container Pod created in the restricted
//! namespace (the costliest review of the mix under Gatekeeper), for its CPU per review.
//!
//! Every Pod's name gets a suffix unique to its request (as the Pods a ReplicaSet creates), and
//! the first container's image tag a variant: with `--distinct 0` (the default) every request
//! has its own variant, so no two Pod specs are the same; with `--distinct N`, N variants in
//! turn, as N workloads whose Pods are created again and again (what Gatekeeper verdict memos
//! are for).
//!
//! The review mix (built in, every uid unique): 45% Pods created in namespaces with
//! restricted, baseline and privileged labels (compliant, missing restricted fields, privileged,
//! host namespaces), 15% Pod updates (labels only; image changes), 25% Deployments,
//! StatefulSets and Jobs, 10% other kinds (ConfigMaps, Services), 5% Namespaces.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator of the `palisade` binary, so that `--in-process` figures are the server's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    addr: String,
    ca: String,
    rate: f64,
    seconds: f64,
    connections: usize,
    path: String,
    only_restricted_pod: bool,
    distinct: u64,
    /// `--in-process CONFIG`: no server; the reviews are decided in this process.
    in_process: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8443".into(),
        ca: "ca.crt".into(),
        rate: 1000.0,
        seconds: 10.0,
        connections: 64,
        path: "/validate".into(),
        only_restricted_pod: false,
        distinct: 0,
        in_process: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--addr" => a.addr = v,
            "--ca" => a.ca = v,
            "--rate" => a.rate = v.parse().expect("--rate"),
            "--seconds" => a.seconds = v.parse().expect("--seconds"),
            "--connections" => a.connections = v.parse().expect("--connections"),
            "--path" => a.path = v,
            "--mix" => {
                a.only_restricted_pod = match v.as_str() {
                    "all" => false,
                    "restricted-pod" => true,
                    _ => panic!("--mix: all or restricted-pod"),
                }
            }
            "--distinct" => a.distinct = v.parse().expect("--distinct"),
            "--in-process" => a.in_process = Some(v),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

/// Markers replaced in every request: the Pod name's suffix and the image tag's variant.
const NAME_MARK: &[u8] = b"p000000000000";
const VARIANT_MARK: &[u8] = b"v000000000000";

/// Writes `n` (12 digits) after each marker's letter.
fn stamp(body: &mut [u8], mark: &[u8], n: u64) {
    let digits = format!("{n:012}");
    let mut at = 0;
    while let Some(p) = body[at..].windows(mark.len()).position(|w| w == mark) {
        let p = at + p;
        body[p + 1..p + mark.len()].copy_from_slice(digits.as_bytes());
        at = p + mark.len();
    }
}

fn pod(name: &str, ns: &str, mut spec: Value) -> Value {
    let name = format!("{name}-{}", std::str::from_utf8(NAME_MARK).expect("ascii"));
    if let Some(image) = spec["containers"][0]["image"].as_str() {
        let image = format!(
            "{image}-{}",
            std::str::from_utf8(VARIANT_MARK).expect("ascii")
        );
        spec["containers"][0]["image"] = json!(image);
    }
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name, "team": "bench"},
            "annotations": {"kubernetes.io/psp": "none"}},
        "spec": spec})
}

fn restricted_spec(image: &str) -> Value {
    json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
            {"name": "sidecar", "image": "envoyproxy/envoy:v1.30.1",
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "tmp", "emptyDir": {}}]})
}

fn review(op: &str, obj: &Value, old: Option<&Value>, resource: (&str, &str, &str)) -> Value {
    let (group, version, res) = resource;
    let ns = obj["metadata"]["namespace"].clone();
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "UID-000000000000", "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": res},
            "requestKind": {"group": group, "version": version, "kind": obj["kind"]},
            "requestResource": {"group": group, "version": version, "resource": res},
            "name": obj["metadata"]["name"], "namespace": ns, "operation": op,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller-bench",
                "uid": "0d8a", "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]},
            "object": obj, "oldObject": old.cloned().unwrap_or(Value::Null), "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": if op == "CREATE" {"CreateOptions"} else {"UpdateOptions"}}}})
}

/// The mix: (weight, body with a fixed-width uid placeholder).
fn mix() -> Vec<(u32, Vec<u8>)> {
    let core_pods = ("", "v1", "pods");
    let mut out: Vec<(u32, Value)> = Vec::new();
    for (i, ns) in ["bench-restricted", "bench-baseline", "bench-privileged"]
        .iter()
        .enumerate()
    {
        out.push((
            6,
            review(
                "CREATE",
                &pod(
                    &format!("ok-{i}"),
                    ns,
                    restricted_spec("registry.example/app:1.4.2"),
                ),
                None,
                core_pods,
            ),
        ));
        out.push((5, review("CREATE", &pod(&format!("plain-{i}"), ns,
            json!({"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]})), None, core_pods)));
        out.push((2, review("CREATE", &pod(&format!("priv-{i}"), ns,
            json!({"hostNetwork": true, "containers": [{"name": "agent", "image": "datadog/agent:7", "securityContext": {"privileged": true},
                "volumeMounts": [{"name": "proc", "mountPath": "/host/proc"}]}],
                "volumes": [{"name": "proc", "hostPath": {"path": "/proc"}}]})), None, core_pods)));
        let old = pod(
            &format!("ok-{i}"),
            ns,
            restricted_spec("registry.example/app:1.4.2"),
        );
        let mut relabel = old.clone();
        relabel["metadata"]["labels"]["rollout"] = json!("b");
        out.push((3, review("UPDATE", &relabel, Some(&old), core_pods)));
        let new_image = pod(
            &format!("ok-{i}"),
            ns,
            restricted_spec("registry.example/app:1.4.3"),
        );
        out.push((2, review("UPDATE", &new_image, Some(&old), core_pods)));
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": restricted_spec("registry.example/web:2")});
        out.push((
            4,
            review(
                "CREATE",
                &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": format!("web-{i}"), "namespace": ns},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template}}),
                None,
                ("apps", "v1", "deployments"),
            ),
        ));
        out.push((
            2,
            review(
                "CREATE",
                &json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "metadata": {"name": format!("db-{i}"), "namespace": ns},
                    "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}},
                            "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}}}}),
                None,
                ("apps", "v1", "statefulsets"),
            ),
        ));
        out.push((
            2,
            review(
                "CREATE",
                &json!({"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": format!("migrate-{i}"), "namespace": ns},
                    "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "m", "image": "registry.example/migrate:3"}]}}}}),
                None,
                ("batch", "v1", "jobs"),
            ),
        ));
        out.push((
            3,
            review(
                "CREATE",
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("cfg-{i}"), "namespace": ns},
                    "data": {"app.properties": "a=1\nb=2\n"}}),
                None,
                ("", "v1", "configmaps"),
            ),
        ));
    }
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "bench-new", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}});
    let mut ns_review = review("CREATE", &ns, None, ("", "v1", "namespaces"));
    ns_review["request"]["dryRun"] = json!(true);
    out.push((3, ns_review));
    out.into_iter()
        .map(|(w, v)| (w, serde_json::to_vec(&v).expect("serialisable")))
        .collect()
}

#[allow(deprecated)]
fn tls(ca: &str) -> tokio_rustls::TlsConnector {
    let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("{ca}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.expect("CA PEM")).expect("CA");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str, tls: &tokio_rustls::TlsConnector) -> Result<Sender, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).ok();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

struct Job {
    due: Instant,
    body: Bytes,
}

/// Request `i` of the run: its mix entry, with its uid, Pod name and image variant stamped.
fn request(mix: &[(u32, Vec<u8>)], weighted: &[usize], i: u64, distinct: u64) -> Vec<u8> {
    let (_, template) = &mix[weighted[(i as usize * 7919) % weighted.len()]];
    let mut body = template.clone();
    let uid = format!("{i:012}");
    if let Some(p) = body.windows(16).position(|w| w == b"UID-000000000000") {
        body[p + 4..p + 16].copy_from_slice(uid.as_bytes());
    }
    stamp(&mut body, NAME_MARK, i);
    stamp(
        &mut body,
        VARIANT_MARK,
        if distinct == 0 { i } else { i % distinct },
    );
    body
}

/// `--in-process CONFIG`: the same requests decided in this process, one after another on one
/// thread, without TLS, HTTP or a network: what the decisions alone cost on the machine now
/// (the bench prints it next to the server's CPU per request, so that a machine slower than
/// usual at the time shows). Prints `{"in_process_us": ...}` (mean per request).
fn in_process(config: &str, a: &Args, mix: &[(u32, Vec<u8>)], weighted: &[usize]) {
    let cfg = palisade_admission::ServerConfig::from_file(std::path::Path::new(config))
        .expect("--in-process: the configuration");
    let (adm, _) = palisade_admission::Admission::from_config(&cfg).expect("the admission");
    let total = ((a.rate * a.seconds) as u64).max(1);
    // Numbers past those of the run before it: no verdict memo hit that the server would not
    // have had.
    let first = 1 << 32;
    let bodies: Vec<Vec<u8>> = (first..first + total)
        .map(|i| request(mix, weighted, i, a.distinct))
        .collect();
    let t = Instant::now();
    for b in &bodies {
        std::hint::black_box(
            adm.handle(palisade_admission::Endpoint::Validate, b)
                .expect("a review"),
        );
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / total as f64;
    println!(
        "{}",
        json!({"in_process_us": (per * 10.0).round() / 10.0, "reviews": total})
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let mut mix = mix();
    if a.only_restricted_pod {
        // The first entry: the compliant Pod in bench-restricted.
        mix.truncate(1);
    }
    let mut weighted: Vec<usize> = Vec::new();
    for (i, (w, _)) in mix.iter().enumerate() {
        weighted.extend(std::iter::repeat_n(i, *w as usize));
    }
    if let Some(config) = &a.in_process {
        in_process(config, &a, &mix, &weighted);
        return;
    }
    let connector = tls(&a.ca);
    let total = (a.rate * a.seconds) as u64;
    let distinct = a.distinct;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Result<u64, String>>();
    let mut senders = Vec::new();
    // Every connection is opened (TCP and TLS) before the first request is due: a handshake is
    // once per connection, as for the API server's keep-alive connections, and is not part of
    // a request's latency.
    let ready = Arc::new(tokio::sync::Barrier::new(a.connections + 1));
    for _ in 0..a.connections {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        senders.push(tx);
        let done = done_tx.clone();
        let addr = a.addr.clone();
        let path = a.path.clone();
        let connector = connector.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let mut conn: Option<Sender> = connect(&addr, &connector).await.ok();
            ready.wait().await;
            while let Some(job) = rx.recv().await {
                if conn.as_ref().is_none_or(|c| c.is_closed()) {
                    conn = connect(&addr, &connector).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    let _ = done.send(Err("connect failed".into()));
                    continue;
                };
                let req = hyper::Request::post(path.as_str())
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(job.body))
                    .expect("request");
                let r = async {
                    c.ready().await.map_err(|e| e.to_string())?;
                    let resp = c.send_request(req).await.map_err(|e| e.to_string())?;
                    let status = resp.status().as_u16();
                    let body = resp
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| e.to_string())?
                        .to_bytes();
                    if status != 200 || !body.starts_with(b"{\"apiVersion\"") {
                        return Err(format!("HTTP {status}"));
                    }
                    Ok(job.due.elapsed().as_micros() as u64)
                }
                .await;
                if r.is_err() {
                    conn = None;
                }
                let _ = done.send(r);
            }
        });
    }
    drop(done_tx);
    ready.wait().await;
    let start = Instant::now() + Duration::from_millis(50);
    let interval = 1.0 / a.rate;
    let weighted = Arc::new(weighted);
    let mix = Arc::new(mix);
    let feeder = tokio::spawn(async move {
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 * interval);
            tokio::time::sleep_until(due.into()).await;
            let body = request(&mix, &weighted, i, distinct);
            // Latency counts from the moment the request is handed to its connection: time
            // spent queued behind a slow answer counts, the timer's own lateness (tokio's
            // timer ticks every millisecond) does not.
            let _ = senders[i as usize % senders.len()].send(Job {
                due: Instant::now(),
                body: Bytes::from(body),
            });
        }
    });
    let mut lat: Vec<u64> = Vec::with_capacity(total as usize);
    let mut errors = 0u64;
    let mut first_error = String::new();
    while let Some(r) = done_rx.recv().await {
        match r {
            Ok(us) => lat.push(us),
            Err(e) => {
                errors += 1;
                if first_error.is_empty() {
                    first_error = e;
                }
            }
        }
        if lat.len() as u64 + errors == total {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    feeder.await.ok();
    lat.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        let i = ((p / 100.0) * lat.len() as f64).ceil() as usize;
        lat[i.clamp(1, lat.len()) - 1]
    };
    println!(
        "{}",
        json!({
            "target_rate": a.rate, "sent": total, "ok": lat.len(), "errors": errors,
            "first_error": first_error,
            "achieved_rate": (lat.len() as f64 / elapsed * 10.0).round() / 10.0,
            "p50_us": pct(50.0), "p90_us": pct(90.0), "p99_us": pct(99.0), "p999_us": pct(99.9),
            "max_us": lat.last().copied().unwrap_or(0),
        })
    );
}
