//! What a matching rule produces: an [`Alert`] with a [`Priority`].

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Rule priority, as Falco names them. `Ord` follows severity: `Debug < Informational < ... <
/// Emergency`, so `p >= Priority::Warning` means "warning or worse".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// System is unusable.
    Emergency,
    /// Action must be taken immediately.
    Alert,
    /// Critical conditions.
    Critical,
    /// Error conditions.
    Error,
    /// Warning conditions.
    Warning,
    /// Normal but significant condition.
    Notice,
    /// Informational (`info` is accepted when parsing).
    Informational,
    /// Debug-level messages.
    Debug,
}

impl Priority {
    /// Every priority, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// Falco's numeric level (syslog severity): 0 for emergency ... 7 for debug.
    pub fn level(self) -> u8 {
        self as u8
    }

    /// The capitalised name Falco prints (`Warning`, `Informational`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// Parses a priority case-insensitively; `info` is `Informational`.
    pub fn parse(s: &str) -> Option<Priority> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("info") {
            return Some(Priority::Informational);
        }
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Lower level = more severe = greater.
        other.level().cmp(&self.level())
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Priority::from_str`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown priority '{0}' (expected emergency, alert, critical, error, warning, notice, informational, info or debug)"
)]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::parse(s).ok_or_else(|| UnknownPriority(s.to_string()))
    }
}

impl Serialize for Priority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One alert: a rule matched an event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// Event time, ns since the Unix epoch.
    pub time_ns: u64,
    /// Rule name.
    pub rule: String,
    /// Rule priority.
    pub priority: Priority,
    /// Event source (`syscall`).
    pub source: String,
    /// The rule's output template with its fields substituted (no time/priority prefix).
    pub output: String,
    /// Every field of the output template with its typed value (missing values are `null`),
    /// plus `evt.time`, as Falco's JSON `output_fields`.
    pub output_fields: BTreeMap<String, serde_json::Value>,
    /// Rule tags.
    pub tags: Vec<String>,
    /// Host name of the machine the event happened on.
    pub hostname: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        assert_eq!(Priority::parse("INFO"), Some(Priority::Informational));
        assert_eq!(Priority::parse("warning"), Some(Priority::Warning));
        assert_eq!(Priority::parse("Critical"), Some(Priority::Critical));
        assert_eq!(Priority::parse("loud"), None);
        assert!(Priority::Emergency > Priority::Critical);
        assert!(Priority::Debug < Priority::Informational);
        assert!(Priority::Warning >= Priority::Warning);
        assert_eq!(Priority::Notice.to_string(), "Notice");
        assert_eq!(
            serde_json::to_string(&Priority::Informational).unwrap(),
            "\"Informational\""
        );
        assert!("bad".parse::<Priority>().is_err());
    }
}
