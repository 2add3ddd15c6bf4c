//! The HTTP output against a real receiver on 127.0.0.1 that is stopped and restarted: no alert
//! is lost, none is sent twice, order is kept, and the spool carries alerts across runs.

use palisade_rules::alert::{Alert, Priority};
use palisade_rules::output::{Format, HttpConfig, Metrics, Outputs, Renderer};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A tiny HTTP/1.1 receiver recording POST bodies; answers `status`.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

fn read_request(c: &mut TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = c.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < head_end + len {
        let n = c.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    assert!(head.starts_with("POST / HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    Some(String::from_utf8_lossy(&data[head_end..head_end + len]).to_string())
}

impl Receiver {
    fn start(port: u16, status: u16, got: Arc<Mutex<Vec<String>>>) -> Receiver {
        let l = TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || {
            for conn in l.incoming() {
                if s2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut c) = conn else { continue };
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                if let Some(body) = read_request(&mut c) {
                    if (200..300).contains(&status) {
                        got.lock().unwrap().push(body);
                    }
                    let _ = c.write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                }
            }
        });
        Receiver {
            port,
            stop,
            handle: Some(handle),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.handle.take().unwrap().join().unwrap();
    }
}

fn alert(i: u64) -> Alert {
    let mut f = BTreeMap::new();
    f.insert("evt.time".to_string(), serde_json::json!(i));
    Alert {
        time_ns: 1_700_000_000_000_000_000 + i,
        rule: format!("Rule {i}"),
        priority: Priority::Critical,
        source: "syscall".into(),
        output: format!("alert number {i}"),
        output_fields: f,
        tags: vec!["T1611".into()],
        hostname: "node-1".into(),
    }
}

fn config(port: u16, spool: Option<&Path>) -> HttpConfig {
    let mut c = HttpConfig::new(&format!("http://127.0.0.1:{port}/"));
    c.spool_dir = spool.map(Path::to_path_buf);
    c.backoff_initial = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c.drain_timeout = Duration::from_secs(10);
    c
}

/// Wait (generously) until `cond` holds; the test fails if it never does.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn rules_of(got: &Mutex<Vec<String>>) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).expect("body is JSON");
            v["rule"].as_str().unwrap().to_string()
        })
        .collect()
}

fn spool_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count()
}

#[test]
fn receiver_down_and_back_loses_nothing() {
    let spool = tempfile::tempdir().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let rx = Receiver::start(0, 200, got.clone());
    let port = rx.port;
    let metrics = Metrics::new();
    let mut out = Outputs::new(Format::Text, Renderer::utc(), metrics.clone());
    out.add_http(config(port, Some(spool.path()))).unwrap();

    for i in 0..3 {
        out.emit(&alert(i));
    }
    wait_for("first 3 alerts", || got.lock().unwrap().len() == 3);

    rx.stop();
    for i in 3..7 {
        out.emit(&alert(i));
    }
    // While the receiver is down the alerts wait on disk and delivery keeps failing.
    wait_for("failed attempts", || {
        metrics
            .render()
            .contains("palisade_http_failed_attempts_total")
            && !metrics
                .render()
                .contains("palisade_http_failed_attempts_total 0\n")
    });
    assert_eq!(spool_files(spool.path()), 4);
    assert_eq!(got.lock().unwrap().len(), 3);

    let rx = Receiver::start(port, 200, got.clone());
    wait_for("all 7 alerts", || got.lock().unwrap().len() == 7);
    let report = out.close();
    rx.stop();

    let expect: Vec<String> = (0..7).map(|i| format!("Rule {i}")).collect();
    assert_eq!(rules_of(&got), expect);
    assert_eq!(spool_files(spool.path()), 0);
    let http = report.http.unwrap();
    assert_eq!((http.delivered, http.spooled, http.lost), (7, 0, 0));
    assert!(http.failed_attempts > 0);
    // The body is Falco's JSON object, unchanged.
    let first: serde_json::Value = serde_json::from_str(&got.lock().unwrap()[0]).unwrap();
    assert_eq!(first["priority"], "Critical");
    assert_eq!(first["time"], "2023-11-14T22:13:20.000000000Z");
    assert_eq!(
        first["output"],
        "22:13:20.000000000: Critical alert number 0"
    );
    assert_eq!(first["tags"], serde_json::json!(["T1611"]));
}

#[test]
fn spool_survives_a_restart_of_palisade() {
    let spool = tempfile::tempdir().unwrap();
    // A port nobody listens on: take one and close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(port, Some(spool.path()));
    cfg.drain_timeout = Duration::from_millis(100);
    let mut out = Outputs::new(Format::Json, Renderer::utc(), Metrics::new());
    out.add_http(cfg).unwrap();
    out.emit(&alert(1));
    out.emit(&alert(2));
    let report = out.close().http.unwrap();
    assert_eq!((report.delivered, report.spooled), (0, 2));
    assert!(report.last_error.is_some());
    assert_eq!(spool_files(spool.path()), 2);

    // The next run delivers what the last one left, before anything new.
    let got = Arc::new(Mutex::new(Vec::new()));
    let rx = Receiver::start(port, 200, got.clone());
    let mut out = Outputs::new(Format::Json, Renderer::utc(), Metrics::new());
    out.add_http(config(port, Some(spool.path()))).unwrap();
    out.emit(&alert(3));
    wait_for("3 alerts", || got.lock().unwrap().len() == 3);
    let report = out.close().http.unwrap();
    rx.stop();
    assert_eq!(rules_of(&got), ["Rule 1", "Rule 2", "Rule 3"]);
    assert_eq!((report.delivered, report.spooled), (3, 0));
    assert_eq!(spool_files(spool.path()), 0);
}

#[test]
fn memory_queue_retries_and_refusals_are_not_retried() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let rx = Receiver::start(0, 400, got.clone());
    let mut out = Outputs::new(Format::Json, Renderer::utc(), Metrics::new());
    out.add_http(config(rx.port, None)).unwrap();
    out.emit(&alert(1));
    let report = out.close().http.unwrap();
    rx.stop();
    assert_eq!((report.delivered, report.rejected, report.lost), (0, 1, 0));
    assert!(report.last_error.unwrap().contains("400"));
}
