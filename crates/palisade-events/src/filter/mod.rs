//! Tracee-style event filters: the flags of every Tracee version, parsed into one typed [`Filter`].
//!
//! Spellings accepted (see [`Flag`]):
//!
//! - `--trace`/`-t` (tracee-ebpf ≤ v0.11) and `--filter` (v0.12–v0.16): one expression per flag,
//!   scope keys and event keys mixed: `pid=new`, `uid>0`, `comm=bash`, `follow`, `event=execve,open`,
//!   `set=fs`, `openat.pathname=/tmp*`, `openat.args.pathname=/tmp*`, `close.fd=5`,
//!   `openat.retval<0`, `openat.context.container`.
//! - `--scope` (v0.17+): process keys only (`pid`, `uid`, `comm`, `uts`, `mntns`, `pidns`, `tree`,
//!   `container`, `not-container`, `executable`, `follow`).
//! - `--events` (v0.17+): event names (comma lists, `open*`/`*at` wildcards, `-openat` to
//!   exclude), `tag=`/`set=`, and event filters `openat.data.pathname=/tmp*`, `openat.retval<0`,
//!   `openat.scope.processName=ls` (`.context.` before v0.21).
//!
//! Semantics (as Tracee documents them): different expressions are ANDed; within a key, values
//! given with `=` are ORed (a comma list or several flags), values given with any other operator
//! are ANDed. `!key` negates a boolean key. Strings match exactly, or by prefix (`foo*`), suffix
//! (`*foo`) or substring (`*foo*`). Numbers are compared as integers.
//!
//! Matching happens in user space with [`Filter::matches`], which needs a [`ProcessTree`] fed with
//! every event first (for `follow`, `tree`, `pid=new`, `container=new` and `executable`).
//! [`Filter::kernel_plan`] gives the part the sensor can decide in the kernel; it never drops an
//! event that [`Filter::matches`] keeps.

mod parse;
mod tree;

pub use parse::{FilterError, FilterErrorKind, Flag};
pub use tree::{ProcInfo, ProcessTree};

use crate::catalog::{ArgKind, EventId, EventSet};
use crate::event::{ArgValue, Event};
use std::collections::{BTreeMap, BTreeSet};

/// A string pattern: exact, prefix (`foo*`), suffix (`*foo`), substring (`*foo*`) or anything (`*`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pattern {
    /// The whole string.
    Exact(String),
    /// Starts with.
    Prefix(String),
    /// Ends with.
    Suffix(String),
    /// Contains.
    Contains(String),
    /// Any string (`*`).
    Any,
}

impl Pattern {
    /// Parse `foo`, `foo*`, `*foo`, `*foo*`, `*`.
    pub fn parse(s: &str) -> Pattern {
        if s == "*" || s == "**" {
            return Pattern::Any;
        }
        match (s.strip_prefix('*'), s.strip_suffix('*')) {
            (Some(_), Some(_)) => Pattern::Contains(s[1..s.len() - 1].into()),
            (Some(rest), None) => Pattern::Suffix(rest.into()),
            (None, Some(rest)) => Pattern::Prefix(rest.into()),
            (None, None) => Pattern::Exact(s.into()),
        }
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(p) => s == p,
            Pattern::Prefix(p) => s.starts_with(p.as_str()),
            Pattern::Suffix(p) => s.ends_with(p.as_str()),
            Pattern::Contains(p) => s.contains(p.as_str()),
            Pattern::Any => true,
        }
    }
}

/// Conditions on a string: any of `eq` (when not empty) and none of `ne`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StrFilter {
    /// `key=a,b`: one of them must match.
    pub eq: Vec<Pattern>,
    /// `key!=a,b`: none may match.
    pub ne: Vec<Pattern>,
}

impl StrFilter {
    /// No condition.
    pub fn is_empty(&self) -> bool {
        self.eq.is_empty() && self.ne.is_empty()
    }

    /// Whether `s` satisfies every condition.
    pub fn matches(&self, s: &str) -> bool {
        (self.eq.is_empty() || self.eq.iter().any(|p| p.matches(s)))
            && !self.ne.iter().any(|p| p.matches(s))
    }

    /// Whether any element of a list satisfies the conditions (`argv`), or, with `!=` only,
    /// no element is excluded.
    fn matches_list(&self, list: &[String]) -> bool {
        (self.eq.is_empty() || list.iter().any(|s| self.eq.iter().any(|p| p.matches(s))))
            && !list.iter().any(|s| self.ne.iter().any(|p| p.matches(s)))
    }
}

