//! Alert outputs: Falco's text and JSON forms ([`format`]) written to stdout, a rotating file
//! ([`file`]), syslog ([`syslog`]) and an HTTP receiver with retries and an on-disk spool
//! ([`http`]); per-rule rate limiting ([`ratelimit`]) and Prometheus metrics ([`metrics`]).
//!
//! [`Outputs`] is what `palisade detect` holds: it rate-limits, renders each alert once per
//! form and hands it to every configured sink, counting what it sent, suppressed and failed.

pub mod file;
pub mod format;
pub mod http;
pub mod metrics;
pub mod ratelimit;
pub mod syslog;

pub use file::{FileSink, Rotation};
pub use format::{Format, Renderer};
pub use http::{HttpConfig, HttpReport, HttpSink};
pub use metrics::{Metrics, MetricsServer};
pub use ratelimit::{RateLimit, RateLimiter};
pub use syslog::{SyslogFormat, SyslogSink};

use crate::alert::{Alert, Priority};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

/// Errors of the outputs.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An I/O failure on a named target (file, socket, address).
    #[error("{target}: {source}")]
    Io {
        /// What was being written or opened.
        target: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A setting that cannot work (bad URL, missing socket).
    #[error("{0}")]
    Config(String),
}

/// One destination of alerts.
enum Sink {
    /// Any writer (stdout, a pipe, a buffer in tests): one line per alert.
    Writer {
        name: &'static str,
        out: Box<dyn Write + Send>,
    },
    File(FileSink),
    Syslog(SyslogSink),
    Http(HttpSink),
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            Sink::Writer { name, .. } => name,
            Sink::File(_) => "file",
            Sink::Syslog(_) => "syslog",
            Sink::Http(_) => "http",
        }
    }
}

/// What the outputs did during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputReport {
    /// Alerts sent, by rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Alerts sent, by priority.
    pub by_priority: BTreeMap<Priority, u64>,
    /// Alerts suppressed by the rate limit, by rule.
    pub suppressed: Vec<(String, u64)>,
    /// Write failures by output, with the last error message.
    pub errors: BTreeMap<&'static str, (u64, String)>,
    /// The HTTP output's delivery report, if there was one.
    pub http: Option<HttpReport>,
}

impl OutputReport {
    /// Alerts sent in total.
    pub fn sent(&self) -> u64 {
        self.by_rule.values().sum()
    }

    /// Alerts suppressed in total.
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed.iter().map(|(_, n)| n).sum()
    }
}

