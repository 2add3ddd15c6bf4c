//! Reading rules files: items (lists, macros, rules, version requirements) collected in file
//! order with `append` / `override` applied, then compiled.

use crate::alert::Priority;
use crate::compile::{CompileError, CompiledRule, Env, EvtSet, MacroSrc, Node};
use crate::condition::{self, Op};
use crate::engine::{ENGINE_VERSION, LoadOptions, LoadOutcome, RuleInfo, RuleSet};
use crate::error::{ItemKind, ItemRef, LoadError, Location, Warning, WarningCode};
use crate::fields;
use crate::format::Template;
use palisade_model::node::{Node as Y, Value as YV};
use palisade_model::yaml::{Limits, parse_stream};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
struct ListDef {
    name: String,
    items: Vec<String>,
    loc: Location,
}

#[derive(Debug, Clone)]
struct MacroDef {
    name: String,
    cond: String,
    loc: Location,
}

#[derive(Debug, Clone, Default)]
struct ExceptionDef {
    name: String,
    fields: Option<Fields>,
    comps: Option<Comps>,
    values: Vec<ExValue>,
    loc: Location,
}

#[derive(Debug, Clone)]
enum Fields {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone)]
enum Comps {
    One(String),
    Many(Vec<String>),
}

/// One value of an exception: a tuple (one item per field) or, for the single-field form, one
/// item; an item is a scalar or a list (for `in`/`pmatch`/`intersects`).
#[derive(Debug, Clone)]
enum ExValue {
    Scalar(String),
    List(Vec<ExValue>),
}

#[derive(Debug, Clone)]
struct RuleDef {
    name: String,
    desc: String,
    cond: String,
    output: String,
    priority: Priority,
    tags: Vec<String>,
    enabled: bool,
    exceptions: Vec<ExceptionDef>,
    source: String,
    warn_evttypes: bool,
    skip_unknown: bool,
    loc: Location,
    cond_loc: Location,
    output_loc: Location,
}

#[derive(Default)]
struct Collector {
    lists: Vec<ListDef>,
    macros: Vec<MacroDef>,
    rules: Vec<RuleDef>,
    errors: Vec<LoadError>,
    warnings: Vec<Warning>,
    /// Source lines by file, to point errors at the line inside a multi-line condition.
    texts: HashMap<String, Vec<String>>,
}

/// The texts an error message points at, most precise first: the `near '...'` snippet (whole,
/// then its first words), else a quoted field name.
fn error_needles(msg: &str) -> Vec<String> {
    if let Some(i) = msg.rfind("(near '") {
        let rest = &msg[i + 7..];
        let snip = rest.strip_suffix("')").unwrap_or(rest);
        let words: Vec<&str> = snip.split_whitespace().collect();
        let mut out = Vec::new();
        for n in (1..=words.len().min(4)).rev() {
            out.push(words[..n].join(" "));
        }
        return out;
    }
    match msg
        .strip_prefix("unknown field '")
        .and_then(|r| r.split('\'').next())
    {
        Some(f) => vec![f.to_string()],
        None => Vec::new(),
    }
}

/// Moves `loc` (a condition or output value) to the line and column where `msg`'s snippet
/// appears, within the next lines of the value; unchanged when not found.
fn refine(texts: &HashMap<String, Vec<String>>, loc: &Location, msg: &str) -> Location {
    if msg.contains("in macro '") {
        return loc.clone();
    }
    let Some(lines) = texts.get(&loc.file) else {
        return loc.clone();
    };
    for needle in error_needles(msg) {
        if let Some(l) = find_in_value(lines, loc, &needle) {
            return l;
        }
    }
    loc.clone()
}

fn find_in_value(lines: &[String], loc: &Location, needle: &str) -> Option<Location> {
    let start = loc.line.saturating_sub(1) as usize;
    for (i, line) in lines.iter().enumerate().skip(start).take(200) {
        let from = if i == start {
            (loc.col.saturating_sub(1) as usize).min(line.len())
        } else {
            0
        };
        if let Some(c) = line.get(from..).and_then(|l| l.find(needle)) {
            return Some(Location {
                file: loc.file.clone(),
                line: i as u32 + 1,
                col: (from + c) as u32 + 1,
            });
        }
        // A value ends where a line at the item's indentation (or less) begins.
        if i > start {
            let indent = line.len() - line.trim_start().len();
            if !line.trim().is_empty() && indent <= 2 {
                break;
            }
        }
    }
    None
}

fn loc(file: &str, n: &Y) -> Location {
    Location {
        file: file.to_string(),
        line: n.pos.line,
        col: n.pos.col,
    }
}

fn item(kind: ItemKind, name: &str) -> Option<ItemRef> {
    Some(ItemRef {
        kind,
        name: name.to_string(),
    })
}

/// Text of a scalar node of any scalar type (numbers and booleans as written).
fn scalar_text(n: &Y) -> Option<&str> {
    match &n.value {
        YV::Scalar(s) => Some(&s.text),
        _ => None,
    }
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "tags",
    "enabled",
    "exceptions",
    "source",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "append",
    "override",
    "capture",
    "capture_duration",
];
const RULE_APPEND: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum How {
    Append,
    Replace,
}

impl Collector {
    fn err(&mut self, l: Location, it: Option<ItemRef>, msg: impl Into<String>) {
        self.errors.push(LoadError {
            loc: l,
            item: it,
            message: msg.into(),
        });
    }