/// Conditions on an integer: in `eq` (when not empty), not in `ne`, within `lo..=hi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumFilter {
    /// `key=1,2`: one of them.
    pub eq: BTreeSet<i128>,
    /// `key!=1,2`: none of them.
    pub ne: BTreeSet<i128>,
    /// Lower bound (inclusive), from `>` and `>=`.
    pub lo: i128,
    /// Upper bound (inclusive), from `<` and `<=`.
    pub hi: i128,
}

impl Default for NumFilter {
    fn default() -> Self {
        NumFilter {
            eq: BTreeSet::new(),
            ne: BTreeSet::new(),
            lo: i128::MIN,
            hi: i128::MAX,
        }
    }
}

impl NumFilter {
    /// No condition.
    pub fn is_empty(&self) -> bool {
        *self == NumFilter::default()
    }

    /// Whether `v` satisfies every condition.
    pub fn matches(&self, v: i128) -> bool {
        (self.eq.is_empty() || self.eq.contains(&v))
            && !self.ne.contains(&v)
            && self.lo <= v
            && v <= self.hi
    }

    /// Add one comparison.
    pub(crate) fn add(&mut self, op: Op, v: i128) {
        match op {
            Op::Eq => {
                self.eq.insert(v);
            }
            Op::Ne => {
                self.ne.insert(v);
            }
            Op::Lt => self.hi = self.hi.min(v - 1),
            Op::Le => self.hi = self.hi.min(v),
            Op::Gt => self.lo = self.lo.max(v + 1),
            Op::Ge => self.lo = self.lo.max(v),
        }
    }

    /// The bounds as an inclusive `u32` range for the kernel, if they narrow anything.
    fn u32_range(&self) -> Option<(u32, u32)> {
        let mut lo = self.lo.max(0);
        let mut hi = self.hi.min(u32::MAX as i128);
        if let (Some(first), Some(last)) = (self.eq.first(), self.eq.last()) {
            lo = lo.max(*first);
            hi = hi.min(*last);
        }
        if lo == 0 && hi == u32::MAX as i128 {
            return None;
        }
        if lo > hi {
            // Nothing matches: an empty range the kernel drops everything with.
            return Some((1, 0));
        }
        Some((lo as u32, hi as u32))
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// Where an executable path is looked at (`executable=host:/bin/ls`, `=4026531840:/bin/ls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExePattern {
    /// Mount namespace qualifier.
    pub mntns: ExeNs,
    /// Path pattern.
    pub path: Pattern,
}

/// Mount namespace qualifier of an executable pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExeNs {
    /// Any mount namespace.
    Any,
    /// The host's (the initial) mount namespace.
    Host,
    /// This mount namespace.
    Id(u32),
}

/// Conditions on the process (the "scope" of an event).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Host process id (`pid`, `p`).
    pub pid: NumFilter,
    /// Only processes started after tracing began (`pid=new`).
    pub new_pid: bool,
    /// Real user id (`uid`, `u`).
    pub uid: NumFilter,
    /// Mount namespace (`mntns`).
    pub mntns: NumFilter,
    /// Pid namespace (`pidns`).
    pub pidns: NumFilter,
    /// Thread name (`comm`).
    pub comm: StrFilter,
    /// UTS name (`uts`).
    pub uts: StrFilter,
    /// Container id (`container=<id>`; a 12-digit short id matches the full id).
    pub container_id: StrFilter,
    /// `container`: in a container; `!container`/`not-container`: on the host.
    pub container: Option<bool>,
    /// Only containers started after tracing began (`container=new`).
    pub new_container: bool,
    /// Executable path (`executable`, `exec`, `binary`, `bin`): any of `exe_eq`...
    pub exe_eq: Vec<ExePattern>,
    /// ...and none of `exe_ne`.
    pub exe_ne: Vec<ExePattern>,
    /// `tree=<pid>`: the process or one of its ancestors is one of these.
    pub tree_in: BTreeSet<u32>,
    /// `tree!=<pid>`: neither the process nor an ancestor is one of these.
    pub tree_out: BTreeSet<u32>,
    /// `follow`: also the descendants of every process the other conditions select.
    pub follow: bool,
}

