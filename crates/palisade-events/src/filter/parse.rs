//! Parsing of filter flag values.

use super::{
    ContextField, EventCond, ExeNs, ExePattern, Filter, NumFilter, Op, Pattern, StrFilter, Target,
    Test,
};
use crate::catalog::{ArgKind, EventId, EventSet, catalog};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The flag a filter value came from (its spelling decides which keys it accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `--trace` / `-t` (tracee-ebpf ≤ v0.11): every key.
    Trace,
    /// `--filter` (v0.12–v0.16): every key.
    Filter,
    /// `--scope` (v0.17+): process keys.
    Scope,
    /// `--events` / `-e` (v0.17+): event names, sets/tags and event filters.
    Events,
}

impl Flag {
    /// The flag as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Trace => "--trace",
            Flag::Filter => "--filter",
            Flag::Scope => "--scope",
            Flag::Events => "--events",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A filter value that could not be parsed, with the flag and value it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} '{value}': {kind}")]
pub struct FilterError {
    /// The flag.
    pub flag: Flag,
    /// The offending value, as given.
    pub value: String,
    /// What is wrong.
    pub kind: FilterErrorKind,
}

/// What is wrong with a filter value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterErrorKind {
    /// Nothing was given.
    #[error("empty filter")]
    Empty,
    /// A value in a comma list is empty.
    #[error("empty value for {0}")]
    EmptyValue(String),
    /// The key is not a filter key.
    #[error(
        "unknown filter key {0:?} (keys: pid/p, uid/u, comm, uts, mntns, pidns, tree, container/c, not-container, executable, follow, event/e, set/s/tag, <event>.<arg>, <event>.retval, <event>.context.<field>)"
    )]
    UnknownKey(String),
    /// The key belongs to another flag.
    #[error("{key} is not accepted by {flag}; use {use_flag}")]
    WrongFlag {
        /// The key.
        key: String,
        /// The flag it was given to.
        flag: Flag,
        /// The flag that takes it.
        use_flag: &'static str,
    },
    /// The operator does not apply to the key.
    #[error("operator {op} does not apply to {key} (use {allowed})")]
    BadOperator {
        /// The key.
        key: String,
        /// The operator.
        op: &'static str,
        /// The operators it takes.
        allowed: &'static str,
    },
    /// The key needs a value (`comm=bash`).
    #[error("{0} needs an operator and a value (e.g. {0}=...)")]
    NeedsValue(String),
    /// `!` before something that is not a boolean key.
    #[error("'!' negates only container, not-container or <event>.context.container, not {0:?}")]
    BadNegation(String),
    /// Not an integer.
    #[error("{value:?} is not an integer (for {key})")]
    BadNumber {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// An unknown event name.
    #[error("unknown event {0:?} (palisade trace --list shows every event)")]
    UnknownEvent(String),
    /// A wildcard that matches no event.
    #[error("no event matches {0:?}")]
    NoEventMatches(String),
    /// An unknown event set.
    #[error("unknown event set {name:?} (sets: {known})")]
    UnknownSet {
        /// The name.
        name: String,
        /// The known sets.
        known: String,
    },
    /// An argument the event does not have (or does not decode).
    #[error("event {event} has no argument {arg:?} (arguments: {known})")]
    UnknownArg {
        /// The event.
        event: String,
        /// The argument.
        arg: String,
        /// Its arguments.
        known: String,
    },
    /// An unknown context field.
    #[error("unknown context field {0:?} (fields: {1})")]
    UnknownField(String, String),
    /// `pid!=new`, `container<new`...
    #[error("{0}")]
    Special(String),
    /// The selection excludes every event.
    #[error("no event is left to trace after the exclusions")]
    NoEvents,
}

/// Collects flag values into a [`Filter`].
#[derive(Default)]
pub(crate) struct Builder {
    filter: FilterParts,
}

#[derive(Default)]
struct FilterParts {
    scope: super::Scope,
    include: BTreeSet<EventId>,
    any_include: bool,
    exclude: BTreeSet<EventId>,
    last_exclude: Option<(Flag, String)>,
    conds: BTreeMap<EventId, Vec<EventCond>>,
}

