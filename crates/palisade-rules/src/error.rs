//! Load errors and warnings: each names the file, line, item and the exact problem.

use std::fmt;

/// Where something is in a rules file.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// File name as given (or `<string>` for [`crate::RuleSet::load_str`]).
    pub file: String,
    /// 1-based line (0 when the file as a whole is meant).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (0, _) => write!(f, "{}", self.file),
            (l, 0) => write!(f, "{}:{l}", self.file),
            (l, c) => write!(f, "{}:{l}:{c}", self.file),
        }
    }
}

/// Which kind of item a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// A `- rule:` item.
    Rule,
    /// A `- macro:` item.
    Macro,
    /// A `- list:` item.
    List,
    /// `required_engine_version`.
    EngineVersion,
    /// `required_plugin_versions`.
    PluginVersions,
}

impl ItemKind {
    /// The YAML key of the item kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::EngineVersion => "required_engine_version",
            ItemKind::PluginVersions => "required_plugin_versions",
        }
    }
}

/// The item (kind and name) a message is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItemRef {
    /// Kind.
    pub kind: ItemKind,
    /// Name (empty for unnamed items).
    pub name: String,
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{} '{}'", self.kind.as_str(), self.name)
        }
    }
}

/// One load or compile error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// Where.
    pub loc: Location,
    /// The item concerned, when there is one.
    pub item: Option<ItemRef>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.loc)?;
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a [`Warning`] was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WarningCode {
    /// A key the loader does not know (ignored).
    UnknownKey,
    /// A top-level item of unknown kind (ignored).
    UnknownItem,
    /// A list nobody references.
    UnusedList,
    /// A macro nobody references.
    UnusedMacro,
    /// A rule whose condition is not restricted to event types (evaluated for every event).
    NoEventType,
    /// A rule with `skip-if-unknown-filter: true` that uses an unknown field (rule skipped).
    SkippedUnknownField,
    /// A rule of another source than `syscall` (loaded and listed, not evaluated).
    OtherSource,
    /// A deprecated construct (`append: true`, a bare `enabled:` redefinition, `evt.dir`).
    Deprecated,
    /// A plugin requirement the engine accepts as satisfied by a built-in.
    PluginRequirement,
    /// An event type name that no event of ours maps to.
    UnknownEventType,
}

/// A non-fatal problem found while loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub loc: Location,
    /// The item concerned.
    pub item: Option<ItemRef>,
    /// Why.
    pub code: WarningCode,
    /// Explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: ", self.loc)?;
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every error of a failed load, with the warnings found on the way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors {
    /// The errors, in file order.
    pub errors: Vec<LoadError>,
    /// The warnings.
    pub warnings: Vec<Warning>,
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