impl Scope {
    /// Whether the scope has no condition besides `follow`.
    pub fn is_empty(&self) -> bool {
        Scope {
            follow: self.follow,
            ..Scope::default()
        } == *self
    }
}

/// A field of the event context, by its Tracee `trace.Event` JSON name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContextField {
    /// `timestamp`
    Timestamp,
    /// `processId` (in the process's pid namespace)
    ProcessId,
    /// `threadId`
    ThreadId,
    /// `parentProcessId`
    ParentProcessId,
    /// `hostProcessId`
    HostProcessId,
    /// `hostThreadId`
    HostThreadId,
    /// `hostParentProcessId`
    HostParentProcessId,
    /// `userId`
    UserId,
    /// `mountNamespace`
    MountNamespace,
    /// `pidNamespace`
    PidNamespace,
    /// `processName`
    ProcessName,
    /// `hostName`
    HostName,
    /// `cgroupId`
    CgroupId,
    /// `containerId`
    ContainerId,
    /// `container` (boolean: in a container)
    Container,
    /// `returnValue`
    ReturnValue,
    /// `processorId`
    ProcessorId,
}

impl ContextField {
    /// Every field with its names (the JSON name first, then aliases).
    pub const NAMES: &'static [(ContextField, &'static [&'static str])] = &[
        (ContextField::Timestamp, &["timestamp"]),
        (ContextField::ProcessId, &["processId", "pid"]),
        (ContextField::ThreadId, &["threadId", "tid"]),
        (ContextField::ParentProcessId, &["parentProcessId", "ppid"]),
        (ContextField::HostProcessId, &["hostProcessId", "hostPid"]),
        (ContextField::HostThreadId, &["hostThreadId", "hostTid"]),
        (
            ContextField::HostParentProcessId,
            &["hostParentProcessId", "hostPpid"],
        ),
        (ContextField::UserId, &["userId", "uid"]),
        (ContextField::MountNamespace, &["mountNamespace", "mntns"]),
        (ContextField::PidNamespace, &["pidNamespace", "pidns"]),
        (ContextField::ProcessName, &["processName", "comm"]),
        (ContextField::HostName, &["hostName", "uts"]),
        (ContextField::CgroupId, &["cgroupId"]),
        (ContextField::ContainerId, &["containerId"]),
        (ContextField::Container, &["container"]),
        (ContextField::ReturnValue, &["returnValue", "retval"]),
        (ContextField::ProcessorId, &["processorId"]),
    ];

    /// Look a field up by any of its names.
    pub fn from_name(s: &str) -> Option<ContextField> {
        Self::NAMES
            .iter()
            .find(|(_, names)| names.contains(&s))
            .map(|(f, _)| *f)
    }

    /// The JSON name.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| n[0])
            .unwrap_or("?")
    }

    fn is_string(self) -> bool {
        matches!(
            self,
            ContextField::ProcessName | ContextField::HostName | ContextField::ContainerId
        )
    }
}

/// What an event condition looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An argument, by position in the event's definition.
    Arg {
        /// Position.
        index: usize,
        /// Name (for messages).
        name: &'static str,
        /// How it is captured.
        kind: ArgKind,
    },
    /// The return value (`<event>.retval`).
    Retval,
    /// A context field (`<event>.context.X`, `<event>.scope.X`).
    Context(ContextField),
}

/// The test of an event condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// Integer comparisons.
    Num(NumFilter),
    /// String patterns.
    Str(StrFilter),
    /// A boolean (`openat.context.container`, `!openat.context.container`).
    Bool(bool),
}

/// A condition on one event kind (arguments, return value, context).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventCond {
    /// What is tested.
    pub target: Target,
    /// The test.
    pub test: Test,
}

/// A parsed filter. Build it with [`Filter::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Conditions on the process.
    pub scope: Scope,
    /// The events to deliver (resolved names, sets and exclusions; the default set when
    /// nothing was selected).
    pub events: BTreeSet<EventId>,
    /// Whether events were selected explicitly (otherwise `events` is the default set).
    pub explicit_events: bool,
    /// Per-event conditions, all of which must hold.
    pub conds: BTreeMap<EventId, Vec<EventCond>>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            scope: Scope::default(),
            events: default_events(),
            explicit_events: false,
            conds: BTreeMap::new(),
        }
    }
}

/// The default event set.
pub fn default_events() -> BTreeSet<EventId> {
    crate::catalog::catalog()
        .iter()
        .filter(|d| d.in_set(EventSet::Default))
        .map(|d| d.id)
        .collect()
}

