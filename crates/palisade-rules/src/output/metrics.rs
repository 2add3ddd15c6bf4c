//! Prometheus metrics: counters kept by `palisade detect` and a small HTTP responder serving
//! them in the text exposition format (`GET /metrics`).

use super::OutputError;
use super::http::HttpCounters;
use crate::alert::Priority;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counters of one detect run.
#[derive(Debug, Default)]
pub struct Metrics {
    events: AtomicU64,
    dropped: AtomicU64,
    alerts: Mutex<BTreeMap<(String, Priority), u64>>,
    suppressed: Mutex<BTreeMap<String, u64>>,
    output_errors: Mutex<BTreeMap<&'static str, u64>>,
    http: Mutex<Option<Arc<HttpCounters>>>,
}

fn bump<K: Ord>(m: &Mutex<BTreeMap<K, u64>>, k: K) {
    if let Ok(mut m) = m.lock() {
        *m.entry(k).or_insert(0) += 1;
    }
}

/// Escape a label value (`\`, `"` and newlines).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

impl Metrics {
    /// New, all zero.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Count `n` events processed by the engine.
    pub fn add_events(&self, n: u64) {
        self.events.fetch_add(n, Ordering::Relaxed);
    }

    /// Set the number of events the sensor lost so far (a running total from the sensor).
    pub fn set_dropped(&self, n: u64) {
        self.dropped.store(n, Ordering::Relaxed);
    }

    /// Count one alert sent.
    pub fn alert(&self, rule: &str, p: Priority) {
        bump(&self.alerts, (rule.to_string(), p));
    }

    /// Count one alert suppressed by the rate limit.
    pub fn suppressed(&self, rule: &str) {
        bump(&self.suppressed, rule.to_string());
    }

    /// Count one failure writing to an output (`stdout`, `file`, `syslog`, `http`).
    pub fn output_error(&self, output: &'static str) {
        bump(&self.output_errors, output);
    }

    /// Report the HTTP output's counters too.
    pub fn watch_http(&self, c: Arc<HttpCounters>) {
        if let Ok(mut h) = self.http.lock() {
            *h = Some(c);
        }
    }

    /// Events processed.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let head = |s: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut s,
            "palisade_events_total",
            "counter",
            "Events evaluated by the rules engine.",
        );
        let _ = writeln!(s, "palisade_events_total {}", self.events());
        head(
            &mut s,
            "palisade_events_dropped_total",
            "counter",
            "Events the sensor lost before evaluation (ring buffer full).",
        );
        let _ = writeln!(
            s,
            "palisade_events_dropped_total {}",
            self.dropped.load(Ordering::Relaxed)
        );
        head(
            &mut s,
            "palisade_alerts_total",
            "counter",
            "Alerts sent, by rule and priority.",
        );
        if let Ok(a) = self.alerts.lock() {
            for ((rule, p), n) in a.iter() {
                let _ = writeln!(
                    s,
                    "palisade_alerts_total{{rule=\"{}\",priority=\"{}\"}} {n}",
                    label(rule),
                    p.as_str()
                );
            }
        }
        head(
            &mut s,
            "palisade_alerts_suppressed_total",
            "counter",
            "Alerts suppressed by the per-rule rate limit, by rule.",
        );
        if let Ok(a) = self.suppressed.lock() {
            for (rule, n) in a.iter() {
                let _ = writeln!(
                    s,
                    "palisade_alerts_suppressed_total{{rule=\"{}\"}} {n}",
                    label(rule)
                );
            }
        }
        head(
            &mut s,
            "palisade_output_errors_total",
            "counter",
            "Failures writing alerts, by output.",
        );
        if let Ok(a) = self.output_errors.lock() {
            for (out, n) in a.iter() {
                let _ = writeln!(s, "palisade_output_errors_total{{output=\"{out}\"}} {n}");
            }
        }
        if let Ok(h) = self.http.lock()
            && let Some(c) = h.as_ref()
        {
            let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
            head(
                &mut s,
                "palisade_http_delivered_total",
                "counter",
                "Alerts the HTTP receiver accepted.",
            );
            let _ = writeln!(s, "palisade_http_delivered_total {}", g(&c.delivered));
            head(
                &mut s,
                "palisade_http_failed_attempts_total",
                "counter",
                "Failed HTTP delivery attempts.",
            );
            let _ = writeln!(
                s,
                "palisade_http_failed_attempts_total {}",
                g(&c.failed_attempts)
            );
            head(
                &mut s,
                "palisade_http_pending",
                "gauge",
                "Alerts waiting for the HTTP receiver.",
            );
            let _ = writeln!(s, "palisade_http_pending {}", g(&c.pending));
        }
        s
    }
}

/// A running metrics endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
}

impl MetricsServer {
    /// Serve `metrics` on `addr` (e.g. `127.0.0.1:9464`; port 0 picks one) from a thread.
    pub fn start(addr: &str, metrics: Arc<Metrics>) -> Result<MetricsServer, OutputError> {
        let listener = TcpListener::bind(addr).map_err(|e| OutputError::Io {
            target: format!("metrics address {addr}"),
            source: e,
        })?;
        let local = listener.local_addr().map_err(|e| OutputError::Io {
            target: format!("metrics address {addr}"),
            source: e,
        })?;
        std::thread::Builder::new()
            .name("palisade-metrics".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(mut c) = conn else { continue };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
                    // Read the request head (up to the blank line, at most 8 KiB).
                    let mut req = Vec::with_capacity(512);
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let req = String::from_utf8_lossy(&req);
                    let mut parts = req.split_whitespace();
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let resp = if method == "GET" && (path == "/metrics" || path == "/") {
                        let body = metrics.render();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    };
                    let _ = c.write_all(resp.as_bytes());
                }
            })
            .map_err(|e| OutputError::Io {
                target: "metrics thread".into(),
                source: e,
            })?;
        Ok(MetricsServer { addr: local })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn renders_and_serves() {
        let m = Metrics::new();
        m.add_events(42);
        m.set_dropped(3);
        m.alert("Credential file read", Priority::Warning);
        m.alert("Credential file read", Priority::Warning);
        m.alert("Say \"hi\"", Priority::Notice);
        m.suppressed("Credential file read");
        m.output_error("syslog");
        let text = m.render();
        assert!(text.contains("palisade_events_total 42\n"), "{text}");
        assert!(text.contains("palisade_events_dropped_total 3\n"));
        assert!(text.contains(
            "palisade_alerts_total{rule=\"Credential file read\",priority=\"Warning\"} 2\n"
        ));
        assert!(
            text.contains("palisade_alerts_total{rule=\"Say \\\"hi\\\"\",priority=\"Notice\"} 1\n")
        );
        assert!(
            text.contains("palisade_alerts_suppressed_total{rule=\"Credential file read\"} 1\n")
        );
        assert!(text.contains("palisade_output_errors_total{output=\"syslog\"} 1\n"));
        assert!(text.contains("# TYPE palisade_alerts_total counter\n"));

        let srv = MetricsServer::start("127.0.0.1:0", m.clone()).unwrap();
        let get = |path: &str| {
            let mut c = TcpStream::connect(srv.local_addr()).unwrap();
            c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            s
        };
        m.add_events(1);
        let r = get("/metrics");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("palisade_events_total 43\n"));
        assert!(get("/nope").starts_with("HTTP/1.1 404"));
    }
}
