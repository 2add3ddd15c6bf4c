//! `palisade rules validate` and `palisade rules list`.

use crate::detect::RuleArgs;
use clap::{Args, Subcommand, ValueEnum};
use palisade_rules::RuleInfo;
use std::io::Write;
use std::process::ExitCode;

const VALIDATE_EXAMPLES: &str = "\
Examples:
  palisade rules validate -r my_rules.yaml
  palisade rules validate -r /etc/falco/falco_rules.yaml -r my_overrides.yaml
  palisade rules validate                      the built-in rules

Errors are printed as FILE:LINE[:COL]: ITEM: problem. Exit codes: 0 valid (warnings allowed),
1 errors in the rules, 2 a file could not be read.";

const LIST_EXAMPLES: &str = "\
Examples:
  palisade rules list                          the built-in rules
  palisade rules list -r falco_rules.yaml -o json | jq '.[].name'
  palisade rules list -t T1611                 what -t/-T/-D would leave enabled";

/// Subcommands of `palisade rules`.
#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Load and compile rule files; report every error with its file and line.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// List the rules of rule files (name, priority, enabled, tags, event types).
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
}

/// Arguments of `palisade rules validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    rules: RuleArgs,
}

/// Output format of `rules list`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// One line per rule.
    Text,
    /// A JSON array of rule objects.
    Json,
}

/// Arguments of `palisade rules list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    rules: RuleArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    output: ListFormat,
}

/// Run `palisade rules`.
pub fn run(c: &RulesCommand) -> anyhow::Result<ExitCode> {
    match c {
        RulesCommand::Validate(a) => validate(a),
        RulesCommand::List(a) => list(a),
    }
}

fn validate(a: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let names: Vec<String> = a.rules.sources()?.into_iter().map(|(n, _)| n).collect();
    match crate::detect::load::try_load(&a.rules)? {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
            let rs = &l.ruleset;
            println!(
                "{}: valid: {} rules ({} enabled), {} macros, {} lists, {} warnings",
                names.join(", "),
                rs.rules().len(),
                rs.active_count(),
                rs.macro_count(),
                rs.list_count(),
                l.warnings.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for w in &e.warnings {
                eprintln!("{w}");
            }
            for err in &e.errors {
                println!("{err}");
            }
            println!(
                "{}: invalid: {} error(s), {} warning(s)",
                names.join(", "),
                e.errors.len(),
                e.warnings.len()
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn rule_json(r: &RuleInfo) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "priority": r.priority.as_str(),
        "enabled": r.enabled,
        "skipped": r.skipped,
        "source": r.source,
        "tags": r.tags,
        "event_types": r.event_types,
        "desc": r.desc,
        "condition": r.condition,
        "output": r.output,
        "exceptions": r.exceptions,
        "file": r.loc.file,
        "line": r.loc.line,
    })
}

fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let l = crate::detect::load_rules(&a.rules)?;
    for w in &l.warnings {
        eprintln!("{w}");
    }
    let rules = l.ruleset.rules();
    let mut out = std::io::stdout().lock();
    match a.output {
        ListFormat::Json => {
            let v: Vec<serde_json::Value> = rules.iter().map(rule_json).collect();
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ListFormat::Text => {
            let width = rules.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            writeln!(
                out,
                "{:<width$}  {:<13}  {:<8}  {:<24}  TAGS",
                "RULE", "PRIORITY", "ENABLED", "EVENTS"
            )?;
            for r in rules {
                let enabled = if r.skipped {
                    "skipped"
                } else if r.enabled {
                    "yes"
                } else {
                    "no"
                };
                let events = match &r.event_types {
                    None => "(all)".to_string(),
                    Some(t) if t.len() > 3 => format!("{},+{}", t[..3].join(","), t.len() - 3),
                    Some(t) => t.join(","),
                };
                writeln!(
                    out,
                    "{:<width$}  {:<13}  {:<8}  {:<24}  {}",
                    r.name,
                    r.priority.as_str(),
                    enabled,
                    events,
                    r.tags.join(",")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