/// What the kernel can decide, in plain types (the CLI converts it to the sensor's filter).
/// Every field left at its default means "no restriction".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelPlan {
    /// Events to capture (never empty).
    pub events: BTreeSet<EventId>,
    /// Inclusive uid range.
    pub uid_range: Option<(u32, u32)>,
    /// Inclusive host pid range.
    pub pid_range: Option<(u32, u32)>,
    /// Host pids to keep (empty = any).
    pub pids: BTreeSet<u32>,
    /// Host pids to drop.
    pub not_pids: BTreeSet<u32>,
    /// Mount namespaces to keep (empty = any).
    pub mntns: BTreeSet<u32>,
    /// Mount namespaces to drop.
    pub not_mntns: BTreeSet<u32>,
    /// Pid namespaces to keep (empty = any).
    pub pidns: BTreeSet<u32>,
    /// Pid namespaces to drop.
    pub not_pidns: BTreeSet<u32>,
    /// Containers only / host only.
    pub container: Option<bool>,
    /// Only processes started after the sensor.
    pub new_pids: bool,
    /// Only containers started after the sensor.
    pub new_containers: bool,
    /// Keep the descendants of kept processes.
    pub follow: bool,
}

fn u32_set(s: &BTreeSet<i128>) -> BTreeSet<u32> {
    s.iter().filter_map(|v| u32::try_from(*v).ok()).collect()
}

/// The view of a process the scope is tested on.
struct Subject<'a> {
    pid: u32,
    uid: u32,
    comm: &'a str,
    uts: &'a str,
    mntns: u32,
    pidns: u32,
    container_id: &'a str,
}

