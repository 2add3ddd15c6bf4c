//! Problems with the input itself (not findings about it).

use crate::node::Pos;
use std::fmt;

/// How serious a [`Diagnostic`] is. Errors make the scan exit with code 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagLevel {
    /// Informational: something was skipped on purpose.
    Notice,
    /// Suspicious input that was still processed.
    Warning,
    /// Input that could not be processed.
    Error,
}

/// What kind of input problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagCode {
    /// A file or directory could not be read.
    Io,
    /// A document is not valid YAML/JSON.
    Syntax,
    /// A document exceeds a size, depth or node limit.
    Limit,
    /// A YAML document that is not a Kubernetes object was skipped.
    NotKubernetes,
    /// A field has the wrong type or an invalid value.
    InvalidField,
    /// A required field is missing.
    MissingField,
    /// A configuration file problem.
    Config,
}

/// One input problem, with where it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Severity.
    pub level: DiagLevel,
    /// Kind of problem.
    pub code: DiagCode,
    /// File name as given by the user (`<stdin>` for standard input).
    pub file: String,
    /// Position in the file, when known.
    pub pos: Option<Pos>,
    /// Field path inside the object, when the problem is about a field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(p) = self.pos {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        let level = match self.level {
            DiagLevel::Notice => "notice",
            DiagLevel::Warning => "warning",
            DiagLevel::Error => "error",
        };
        write!(f, ": {level}: ")?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.message)
    }
}
