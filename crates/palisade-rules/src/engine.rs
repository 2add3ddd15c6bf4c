//! The public engine: load rule files into a [`RuleSet`], then run events through an [`Engine`].

use crate::alert::{Alert, Priority};
use crate::compile::{CompiledRule, EvtSet};
use crate::error::{LoadError, LoadErrors, Location, Warning};
use crate::eval::Ctx;
use crate::view::StateView;
use palisade_events::Event;
use std::path::PathBuf;
use std::time::Instant;

/// The Falco engine version this engine implements (`required_engine_version` above it is an
/// error).
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

/// What to load and enable.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `-T tag`: rules with any of these tags are disabled.
    pub disabled_tags: Vec<String>,
    /// `-t tag`: when not empty, only rules with one of these tags are enabled.
    pub enabled_tags: Vec<String>,
    /// `-D pattern`: rules whose name contains the pattern (or matches it, when it has `*` or
    /// `?` wildcards) are disabled.
    pub disabled_rule_patterns: Vec<String>,
    /// Rules less severe than this are not loaded (Falco's `priority` setting); `None` = all.
    pub min_priority: Option<Priority>,
}

/// Metadata of one rule, for listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// The condition as written (after appends), before list/macro expansion and exceptions.
    pub condition: String,
    /// Output template.
    pub output: String,
    /// Priority.
    pub priority: Priority,
    /// Tags.
    pub tags: Vec<String>,
    /// Event source (`syscall` unless the rule says otherwise).
    pub source: String,
    /// Whether the rule runs (enabled in the file and not disabled by the load options).
    pub enabled: bool,
    /// Whether it was skipped because it uses an unknown field with `skip-if-unknown-filter`.
    pub skipped: bool,
    /// Where it was first defined.
    pub loc: Location,
    /// The event types the condition can match (Falco names, sorted), `None` for every event.
    pub event_types: Option<Vec<String>>,
    /// Names of the exceptions.
    pub exceptions: Vec<String>,
}

/// Loaded and compiled rules (clone it to run one [`Engine`] per thread).
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub(crate) infos: Vec<RuleInfo>,
    pub(crate) compiled: Vec<CompiledRule>,
    pub(crate) macros: usize,
    pub(crate) lists: usize,
    /// Rules evaluated for every event type.
    pub(crate) any_type: Vec<u32>,
    pub(crate) fields_used: std::collections::BTreeSet<String>,
    /// Number of macro memo slots.
    pub(crate) memo_slots: usize,
    /// Domain names compared with `fd.*ip.name`.
    pub(crate) dns_names: std::collections::BTreeSet<String>,
    /// Rule indexes per event id slot (see [`crate::compile::evt_slot`]).
    pub(crate) by_type: Vec<Vec<u32>>,
}

/// A load that went as far as it could: the rules that compiled, every error and warning.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Everything that compiled.
    pub ruleset: RuleSet,
    /// Errors (each concerns one item; the other items loaded).
    pub errors: Vec<LoadError>,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

impl RuleSet {
    /// Loads rule files in order (later files append to / override earlier ones). Fails when
    /// any item has an error; [`RuleSet::load_lenient`] keeps what compiled.
    pub fn load(
        files: &[PathBuf],
        opts: &LoadOptions,
    ) -> Result<(RuleSet, Vec<Warning>), LoadErrors> {
        Self::load_lenient(files, opts).into_result()
    }

    /// Loads rule files and returns everything that compiled, with every error.
    pub fn load_lenient(files: &[PathBuf], opts: &LoadOptions) -> LoadOutcome {
        let mut sources = Vec::new();
        let mut io_errors = Vec::new();
        for f in files {
            match std::fs::read_to_string(f) {
                Ok(text) => sources.push((f.display().to_string(), text)),
                Err(e) => io_errors.push(LoadError {
                    loc: Location {
                        file: f.display().to_string(),
                        line: 0,
                        col: 0,
                    },
                    item: None,
                    message: format!("cannot read rules file: {e}"),
                }),
            }
        }
        let mut out = crate::loader::load_sources(&sources, opts);
        if !io_errors.is_empty() {
            io_errors.append(&mut out.errors);
            out.errors = io_errors;
        }
        out
    }

