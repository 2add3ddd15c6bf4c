//! The vocabulary every analyzer reports in and every reporter reads: check identifiers,
//! severities, locations and findings.

use crate::object::{Inventory, Object, ObjectRef};
use crate::path::FieldPath;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Identifier of a check, `<family>/<name>` (`pss/runAsNonRoot`,
/// `hardening/read-only-root-filesystem`). Analyzers declare theirs as constants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CheckId(Cow<'static, str>);

impl CheckId {
    /// A check id from a static string.
    pub const fn new(id: &'static str) -> Self {
        CheckId(Cow::Borrowed(id))
    }

    /// A check id built at run time (policies loaded from files).
    pub fn owned(id: String) -> Self {
        CheckId(Cow::Owned(id))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The family (`pss`, `hardening`, ...): the part before the first `/`.
    pub fn family(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(f, _)| f)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown severity name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown severity {0:?} (expected info, low, medium, high or critical)")]
pub struct ParseSeverityError(pub String);

impl FromStr for Severity {
    type Err = ParseSeverityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "info" | "informational" | "none" => Severity::Info,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return Err(ParseSeverityError(s.into())),
        })
    }
}

impl<'de> serde::Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a finding points: file, line and column of the offending field, and its path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// File name as given (`<stdin>` for standard input).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Path of the field inside the object (`spec.containers[0].securityContext`).
    #[serde(rename = "fieldPath")]
    pub field_path: String,
}

impl Location {
    /// The location of `path` inside `obj`: the field's key when it exists, otherwise the
    /// nearest existing parent (for a missing field that should be added there).
    pub fn of(inv: &Inventory, obj: &Object, path: &FieldPath) -> Location {
        let (pos, _) = path.locate(&obj.node);
        Location {
            file: inv.file_of(obj).to_string(),
            line: pos.line,
            column: pos.col,
            field_path: path.to_string(),
        }
    }
}

/// Why a finding is not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `annotation` or `config`.
    pub by: SuppressedBy,
    /// The reason given, if any.
    pub reason: Option<String>,
}

/// What suppressed a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressedBy {
    /// A `palisade.dev/ignore` annotation on the object.
    Annotation,
    /// The configuration file.
    Config,
}

/// One problem found in one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Which check.
    pub check: CheckId,
    /// Severity (after configuration overrides).
    pub severity: Severity,
    /// What is wrong with this object, specifically.
    pub message: String,
    /// The object.
    pub object: ObjectRef,
    /// The container concerned, if the finding is about one container.
    pub container: Option<String>,
    /// Where.
    pub location: Location,
    /// Set when suppressed.
    pub suppressed: Option<Suppression>,
}

/// What a check is: the metadata `palisade checks` lists and reports attach to findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckMeta {
    /// Identifier.
    pub id: CheckId,
    /// One-line title.
    pub title: Cow<'static, str>,
    /// Default severity.
    pub severity: Severity,
    /// Category (`pod-security`, `workload`, `network`, `rbac`, `supply-chain`, ...).
    pub category: Cow<'static, str>,
    /// Why it matters.
    pub rationale: Cow<'static, str>,
    /// How to fix it, as YAML where possible.
    pub remediation: Cow<'static, str>,
    /// Links to documentation.
    pub references: Vec<Cow<'static, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(CheckId::new("pss/privileged").family(), "pss");
    }
}