/// The configured outputs of one run.
pub struct Outputs {
    renderer: Renderer,
    format: Format,
    sinks: Vec<Sink>,
    limiter: Option<RateLimiter>,
    metrics: Arc<Metrics>,
    report: OutputReport,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("format", &self.format)
            .field(
                "sinks",
                &self.sinks.iter().map(Sink::name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Outputs {
    /// No sinks yet; alerts rendered in `format` (text prefix in `renderer`'s time zone).
    pub fn new(format: Format, renderer: Renderer, metrics: Arc<Metrics>) -> Outputs {
        Outputs {
            renderer,
            format,
            sinks: Vec::new(),
            limiter: None,
            metrics,
            report: OutputReport::default(),
        }
    }

    /// Write alerts to standard output.
    pub fn add_stdout(&mut self) {
        self.add_writer("stdout", Box::new(std::io::stdout()));
    }

    /// Write alerts, one line each, to any writer (flushed after each alert).
    pub fn add_writer(&mut self, name: &'static str, out: Box<dyn Write + Send>) {
        self.sinks.push(Sink::Writer { name, out });
    }

    /// Append alerts to a file, rotating by size.
    pub fn add_file(
        &mut self,
        path: &std::path::Path,
        rotation: Rotation,
    ) -> Result<(), OutputError> {
        self.sinks.push(Sink::File(FileSink::open(path, rotation)?));
        Ok(())
    }

    /// Send alerts to syslog.
    pub fn add_syslog(&mut self, sink: SyslogSink) {
        self.sinks.push(Sink::Syslog(sink));
    }

    /// POST alerts (always as JSON) to an HTTP receiver.
    pub fn add_http(&mut self, cfg: HttpConfig) -> Result<(), OutputError> {
        let sink = HttpSink::start(cfg)?;
        self.metrics.watch_http(sink.counters());
        self.sinks.push(Sink::Http(sink));
        Ok(())
    }

    /// Limit every rule to `limit`.
    pub fn set_rate_limit(&mut self, limit: RateLimit) {
        self.limiter = Some(RateLimiter::new(limit));
    }

    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// The shared metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Send one alert to every sink; false when the rate limit suppressed it.
    pub fn emit(&mut self, alert: &Alert) -> bool {
        if let Some(l) = &mut self.limiter
            && !l.allow(&alert.rule, alert.time_ns)
        {
            self.metrics.suppressed(&alert.rule);
            return false;
        }
        *self.report.by_rule.entry(alert.rule.clone()).or_insert(0) += 1;
        *self.report.by_priority.entry(alert.priority).or_insert(0) += 1;
        self.metrics.alert(&alert.rule, alert.priority);
        let mut text: Option<String> = None;
        let mut json: Option<String> = None;
        let (renderer, format) = (&self.renderer, self.format);
        let mut line = |want: Format| -> String {
            let slot = match want {
                Format::Text => &mut text,
                Format::Json => &mut json,
            };
            slot.get_or_insert_with(|| renderer.render(alert, want))
                .clone()
        };
        for sink in &mut self.sinks {
            let res = match sink {
                Sink::Writer { out, .. } => {
                    let mut l = line(format);
                    l.push('\n');
                    out.write_all(l.as_bytes())
                        .and_then(|_| out.flush())
                        .map_err(|e| OutputError::Io {
                            target: "output".into(),
                            source: e,
                        })
                }
                Sink::File(f) => f.write_line(&line(format)),
                Sink::Syslog(s) => s.send(alert.priority, alert.time_ns, &line(format)),
                Sink::Http(h) => h.send(&line(Format::Json)),
            };
            if let Err(e) = res {
                let name = sink.name();
                self.metrics.output_error(name);
                let slot = self.report.errors.entry(name).or_insert((0, String::new()));
                slot.0 += 1;
                slot.1 = e.to_string();
            }
        }
        true
    }

    /// Flush, deliver what the HTTP output still holds (bounded by its drain timeout) and
    /// report.
    pub fn close(mut self) -> OutputReport {
        for sink in self.sinks.drain(..) {
            match sink {
                Sink::Writer { mut out, .. } => {
                    let _ = out.flush();
                }
                Sink::File(mut f) => {
                    let _ = f.flush();
                }
                Sink::Syslog(_) => {}
                Sink::Http(h) => self.report.http = Some(h.close()),
            }
        }
        if let Some(l) = &self.limiter {
            self.report.suppressed = l.suppressed();
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn alert(rule: &str, t: u64) -> Alert {
        Alert {
            time_ns: t,
            rule: rule.into(),
            priority: Priority::Warning,
            source: "syscall".into(),
            output: format!("{rule} happened"),
            output_fields: BTreeMap::new(),
            tags: vec![],
            hostname: "h".into(),
        }
    }

    #[test]
    fn fan_out_rate_limit_and_report() {
        let dir = tempfile::tempdir().unwrap();
        let buf = Shared::default();
        let metrics = Metrics::new();
        let mut o = Outputs::new(Format::Json, Renderer::utc(), metrics.clone());
        o.add_writer("stdout", Box::new(buf.clone()));
        let file = dir.path().join("alerts.json");
        o.add_file(&file, Rotation::default()).unwrap();
        o.set_rate_limit("1/s".parse().unwrap());
        let s = 1_000_000_000;
        assert!(o.emit(&alert("A", 10 * s)));
        assert!(!o.emit(&alert("A", 10 * s + 1)));
        assert!(o.emit(&alert("B", 10 * s + 2)));
        assert!(o.emit(&alert("A", 11 * s)));
        let r = o.close();
        assert_eq!(r.sent(), 3);
        assert_eq!(r.by_rule["A"], 2);
        assert_eq!(r.by_priority[&Priority::Warning], 3);
        assert_eq!(r.suppressed, vec![("A".to_string(), 1)]);
        assert_eq!(r.suppressed_total(), 1);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 3);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), out);
        for l in out.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["priority"], "Warning");
        }
        let m = metrics.render();
        assert!(m.contains("palisade_alerts_total{rule=\"A\",priority=\"Warning\"} 2"));
        assert!(m.contains("palisade_alerts_suppressed_total{rule=\"A\"} 1"));
    }

    #[test]
    fn failing_writer_is_counted_not_fatal() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Shared::default();
        let mut o = Outputs::new(Format::Text, Renderer::utc(), Metrics::new());
        o.add_writer("stdout", Box::new(Broken));
        o.add_writer("copy", Box::new(buf.clone()));
        o.emit(&alert("A", 1));
        let r = o.close();
        assert_eq!(r.errors["stdout"].0, 1);
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            "00:00:00.000000001: Warning A happened\n"
        );
    }
}