    /// Loads rules from strings `(name, text)` in order (for tests and embedded rules).
    pub fn load_strs(
        sources: &[(&str, &str)],
        opts: &LoadOptions,
    ) -> Result<(RuleSet, Vec<Warning>), LoadErrors> {
        let owned: Vec<(String, String)> = sources
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        crate::loader::load_sources(&owned, opts).into_result()
    }

    /// Loads one rules text named `<string>`.
    pub fn load_str(text: &str, opts: &LoadOptions) -> Result<(RuleSet, Vec<Warning>), LoadErrors> {
        Self::load_strs(&[("<string>", text)], opts)
    }

    /// Every rule (enabled or not), in definition order.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// Every field the compiled rules reference (conditions, exceptions and outputs).
    pub fn fields_used(&self) -> &std::collections::BTreeSet<String> {
        &self.fields_used
    }

    /// Number of macros defined.
    pub fn macro_count(&self) -> usize {
        self.macros
    }

    /// Number of lists defined.
    pub fn list_count(&self) -> usize {
        self.lists
    }

    /// Number of rules that will be evaluated (enabled, `syscall` source, compiled).
    pub fn active_count(&self) -> usize {
        self.compiled.iter().filter(|r| r.active).count()
    }

    pub(crate) fn build_index(&mut self) {
        self.any_type.clear();
        self.by_type = vec![Vec::new(); crate::compile::EVT_SLOTS];
        for (i, r) in self.compiled.iter().enumerate() {
            if !r.active {
                continue;
            }
            match &r.evttypes {
                EvtSet::All => self.any_type.push(i as u32),
                EvtSet::Some(bits) => {
                    for slot in bits.iter() {
                        self.by_type[slot].push(i as u32);
                    }
                }
            }
        }
        // Rules that match every type run for every slot, in definition order with the rest.
        if !self.any_type.is_empty() {
            for v in self.by_type.iter_mut() {
                v.extend(self.any_type.iter().copied());
                v.sort_unstable();
            }
        }
    }
}

impl LoadOutcome {
    /// `Ok` when there was no error.
    pub fn into_result(self) -> Result<(RuleSet, Vec<Warning>), LoadErrors> {
        if self.errors.is_empty() {
            Ok((self.ruleset, self.warnings))
        } else {
            Err(LoadErrors {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }
}

/// Whether an event stops at the first matching rule (Falco's default) or alerts for all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    /// Stop at the first rule (in definition order) that matches.
    #[default]
    First,
    /// Every matching rule alerts.
    All,
}

/// Per-rule counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleStats {
    /// Times the condition was evaluated.
    pub evaluated: u64,
    /// Times it matched.
    pub matched: u64,
    /// Nanoseconds spent evaluating (only with [`Engine::set_profiling`]).
    pub nanos: u64,
}

/// Evaluates events against a [`RuleSet`].
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    matching: RuleMatching,
    hostname: String,
    profiling: bool,
    stats: Vec<RuleStats>,
    events: u64,
    suggested: Option<crate::format::Template>,
    memo: Vec<std::cell::Cell<u64>>,
    dns: Option<crate::dns::DnsNames>,
}

/// What Falco's default `append_output: [{suggested_output: true}]` adds to every syscall
/// rule's output: the container plugin's suggested fields.
pub const SUGGESTED_OUTPUT: &str = "container_id=%container.id container_name=%container.name \
container_image_repository=%container.image.repository container_image_tag=%container.image.tag \
k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name";

impl Engine {
    /// An engine for these rules; the host name is read from the kernel.
    pub fn new(rules: RuleSet) -> Engine {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let n = rules.compiled.len();
        let memo_slots = rules.memo_slots;
        Engine {
            rules,
            matching: RuleMatching::First,
            hostname,
            profiling: false,
            stats: vec![RuleStats::default(); n],
            events: 0,
            suggested: None,
            memo: vec![std::cell::Cell::new(0); memo_slots],
            dns: None,
        }
    }

