//! Prometheus metrics in the text exposition format: requests per endpoint and HTTP code,
//! decisions, and a latency histogram per policy (`pss`, `gatekeeper` for all constraints of a
//! review together, `gatekeeper/<Kind>` per ConstraintTemplate, `mutation`) plus one for whole
//! requests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Histogram bucket upper bounds in seconds: 10 µs to 10 s.
pub const BUCKETS: [f64; 16] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.5, 1.0, 10.0,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            cum += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Every metric of the server.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    decisions: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    request_latency: Histogram,
    policies: Mutex<BTreeMap<String, std::sync::Arc<Histogram>>>,
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts a finished HTTP request.
    pub fn request(&self, endpoint: &str, code: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            match m.get_mut(endpoint) {
                Some(codes) => *codes.entry(code).or_default() += 1,
                None => {
                    m.insert(endpoint.to_owned(), BTreeMap::from([(code, 1)]));
                }
            }
        }
        self.request_latency.observe(took);
    }

    /// Counts a decision of a policy (`allow`, `deny`, `warn`, `audit`, `mutate`).
    pub fn decision(&self, policy: &str, decision: &str) {
        if let Ok(mut m) = self.decisions.lock() {
            let by = match m.get_mut(policy) {
                Some(by) => by,
                None => m.entry(policy.to_owned()).or_default(),
            };
            match by.get_mut(decision) {
                Some(n) => *n += 1,
                None => {
                    by.insert(decision.to_owned(), 1);
                }
            }
        }
    }

    /// The latency histogram of a policy.
    pub fn policy(&self, policy: &str) -> std::sync::Arc<Histogram> {
        let mut m = match self.policies.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(h) = m.get(policy) {
            return h.clone();
        }
        m.entry(policy.to_owned()).or_default().clone()
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP palisade_admission_requests_total HTTP requests by endpoint and status code.\n# TYPE palisade_admission_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for (e, c, n) in m
                .iter()
                .flat_map(|(e, codes)| codes.iter().map(move |(c, n)| (e, c, n)))
            {
                let _ = writeln!(
                    out,
                    "palisade_admission_requests_total{{endpoint=\"{}\",code=\"{c}\"}} {n}",
                    escape(e)
                );
            }
        }
        out.push_str("# HELP palisade_admission_decisions_total Decisions by policy.\n# TYPE palisade_admission_decisions_total counter\n");
        if let Ok(m) = self.decisions.lock() {
            for (p, d, n) in m
                .iter()
                .flat_map(|(p, ds)| ds.iter().map(move |(d, n)| (p, d, n)))
            {
                let _ = writeln!(
                    out,
                    "palisade_admission_decisions_total{{policy=\"{}\",decision=\"{}\"}} {n}",
                    escape(p),
                    escape(d)
                );
            }
        }
        out.push_str("# HELP palisade_admission_request_duration_seconds Time to answer a review.\n# TYPE palisade_admission_request_duration_seconds histogram\n");
        self.request_latency
            .render(&mut out, "palisade_admission_request_duration_seconds", "");
        out.push_str("# HELP palisade_admission_policy_duration_seconds Time spent in one policy per review.\n# TYPE palisade_admission_policy_duration_seconds histogram\n");
        if let Ok(m) = self.policies.lock() {
            for (p, h) in m.iter() {
                h.render(
                    &mut out,
                    "palisade_admission_policy_duration_seconds",
                    &format!("policy=\"{}\"", escape(p)),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("/validate", 200, Duration::from_micros(30));
        m.request("/validate", 400, Duration::from_millis(2));
        m.decision("pss", "deny");
        m.policy("pss").observe(Duration::from_micros(7));
        let t = m.render();
        assert!(
            t.contains("palisade_admission_requests_total{endpoint=\"/validate\",code=\"200\"} 1")
        );
        assert!(
            t.contains("palisade_admission_decisions_total{policy=\"pss\",decision=\"deny\"} 1")
        );
        assert!(t.contains("palisade_admission_request_duration_seconds_bucket{le=\"0.00005\"} 1"));
        assert!(t.contains("palisade_admission_request_duration_seconds_bucket{le=\"0.0025\"} 2"));
        assert!(t.contains("palisade_admission_request_duration_seconds_count 2"));
        assert!(t.contains(
            "palisade_admission_policy_duration_seconds_bucket{policy=\"pss\",le=\"0.00001\"} 1"
        ));
    }
}