impl Filter {
    /// Parse flag values in order (`(Flag::Trace, "uid>0")`...). Errors name the flag and value.
    pub fn parse<'a, I>(flags: I) -> Result<Filter, FilterError>
    where
        I: IntoIterator<Item = (Flag, &'a str)>,
    {
        let mut b = parse::Builder::default();
        for (flag, value) in flags {
            b.add(flag, value)?;
        }
        b.finish()
    }

    /// Whether the filter keeps `ev`. `tree` must already have observed `ev`
    /// ([`ProcessTree::observe`]).
    pub fn matches(&self, ev: &Event, tree: &ProcessTree) -> bool {
        self.events.contains(&ev.id) && self.scope_matches(ev, tree) && self.conds_match(ev)
    }

    /// Whether the event's process is in scope (the process conditions, with `follow`).
    pub fn scope_matches(&self, ev: &Event, tree: &ProcessTree) -> bool {
        let s = &self.scope;
        if s.is_empty() {
            return true;
        }
        let subject = Subject {
            pid: ev.host_pid,
            uid: ev.uid,
            comm: &ev.comm,
            uts: &ev.uts,
            mntns: ev.mntns,
            pidns: ev.pidns,
            container_id: &ev.container_id,
        };
        if self.subject_matches(&subject, tree) {
            return true;
        }
        if !s.follow {
            return false;
        }
        tree.ancestors(ev.host_pid).any(|(pid, p)| {
            let subject = Subject {
                pid,
                uid: p.uid,
                comm: &p.comm,
                uts: &p.uts,
                mntns: p.mntns,
                pidns: p.pidns,
                container_id: &p.container_id,
            };
            self.subject_matches(&subject, tree)
        })
    }

    fn subject_matches(&self, p: &Subject<'_>, tree: &ProcessTree) -> bool {
        let s = &self.scope;
        if !s.pid.matches(p.pid as i128)
            || !s.uid.matches(p.uid as i128)
            || !s.mntns.matches(p.mntns as i128)
            || !s.pidns.matches(p.pidns as i128)
            || !s.comm.matches(p.comm)
            || !s.uts.matches(p.uts)
        {
            return false;
        }
        if let Some(want) = s.container
            && want == p.container_id.is_empty()
        {
            return false;
        }
        if !s.container_id.is_empty() && !container_id_matches(&s.container_id, p.container_id) {
            return false;
        }
        if s.new_pid && !tree.is_new(p.pid) {
            return false;
        }
        if s.new_container && (p.container_id.is_empty() || !tree.container_is_new(p.container_id))
        {
            return false;
        }
        if !s.tree_in.is_empty() || !s.tree_out.is_empty() {
            let chain: Vec<u32> = std::iter::once(p.pid)
                .chain(tree.ancestors(p.pid).map(|(pid, _)| pid))
                .collect();
            if !s.tree_in.is_empty() && !chain.iter().any(|x| s.tree_in.contains(x)) {
                return false;
            }
            if chain.iter().any(|x| s.tree_out.contains(x)) {
                return false;
            }
        }
        if !s.exe_eq.is_empty() || !s.exe_ne.is_empty() {
            let exe = tree.get(p.pid).and_then(|i| i.exe.as_deref());
            let hit = |e: &ExePattern| {
                exe.is_some_and(|path| e.path.matches(path))
                    && match e.mntns {
                        ExeNs::Any => true,
                        ExeNs::Host => match tree.host_mntns() {
                            Some(h) => p.mntns == h,
                            None => p.container_id.is_empty(),
                        },
                        ExeNs::Id(id) => p.mntns == id,
                    }
            };
            if !s.exe_eq.is_empty() && !s.exe_eq.iter().any(hit) {
                return false;
            }
            if s.exe_ne.iter().any(hit) {
                return false;
            }
        }
        true
    }

    fn conds_match(&self, ev: &Event) -> bool {
        let Some(conds) = self.conds.get(&ev.id) else {
            return true;
        };
        conds.iter().all(|c| cond_matches(c, ev))
    }

    /// The part of the filter the kernel can decide. Sound: an event the kernel drops would
    /// also be dropped by [`Filter::matches`]. When the filter needs the [`ProcessTree`], the
    /// process events (`sched_process_fork/exec/exit`) are added to the selection.
    pub fn kernel_plan(&self) -> KernelPlan {
        let s = &self.scope;
        let mut events = self.events.clone();
        if self.needs_tree() {
            events.extend([
                EventId::SCHED_PROCESS_FORK,
                EventId::SCHED_PROCESS_EXEC,
                EventId::SCHED_PROCESS_EXIT,
            ]);
        }
        // `tree` and `executable` are decided in user space from the process tree, which needs
        // the process events of every process: the kernel then filters by event only.
        // `follow`, `pid=new` and `container=new` the kernel decides itself (it marks the
        // children of kept processes at fork, and knows what existed when it started).
        let narrow = s.tree_in.is_empty()
            && s.tree_out.is_empty()
            && s.exe_eq.is_empty()
            && s.exe_ne.is_empty();
        let mut plan = KernelPlan {
            events,
            follow: s.follow,
            ..KernelPlan::default()
        };
        if !narrow {
            return plan;
        }
        plan.uid_range = s.uid.u32_range();
        plan.pid_range = s.pid.u32_range();
        plan.pids = u32_set(&s.pid.eq);
        plan.not_pids = u32_set(&s.pid.ne);
        plan.mntns = u32_set(&s.mntns.eq);
        plan.not_mntns = u32_set(&s.mntns.ne);
        plan.pidns = u32_set(&s.pidns.eq);
        plan.not_pidns = u32_set(&s.pidns.ne);
        plan.container = s
            .container
            .or((s.new_container || !s.container_id.eq.is_empty()).then_some(true));
        plan.new_pids = s.new_pid;
        plan.new_containers = s.new_container;
        plan
    }

    /// Whether matching needs the process tree's knowledge of forks and execs.
    pub fn needs_tree(&self) -> bool {
        let s = &self.scope;
        s.follow
            || s.new_pid
            || s.new_container
            || !s.tree_in.is_empty()
            || !s.tree_out.is_empty()
            || !s.exe_eq.is_empty()
            || !s.exe_ne.is_empty()
    }
}

/// A container id filter: a pattern matches the full id, and an exact value of 12 or more
/// digits also matches as a prefix (the short id Docker shows).
fn container_id_matches(f: &StrFilter, id: &str) -> bool {
    let hit = |p: &Pattern| match p {
        Pattern::Exact(v) if v.len() >= 12 && v.len() < id.len() => id.starts_with(v.as_str()),
        p => p.matches(id),
    };
    (f.eq.is_empty() || f.eq.iter().any(hit)) && !f.ne.iter().any(hit)
}

fn cond_matches(c: &EventCond, ev: &Event) -> bool {
    match &c.target {
        Target::Retval => match &c.test {
            Test::Num(n) => n.matches(ev.ret as i128),
            _ => false,
        },
        Target::Context(field) => context_matches(*field, &c.test, ev),
        Target::Arg { index, .. } => {
            let v = ev.args.get(*index).unwrap_or(&ArgValue::None);
            arg_matches(v, &c.test)
        }
    }
}

fn context_matches(field: ContextField, test: &Test, ev: &Event) -> bool {
    use ContextField as F;
    if let Test::Bool(b) = test {
        return field == F::Container && ev.in_container() == *b;
    }
    if field.is_string() {
        let s = match field {
            F::ProcessName => ev.comm.as_str(),
            F::HostName => ev.uts.as_str(),
            _ => ev.container_id.as_str(),
        };
        return match test {
            Test::Str(f) if field == F::ContainerId => container_id_matches(f, s),
            Test::Str(f) => f.matches(s),
            _ => false,
        };
    }
    let v: i128 = match field {
        F::Timestamp => ev.ts as i128,
        F::ProcessId => ev.pid as i128,
        F::ThreadId => ev.tid as i128,
        F::ParentProcessId => ev.ppid as i128,
        F::HostProcessId => ev.host_pid as i128,
        F::HostThreadId => ev.host_tid as i128,
        F::HostParentProcessId => ev.host_ppid as i128,
        F::UserId => ev.uid as i128,
        F::MountNamespace => ev.mntns as i128,
        F::PidNamespace => ev.pidns as i128,
        F::CgroupId => ev.cgroup_id as i128,
        F::ReturnValue => ev.ret as i128,
        F::ProcessorId => ev.cpu as i128,
        F::ProcessName | F::HostName | F::ContainerId | F::Container => return false,
    };
    matches!(test, Test::Num(n) if n.matches(v))
}

fn arg_matches(v: &ArgValue, test: &Test) -> bool {
    match test {
        Test::Num(n) => v.as_i64().is_some_and(|i| n.matches(i as i128)),
        Test::Str(f) => match v {
            ArgValue::Str(s) => f.matches(s),
            ArgValue::StrList(l) => f.matches_list(l),
            ArgValue::Sock(a) => f.matches(&a.to_string()),
            ArgValue::None => f.matches(""),
            ArgValue::Int(_) | ArgValue::UInt(_) | ArgValue::Bytes(_) => false,
        },
        Test::Bool(b) => v.as_i64().is_some_and(|i| (i != 0) == *b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(Pattern::parse("/tmp*"), Pattern::Prefix("/tmp".into()));
        assert_eq!(Pattern::parse("*.so"), Pattern::Suffix(".so".into()));
        assert_eq!(Pattern::parse("*sh*"), Pattern::Contains("sh".into()));
        assert_eq!(Pattern::parse("*"), Pattern::Any);
        assert!(Pattern::parse("/tmp*").matches("/tmp/x"));
        assert!(!Pattern::parse("/tmp*").matches("/var/tmp"));
        assert!(Pattern::parse("*.so").matches("libc.so"));
        assert!(Pattern::parse("ls").matches("ls") && !Pattern::parse("ls").matches("lsof"));
    }

    #[test]
    fn numbers_or_with_eq_and_with_others() {
        let mut n = NumFilter::default();
        n.add(Op::Gt, 0);
        n.add(Op::Ne, 1000);
        assert!(n.matches(1) && !n.matches(0) && !n.matches(1000) && n.matches(1001));
        let mut n = NumFilter::default();
        n.add(Op::Eq, 510);
        n.add(Op::Eq, 1709);
        assert!(n.matches(510) && n.matches(1709) && !n.matches(511));
        assert_eq!(n.u32_range(), Some((510, 1709)));
        let mut n = NumFilter::default();
        n.add(Op::Lt, 0);
        assert_eq!(n.u32_range(), Some((1, 0)));
        assert_eq!(NumFilter::default().u32_range(), None);
    }

    #[test]
    fn short_container_ids_match_as_prefix() {
        let id = "ab".repeat(32);
        let f = StrFilter {
            eq: vec![Pattern::Exact(id[..12].into())],
            ne: vec![],
        };
        assert!(container_id_matches(&f, &id));
        assert!(!container_id_matches(&f, &"cd".repeat(32)));
        let f = StrFilter {
            eq: vec![Pattern::Exact("abab".into())],
            ne: vec![],
        };
        assert!(
            !container_id_matches(&f, &id),
            "short values are not prefixes"
        );
    }
}
