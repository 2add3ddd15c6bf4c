//! Alert rendering exactly as Falco prints it: the text line and the JSON object.

use crate::alert::Alert;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use std::fmt::Write as _;

/// How alerts are written to stdout, files and syslog (HTTP always carries JSON).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// `HH:MM:SS.nnnnnnnnn: Priority Output`, as Falco prints with `json_output: false`.
    #[default]
    Text,
    /// One JSON object per line with Falco's keys.
    Json,
}

/// Renders alerts. Holds the time zone of the text prefix: Falco prints `%evt.time` in local time
/// (libsinsp formats it with `localtime_r`), and the JSON `time` in UTC.
#[derive(Clone, Debug)]
pub struct Renderer {
    tz: TimeZone,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::local()
    }
}

impl Renderer {
    /// The system's local time zone (`TZ`, then `/etc/localtime`; UTC when neither is usable).
    pub fn local() -> Renderer {
        Renderer {
            tz: TimeZone::try_system().unwrap_or(TimeZone::UTC),
        }
    }

    /// An explicit time zone for the text prefix (tests, `TZ`-independent output).
    pub fn with_time_zone(tz: TimeZone) -> Renderer {
        Renderer { tz }
    }

    /// UTC for the text prefix.
    pub fn utc() -> Renderer {
        Renderer { tz: TimeZone::UTC }
    }

    /// `HH:MM:SS.nnnnnnnnn` of an event time, in this renderer's time zone.
    pub fn clock(&self, time_ns: u64) -> String {
        let ts = timestamp(time_ns);
        let dt = self.tz.to_datetime(ts);
        format!(
            "{:02}:{:02}:{:02}.{:09}",
            dt.hour(),
            dt.minute(),
            dt.second(),
            time_ns % 1_000_000_000
        )
    }

    /// The full text line: `HH:MM:SS.nnnnnnnnn: Priority Output` (no newline).
    pub fn text(&self, a: &Alert) -> String {
        let mut s = self.clock(a.time_ns);
        // A folded YAML `output: >` ends with a newline; one alert is one line.
        let _ = write!(s, ": {} {}", a.priority.as_str(), a.output.trim_end());
        s
    }

    /// The JSON object Falco writes with `json_output: true` (keys in Falco's order, which is
    /// alphabetical), as one line without a newline.
    pub fn json(&self, a: &Alert) -> String {
        let doc = FalcoJson {
            hostname: &a.hostname,
            output: self.text(a),
            output_fields: &a.output_fields,
            priority: a.priority.as_str(),
            rule: &a.rule,
            source: &a.source,
            tags: &a.tags,
            time: rfc3339_utc(a.time_ns),
        };
        serde_json::to_string(&doc).unwrap_or_else(|e| {
            // Serialising strings and JSON values cannot fail; keep the alert anyway.
            format!("{{\"rule\":{:?},\"error\":{:?}}}", a.rule, e.to_string())
        })
    }

    /// The alert in `format`.
    pub fn render(&self, a: &Alert, format: Format) -> String {
        match format {
            Format::Text => self.text(a),
            Format::Json => self.json(a),
        }
    }
}

/// Falco's JSON keys, in the order Falco emits them (nlohmann's sorted map).
#[derive(Serialize)]
struct FalcoJson<'a> {
    hostname: &'a str,
    output: String,
    output_fields: &'a std::collections::BTreeMap<String, serde_json::Value>,
    priority: &'static str,
    rule: &'a str,
    source: &'a str,
    tags: &'a [String],
    time: String,
}

fn timestamp(time_ns: u64) -> Timestamp {
    Timestamp::from_nanosecond(time_ns as i128).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` in UTC, Falco's JSON `time`.
pub fn rfc3339_utc(time_ns: u64) -> String {
    let dt = TimeZone::UTC.to_datetime(timestamp(time_ns));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        time_ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Priority;
    use std::collections::BTreeMap;

    fn alert() -> Alert {
        let mut f = BTreeMap::new();
        f.insert("proc.name".to_string(), serde_json::json!("sh"));
        f.insert("proc.tty".to_string(), serde_json::json!(34816));
        f.insert(
            "evt.time".to_string(),
            serde_json::json!(1685022245478445995u64),
        );
        f.insert("container.name".to_string(), serde_json::Value::Null);
        Alert {
            time_ns: 1685022245478445995,
            rule: "Interactive shell started in container".into(),
            priority: Priority::Notice,
            source: "syscall".into(),
            output: "Shell started (shell=sh tty=34816 name=<NA>)".into(),
            output_fields: f,
            tags: vec!["container".into(), "T1059".into()],
            hostname: "node-1".into(),
        }
    }

    #[test]
    fn text_line_is_falcos() {
        let r = Renderer::utc();
        assert_eq!(
            r.text(&alert()),
            "13:44:05.478445995: Notice Shell started (shell=sh tty=34816 name=<NA>)"
        );
        let berlin = Renderer::with_time_zone(TimeZone::fixed(jiff::tz::offset(2)));
        assert!(
            berlin
                .text(&alert())
                .starts_with("15:44:05.478445995: Notice ")
        );
        // Leading zeros of the nanoseconds are kept.
        assert_eq!(r.clock(1_000_000_007), "00:00:01.000000007");
        // A trailing newline of a folded YAML output does not split the line.
        let mut a = alert();
        a.output.push('\n');
        assert!(!r.text(&a).contains('\n'));
    }

    #[test]
    fn json_has_falcos_keys_in_order() {
        let r = Renderer::utc();
        let s = r.json(&alert());
        assert!(!s.contains('\n'));
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&s)
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert_eq!(
            keys,
            [
                "hostname",
                "output",
                "output_fields",
                "priority",
                "rule",
                "source",
                "tags",
                "time"
            ]
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["time"], "2023-05-25T13:44:05.478445995Z");
        assert_eq!(v["priority"], "Notice");
        assert_eq!(v["output_fields"]["proc.tty"], 34816);
        assert_eq!(v["output_fields"]["evt.time"], 1685022245478445995u64);
        assert!(v["output_fields"]["container.name"].is_null());
        assert_eq!(
            v["output"],
            "13:44:05.478445995: Notice Shell started (shell=sh tty=34816 name=<NA>)"
        );
        assert_eq!(v["tags"], serde_json::json!(["container", "T1059"]));
    }

    #[test]
    fn rfc3339_pads() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_utc(951_782_400_000_000_123),
            "2000-02-29T00:00:00.000000123Z"
        );
    }
}