    /// Resolves the domain names the rules compare `fd.cip.name`, `fd.sip.name`, `fd.lip.name`
    /// and `fd.rip.name` with (e.g. `kubernetes.default.svc.cluster.local`), in a background
    /// thread, now and every `refresh`, so those fields name the addresses they resolve to, as
    /// Falco's DNS manager does. Off by default (no lookups in tests and replays).
    pub fn set_dns_resolution(&mut self, refresh: Option<std::time::Duration>) {
        self.dns = match refresh {
            Some(r) if !self.rules.dns_names.is_empty() => {
                Some(crate::dns::DnsNames::start(self.rules.dns_names.clone(), r))
            }
            _ => None,
        };
    }

    /// Domain names the rules compare `fd.*ip.name` fields with.
    pub fn dns_names(&self) -> &std::collections::BTreeSet<String> {
        &self.rules.dns_names
    }

    /// Appends [`SUGGESTED_OUTPUT`] (container and pod fields) to every alert's output and
    /// output fields, as Falco's default configuration does. Off by default.
    pub fn set_suggested_output(&mut self, on: bool) {
        self.suggested = on.then(|| {
            let (macros, lists) = (Default::default(), Default::default());
            let mut env = crate::compile::Env::new(&macros, &lists);
            crate::format::Template::compile(SUGGESTED_OUTPUT, &mut env)
                .expect("suggested output fields are known")
        });
    }

    /// Sets the host name reported in alerts.
    pub fn set_hostname(&mut self, hostname: impl Into<String>) {
        self.hostname = hostname.into();
    }

    /// First-match (default) or all-match.
    pub fn set_rule_matching(&mut self, m: RuleMatching) {
        self.matching = m;
    }

    /// Measures the time spent per rule (costs two clock reads per rule evaluation).
    pub fn set_profiling(&mut self, on: bool) {
        self.profiling = on;
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Counters per rule, in [`RuleSet::rules`] order.
    pub fn stats(&self) -> &[RuleStats] {
        &self.stats
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// Evaluates one event (after the state has applied it) and calls `out` for each alert.
    pub fn process(&mut self, ev: &Event, state: &dyn StateView, out: &mut dyn FnMut(Alert)) {
        self.events += 1;
        let slot = crate::compile::evt_slot(ev.id);
        let list: &[u32] = match self.rules.by_type.get(slot) {
            Some(v) => v,
            None => &self.rules.any_type,
        };
        if list.is_empty() {
            return;
        }
        let ctx = Ctx::new(ev, state, self.events, &self.hostname, &self.memo)
            .with_dns(self.dns.as_ref());
        if self.profiling {
            // Look the process and fd up before timing, so that the first rule of each event
            // type is not charged for them.
            let _ = (ctx.proc(), ctx.fd());
        }
        for &i in list {
            let rule = &self.rules.compiled[i as usize];
            let st = &mut self.stats[i as usize];
            st.evaluated += 1;
            let hit = if self.profiling {
                let t = Instant::now();
                let hit = rule.cond.eval(&ctx);
                st.nanos += t.elapsed().as_nanos() as u64;
                hit
            } else {
                rule.cond.eval(&ctx)
            };
            if hit {
                st.matched += 1;
                let info = &self.rules.infos[rule.info];
                let (mut output, mut output_fields) = rule.output.render(&ctx);
                if let Some(extra) = &self.suggested {
                    let (text, fields) = extra.render(&ctx);
                    output.push(' ');
                    output.push_str(&text);
                    for (k, v) in fields {
                        output_fields.entry(k).or_insert(v);
                    }
                }
                out(Alert {
                    time_ns: ev.ts,
                    rule: info.name.clone(),
                    priority: info.priority,
                    source: info.source.clone(),
                    output,
                    output_fields,
                    tags: info.tags.clone(),
                    hostname: self.hostname.clone(),
                });
                if self.matching == RuleMatching::First {
                    break;
                }
            }
        }
    }
}