    fn warn(
        &mut self,
        l: Location,
        it: Option<ItemRef>,
        code: WarningCode,
        msg: impl Into<String>,
    ) {
        self.warnings.push(Warning {
            loc: l,
            item: it,
            code,
            message: msg.into(),
        });
    }

    fn file(&mut self, file: &str, text: &str) {
        self.texts
            .insert(file.to_string(), text.lines().map(str::to_string).collect());
        let limits = Limits {
            max_depth: 64,
            ..Limits::default()
        };
        let mut docs = parse_stream(text, &limits);
        if docs.iter().any(Result::is_err) {
            // yaml-cpp (Falco) accepts a flow collection closed at the indentation of its key
            // (`  items: [` ... `  ]`); our YAML parser does not. Indent such closing lines one
            // more level (positions of everything else are unchanged) and take that parse if
            // it is clean.
            let relaxed = relax_flow_closers(text);
            let retry = parse_stream(&relaxed, &limits);
            if retry.iter().all(Result::is_ok) {
                docs = retry;
            }
        }
        for doc in docs {
            let doc = match doc {
                Ok(d) => d,
                Err(e) => {
                    self.err(
                        Location {
                            file: file.to_string(),
                            line: e.pos.line,
                            col: e.pos.col,
                        },
                        None,
                        format!("YAML syntax error: {}", e.message),
                    );
                    continue;
                }
            };
            let Some(root) = doc.root else { continue };
            if root.is_null() {
                continue;
            }
            let YV::Seq(items) = &root.value else {
                self.err(
                    loc(file, &root),
                    None,
                    format!(
                        "rules content is not a YAML list of items (found a {})",
                        root.node_type()
                    ),
                );
                continue;
            };
            for it in items {
                self.item(file, it);
            }
        }
    }

    fn item(&mut self, file: &str, it: &Y) {
        let l = loc(file, it);
        if !it.is_map() {
            self.err(
                l,
                None,
                format!(
                    "unexpected element of type {}: each item must be a mapping",
                    it.node_type()
                ),
            );
            return;
        }
        if let Some(v) = it.get("required_engine_version") {
            self.engine_version(file, v);
        } else if let Some(v) = it.get("required_plugin_versions") {
            self.plugin_versions(file, v);
        } else if it.get("list").is_some() {
            self.list(file, it);
        } else if it.get("macro").is_some() {
            self.macro_(file, it);
        } else if it.get("rule").is_some() {
            self.rule(file, it);
        } else {
            let keys: Vec<&str> = it.entries().iter().map(|e| &*e.key).collect();
            self.warn(
                l,
                None,
                WarningCode::UnknownItem,
                format!(
                    "unknown top level item (keys: {}); ignored",
                    keys.join(", ")
                ),
            );
        }
    }

