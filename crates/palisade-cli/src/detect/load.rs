//! Rule files for `detect` and `rules`: `-r FILE` (repeatable, `@default` = the built-in
//! rules), `-T`/`-t` tags, `-D` name patterns, `--min-priority`.

use anyhow::Context;
use clap::Args;
use palisade_rules::{LoadErrors, LoadOptions, Priority, RuleSet, Warning};
use std::path::PathBuf;

/// The built-in rules (`rules/palisade_rules.yaml`), compiled into the binary.
pub const DEFAULT_RULES: &str = include_str!("../../../../rules/palisade_rules.yaml");
/// The name the built-in rules carry in messages.
pub const DEFAULT_RULES_NAME: &str = "@default (rules/palisade_rules.yaml)";

/// Which rules to load and enable.
#[derive(Args, Debug, Clone, Default)]
pub struct RuleArgs {
    /// Rules file, loaded in order (later files append to and override earlier ones); `@default`
    /// is the built-in rules. Without -r, the built-in rules.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Disable the rules having this tag (repeatable).
    #[arg(short = 'T', value_name = "TAG")]
    pub disable_tags: Vec<String>,

    /// Enable only the rules having one of these tags (repeatable).
    #[arg(short = 't', value_name = "TAG")]
    pub enable_tags: Vec<String>,

    /// Disable the rules whose name contains PATTERN (or matches it, with * and ?).
    #[arg(short = 'D', value_name = "PATTERN")]
    pub disable_patterns: Vec<String>,

    /// Load only rules at least this severe (emergency ... debug).
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<Priority>,
}

impl RuleArgs {
    /// The load options these arguments give.
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            disabled_tags: self.disable_tags.clone(),
            enabled_tags: self.enable_tags.clone(),
            disabled_rule_patterns: self.disable_patterns.clone(),
            min_priority: self.min_priority,
        }
    }

    /// `(name, text)` of every source, in order.
    pub fn sources(&self) -> anyhow::Result<Vec<(String, String)>> {
        if self.files.is_empty() {
            return Ok(vec![(DEFAULT_RULES_NAME.into(), DEFAULT_RULES.into())]);
        }
        self.files
            .iter()
            .map(|f| {
                if f.as_os_str() == "@default" {
                    Ok((DEFAULT_RULES_NAME.into(), DEFAULT_RULES.into()))
                } else {
                    let text = std::fs::read_to_string(f)
                        .with_context(|| format!("{}: cannot read rules file", f.display()))?;
                    Ok((f.display().to_string(), text))
                }
            })
            .collect()
    }
}

/// Rules that loaded, with the warnings.
pub struct Loaded {
    /// The rules.
    pub ruleset: RuleSet,
    /// Warnings of the load.
    pub warnings: Vec<Warning>,
}

/// Load for `detect`: any error stops (with every error listed, file:line first).
pub fn load_rules(a: &RuleArgs) -> anyhow::Result<Loaded> {
    match try_load(a)? {
        Ok(l) => Ok(l),
        Err(e) => {
            for w in &e.warnings {
                eprintln!("{w}");
            }
            anyhow::bail!("{} error(s) in the rules:\n{e}", e.errors.len())
        }
    }
}

/// Load, keeping the load errors as data (for `rules validate`).
pub fn try_load(a: &RuleArgs) -> anyhow::Result<Result<Loaded, LoadErrors>> {
    let sources = a.sources()?;
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    Ok(RuleSet::load_strs(&refs, &a.options())
        .map(|(ruleset, warnings)| Loaded { ruleset, warnings }))
}
