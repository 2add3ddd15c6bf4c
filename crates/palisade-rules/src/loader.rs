//! Rules file loader (placeholder while the loader is written).

use crate::engine::{LoadOptions, LoadOutcome, RuleSet};
use crate::error::{LoadError, Location};

/// Loads sources in order.
pub fn load_sources(sources: &[(String, String)], _opts: &LoadOptions) -> LoadOutcome {
    LoadOutcome {
        ruleset: RuleSet::default(),
        errors: sources
            .iter()
            .map(|(f, _)| LoadError {
                loc: Location { file: f.clone(), line: 0, col: 0 },
                item: None,
                message: "loader not implemented yet".into(),
            })
            .collect(),
        warnings: Vec::new(),
    }
}