    fn engine_version(&mut self, file: &str, v: &Y) {
        let l = loc(file, v);
        let Some(t) = scalar_text(v) else {
            self.err(
                l,
                item(ItemKind::EngineVersion, ""),
                "value must be a version string",
            );
            return;
        };
        let parts: Vec<&str> = t.trim().split('.').collect();
        let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse::<u64>().ok()).collect();
        match nums.as_deref() {
            // A legacy integer version: every current engine satisfies it.
            Some([_]) => {}
            Some([a, b, c]) => {
                if (*a, *b, *c) > ENGINE_VERSION {
                    let (x, y, z) = ENGINE_VERSION;
                    self.err(
                        l,
                        item(ItemKind::EngineVersion, ""),
                        format!("rules require engine version {t}, but this engine is {x}.{y}.{z}"),
                    );
                }
            }
            _ => self.err(
                l,
                item(ItemKind::EngineVersion, ""),
                format!("'{t}' is not a version (expected MAJOR.MINOR.PATCH)"),
            ),
        }
    }

    fn plugin_versions(&mut self, file: &str, v: &Y) {
        let YV::Seq(items) = &v.value else {
            self.err(
                loc(file, v),
                item(ItemKind::PluginVersions, ""),
                "value must be a list of {name, version}",
            );
            return;
        };
        for p in items {
            let name = p.get("name").and_then(scalar_text).unwrap_or("");
            if name.is_empty() || p.get("version").and_then(scalar_text).is_none() {
                self.err(
                    loc(file, p),
                    item(ItemKind::PluginVersions, ""),
                    "each plugin requirement needs 'name' and 'version'",
                );
                continue;
            }
            let alts: Vec<&str> = p
                .get("alternatives")
                .map(|a| {
                    a.items()
                        .iter()
                        .filter_map(|x| x.get("name").and_then(scalar_text))
                        .collect()
                })
                .unwrap_or_default();
            // The container plugin's fields are built in.
            if name != "container" && !alts.contains(&"container") {
                self.warn(
                    loc(file, p),
                    item(ItemKind::PluginVersions, name),
                    WarningCode::PluginRequirement,
                    format!("plugin '{name}' is not available; rules of its source are listed but not evaluated"),
                );
            }
        }
    }

    fn string_list(
        &mut self,
        file: &str,
        v: &Y,
        it: Option<ItemRef>,
        what: &str,
    ) -> Option<Vec<String>> {
        if v.is_null() {
            return Some(Vec::new());
        }
        let YV::Seq(items) = &v.value else {
            self.err(loc(file, v), it, format!("'{what}' must be a list"));
            return None;
        };
        let mut out = Vec::new();
        for x in items {
            match scalar_text(x) {
                Some(s) => out.push(s.to_string()),
                None => {
                    self.err(
                        loc(file, x),
                        it.clone(),
                        format!("items of '{what}' must be strings"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    /// How a list or macro item merges with an earlier definition: `Some(None)` defines it,
    /// `Some(Some(how))` appends or replaces (from `override:`, or the deprecated `append: true`,
    /// with a warning), `None` when the `override:` was invalid (already reported).
    fn merge_mode(
        &mut self,
        ov: Option<&[(String, How)]>,
        append: bool,
        l: &Location,
        ir: &Option<ItemRef>,
        key: &str,
    ) -> Option<Option<How>> {
        match (ov, append) {
            (Some([(_, how), ..]), _) => Some(Some(*how)),
            (Some([]), _) => None,
            (None, true) => {
                self.warn(
                    l.clone(),
                    ir.clone(),
                    WarningCode::Deprecated,
                    format!("'append: true' is deprecated; use 'override: {{{key}: append}}'"),
                );
                Some(Some(How::Append))
            }
            (None, false) => Some(None),
        }
    }

    fn overrides(
        &mut self,
        file: &str,
        it: &Y,
        kind: ItemKind,
        name: &str,
        append_ok: &[&str],
        replace_ok: &[&str],
    ) -> Option<Vec<(String, How)>> {
        let ov = it.get("override")?;
        let ir = item(kind, name);
        let mut out = Vec::new();
        for e in ov.entries() {
            let how = match e.value.as_str() {
                Some("append") => How::Append,
                Some("replace") => How::Replace,
                _ => {
                    self.err(
                        loc(file, &e.value),
                        ir.clone(),
                        format!("override of '{}' must be 'append' or 'replace'", e.key),
                    );
                    continue;
                }
            };
            let allowed = if how == How::Append {
                append_ok
            } else {
                replace_ok
            };
            if !allowed.contains(&&*e.key) {
                self.err(
                    loc(file, &e.value),
                    ir.clone(),
                    format!(
                        "key '{}' cannot be overridden with '{}' (allowed: {})",
                        e.key,
                        if how == How::Append {
                            "append"
                        } else {
                            "replace"
                        },
                        allowed.join(", ")
                    ),
                );
                continue;
            }
            if it.get(&e.key).is_none() {
                self.err(
                    loc(file, &e.value),
                    ir.clone(),
                    format!(
                        "override names '{}' but the item has no '{}' key",
                        e.key, e.key
                    ),
                );
                continue;
            }
            out.push((e.key.to_string(), how));
        }
        if !ov.is_map() {
            self.err(
                loc(file, ov),
                ir,
                "'override' must be a mapping of key: append|replace",
            );
        }
        Some(out)
    }

    fn list(&mut self, file: &str, it: &Y) {
        let l = loc(file, it);
        let Some(name) = it.get("list").and_then(scalar_text).map(str::to_string) else {
            self.err(l, item(ItemKind::List, ""), "'list' must be a name");
            return;
        };
        let ir = item(ItemKind::List, &name);
        for e in it.entries() {
            if !["list", "items", "append", "override"].contains(&&*e.key) {
                self.warn(
                    loc(file, &e.value),
                    ir.clone(),
                    WarningCode::UnknownKey,
                    format!("unknown key '{}'; ignored", e.key),
                );
            }
        }
        let Some(items_node) = it.get("items") else {
            self.err(l, ir, "list has no 'items'");
            return;
        };
        let Some(items) = self.string_list(file, items_node, ir.clone(), "items") else {
            return;
        };
        let append = it.get("append").and_then(Y::as_bool).unwrap_or(false);
        let ov = self.overrides(file, it, ItemKind::List, &name, &["items"], &["items"]);
        let existing = self.lists.iter().position(|x| x.name == name);
        let Some(how) = self.merge_mode(ov.as_deref(), append, &l, &ir, "items") else {
            return;
        };
        match (how, existing) {
            (Some(_), None) => self.err(
                l,
                ir,
                "list is appended to or overridden but was not defined before",
            ),
            (Some(How::Append), Some(i)) => self.lists[i].items.extend(items),
            (Some(How::Replace), Some(i)) => self.lists[i].items = items,
            (None, Some(i)) => {
                self.lists[i].items = items;
                self.lists[i].loc = l;
            }
            (None, None) => self.lists.push(ListDef {
                name,
                items,
                loc: l,
            }),
        }
    }

    fn macro_(&mut self, file: &str, it: &Y) {
        let l = loc(file, it);
        let Some(name) = it.get("macro").and_then(scalar_text).map(str::to_string) else {
            self.err(l, item(ItemKind::Macro, ""), "'macro' must be a name");
            return;
        };
        let ir = item(ItemKind::Macro, &name);
        for e in it.entries() {
            if !["macro", "condition", "append", "override"].contains(&&*e.key) {
                self.warn(
                    loc(file, &e.value),
                    ir.clone(),
                    WarningCode::UnknownKey,
                    format!("unknown key '{}'; ignored", e.key),
                );
            }
        }
        let Some(cond) = it
            .get("condition")
            .and_then(scalar_text)
            .map(str::to_string)
        else {
            self.err(l, ir, "macro has no 'condition' (a string)");
            return;
        };
        let append = it.get("append").and_then(Y::as_bool).unwrap_or(false);
        let ov = self.overrides(
            file,
            it,
            ItemKind::Macro,
            &name,
            &["condition"],
            &["condition"],
        );
        let existing = self.macros.iter().position(|x| x.name == name);
        let Some(how) = self.merge_mode(ov.as_deref(), append, &l, &ir, "condition") else {
            return;
        };
        match (how, existing) {
            (Some(_), None) => self.err(
                l,
                ir,
                "macro is appended to or overridden but was not defined before",
            ),
            (Some(How::Append), Some(i)) => {
                let m = &mut self.macros[i];
                m.cond = format!("{} {}", m.cond, cond);
            }
            (Some(How::Replace), Some(i)) => self.macros[i].cond = cond,
            (None, Some(i)) => {
                self.macros[i].cond = cond;
                self.macros[i].loc = l;
            }
            (None, None) => self.macros.push(MacroDef { name, cond, loc: l }),
        }
    }

    fn ex_value(&mut self, file: &str, v: &Y, ir: &Option<ItemRef>) -> Option<ExValue> {
        match &v.value {
            YV::Scalar(s) => Some(ExValue::Scalar(s.text.to_string())),
            YV::Seq(items) => {
                let mut out = Vec::new();
                for x in items {
                    out.push(self.ex_value(file, x, ir)?);
                }
                Some(ExValue::List(out))
            }
            YV::Map(_) => {
                self.err(
                    loc(file, v),
                    ir.clone(),
                    "exception values must be strings or lists",
                );
                None
            }
        }
    }

    fn exceptions(&mut self, file: &str, v: &Y, ir: &Option<ItemRef>) -> Option<Vec<ExceptionDef>> {
        if v.is_null() {
            return Some(Vec::new());
        }
        let YV::Seq(items) = &v.value else {
            self.err(loc(file, v), ir.clone(), "'exceptions' must be a list");
            return None;
        };
        let mut out = Vec::new();
        for x in items {
            let l = loc(file, x);
            let Some(name) = x.get("name").and_then(scalar_text) else {
                self.err(l, ir.clone(), "exception has no 'name'");
                return None;
            };
            for e in x.entries() {
                if !["name", "fields", "comps", "values"].contains(&&*e.key) {
                    self.warn(
                        loc(file, &e.value),
                        ir.clone(),
                        WarningCode::UnknownKey,
                        format!("exception '{name}': unknown key '{}'; ignored", e.key),
                    );
                }
            }
            let fields = match x.get("fields") {
                None => None,
                Some(f) => {
                    match &f.value {
                        YV::Scalar(s) => Some(Fields::One(s.text.to_string())),
                        YV::Seq(_) => Some(Fields::Many(self.string_list(
                            file,
                            f,
                            ir.clone(),
                            "fields",
                        )?)),
                        YV::Map(_) => {
                            self.err(loc(file, f), ir.clone(), format!("exception '{name}': 'fields' must be a field or a list of fields"));
                            return None;
                        }
                    }
                }
            };
            let comps = match x.get("comps") {
                None => None,
                Some(c) => match &c.value {
                    YV::Scalar(s) => Some(Comps::One(s.text.to_string())),
                    YV::Seq(_) => Some(Comps::Many(self.string_list(
                        file,
                        c,
                        ir.clone(),
                        "comps",
                    )?)),
                    YV::Map(_) => {
                        self.err(loc(file, c), ir.clone(), format!("exception '{name}': 'comps' must be an operator or a list of operators"));
                        return None;
                    }
                },
            };
            let mut values = Vec::new();
            if let Some(vs) = x.get("values") {
                match &vs.value {
                    YV::Seq(items) => {
                        for it in items {
                            values.push(self.ex_value(file, it, ir)?);
                        }
                    }
                    _ if vs.is_null() => {}
                    _ => {
                        self.err(
                            loc(file, vs),
                            ir.clone(),
                            format!("exception '{name}': 'values' must be a list"),
                        );
                        return None;
                    }
                }
            }
            out.push(ExceptionDef {
                name: name.to_string(),
                fields,
                comps,
                values,
                loc: l,
            });
        }
        Some(out)
    }

    fn rule(&mut self, file: &str, it: &Y) {
        let l = loc(file, it);
        let Some(name) = it.get("rule").and_then(scalar_text).map(str::to_string) else {
            self.err(l, item(ItemKind::Rule, ""), "'rule' must be a name");
            return;
        };
        let ir = item(ItemKind::Rule, &name);
        for e in it.entries() {
            if !RULE_KEYS.contains(&&*e.key) {
                self.warn(
                    loc(file, &e.value),
                    ir.clone(),
                    WarningCode::UnknownKey,
                    format!("unknown key '{}'; ignored", e.key),
                );
            }
        }
        let errors_before = self.errors.len();
        let text = |k: &str| it.get(k).and_then(scalar_text).map(str::to_string);
        let priority = match it.get("priority") {
            None => None,
            Some(p) => match scalar_text(p).and_then(Priority::parse) {
                Some(p) => Some(p),
                None => {
                    self.err(loc(file, p), ir.clone(), format!("invalid priority '{}' (expected emergency, alert, critical, error, warning, notice, informational, info or debug)", scalar_text(p).unwrap_or("")));
                    None
                }
            },
        };
        let tags = match it.get("tags") {
            None => None,
            Some(t) => self.string_list(file, t, ir.clone(), "tags"),
        };
        let bool_key = |k: &str, this: &mut Self| -> Option<bool> {
            let v = it.get(k)?;
            match v.as_bool() {
                Some(b) => Some(b),
                None => {
                    this.err(
                        loc(file, v),
                        ir.clone(),
                        format!("'{k}' must be true or false"),
                    );
                    None
                }
            }
        };
        let enabled = bool_key("enabled", self);
        let warn_evttypes = bool_key("warn_evttypes", self);
        let skip_unknown = bool_key("skip-if-unknown-filter", self);
        let append = bool_key("append", self).unwrap_or(false);
        let exceptions = match it.get("exceptions") {
            None => None,
            Some(e) => self.exceptions(file, e, &ir),
        };
        for k in ["condition", "output", "desc", "source"] {
            if let Some(v) = it.get(k)
                && scalar_text(v).is_none()
            {
                self.err(loc(file, v), ir.clone(), format!("'{k}' must be a string"));
            }
        }
        if self.errors.len() > errors_before {
            return;
        }
        let ov = self.overrides(file, it, ItemKind::Rule, &name, RULE_APPEND, RULE_REPLACE);
        let existing = self.rules.iter().position(|x| x.name == name);
        let cond_loc = it.get("condition").map_or(l.clone(), |c| loc(file, c));
        let output_loc = it.get("output").map_or(l.clone(), |c| loc(file, c));

        if let Some(ov) = ov {
            let Some(i) = existing else {
                self.err(l, ir, "rule is overridden but was not defined before");
                return;
            };
            let listed: HashSet<&str> = ov.iter().map(|(k, _)| k.as_str()).collect();
            for e in it.entries() {
                if !["rule", "override"].contains(&&*e.key)
                    && RULE_KEYS.contains(&&*e.key)
                    && !listed.contains(&*e.key)
                {
                    self.err(
                        loc(file, &e.value),
                        ir.clone(),
                        format!("key '{}' is given but not listed in 'override'", e.key),
                    );
                }
            }
            let r = &mut self.rules[i];
            for (k, how) in ov {
                let app = how == How::Append;
                match k.as_str() {
                    "condition" => {
                        let c = text("condition").unwrap_or_default();
                        r.cond = if app { format!("{} {}", r.cond, c) } else { c };
                    }
                    "output" => {
                        let c = text("output").unwrap_or_default();
                        r.output = if app {
                            format!("{} {}", r.output, c)
                        } else {
                            c
                        };
                    }
                    "desc" => {
                        let c = text("desc").unwrap_or_default();
                        r.desc = if app { format!("{} {}", r.desc, c) } else { c };
                    }
                    "tags" => {
                        let t = tags.clone().unwrap_or_default();
                        if app {
                            r.tags.extend(t);
                        } else {
                            r.tags = t;
                        }
                    }
                    "exceptions" => {
                        let ex = exceptions.clone().unwrap_or_default();
                        if app {
                            merge_exceptions(&mut r.exceptions, ex);
                        } else {
                            r.exceptions = ex;
                        }
                    }
                    "priority" => {
                        if let Some(p) = priority {
                            r.priority = p;
                        }
                    }
                    "enabled" => r.enabled = enabled.unwrap_or(r.enabled),
                    "warn_evttypes" => r.warn_evttypes = warn_evttypes.unwrap_or(r.warn_evttypes),
                    "skip-if-unknown-filter" => {
                        r.skip_unknown = skip_unknown.unwrap_or(r.skip_unknown)
                    }
                    _ => {}
                }
            }
            return;
        }
        if append {
            let Some(i) = existing else {
                self.err(l, ir, "rule has 'append: true' but was not defined before");
                return;
            };
            self.warn(
                l,
                ir,
                WarningCode::Deprecated,
                "'append: true' is deprecated; use 'override:'",
            );
            let r = &mut self.rules[i];
            if let Some(c) = text("condition") {
                r.cond = format!("{} {}", r.cond, c);
            }
            if let Some(ex) = exceptions {
                merge_exceptions(&mut r.exceptions, ex);
            }
            return;
        }
        // A redefinition with only `enabled:` toggles the rule.
        let only_enabled = it
            .entries()
            .iter()
            .all(|e| matches!(&*e.key, "rule" | "enabled"));
        if only_enabled && let Some(i) = existing {
            if let Some(en) = enabled {
                self.warn(l, ir, WarningCode::Deprecated, "redefining a rule with only 'enabled' is deprecated; use 'override: {enabled: replace}'");
                self.rules[i].enabled = en;
            }
            return;
        }
        let mut missing = Vec::new();
        for k in ["condition", "output", "desc", "priority"] {
            if it.get(k).is_none() {
                missing.push(k);
            }
        }
        if !missing.is_empty() {
            if existing.is_none() && only_enabled {
                self.err(l, ir, "rule is enabled/disabled but was not defined before");
            } else {
                self.err(l, ir, format!("rule has no '{}'", missing.join("', '")));
            }
            return;
        }
        let def = RuleDef {
            name: name.clone(),
            desc: text("desc").unwrap_or_default(),
            cond: text("condition").unwrap_or_default(),
            output: text("output").unwrap_or_default(),
            priority: priority.unwrap_or(Priority::Debug),
            tags: tags.unwrap_or_default(),
            enabled: enabled.unwrap_or(true),
            exceptions: exceptions.unwrap_or_default(),
            source: text("source").unwrap_or_else(|| "syscall".to_string()),
            warn_evttypes: warn_evttypes.unwrap_or(true),
            skip_unknown: skip_unknown.unwrap_or(false),
            loc: l,
            cond_loc,
            output_loc,
        };
        match existing {
            Some(i) => self.rules[i] = def,
            None => self.rules.push(def),
        }
    }
}

fn relax_flow_closers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let t = line.trim_start_matches(' ');
        if t.starts_with(']') || t.starts_with('}') {
            out.push_str("  ");
        }
        out.push_str(line);
    }
    out
}

fn merge_exceptions(into: &mut Vec<ExceptionDef>, new: Vec<ExceptionDef>) {
    for ex in new {
        match into.iter_mut().find(|e| e.name == ex.name) {
            Some(e) => {
                e.values.extend(ex.values);
                if e.fields.is_none() {
                    e.fields = ex.fields;
                }
                if e.comps.is_none() {
                    e.comps = ex.comps;
                }
            }
            None => into.push(ex),
        }
    }
}

/// Writes a value as a condition token: bare when it can be, quoted otherwise.
fn quote(v: &str) -> String {
    let bare = !v.is_empty()
        && !v.bytes().any(|c| {
            matches!(
                c,
                b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b',' | b'=' | b'"' | b'\''
            )
        });
    if bare {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn ex_text(v: &ExValue) -> String {
    match v {
        ExValue::Scalar(s) => quote(s),
        ExValue::List(items) => format!(
            "({})",
            items.iter().map(ex_text).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn is_op(s: &str) -> bool {
    let first = s.split_whitespace().next().unwrap_or("");
    matches!(
        first,
        "=" | "=="
            | "!="
            | "<"
            | "<="
            | ">"
            | ">="
            | "contains"
            | "icontains"
            | "bcontains"
            | "startswith"
            | "bstartswith"
            | "endswith"
            | "glob"
            | "iglob"
            | "regex"
            | "in"
            | "intersects"
            | "pmatch"
    ) && match s.split_whitespace().nth(1) {
        None => true,
        Some(m) => matches!(m, "anyof" | "allof" | "oneof") && s.split_whitespace().count() == 2,
    }
}

fn list_op(s: &str) -> bool {
    matches!(s, "in" | "intersects" | "pmatch")
        || s.ends_with("anyof")
        || s.ends_with("allof")
        || s.ends_with("oneof")
}

/// The condition text an exception adds (`None` when it has no values), or an error.
fn exception_text(ex: &ExceptionDef) -> Result<Option<String>, String> {
    let Some(fields) = &ex.fields else {
        return Err(format!("exception '{}' has no 'fields'", ex.name));
    };
    let check_field = |f: &str| -> Result<(), String> {
        let (n, a) = match f.find('[') {
            Some(i) if f.ends_with(']') => (&f[..i], Some(&f[i + 1..f.len() - 1])),
            _ => (f, None),
        };
        fields::resolve(n, a)
            .map(|_| ())
            .map_err(|e| format!("exception '{}': {e}", ex.name))
    };
    match fields {
        Fields::One(f) => {
            check_field(f)?;
            let comp = match &ex.comps {
                None => "in".to_string(),
                Some(Comps::One(c)) => c.clone(),
                Some(Comps::Many(_)) => {
                    return Err(format!(
                        "exception '{}': a single field takes a single comp",
                        ex.name
                    ));
                }
            };
            if !is_op(&comp) || !list_op(&comp) {
                return Err(format!(
                    "exception '{}': with a single field, comps must be in, pmatch, intersects or '<op> anyof|allof|oneof', not '{comp}'",
                    ex.name
                ));
            }
            if ex.values.is_empty() {
                return Ok(None);
            }
            let mut items = Vec::new();
            for v in &ex.values {
                match v {
                    ExValue::Scalar(s) => items.push(quote(s)),
                    ExValue::List(_) => {
                        return Err(format!(
                            "exception '{}': with a single field, values must be strings",
                            ex.name
                        ));
                    }
                }
            }
            Ok(Some(format!("({f} {comp} ({}))", items.join(", "))))
        }
        Fields::Many(fs) => {
            for f in fs {
                check_field(f)?;
            }
            let comps: Vec<String> = match &ex.comps {
                None => vec!["=".to_string(); fs.len()],
                Some(Comps::Many(c)) => c.clone(),
                Some(Comps::One(_)) => {
                    return Err(format!(
                        "exception '{}': a list of fields takes a list of comps",
                        ex.name
                    ));
                }
            };
            if comps.len() != fs.len() {
                return Err(format!(
                    "exception '{}': {} fields but {} comps",
                    ex.name,
                    fs.len(),
                    comps.len()
                ));
            }
            for c in &comps {
                if !is_op(c) {
                    return Err(format!("exception '{}': '{c}' is not an operator", ex.name));
                }
            }
            let mut alts = Vec::new();
            for (vi, v) in ex.values.iter().enumerate() {
                let ExValue::List(tuple) = v else {
                    return Err(format!(
                        "exception '{}': value {} must be a list of {} items (one per field)",
                        ex.name,
                        vi + 1,
                        fs.len()
                    ));
                };
                if tuple.len() != fs.len() {
                    return Err(format!(
                        "exception '{}': value {} has {} items but there are {} fields",
                        ex.name,
                        vi + 1,
                        tuple.len(),
                        fs.len()
                    ));
                }
                let mut parts = Vec::new();
                for ((f, c), item) in fs.iter().zip(&comps).zip(tuple) {
                    let rhs = match item {
                        ExValue::List(_) => ex_text(item),
                        ExValue::Scalar(s) if list_op(c) => format!("({})", quote(s)),
                        ExValue::Scalar(s) => quote(s),
                    };
                    parts.push(format!("{f} {c} {rhs}"));
                }
                alts.push(format!("({})", parts.join(" and ")));
            }
            if alts.is_empty() {
                return Ok(None);
            }
            Ok(Some(format!("({})", alts.join(" or "))))
        }
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern.contains(['*', '?']) {
        globset::Glob::new(pattern)
            .map(|g| g.compile_matcher().is_match(name))
            .unwrap_or(false)
    } else {
        name.contains(pattern)
    }
}

/// Loads `(file name, text)` sources in order.
pub fn load_sources(sources: &[(String, String)], opts: &LoadOptions) -> LoadOutcome {
    let mut c = Collector::default();
    for (file, text) in sources {
        c.file(file, text);
    }
    compile(c, opts)
}

fn compile(mut c: Collector, opts: &LoadOptions) -> LoadOutcome {
    // Lists: items naming an earlier list are replaced by its items.
    let mut lists: HashMap<String, Vec<String>> = HashMap::new();
    let mut list_used_by_list: HashSet<String> = HashSet::new();
    for l in &c.lists {
        let mut items = Vec::new();
        for i in &l.items {
            match lists.get(i) {
                Some(sub) if i != &l.name => {
                    items.extend(sub.iter().cloned());
                    list_used_by_list.insert(i.clone());
                }
                _ => items.push(i.clone()),
            }
        }
        lists.insert(l.name.clone(), items);
    }
    // Macros: parsed once; substituted into rules as syntax trees.
    let mut macros: HashMap<String, MacroSrc> = HashMap::new();
    for m in &c.macros {
        let expr = condition::parse(&m.cond).map_err(|e| {
            let snippet: String = m.cond.get(e.pos..).unwrap_or("").chars().take(40).collect();
            format!(
                "{} at offset {} (near '{}')",
                e.message,
                e.pos,
                snippet.replace('\n', " ")
            )
        });
        if let Err(msg) = &expr {
            let message = format!("condition syntax error: {msg}");
            c.errors.push(LoadError {
                loc: refine(&c.texts, &m.loc, &message),
                item: item(ItemKind::Macro, &m.name),
                message,
            });
        }
        macros.insert(
            m.name.clone(),
            MacroSrc {
                expr,
                text: m.cond.clone(),
                loc: m.loc.to_string(),
            },
        );
    }
    let mut env = Env::new(&macros, &lists);
    let mut rs = RuleSet {
        macros: c.macros.len(),
        lists: c.lists.len(),
        ..RuleSet::default()
    };
    for r in &c.rules {
        let ir = item(ItemKind::Rule, &r.name);
        let mut enabled = r.enabled;
        if opts.disabled_tags.iter().any(|t| r.tags.contains(t)) {
            enabled = false;
        }
        if !opts.enabled_tags.is_empty() && !opts.enabled_tags.iter().any(|t| r.tags.contains(t)) {
            enabled = false;
        }
        if opts
            .disabled_rule_patterns
            .iter()
            .any(|p| name_matches(p, &r.name))
        {
            enabled = false;
        }
        if opts.min_priority.is_some_and(|m| r.priority < m) {
            enabled = false;
        }
        let mut info = RuleInfo {
            name: r.name.clone(),
            desc: r.desc.clone(),
            condition: r.cond.clone(),
            output: r.output.clone(),
            priority: r.priority,
            tags: r.tags.clone(),
            source: r.source.clone(),
            enabled,
            skipped: false,
            loc: r.loc.clone(),
            event_types: None,
            exceptions: r.exceptions.iter().map(|e| e.name.clone()).collect(),
        };
        if r.source != "syscall" {
            c.warnings.push(Warning {
                loc: r.loc.clone(),
                item: ir,
                code: WarningCode::OtherSource,
                message: format!(
                    "source '{}' is not evaluated by this engine; rule listed only",
                    r.source
                ),
            });
            info.enabled = false;
            rs.infos.push(info);
            continue;
        }
        // Exceptions become `and not (...)` clauses of the condition.
        let mut cond = r.cond.clone();
        let mut ex_err = None;
        let mut clauses = Vec::new();
        for ex in &r.exceptions {
            match exception_text(ex) {
                Ok(Some(t)) => clauses.push(t),
                Ok(None) => {}
                Err(e) => {
                    ex_err = Some((ex.loc.clone(), e));
                    break;
                }
            }
        }
        if let Some((l, e)) = ex_err {
            c.errors.push(LoadError {
                loc: l,
                item: ir,
                message: e,
            });
            continue;
        }
        if !clauses.is_empty() {
            cond = format!("({cond})");
            for cl in clauses {
                cond.push_str(" and not ");
                cond.push_str(&cl);
            }
        }
        let mut err_loc = r.cond_loc.clone();
        let compiled = env.compile(&cond).and_then(|node| {
            err_loc = r.output_loc.clone();
            let tpl = Template::compile(&r.output, &mut env)?;
            Ok((node, tpl))
        });
        for n in env.unknown_evttypes.drain(..) {
            c.warnings.push(Warning {
                loc: r.cond_loc.clone(),
                item: ir.clone(),
                code: WarningCode::UnknownEventType,
                message: format!("event type '{n}' is not known to this engine; it never matches"),
            });
        }
        match compiled {
            Ok((node, output)) => {
                let evttypes = node.evttypes();
                match &evttypes {
                    EvtSet::All => {
                        if r.warn_evttypes {
                            c.warnings.push(Warning {
                                loc: r.cond_loc.clone(),
                                item: ir,
                                code: WarningCode::NoEventType,
                                message: "condition does not restrict evt.type: the rule runs for every event".into(),
                            });
                        }
                    }
                    EvtSet::Some(b) => info.event_types = Some(b.names()),
                }
                rs.compiled.push(CompiledRule {
                    info: rs.infos.len(),
                    active: enabled,
                    evttypes,
                    cond: node,
                    output,
                });
                rs.infos.push(info);
            }
            Err(CompileError::UnknownField { field, context }) if r.skip_unknown => {
                c.warnings.push(Warning {
                    loc: r.cond_loc.clone(),
                    item: ir,
                    code: WarningCode::SkippedUnknownField,
                    message: format!(
                        "rule skipped (skip-if-unknown-filter): unknown field '{field}'{context}"
                    ),
                });
                info.enabled = false;
                info.skipped = true;
                rs.infos.push(info);
            }
            Err(e) => {
                let message = e.to_string();
                c.errors.push(LoadError {
                    loc: refine(&c.texts, &err_loc, &message),
                    item: ir,
                    message,
                });
            }
        }
    }
    rs.fields_used = std::mem::take(&mut env.used_fields);
    rs.memo_slots = env.memo_slots.len();
    rs.dns_names = std::mem::take(&mut env.dns_names);
    let used_macros = std::mem::take(&mut env.used_macros);
    let mut used_lists = std::mem::take(&mut env.used_lists);
    used_lists.extend(list_used_by_list);
    for m in &c.macros {
        if !used_macros.contains(&m.name) {
            c.warnings.push(Warning {
                loc: m.loc.clone(),
                item: item(ItemKind::Macro, &m.name),
                code: WarningCode::UnusedMacro,
                message: "macro is not used by any rule".into(),
            });
        }
    }
    for l in &c.lists {
        if !used_lists.contains(&l.name) {
            c.warnings.push(Warning {
                loc: l.loc.clone(),
                item: item(ItemKind::List, &l.name),
                code: WarningCode::UnusedList,
                message: "list is not used".into(),
            });
        }
    }
    rs.build_index();
    let _ = Node::Const(true);
    let _ = Op::Eq;
    LoadOutcome {
        ruleset: rs,
        errors: c.errors,
        warnings: c.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_texts() {
        let ex = ExceptionDef {
            name: "pw".into(),
            fields: Some(Fields::Many(vec![
                "proc.name".into(),
                "fd.directory".into(),
            ])),
            comps: None,
            values: vec![ExValue::List(vec![
                ExValue::Scalar("my app".into()),
                ExValue::Scalar("/usr/bin".into()),
            ])],
            loc: Location::default(),
        };
        assert_eq!(
            exception_text(&ex).unwrap().unwrap(),
            "((proc.name = \"my app\" and fd.directory = /usr/bin))"
        );
        let ex = ExceptionDef {
            name: "names".into(),
            fields: Some(Fields::One("proc.name".into())),
            comps: None,
            values: vec![ExValue::Scalar("a".into()), ExValue::Scalar("b".into())],
            loc: Location::default(),
        };
        assert_eq!(
            exception_text(&ex).unwrap().unwrap(),
            "(proc.name in (a, b))"
        );
        let ex = ExceptionDef {
            name: "bad".into(),
            fields: Some(Fields::Many(vec!["proc.nope".into()])),
            ..Default::default()
        };
        assert!(
            exception_text(&ex)
                .unwrap_err()
                .contains("unknown field 'proc.nope'")
        );
    }

    #[test]
    fn malformed_items_are_errors_not_panics() {
        let docs = [
            "- rule: [a]\n",
            "- macro: {}\n",
            "- list: x\n  items: {a: b}\n",
            "- rule: r\n  condition: [a]\n  output: x\n  desc: x\n  priority: info\n",
            "- rule: r\n  condition: evt.type = open\n  output: x\n  desc: x\n  priority: info\n  exceptions: {a: b}\n",
            "- rule: r\n  condition: evt.type = open\n  output: x\n  desc: x\n  priority: info\n  exceptions:\n    - name: e\n      fields: {a: b}\n",
            "- rule: r\n  override: [a]\n",
            "- rule: r\n  enabled: maybe\n",
            "- required_plugin_versions: 3\n",
            "- required_engine_version: [1]\n",
            "- 42\n",
            "{{{{",
            "- rule: r\n  tags: a\n",
        ];
        for d in docs {
            let out = load_sources(&[("f.yaml".into(), d.into())], &LoadOptions::default());
            assert!(
                !out.errors.is_empty(),
                "{d:?} should give an error, warnings {:?}",
                out.warnings
            );
            for e in &out.errors {
                assert_eq!(e.loc.file, "f.yaml");
                assert!(e.loc.line >= 1, "{e}");
            }
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("say \"x\""), "\"say \\\"x\\\"\"");
        assert_eq!(quote(""), "\"\"");
    }
}