const OPS: [(&str, Op); 6] = [
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("=", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
];

/// Split `key<op>values` at the first operator character.
fn split_op(s: &str) -> Option<(&str, Op, &str)> {
    let i = s.find(['=', '!', '<', '>'])?;
    let rest = &s[i..];
    OPS.iter()
        .find(|(t, _)| rest.starts_with(t))
        .map(|(t, op)| (&s[..i], *op, &rest[t.len()..]))
}

enum KeyClass {
    Scope,
    Event,
}

impl Builder {
    pub(crate) fn add(&mut self, flag: Flag, raw: &str) -> Result<(), FilterError> {
        let err = |kind| FilterError {
            flag,
            value: raw.to_owned(),
            kind,
        };
        let s = raw.trim();
        if s.is_empty() {
            return Err(err(FilterErrorKind::Empty));
        }
        if let Some(rest) = s.strip_prefix('!') {
            return self.negated(flag, rest).map_err(err);
        }
        match split_op(s) {
            None => self.bare(flag, s).map_err(err),
            Some((key, op, values)) => self.keyed(flag, key.trim(), op, values).map_err(err),
        }
    }

    fn check_flag(flag: Flag, key: &str, class: KeyClass) -> Result<(), FilterErrorKind> {
        match (flag, class) {
            (Flag::Scope, KeyClass::Event) => Err(FilterErrorKind::WrongFlag {
                key: key.into(),
                flag,
                use_flag: "--events",
            }),
            (Flag::Events, KeyClass::Scope) => Err(FilterErrorKind::WrongFlag {
                key: key.into(),
                flag,
                use_flag: "--scope",
            }),
            _ => Ok(()),
        }
    }

    fn negated(&mut self, flag: Flag, rest: &str) -> Result<(), FilterErrorKind> {
        let key = rest.trim();
        match key {
            "container" | "c" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                self.filter.scope.container = Some(false);
                Ok(())
            }
            _ if key.contains('.') && split_op(key).is_none() => {
                Self::check_flag(flag, key, KeyClass::Event)?;
                let (ev, field) = self.event_field(key)?;
                if field != EventField::Context(ContextField::Container) {
                    return Err(FilterErrorKind::BadNegation(key.into()));
                }
                self.add_cond(
                    ev,
                    Target::Context(ContextField::Container),
                    Test::Bool(false),
                );
                Ok(())
            }
            _ => Err(FilterErrorKind::BadNegation(key.into())),
        }
    }

    /// A value without an operator: a boolean key, or (in `--events`) event names.
    fn bare(&mut self, flag: Flag, s: &str) -> Result<(), FilterErrorKind> {
        match s {
            "container" | "c" | "not-container" => {
                Self::check_flag(flag, s, KeyClass::Scope)?;
                self.filter.scope.container = Some(s != "not-container");
                return Ok(());
            }
            "follow" => {
                Self::check_flag(flag, s, KeyClass::Scope)?;
                self.filter.scope.follow = true;
                return Ok(());
            }
            "global" if flag == Flag::Scope => return Ok(()),
            _ => {}
        }
        if flag == Flag::Events {
            for name in s.split(',') {
                let name = name.trim();
                if let Some(ex) = name.strip_prefix('-') {
                    self.exclude_events(ex)?;
                    self.filter.last_exclude = Some((flag, s.into()));
                } else if name.contains('.') {
                    let (ev, field) = self.event_field(name)?;
                    if field != EventField::Context(ContextField::Container) {
                        return Err(FilterErrorKind::NeedsValue(name.into()));
                    }
                    self.add_cond(
                        ev,
                        Target::Context(ContextField::Container),
                        Test::Bool(true),
                    );
                } else {
                    self.include_events(name)?;
                }
            }
            return Ok(());
        }
        if s.contains('.') {
            Self::check_flag(flag, s, KeyClass::Event)?;
            let (ev, field) = self.event_field(s)?;
            if field == EventField::Context(ContextField::Container) {
                self.add_cond(
                    ev,
                    Target::Context(ContextField::Container),
                    Test::Bool(true),
                );
                return Ok(());
            }
            return Err(FilterErrorKind::NeedsValue(s.into()));
        }
        match s {
            "pid" | "p" | "uid" | "u" | "comm" | "uts" | "mntns" | "pidns" | "tree"
            | "executable" | "exec" | "binary" | "bin" | "event" | "e" | "set" | "s" | "tag" => {
                Err(FilterErrorKind::NeedsValue(s.into()))
            }
            _ => Err(FilterErrorKind::UnknownKey(s.into())),
        }
    }

    fn keyed(
        &mut self,
        flag: Flag,
        key: &str,
        op: Op,
        values: &str,
    ) -> Result<(), FilterErrorKind> {
        let vals: Vec<&str> = values.split(',').map(str::trim).collect();
        if vals.iter().any(|v| v.is_empty()) {
            return Err(FilterErrorKind::EmptyValue(key.into()));
        }
        let scope = &mut self.filter.scope;
        match key {
            "pid" | "p" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                for v in &vals {
                    if *v == "new" {
                        if op != Op::Eq {
                            return Err(FilterErrorKind::Special(
                                "pid=new is the only comparison with \"new\"".into(),
                            ));
                        }
                        scope.new_pid = true;
                    } else {
                        scope.pid.add(op, number(key, v)?);
                    }
                }
            }
            "uid" | "u" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                add_numbers(&mut scope.uid, key, op, &vals)?;
            }
            "mntns" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                add_numbers(&mut scope.mntns, key, op, &vals)?;
            }
            "pidns" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                add_numbers(&mut scope.pidns, key, op, &vals)?;
            }
            "tree" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                eq_ne(key, op)?;
                for v in &vals {
                    let pid =
                        u32::try_from(number(key, v)?).map_err(|_| FilterErrorKind::BadNumber {
                            key: key.into(),
                            value: (*v).into(),
                        })?;
                    if op == Op::Eq {
                        scope.tree_in.insert(pid);
                    } else {
                        scope.tree_out.insert(pid);
                    }
                }
            }
            "comm" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                add_strings(&mut scope.comm, key, op, &vals)?;
            }
            "uts" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                add_strings(&mut scope.uts, key, op, &vals)?;
            }
            "container" | "c" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                eq_ne(key, op)?;
                for v in &vals {
                    match *v {
                        "new" | "started" if op == Op::Ne => {
                            return Err(FilterErrorKind::Special(format!(
                                "container!={v} is not supported (use container={v} or !container)"
                            )));
                        }
                        "new" => scope.new_container = true,
                        // Started containers: the sensor sees containers from their first
                        // process on, so every container event qualifies.
                        "started" => scope.container = Some(true),
                        id => add_strings(&mut scope.container_id, key, op, &[id])?,
                    }
                }
            }
            "executable" | "exec" | "binary" | "bin" => {
                Self::check_flag(flag, key, KeyClass::Scope)?;
                eq_ne(key, op)?;
                for v in &vals {
                    let pat = exe_pattern(key, v)?;
                    if op == Op::Eq {
                        scope.exe_eq.push(pat);
                    } else {
                        scope.exe_ne.push(pat);
                    }
                }
            }
            "follow" | "not-container" | "global" => {
                return Err(FilterErrorKind::Special(format!("{key} takes no value")));
            }
            "event" | "e" => {
                Self::check_flag(flag, key, KeyClass::Event)?;
                eq_ne(key, op)?;
                for v in &vals {
                    if op == Op::Eq {
                        self.include_events(v)?;
                    } else {
                        self.exclude_events(v)?;
                    }
                }
                if op == Op::Ne {
                    self.filter.last_exclude = Some((flag, format!("{key}!={values}")));
                }
            }
            "set" | "s" | "tag" => {
                Self::check_flag(flag, key, KeyClass::Event)?;
                eq_ne(key, op)?;
                for v in &vals {
                    let set =
                        EventSet::from_name(v).ok_or_else(|| FilterErrorKind::UnknownSet {
                            name: (*v).into(),
                            known: EventSet::ALL.map(EventSet::name).join(", "),
                        })?;
                    let ids = catalog().iter().filter(|d| d.in_set(set)).map(|d| d.id);
                    if op == Op::Eq {
                        self.filter.any_include = true;
                        self.filter.include.extend(ids);
                    } else {
                        self.filter.exclude.extend(ids);
                    }
                }
                if op == Op::Ne {
                    self.filter.last_exclude = Some((flag, format!("{key}!={values}")));
                }
            }
            k if k.contains('.') => {
                Self::check_flag(flag, key, KeyClass::Event)?;
                self.event_filter(key, op, &vals)?;
            }
            _ => return Err(FilterErrorKind::UnknownKey(key.into())),
        }
        Ok(())
    }

    fn include_events(&mut self, pat: &str) -> Result<(), FilterErrorKind> {
        let ids = resolve_events(pat)?;
        self.filter.any_include = true;
        self.filter.include.extend(ids);
        Ok(())
    }

    fn exclude_events(&mut self, pat: &str) -> Result<(), FilterErrorKind> {
        let ids = resolve_events(pat)?;
        self.filter.exclude.extend(ids);
        Ok(())
    }

    /// `<event>.<field>`: `retval`, `args.X`, `data.X`, `context.X`, `scope.X`, or `X`.
    fn event_field(&self, key: &str) -> Result<(EventId, EventField), FilterErrorKind> {
        let (ev_name, rest) = key.split_once('.').unwrap_or((key, ""));
        let id = EventId::from_name(ev_name)
            .ok_or_else(|| FilterErrorKind::UnknownEvent(ev_name.into()))?;
        let field = match rest.split_once('.') {
            Some(("args" | "data", arg)) => EventField::Arg(arg.to_owned()),
            Some(("context" | "scope", f)) => {
                EventField::Context(ContextField::from_name(f).ok_or_else(|| {
                    FilterErrorKind::UnknownField(
                        f.into(),
                        ContextField::NAMES
                            .iter()
                            .map(|(_, n)| n[0])
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                })?)
            }
            None if rest == "retval" => EventField::Retval,
            _ if rest.is_empty() => return Err(FilterErrorKind::UnknownKey(key.into())),
            _ => EventField::Arg(rest.to_owned()),
        };
        Ok((id, field))
    }

    fn event_filter(&mut self, key: &str, op: Op, vals: &[&str]) -> Result<(), FilterErrorKind> {
        let (id, field) = self.event_field(key)?;
        let (target, test) = match field {
            EventField::Retval => {
                let mut n = NumFilter::default();
                add_numbers(&mut n, key, op, vals)?;
                (Target::Retval, Test::Num(n))
            }
            EventField::Context(ContextField::Container) => {
                eq_ne(key, op)?;
                let [v] = vals else {
                    return Err(FilterErrorKind::Special(format!(
                        "{key} takes true or false"
                    )));
                };
                let b = match *v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(FilterErrorKind::Special(format!(
                            "{key} takes true or false"
                        )));
                    }
                };
                (
                    Target::Context(ContextField::Container),
                    Test::Bool(b == (op == Op::Eq)),
                )
            }
            EventField::Context(f) if f.is_string() => {
                let mut s = StrFilter::default();
                add_strings(&mut s, key, op, vals)?;
                (Target::Context(f), Test::Str(s))
            }
            EventField::Context(f) => {
                let mut n = NumFilter::default();
                add_numbers(&mut n, key, op, vals)?;
                (Target::Context(f), Test::Num(n))
            }
            EventField::Arg(arg) => {
                let def = id
                    .def()
                    .ok_or_else(|| FilterErrorKind::UnknownEvent(key.into()))?;
                let index = def
                    .arg_index(&arg)
                    .ok_or_else(|| FilterErrorKind::UnknownArg {
                        event: def.name.into(),
                        arg: arg.clone(),
                        known: if def.args.is_empty() {
                            "none decoded".into()
                        } else {
                            def.args
                                .iter()
                                .map(|a| a.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    })?;
                let a = def.args[index];
                let test = match a.kind {
                    ArgKind::Path | ArgKind::Str | ArgKind::StrArray | ArgKind::SockAddr => {
                        let mut s = StrFilter::default();
                        add_strings(&mut s, key, op, vals)?;
                        Test::Str(s)
                    }
                    ArgKind::Bool => {
                        eq_ne(key, op)?;
                        let [v] = vals else {
                            return Err(FilterErrorKind::Special(format!(
                                "{key} takes true or false"
                            )));
                        };
                        let b = matches!(*v, "true" | "1");
                        Test::Bool(b == (op == Op::Eq))
                    }
                    _ => {
                        let mut n = NumFilter::default();
                        add_numbers(&mut n, key, op, vals)?;
                        Test::Num(n)
                    }
                };
                (
                    Target::Arg {
                        index,
                        name: a.name,
                        kind: a.kind,
                    },
                    test,
                )
            }
        };
        self.add_cond(id, target, test);
        Ok(())
    }

    /// Add a condition; one on the same target merges (values with `=` ORed, others ANDed).
    fn add_cond(&mut self, id: EventId, target: Target, test: Test) {
        self.filter.any_include = true;
        self.filter.include.insert(id);
        let conds = self.filter.conds.entry(id).or_default();
        if let Some(c) = conds.iter_mut().find(|c| c.target == target) {
            match (&mut c.test, test) {
                (Test::Num(a), Test::Num(b)) => {
                    a.eq.extend(b.eq);
                    a.ne.extend(b.ne);
                    a.lo = a.lo.max(b.lo);
                    a.hi = a.hi.min(b.hi);
                    return;
                }
                (Test::Str(a), Test::Str(b)) => {
                    a.eq.extend(b.eq);
                    a.ne.extend(b.ne);
                    return;
                }
                (_, test) => {
                    conds.push(EventCond { target, test });
                    return;
                }
            }
        }
        conds.push(EventCond { target, test });
    }

    pub(crate) fn finish(self) -> Result<Filter, FilterError> {
        let f = self.filter;
        let mut events = if f.any_include {
            f.include
        } else {
            super::default_events()
        };
        events.retain(|e| !f.exclude.contains(e));
        if events.is_empty() {
            let (flag, value) = f.last_exclude.unwrap_or((Flag::Events, String::new()));
            return Err(FilterError {
                flag,
                value,
                kind: FilterErrorKind::NoEvents,
            });
        }
        Ok(Filter {
            scope: f.scope,
            events,
            explicit_events: f.any_include,
            conds: f.conds,
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
enum EventField {
    Arg(String),
    Retval,
    Context(ContextField),
}

fn eq_ne(key: &str, op: Op) -> Result<(), FilterErrorKind> {
    if matches!(op, Op::Eq | Op::Ne) {
        Ok(())
    } else {
        Err(FilterErrorKind::BadOperator {
            key: key.into(),
            op: op.as_str(),
            allowed: "= or !=",
        })
    }
}

/// An integer: decimal, `0x` hexadecimal, `0o` octal, optionally negative.
fn number(key: &str, v: &str) -> Result<i128, FilterErrorKind> {
    let bad = || FilterErrorKind::BadNumber {
        key: key.into(),
        value: v.into(),
    };
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let n = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(h, 16)
    } else if let Some(o) = digits.strip_prefix("0o") {
        i128::from_str_radix(o, 8)
    } else {
        digits.parse::<i128>()
    }
    .map_err(|_| bad())?;
    if n > u64::MAX as i128 {
        return Err(bad());
    }
    Ok(if neg { -n } else { n })
}

fn add_numbers(n: &mut NumFilter, key: &str, op: Op, vals: &[&str]) -> Result<(), FilterErrorKind> {
    for v in vals {
        n.add(op, number(key, v)?);
    }
    Ok(())
}

fn add_strings(s: &mut StrFilter, key: &str, op: Op, vals: &[&str]) -> Result<(), FilterErrorKind> {
    eq_ne(key, op)?;
    for v in vals {
        let p = Pattern::parse(v);
        if op == Op::Eq {
            s.eq.push(p);
        } else {
            s.ne.push(p);
        }
    }
    Ok(())
}

/// `/usr/bin/ls`, `host:/usr/bin/ls`, `4026531840:/usr/bin/ls`.
fn exe_pattern(key: &str, v: &str) -> Result<ExePattern, FilterErrorKind> {
    let (ns, path) = match v.split_once(':') {
        Some(("host", p)) => (ExeNs::Host, p),
        Some((n, p)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
            let id = u32::try_from(number(key, n)?).map_err(|_| FilterErrorKind::BadNumber {
                key: key.into(),
                value: n.into(),
            })?;
            (ExeNs::Id(id), p)
        }
        _ => (ExeNs::Any, v),
    };
    if path.is_empty() {
        return Err(FilterErrorKind::EmptyValue(key.into()));
    }
    Ok(ExePattern {
        mntns: ns,
        path: Pattern::parse(path),
    })
}

/// Event ids for a name or wildcard (`open*`, `*at`, `*open*`).
fn resolve_events(pat: &str) -> Result<Vec<EventId>, FilterErrorKind> {
    if pat.is_empty() {
        return Err(FilterErrorKind::EmptyValue("event".into()));
    }
    if !pat.contains('*') {
        return EventId::from_name(pat)
            .map(|id| vec![id])
            .ok_or_else(|| FilterErrorKind::UnknownEvent(pat.into()));
    }
    let p = Pattern::parse(pat);
    let ids: Vec<EventId> = catalog()
        .iter()
        .filter(|d| p.matches(d.name))
        .map(|d| d.id)
        .collect();
    if ids.is_empty() {
        return Err(FilterErrorKind::NoEventMatches(pat.into()));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[(Flag, &str)]) -> Result<Filter, FilterError> {
        Filter::parse(flags.iter().copied())
    }

    #[test]
    fn operators_split_at_the_first() {
        assert_eq!(split_op("uid>=5"), Some(("uid", Op::Ge, "5")));
        assert_eq!(split_op("u!=1000"), Some(("u", Op::Ne, "1000")));
        assert_eq!(
            split_op("openat.retval<0"),
            Some(("openat.retval", Op::Lt, "0"))
        );
        assert_eq!(split_op("follow"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(number("k", "0x10"), Ok(16));
        assert_eq!(number("k", "-5"), Ok(-5));
        assert_eq!(number("k", "0o755"), Ok(0o755));
        assert!(number("k", "abc").is_err());
        assert!(number("k", "99999999999999999999999").is_err());
    }

    #[test]
    fn errors_name_flag_and_value() {
        let e = parse(&[(Flag::Trace, "uid>abc")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--trace 'uid>abc': \"abc\" is not an integer (for uid)"
        );
        let e = parse(&[(Flag::Scope, "event=openat")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--scope 'event=openat': event is not accepted by --scope; use --events"
        );
        let e = parse(&[(Flag::Events, "comm=ls")]).unwrap_err();
        assert!(matches!(e.kind, FilterErrorKind::WrongFlag { .. }), "{e}");
        let e = parse(&[(Flag::Trace, "comm>ls")]).unwrap_err();
        assert!(matches!(e.kind, FilterErrorKind::BadOperator { .. }), "{e}");
        let e = parse(&[(Flag::Trace, "openat.nope=1")]).unwrap_err();
        assert!(
            e.to_string().contains("dirfd, pathname, flags, mode"),
            "{e}"
        );
        let e = parse(&[(Flag::Trace, "event=nosuch")]).unwrap_err();
        assert!(matches!(e.kind, FilterErrorKind::UnknownEvent(_)));
        let e = parse(&[(Flag::Trace, "set=bogus")]).unwrap_err();
        assert!(e.to_string().contains("fs, "), "{e}");
        let e = parse(&[(Flag::Trace, "pid!=new")]).unwrap_err();
        assert!(matches!(e.kind, FilterErrorKind::Special(_)));
        let e = parse(&[(Flag::Trace, "!comm=ls")]).unwrap_err();
        assert!(matches!(e.kind, FilterErrorKind::BadNegation(_)));
        let e = parse(&[(Flag::Trace, "pid=1,,2")]).unwrap_err();
        assert!(matches!(e.kind, FilterErrorKind::EmptyValue(_)));
        let e = parse(&[(Flag::Events, "-*")]).unwrap_err();
        assert_eq!(e.kind, FilterErrorKind::NoEvents);
        assert!(parse(&[(Flag::Trace, "  ")]).is_err());
        assert!(parse(&[(Flag::Trace, "bogus")]).is_err());
        assert!(parse(&[(Flag::Trace, "comm")]).is_err());
    }

    #[test]
    fn selection() {
        let f = parse(&[(Flag::Trace, "s=fs"), (Flag::Trace, "e!=open,openat")]).unwrap();
        assert!(f.events.contains(&EventId::from_name("mkdir").unwrap()));
        assert!(!f.events.contains(&EventId::from_name("openat").unwrap()));
        let f = parse(&[(Flag::Events, "open*,-openat2")]).unwrap();
        let names: Vec<_> = f.events.iter().map(|e| e.name()).collect();
        assert!(names.contains(&"openat".into()) && !names.contains(&"openat2".into()));
        let f = parse(&[(Flag::Trace, "comm=ls")]).unwrap();
        assert!(!f.explicit_events);
        assert_eq!(f.events, super::super::default_events());
        // An event filter selects its event.
        let f = parse(&[(Flag::Events, "openat.data.pathname=/tmp*")]).unwrap();
        assert_eq!(f.events.len(), 1);
        let f = parse(&[(Flag::Events, "tag=net")]).unwrap();
        assert!(f.events.contains(&EventId::from_name("connect").unwrap()));
    }

    #[test]
    fn same_target_merges() {
        let f = parse(&[
            (Flag::Trace, "openat.pathname=/a"),
            (Flag::Filter, "openat.args.pathname=/b"),
        ])
        .unwrap();
        let c = &f.conds[&EventId::from_name("openat").unwrap()];
        assert_eq!(c.len(), 1);
        assert!(matches!(&c[0].test, Test::Str(s) if s.eq.len() == 2));
    }
}
