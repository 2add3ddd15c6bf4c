//! eBPF capture of system calls and process events (aya 0.14 loader; BPF C in `bpf/`).
//!
//! CONTRACT (skeleton written before the implementation; the implementation may add to it but
//! keeps these names so `palisade trace` and `palisade detect` can be written against them).
//!
//! How it works: `bpf/sensor.bpf.c` hooks `raw_syscalls` `sys_enter`/`sys_exit` (as BTF
//! tracepoints, or classic tracepoints when the kernel refuses those; per-call fentry/fexit
//! programs instead when a start-up probe finds fentry allowed and few calls are selected, see
//! [`HookChoice`]) and the scheduler's
//! fork/exec/exit tracepoints. The filter ([`KernelFilter`]) is decided in the kernel before any
//! ring-buffer space is reserved; a call that passes has its raw arguments kept in task-local
//! storage at entry and is sent as one record at exit, with its return value. Strings, socket
//! addresses and `argv` are read only for the calls whose catalog entry has them. Each task's
//! context (namespaces, namespace pids, uts name) is sent once and cached here. Relative paths are
//! resolved here, against `/proc/<pid>/cwd` or `/proc/<pid>/fd/<dirfd>` (with a per-process cwd
//! cache for processes already gone); see the crate README.

mod cgroups;
mod hooks;
mod layout;
mod record;
mod sys;

use aya::maps::{ArrayOfMaps, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, FEntry, FExit, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use palisade_events::{ArgValue, Event, EventId, EventSet};
use record::{Header, Item, Kind, Record, TaskCtx};
use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

pub use hooks::{
    ENTRY_CALLS_MAX, FENTRY_MAX_SYSCALLS, HookChoice, HookSupport, ProbeOutcome, probe_hooks,
};

/// What the BPF programs decide in the kernel, before reserving ring-buffer space.
/// Everything left at its default means "no restriction".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelFilter {
    /// Events to capture. Empty means the default set ([`palisade_events::EventSet::Default`]).
    pub events: BTreeSet<EventId>,
    /// Inclusive range of real uids to keep (`None` = any).
    pub uid_range: Option<(u32, u32)>,
    /// Inclusive range of host pids (tgid) to keep (`None` = any).
    pub pid_range: Option<(u32, u32)>,
    /// Host pids to keep (empty = any). With `follow`, their descendants too.
    pub pids: BTreeSet<u32>,
    /// Host pids to drop.
    pub not_pids: BTreeSet<u32>,
    /// Mount namespaces to keep (empty = any) / to drop.
    pub mntns: BTreeSet<u32>,
    /// Mount namespaces to drop.
    pub not_mntns: BTreeSet<u32>,
    /// Pid namespaces to keep (empty = any).
    pub pidns: BTreeSet<u32>,
    /// Pid namespaces to drop.
    pub not_pidns: BTreeSet<u32>,
    /// `Some(true)`: containers only; `Some(false)`: host only.
    pub container: Option<bool>,
    /// Only processes started after the sensor (`pid=new`).
    pub new_pids: bool,
    /// Only containers started after the sensor (`container=new`).
    pub new_containers: bool,
    /// Keep the descendants of every kept process (`follow`).
    pub follow: bool,
}

impl KernelFilter {
    /// The events this filter selects (the default set when `events` is empty).
    pub fn selected_events(&self) -> BTreeSet<EventId> {
        if self.events.is_empty() {
            palisade_events::catalog::catalog()
                .iter()
                .filter(|d| d.in_set(EventSet::Default))
                .map(|d| d.id)
                .collect()
        } else {
            self.events.clone()
        }
    }
}

/// Sensor settings.
#[derive(Clone, Debug, Default)]
pub struct SensorConfig {
    /// Kernel-side filter.
    pub filter: KernelFilter,
    /// Ring buffer size in bytes, all CPUs' rings together (power of two; 0 = default).
    pub ring_bytes: usize,
}

/// Default ring buffer size (16 MiB, shared out among the per-CPU rings).
pub const DEFAULT_RING_BYTES: usize = 16 << 20;

/// Ring buffers the programs can write to (`NRINGS` in the C source): one per CPU up to this
/// many; beyond it, CPUs share them (CPU number modulo the rings in use).
const MAX_RINGS: usize = 8;

/// How old a record must be before it is handed out when there are several rings: records of
/// one ring are in time order, and a record stamped more than this long ago is committed in
/// every ring (programs run with preemption off, for microseconds), so handing out records in
/// time-stamp order up to this watermark gives the order of a single ring.
const MERGE_DELAY: Duration = Duration::from_millis(2);

/// How many per-CPU rings to use for `cpus` possible CPUs: a power of two, at most
/// [`MAX_RINGS`] and at most the CPUs.
fn ring_count(cpus: usize) -> usize {
    let n = cpus.clamp(1, MAX_RINGS);
    1 << n.ilog2()
}

/// Counters. `lost` counts records the kernel could not reserve (ring buffer full).
///
/// Once the ring buffer is drained and no kept call is in flight,
/// `delivered + filtered + lost == seen`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events the programs saw (before filtering): calls of the selected types and process
    /// events. Calls outside the selection are not events and are not counted (with fentry
    /// they are not even hooked).
    pub seen: u64,
    /// Events dropped by the filter: in the kernel, or in user space (the container part of
    /// the filter, for cgroups the kernel could not classify yet).
    pub filtered: u64,
    /// Of `filtered`, those dropped in user space.
    pub user_filtered: u64,
    /// Events delivered to user space.
    pub delivered: u64,
    /// Events lost because the ring buffer was full.
    pub lost: u64,
    /// Delivered events with a string argument cut at the sensor's limits (a call's argument
    /// vector past 64 entries or 4 KiB, an exec's argument area past 8 KiB, a string of 4 KiB
    /// or more): the event is there, part of an argument is not.
    pub truncated: u64,
}

/// Errors of the sensor.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    /// Not enough privilege to load BPF programs.
    #[error("loading eBPF programs needs root or CAP_BPF+CAP_PERFMON: {0}")]
    Permission(String),
    /// Anything else from loading or attaching.
    #[error("{0}")]
    Other(String),
}

/// Which kind of hook the sensor attached its system-call programs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// BTF-typed raw tracepoints (`tp_btf/sys_enter`): the cheaper form.
    TpBtf,
    /// Classic tracepoints (`tracepoint/raw_syscalls/sys_enter`): the fallback.
    Tracepoint,
    /// fentry/fexit programs on each selected call's kernel function (`__x64_sys_openat`):
    /// unselected calls pay nothing. Used when the kernel allows them and few calls are selected.
    Fentry,
}

impl std::fmt::Display for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hook::TpBtf => "tp_btf (BTF tracepoints)",
            Hook::Tracepoint => "tracepoint (classic tracepoints)",
            Hook::Fentry => "fentry/fexit (per-call kernel functions)",
        })
    }
}

static SENSOR_OBJ: &[u8] = aya::include_bytes_aligned!("../bpf/sensor.bpf.o");
static EMPTY_OBJ: &[u8] = aya::include_bytes_aligned!("../bpf/empty.bpf.o");
/// `sensor.bpf.o` plus one fentry and one fexit program per system call (loaded only when the
/// fentry plan is chosen; see `src/hooks.rs`).
static FENTRY_OBJ: &[u8] = aya::include_bytes_aligned!("../bpf/sensor-fentry.bpf.o");

const NSLOTS: usize = 516;
const CF_UID_RANGE: u32 = 1 << 0;
const CF_PID_RANGE: u32 = 1 << 1;
const CF_PIDS: u32 = 1 << 2;
const CF_NOT_PIDS: u32 = 1 << 3;
const CF_MNTNS: u32 = 1 << 4;
const CF_NOT_MNTNS: u32 = 1 << 5;
const CF_PIDNS: u32 = 1 << 6;
const CF_NOT_PIDNS: u32 = 1 << 7;
const CF_CONTAINER: u32 = 1 << 8;
const CF_HOST: u32 = 1 << 9;
const CF_NEW_PIDS: u32 = 1 << 10;
const CF_NEW_CONTAINERS: u32 = 1 << 11;
const CF_FOLLOW: u32 = 1 << 12;

const CG_HOST: u8 = 1;
const CG_CONTAINER: u8 = 2;
const CG_NEW_CONTAINER: u8 = 3;
/// A v2 cgroup whose processes' container the kernel finds through their cgroup in the reported
/// v1 hierarchy (the v2 root on a v1 or hybrid host).
const CG_BY_V1: u8 = 4;

fn slot(id: EventId) -> Option<usize> {
    if id.is_syscall() {
        Some(id.0 as usize)
    } else if (EventId::FIRST_PROCESS_EVENT..EventId::FIRST_PROCESS_EVENT + 3).contains(&id.0) {
        Some(512 + (id.0 - EventId::FIRST_PROCESS_EVENT) as usize)
    } else {
        None
    }
}

/// The descriptor table for a filter.
fn descriptors(filter: &KernelFilter) -> [u64; NSLOTS] {
    let selected = filter.selected_events();
    let mut d = [0u64; NSLOTS];
    for def in palisade_events::catalog::catalog() {
        if let Some(s) = slot(def.id) {
            d[s] = layout::descriptor(def.id, selected.contains(&def.id));
        }
    }
    d
}

fn config_flags(f: &KernelFilter) -> u32 {
    let mut fl = 0;
    let mut set = |cond: bool, bit: u32| {
        if cond {
            fl |= bit;
        }
    };
    set(f.uid_range.is_some(), CF_UID_RANGE);
    set(f.pid_range.is_some(), CF_PID_RANGE);
    set(!f.pids.is_empty(), CF_PIDS);
    set(!f.not_pids.is_empty(), CF_NOT_PIDS);
    set(!f.mntns.is_empty(), CF_MNTNS);
    set(!f.not_mntns.is_empty(), CF_NOT_MNTNS);
    set(!f.pidns.is_empty(), CF_PIDNS);
    set(!f.not_pidns.is_empty(), CF_NOT_PIDNS);
    set(f.container == Some(true), CF_CONTAINER);
    set(f.container == Some(false), CF_HOST);
    set(f.new_pids, CF_NEW_PIDS);
    set(f.new_containers, CF_NEW_CONTAINERS);
    set(f.follow, CF_FOLLOW);
    fl
}

/// Error text with its sources (aya nests the useful part, such as the verifier log).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    if s.len() > 4000 {
        let cut = s.len() - 4000;
        let cut = (cut..s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(cut);
        s = format!("...{}", &s[cut..]);
    }
    s
}

fn is_eperm(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
        {
            return true;
        }
        let t = c.to_string();
        if t.contains("Operation not permitted") || t.contains("Permission denied") {
            return true;
        }
        cur = c.source();
    }
    false
}

pub(crate) fn err(what: &str, e: &(dyn std::error::Error + 'static)) -> SensorError {
    if is_eperm(e) && sys::euid() != 0 {
        SensorError::Permission(format!("{what}: {}", chain(e)))
    } else {
        SensorError::Other(format!("{what}: {}", chain(e)))
    }
}

/// Refuses early, with a clear message, when the process lacks the privileges.
pub(crate) fn check_privileges() -> Result<(), SensorError> {
    let uid = sys::euid();
    if uid == 0 {
        return Ok(());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    if eff & CAP_SYS_ADMIN != 0 || (eff & CAP_BPF != 0 && eff & CAP_PERFMON != 0) {
        return Ok(());
    }
    let mut missing = Vec::new();
    if eff & CAP_BPF == 0 {
        missing.push("CAP_BPF");
    }
    if eff & CAP_PERFMON == 0 {
        missing.push("CAP_PERFMON");
    }
    Err(SensorError::Permission(format!(
        "running as uid {uid} without {} (run as root, or grant them with setcap/--cap-add)",
        missing.join(" and ")
    )))
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, SensorError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or_else(|| SensorError::Other(format!("program {name} missing")))?
        .try_into()
        .map_err(|e| err(name, &e))
}

/// Loads and attaches the fentry/fexit programs of `calls`; on a failure, unloads those already
/// loaded (so that a fallback does not see calls twice) and returns the error.
fn attach_fentry(ebpf: &mut Ebpf, calls: &[(u16, String)], btf: &Btf) -> Result<(), SensorError> {
    let mut loaded: Vec<String> = Vec::new();
    let mut result = Ok(());
    'calls: for (nr, func) in calls {
        for exit in [false, true] {
            let name = format!("{}_{nr}", if exit { "fx" } else { "fe" });
            let r = if exit {
                program::<FExit>(ebpf, &name).and_then(|p| {
                    p.load(func, btf)
                        .and_then(|_| p.attach().map(|_| ()))
                        .map_err(|e| err(&format!("{name} on {func}"), &e))
                })
            } else {
                program::<FEntry>(ebpf, &name).and_then(|p| {
                    p.load(func, btf)
                        .and_then(|_| p.attach().map(|_| ()))
                        .map_err(|e| err(&format!("{name} on {func}"), &e))
                })
            };
            loaded.push(name);
            if let Err(e) = r {
                result = Err(e);
                break 'calls;
            }
        }
    }
    if result.is_err() {
        for name in loaded {
            if name.starts_with("fx") {
                if let Ok(p) = program::<FExit>(ebpf, &name) {
                    let _ = p.unload();
                }
            } else if let Ok(p) = program::<FEntry>(ebpf, &name) {
                let _ = p.unload();
            }
        }
    }
    result
}

/// Attaches the system-call programs of the sensor object as planned: fentry/fexit per call,
/// BTF tracepoints (falling back to classic tracepoints when the kernel refuses those and the
/// plan allows it), or classic tracepoints.
fn attach_syscalls(
    ebpf: &mut Ebpf,
    plan: &hooks::Plan,
    btf: &Btf,
    desc: &[u64; NSLOTS],
) -> Result<(Hook, Option<Vec<&'static str>>), SensorError> {
    let mut btf_err = None;
    let mut tp_btf = true;
    let mut raw_entry = false;
    match plan {
        hooks::Plan::Fentry { calls, forced } => match attach_fentry(ebpf, calls, btf) {
            Ok(()) => return Ok((Hook::Fentry, None)),
            Err(e) if *forced => return Err(e),
            // The probe said yes but a call's program was refused: the tracepoints, as if the
            // probe had said no.
            Err(_) => {}
        },
        hooks::Plan::TpBtf { raw_entry: r, .. } => raw_entry = *r,
        hooks::Plan::Tracepoint => tp_btf = false,
    }
    if tp_btf {
        let mut ok = true;
        // Entries one call at a time where that is possible; then sys_enter has no program.
        let entries = if raw_entry {
            None
        } else {
            attach_entry_calls(ebpf, desc)
        };
        let progs: &[(&str, &str)] = if entries.is_some() {
            &[("sys_exit_btf", "sys_exit")]
        } else {
            &[("sys_enter_btf", "sys_enter"), ("sys_exit_btf", "sys_exit")]
        };
        for &(prog, tp) in progs {
            let p: &mut BtfTracePoint = program(ebpf, prog)?;
            if let Err(e) = p.load(tp, btf).and_then(|_| p.attach().map(|_| ())) {
                if is_eperm(&e) && sys::euid() != 0 {
                    return Err(err(prog, &e));
                }
                btf_err = Some(err(prog, &e));
                ok = false;
                break;
            }
        }
        if ok {
            return Ok((Hook::TpBtf, entries));
        }
        if matches!(
            plan,
            hooks::Plan::TpBtf {
                fallback: false,
                ..
            }
        ) && let Some(e) = btf_err
        {
            return Err(e);
        }
        // A half-attached pair would see entries without exits: detach what was attached.
        for prog in ["sys_enter_btf", "sys_exit_btf"] {
            if let Ok(p) = program::<BtfTracePoint>(ebpf, prog) {
                let _ = p.unload();
            }
        }
        if entries.is_some()
            && let Ok(p) = program::<TracePoint>(ebpf, "sys_enter_call")
        {
            let _ = p.unload();
        }
    }
    sys::ensure_tracefs().map_err(|e| match &btf_err {
        Some(b) => SensorError::Other(format!("{b}; classic tracepoint fallback: {e}")),
        None => SensorError::Other(format!("classic tracepoints: {e}")),
    })?;
    for (prog, tp) in [("sys_enter_tp", "sys_enter"), ("sys_exit_tp", "sys_exit")] {
        let p: &mut TracePoint = program(ebpf, prog)?;
        let both = |e: &(dyn std::error::Error + 'static)| match &btf_err {
            Some(b) => {
                SensorError::Other(format!("{b}; classic tracepoint fallback: {}", chain(e)))
            }
            None => err(prog, e),
        };
        p.load().map_err(|e| both(&e))?;
        p.attach("raw_syscalls", tp).map_err(|e| both(&e))?;
    }
    Ok((Hook::Tracepoint, None))
}

/// The system calls whose entry the programs need (see `layout::entry_matters`), by name.
fn entry_calls(desc: &[u64; NSLOTS]) -> Vec<&'static str> {
    (0..512u16)
        .filter(|&i| layout::entry_matters(desc[i as usize]))
        .filter_map(|i| EventId(i).def().map(|d| d.name))
        .collect()
}

/// Attaches `sys_enter_call` to the entry tracepoint of each call whose entry the programs need
/// (`syscalls/sys_enter_<call>`), so that no program runs at the entry of any other call. `None`
/// (nothing left attached) when more than [`ENTRY_CALLS_MAX`] calls need it, or a call
/// has no such tracepoint here (the kernel names a few after their old spellings: `umount2`
/// is `sys_enter_umount`): then one program on `sys_enter` serves every call.
fn attach_entry_calls(ebpf: &mut Ebpf, desc: &[u64; NSLOTS]) -> Option<Vec<&'static str>> {
    let calls = entry_calls(desc);
    if calls.len() > hooks::ENTRY_CALLS_MAX || sys::ensure_tracefs().is_err() {
        return None;
    }
    let events = std::path::Path::new("/sys/kernel/tracing/events/syscalls");
    if !calls
        .iter()
        .all(|c| events.join(format!("sys_enter_{c}")).is_dir())
    {
        return None;
    }
    let p: &mut TracePoint = program(ebpf, "sys_enter_call").ok()?;
    p.load().ok()?;
    for c in &calls {
        if p.attach("syscalls", &format!("sys_enter_{c}")).is_err() {
            let _ = p.unload();
            return None;
        }
    }
    Some(calls)
}

/// Attaches the process-event programs: BTF tracepoints; the exit event also has a classic form,
/// used when the system calls are on classic tracepoints (forced, or tp_btf refused). Without
/// tp_btf, fork and exec are not reported.
fn attach_process_hooks(
    ebpf: &mut Ebpf,
    hook: Hook,
    btf: &Btf,
) -> Result<Vec<(&'static str, Hook)>, SensorError> {
    let mut attached = Vec::new();
    for (prog, tp) in [
        ("fork_btf", "sched_process_fork"),
        ("exec_btf", "sched_process_exec"),
        ("exit_btf", "sched_process_exit"),
    ] {
        if hook == Hook::Tracepoint && tp == "sched_process_exit" {
            let p: &mut TracePoint = program(ebpf, "exit_tp")?;
            p.load().map_err(|e| err("exit_tp", &e))?;
            p.attach("sched", tp).map_err(|e| err("exit_tp", &e))?;
            attached.push((tp, Hook::Tracepoint));
            continue;
        }
        let p: &mut BtfTracePoint = program(ebpf, prog)?;
        match p.load(tp, btf).and_then(|_| p.attach().map(|_| ())) {
            Ok(()) => attached.push((tp, Hook::TpBtf)),
            Err(e) if hook != Hook::Tracepoint => return Err(err(prog, &e)),
            Err(_) => {}
        }
    }
    Ok(attached)
}

/// Attaches the program that marks a task's context for resending when it moves to another
/// cgroup (needed for the v1 cgroup in task contexts). `false` when the kernel refuses it.
fn attach_cgroup_moves(ebpf: &mut Ebpf, btf: &Btf) -> bool {
    let Ok(p) = program::<BtfTracePoint>(ebpf, "cgroup_attach_btf") else {
        return false;
    };
    p.load("cgroup_attach_task", btf)
        .and_then(|_| p.attach().map(|_| ()))
        .is_ok()
}

/// Time spent inside one loaded BPF program (kernel statistics; see [`enable_program_stats`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramStats {
    /// Program name (`sys_enter_btf`...).
    pub name: String,
    /// Times it ran.
    pub runs: u64,
    /// Total ns it ran.
    pub run_ns: u64,
}

/// Keeps the kernel's BPF run-time statistics on while alive (`BPF_ENABLE_STATS`).
pub struct ProgramStatsGuard {
    _fd: std::os::fd::OwnedFd,
}

/// Turns on the kernel's per-program run-time statistics (they cost a little on every run, so
/// they are off by default); they stay on while the guard lives.
pub fn enable_program_stats() -> Result<ProgramStatsGuard, SensorError> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map(|fd| ProgramStatsGuard { _fd: fd })
        .map_err(|e| err("enabling BPF statistics", &e))
}

fn program_stats(ebpf: &Ebpf) -> Vec<ProgramStats> {
    ebpf.programs()
        .filter_map(|(name, p)| {
            let info = p.info().ok()?;
            Some(ProgramStats {
                name: name.to_string(),
                runs: info.run_count(),
                run_ns: info.run_time().as_nanos() as u64,
            })
        })
        .collect()
}

/// An empty program on the sensor's system-call hooks: what any program there costs (the floor
/// `scripts/bench-sensor` compares with). Detached when dropped.
pub struct FloorProbe {
    _ebpf: Ebpf,
    hook: Hook,
}

impl FloorProbe {
    /// Loads and attaches the empty programs (`tp_btf/sys_enter` and `sys_exit`).
    pub fn attach() -> Result<FloorProbe, SensorError> {
        let (mut ebpf, btf) = FloorProbe::load()?;
        for (prog, tp) in [("empty_enter", "sys_enter"), ("empty_exit", "sys_exit")] {
            let p: &mut BtfTracePoint = program(&mut ebpf, prog)?;
            p.load(tp, &btf).map_err(|e| err(prog, &e))?;
            p.attach().map_err(|e| err(prog, &e))?;
        }
        Ok(FloorProbe {
            _ebpf: ebpf,
            hook: Hook::TpBtf,
        })
    }

    /// The empty programs on the hooks the sensor uses when it hooks entries one call at a time
    /// (see [`Sensor::entry_calls`]): `tp_btf/sys_exit`, and each of `calls`' own entry
    /// tracepoints (`syscalls/sys_enter_<call>`).
    pub fn attach_with_entries(calls: &[&str]) -> Result<FloorProbe, SensorError> {
        let (mut ebpf, btf) = FloorProbe::load()?;
        let p: &mut BtfTracePoint = program(&mut ebpf, "empty_exit")?;
        p.load("sys_exit", &btf)
            .map_err(|e| err("empty_exit", &e))?;
        p.attach().map_err(|e| err("empty_exit", &e))?;
        if !calls.is_empty() {
            sys::ensure_tracefs().map_err(|e| SensorError::Other(format!("tracefs: {e}")))?;
            let p: &mut TracePoint = program(&mut ebpf, "empty_enter_call")?;
            p.load().map_err(|e| err("empty_enter_call", &e))?;
            for c in calls {
                p.attach("syscalls", &format!("sys_enter_{c}"))
                    .map_err(|e| err(&format!("empty_enter_call on sys_enter_{c}"), &e))?;
            }
        }
        Ok(FloorProbe {
            _ebpf: ebpf,
            hook: Hook::TpBtf,
        })
    }

    /// The empty object, loaded (nothing attached yet), and the kernel's BTF.
    fn load() -> Result<(Ebpf, Btf), SensorError> {
        check_privileges()?;
        let btf = Btf::from_sys_fs().map_err(|e| err("reading kernel BTF", &e))?;
        let ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .load(EMPTY_OBJ)
            .map_err(|e| err("loading the empty BPF object", &e))?;
        Ok((ebpf, btf))
    }

    /// The hook used.
    pub fn hook(&self) -> Hook {
        self.hook
    }

    /// Run-time statistics of the empty programs.
    pub fn program_stats(&self) -> Vec<ProgramStats> {
        program_stats(&self._ebpf)
    }
}

/// A running sensor.
pub struct Sensor {
    _ebpf: Ebpf,
    /// Owns the ring buffer maps (their fds) and the array the programs find them in; records
    /// are read through `readers`, one per ring, merged by time stamp.
    _rings: (
        ArrayOfMaps<MapData, RingBuf<MapData>>,
        Vec<RingBuf<MapData>>,
    ),
    readers: Vec<sys::RingReader>,
    epoll: sys::Epoll,
    counters: PerCpuArray<MapData, u64>,
    cg_class: Option<BpfHashMap<MapData, u64, u8>>,
    followed: BpfHashMap<MapData, u32, u8>,
    dec: Decoder,
    /// The event buffer records are decoded into.
    out: Event,
    hook: Hook,
    entry_calls: Option<Vec<&'static str>>,
    process_hooks: Vec<&'static str>,
    process_hook_kinds: Vec<(&'static str, Hook)>,
    support: Option<HookSupport>,
    /// When the cgroup hierarchy was last walked for new cgroups.
    last_cg_scan: Instant,
}

impl Sensor {
    /// Load, configure and attach the programs, with the hook type `PALISADE_SENSOR_HOOK` asks
    /// for (`auto` when unset; see [`HookChoice`]).
    pub fn start(cfg: SensorConfig) -> Result<Sensor, SensorError> {
        Sensor::start_with(cfg, HookChoice::from_env()?)
    }

    /// Load, configure and attach the programs with the given hook choice.
    pub fn start_with(cfg: SensorConfig, choice: HookChoice) -> Result<Sensor, SensorError> {
        Sensor::start_planned(cfg, choice, None)
    }

    /// `plan_override` replaces the planned hooks (tests of the fallback paths).
    fn start_planned(
        cfg: SensorConfig,
        choice: HookChoice,
        plan_override: Option<hooks::Plan>,
    ) -> Result<Sensor, SensorError> {
        check_privileges()?;
        let f = &cfg.filter;
        let ring = if cfg.ring_bytes == 0 {
            DEFAULT_RING_BYTES
        } else {
            cfg.ring_bytes.clamp(4096, 1 << 30).next_power_of_two()
        };
        let btf = Btf::from_sys_fs().map_err(|e| err("reading kernel BTF", &e))?;
        let desc = descriptors(f);
        let flags = config_flags(f);
        let self_tgid = std::process::id();
        let (uid_min, uid_max) = f.uid_range.unwrap_or((0, u32::MAX));
        let (pid_min, pid_max) = f.pid_range.unwrap_or((0, u32::MAX));
        let start_boot = sys::boottime_ns();
        // One ring per CPU (up to MAX_RINGS), sharing the size out.
        let nrings = ring_count(aya::util::nr_cpus().unwrap_or(1));
        let per_ring = (ring / nrings).max(4096);
        let ring_mask = (nrings - 1) as u32;
        // Wake the reader about once per eighth of a ring (records are ~128 bytes), per CPU.
        // A power of two (the ring size is one): the programs test it with a mask.
        let wake_every = ((per_ring / 8 / 128) as u64)
            .clamp(1, 2048)
            .next_power_of_two();
        // Which hook types the kernel allows (probed once per process), then the plan.
        let support = hooks::probe_cached(&btf).ok();
        let has_function = |f: &str| hooks::has_function(&btf, f);
        let plan = hooks::plan(
            choice,
            support.as_ref(),
            &f.selected_events(),
            &has_function,
        )
        .map_err(SensorError::Other)?;
        let plan = plan_override.unwrap_or(plan);
        let object = match plan {
            hooks::Plan::Fentry { .. } => FENTRY_OBJ,
            _ => SENSOR_OBJ,
        };
        let ring_names: Vec<String> = (0..MAX_RINGS).map(|i| format!("ring{i}")).collect();
        // The cgroup hierarchies; on a host with cgroup v1 controllers, task contexts also carry
        // the task's cgroup in one of them.
        let mut cgroups = cgroups::Cgroups::new();
        let v1_subsys = cgroups.v1_code();
        let mut loader = EbpfLoader::new();
        for name in &ring_names[..nrings] {
            loader.map_max_entries(name, per_ring as u32);
        }
        let mut ebpf = loader
            .btf(Some(&btf))
            // Task storage: aya has no typed wrapper for it; only the programs use it.
            .allow_unsupported_maps()
            .override_global("cfg_self_tgid", &self_tgid, true)
            .override_global("cfg_flags", &flags, true)
            .override_global("cfg_uid_min", &uid_min, true)
            .override_global("cfg_uid_max", &uid_max, true)
            .override_global("cfg_pid_min", &pid_min, true)
            .override_global("cfg_pid_max", &pid_max, true)
            .override_global("cfg_start_boottime", &start_boot, true)
            .override_global("cfg_wake_every", &wake_every, true)
            .override_global("cfg_ring_mask", &ring_mask, true)
            .override_global("cfg_desc", &desc, true)
            .override_global("cfg_v1_subsys", &v1_subsys, true)
            .load(object)
            .map_err(|e| err("loading the sensor's BPF object", &e))?;

        // Filter sets, before anything is attached.
        let fill = |ebpf: &mut Ebpf, name: &str, set: &BTreeSet<u32>| -> Result<(), SensorError> {
            if set.is_empty() {
                return Ok(());
            }
            let map = ebpf
                .map_mut(name)
                .ok_or_else(|| SensorError::Other(format!("map {name} missing")))?;
            let mut m: BpfHashMap<_, u32, u8> =
                BpfHashMap::try_from(map).map_err(|e| err(name, &e))?;
            for k in set {
                m.insert(k, 1, 0).map_err(|e| err(name, &e))?;
            }
            Ok(())
        };
        fill(&mut ebpf, "pids", &f.pids)?;
        fill(&mut ebpf, "not_pids", &f.not_pids)?;
        fill(&mut ebpf, "mntns_set", &f.mntns)?;
        fill(&mut ebpf, "not_mntns_set", &f.not_mntns)?;
        fill(&mut ebpf, "pidns_set", &f.pidns)?;
        fill(&mut ebpf, "not_pidns_set", &f.not_pidns)?;
        if f.follow {
            fill(&mut ebpf, "followed", &f.pids)?;
        }

        let uses_cg = f.container.is_some() || f.new_containers;
        let mut cg_class = None;
        if uses_cg {
            let map = ebpf
                .take_map("cg_class")
                .ok_or_else(|| SensorError::Other("map cg_class missing".into()))?;
            let mut m: BpfHashMap<MapData, u64, u8> =
                BpfHashMap::try_from(map).map_err(|e| err("cg_class", &e))?;
            let by_v1 = cgroups.v1_code() != 0;
            for id in cgroups.scan() {
                // Cgroups decided per process (cgroup v1 fallback) are looked up by their v1
                // cgroup in the kernel when one is reported, else left undecided there.
                let Some(info) = cgroups.peek(id) else {
                    continue;
                };
                let cls = match (info.per_process, info.container.is_empty()) {
                    (true, _) if by_v1 => CG_BY_V1,
                    (true, _) => continue,
                    (false, true) => CG_HOST,
                    (false, false) => CG_CONTAINER,
                };
                m.insert(id, cls, 0).map_err(|e| err("cg_class", &e))?;
            }
            if by_v1 && cgroups.v2_root().is_none() {
                // No v2 hierarchy: every task is in its root, whose id is 1.
                m.insert(1, CG_BY_V1, 0).map_err(|e| err("cg_class", &e))?;
            }
            // And the cgroups of the reported v1 hierarchy (walked by the first scan), which
            // the kernel looks up when the v2 cgroup has no class.
            for (id, host, _) in cgroups.take_v1_added() {
                let cls = if host { CG_HOST } else { CG_CONTAINER };
                m.insert(id | cgroups::V1_KEY, cls, 0)
                    .map_err(|e| err("cg_class", &e))?;
            }
            cg_class = Some(m);
        } else {
            cgroups.scan();
        }

        // The rings, in place before any program runs.
        let mut outer: ArrayOfMaps<MapData, RingBuf<MapData>> = ArrayOfMaps::try_from(
            ebpf.take_map("rings")
                .ok_or_else(|| SensorError::Other("map rings missing".into()))?,
        )
        .map_err(|e| err("rings", &e))?;
        let mut rings = Vec::with_capacity(nrings);
        let mut readers = Vec::with_capacity(nrings);
        for (i, name) in ring_names[..nrings].iter().enumerate() {
            let map = ebpf
                .take_map(name)
                .ok_or_else(|| SensorError::Other(format!("map {name} missing")))?;
            let r = RingBuf::try_from(map).map_err(|e| err(name, &e))?;
            outer.set(i as u32, &r, 0).map_err(|e| err("rings", &e))?;
            readers.push(
                sys::RingReader::new(r.as_raw_fd(), per_ring)
                    .map_err(|e| SensorError::Other(format!("mapping ring buffer {i}: {e}")))?,
            );
            rings.push(r);
        }
        let fds: Vec<_> = rings.iter().map(|r| r.as_raw_fd()).collect();
        let epoll = sys::Epoll::new(&fds)
            .map_err(|e| SensorError::Other(format!("epoll on the ring buffers: {e}")))?;
        let (hook, entry_calls) = attach_syscalls(&mut ebpf, &plan, &btf, &desc)?;
        let process_hook_kinds = attach_process_hooks(&mut ebpf, hook, &btf)?;
        let process_hooks = process_hook_kinds.iter().map(|(tp, _)| *tp).collect();
        if v1_subsys != 0 && !attach_cgroup_moves(&mut ebpf, &btf) {
            // Contexts would not be sent again after a move: their v1 cgroup may be stale, so
            // the container comes from /proc instead.
            cgroups.ignore_v1_report();
        }

        let counters = PerCpuArray::try_from(
            ebpf.take_map("counters")
                .ok_or_else(|| SensorError::Other("map counters missing".into()))?,
        )
        .map_err(|e| err("counters", &e))?;
        let followed = BpfHashMap::try_from(
            ebpf.take_map("followed")
                .ok_or_else(|| SensorError::Other("map followed missing".into()))?,
        )
        .map_err(|e| err("followed", &e))?;
        Ok(Sensor {
            _ebpf: ebpf,
            _rings: (outer, rings),
            readers,
            epoll,
            counters,
            cg_class,
            followed,
            dec: Decoder::new(cfg.filter.clone(), cgroups),
            out: empty_event(),
            hook,
            entry_calls,
            process_hooks,
            process_hook_kinds,
            support,
            last_cg_scan: Instant::now(),
        })
    }

    /// Wait up to `timeout` for events and hand each decoded event to `f`; returns how many.
    ///
    /// Records are submitted without waking the reader; each CPU wakes it once per batch of
    /// records (about an eighth of its ring, at most 2048). Between wake-ups this drains every
    /// 20 ms, so an event waits at most that long (plus the 2 ms merge delay of several rings);
    /// the call returns as soon as a drain delivered events.
    ///
    /// Each event is a new value (its strings allocated); a consumer that only looks at the
    /// events saves the allocations with [`Sensor::poll_ref`].
    pub fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(Event),
    ) -> Result<usize, SensorError> {
        // The decoded event is moved out (the buffer starts empty again): no copy.
        self.poll_with(timeout, &mut |ev| f(std::mem::replace(ev, empty_event())))
    }

    /// [`Sensor::poll`], handing each event to `f` by reference: every event is decoded into
    /// one buffer that is reused (strings and the argument vector keep their capacity), so an
    /// event without string arguments costs no allocation. Clone the event to keep it.
    pub fn poll_ref(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(&Event),
    ) -> Result<usize, SensorError> {
        self.poll_with(timeout, &mut |ev| f(ev))
    }

    /// The loop of [`Sensor::poll`] and [`Sensor::poll_ref`]: `f` gets the decode buffer.
    fn poll_with(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(&mut Event),
    ) -> Result<usize, SensorError> {
        let deadline = Instant::now() + timeout;
        loop {
            // Learn new cgroups while they exist: a short-lived container's cgroup may be gone
            // by the time its (batched) events are decoded, which would make them look like
            // host events.
            if self.last_cg_scan.elapsed() >= CG_SCAN_EVERY {
                self.last_cg_scan = Instant::now();
                let added = self.dec.cg.scan();
                self.dec.note_new_cgroups(&added);
            }
            let (n, records, young) = self.drain(f);
            if n > 0 {
                return Ok(n);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            if records == MAX_RECORDS_PER_DRAIN {
                // More is waiting (all filtered so far): no need to wait for a wake-up.
                continue;
            }
            // Records too young to hand out are there: come back when they are old enough
            // (their wake-up has been and gone).
            let most = if young {
                MERGE_DELAY
            } else {
                Duration::from_millis(20)
            };
            let slice = (deadline - now).min(most);
            self.epoll
                .wait(slice)
                .map_err(|e| SensorError::Other(format!("waiting on the ring buffer: {e}")))?;
        }
    }

    /// Reads up to [`MAX_RECORDS_PER_DRAIN`] records, oldest first across the rings; returns
    /// (events delivered, records read, whether records younger than [`MERGE_DELAY`] wait).
    fn drain(&mut self, f: &mut dyn FnMut(&mut Event)) -> (usize, usize, bool) {
        let Sensor {
            readers,
            dec,
            cg_class,
            out,
            ..
        } = self;
        // With one ring its order is the order; with several, a record is handed out only once
        // it is older than the watermark, so that none stamped earlier can still appear.
        let watermark = if readers.len() > 1 {
            sys::boottime_ns().saturating_sub(MERGE_DELAY.as_nanos() as u64)
        } else {
            u64::MAX
        };
        let (mut n, mut records, mut young) = (0, 0, false);
        // Bounded, so that a caller's loop (signals, flushing) runs even under a flood. Records
        // are decoded in place, in the ring.
        'merge: while records < MAX_RECORDS_PER_DRAIN {
            // The ring with the oldest head, and the next-oldest head of the others: records of
            // that ring go out in a run while they are older than both that head and the
            // watermark (one comparison per record, not one peek per ring).
            let (mut best, mut next): (Option<(usize, u64)>, u64) = (None, u64::MAX);
            for (i, r) in readers.iter_mut().enumerate() {
                let Some((ts, _)) = r.peek() else { continue };
                match best {
                    Some((_, b)) if ts >= b => next = next.min(ts),
                    _ => {
                        if let Some((_, b)) = best {
                            next = next.min(b);
                        }
                        best = Some((i, ts));
                    }
                }
            }
            let Some((i, oldest)) = best else { break };
            if oldest >= watermark {
                // Every head is too young.
                young = true;
                break;
            }
            let reader = &mut readers[i];
            while let Some((ts, b)) = reader.peek() {
                if ts >= watermark {
                    young = true;
                    break;
                }
                if ts > next {
                    // Another ring's head is older now.
                    break;
                }
                match dec.handle_bytes(b, out) {
                    Ok(true) => {
                        n += 1;
                        f(out);
                    }
                    Ok(false) => {}
                    Err(_) => dec.bad += 1,
                }
                reader.advance();
                records += 1;
                match cg_class.as_mut() {
                    Some(m) => {
                        for (id, cls) in dec.cg_updates.drain(..) {
                            // A full map only means the kernel keeps asking user space for
                            // this cgroup.
                            let _ = m.insert(id, cls, 0);
                        }
                    }
                    // No container filter: nothing to tell the kernel (and nothing to keep).
                    None => dec.cg_updates.clear(),
                }
                if records >= MAX_RECORDS_PER_DRAIN {
                    break 'merge;
                }
            }
        }
        for r in readers.iter_mut() {
            r.publish();
        }
        (n, records, young)
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let sum = |i: u32| -> u64 {
            self.counters
                .get(&i, 0)
                .map(|v| v.iter().copied().sum())
                .unwrap_or(0)
        };
        // Read in the order the programs count (seen first), newest last, so that a snapshot
        // taken while events flow never shows more outcomes than events seen.
        let delivered = self.dec.delivered;
        let user_filtered = self.dec.user_filtered;
        let lost = sum(2);
        let filtered = sum(1);
        let kept = sum(0);
        Stats {
            seen: kept + filtered,
            filtered: filtered + user_filtered,
            user_filtered,
            delivered,
            lost,
            truncated: self.dec.truncated,
        }
    }

    /// Auxiliary records (task context, `execve` strings read at entry) lost because the ring
    /// buffer was full; the events they belong to then lack some context or arguments.
    pub fn aux_lost(&self) -> u64 {
        self.counters
            .get(&4, 0)
            .map(|v| v.iter().copied().sum())
            .unwrap_or(0)
    }

    /// Records that could not be parsed (a bug if ever non-zero).
    pub fn bad_records(&self) -> u64 {
        self.dec.bad
    }

    /// Run-time statistics of the loaded programs (counting only while
    /// [`enable_program_stats`] is on).
    pub fn program_stats(&self) -> Vec<ProgramStats> {
        program_stats(&self._ebpf)
    }

    /// The hook type the system-call programs are attached with.
    pub fn hook(&self) -> Hook {
        self.hook
    }

    /// With [`Hook::TpBtf`], the calls whose own entry tracepoints (`syscalls/sys_enter_<call>`)
    /// carry the programs' entry work, when entries are hooked one call at a time: then no
    /// program runs at the entry of any other call. `None` when one program on `sys_enter`
    /// serves every call (more than [`ENTRY_CALLS_MAX`] calls need their entry,
    /// `tp_btf_raw`, classic tracepoints) or with fentry.
    pub fn entry_calls(&self) -> Option<&[&'static str]> {
        self.entry_calls.as_deref()
    }

    /// The scheduler tracepoints attached (fork, exec, exit where the kernel allows them).
    pub fn process_hooks(&self) -> &[&'static str] {
        &self.process_hooks
    }

    /// The scheduler tracepoints attached, each with its hook type ([`Hook::TpBtf`], or
    /// [`Hook::Tracepoint`] for the classic `sched/sched_process_exit`).
    pub fn process_hook_kinds(&self) -> &[(&'static str, Hook)] {
        &self.process_hook_kinds
    }

    /// What the start-up probe found the kernel allows (fentry, BPF LSM); `None` when the probe
    /// itself could not run.
    pub fn hooks_allowed(&self) -> Option<&HookSupport> {
        self.support.as_ref()
    }

    /// Adds a process (host pid) to the followed set: with [`KernelFilter::follow`], its events
    /// and those of the children it forks from now on pass the kernel filter. For filters
    /// decided in user space (`comm=bash --trace follow`).
    pub fn follow_pid(&mut self, pid: u32) -> Result<(), SensorError> {
        self.followed
            .insert(pid, 1, 0)
            .map_err(|e| err("followed", &e))
    }
}

/// A hasher for the integer keys of the decoder's caches (tids, pids, cgroup ids): one
/// multiplication instead of SipHash, on the per-event path. The keys come from the kernel, not
/// from an adversary who could choose colliding values cheaply (pids and cgroup ids are bounded).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// A map keyed by kernel ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Turns records into events: task-context cache, path resolution, container ids.
struct Decoder {
    filter: KernelFilter,
    wall_offset: u64,
    tasks: IdMap<u32, TaskCtx>,
    cwd: IdMap<u32, String>,
    /// Each thread's base slots, as the programs keep them (see `put_path` in the C source);
    /// `None`: a slot whose path could not be known here.
    bases: IdMap<u32, [Option<Vec<u8>>; 4]>,
    /// Strings read at a call's entry, by thread: (process, items, whether they were cut).
    entry: IdMap<u32, (u32, Vec<Item>, bool)>,
    cg: cgroups::Cgroups,
    /// The last cgroup id looked up, with its container id, whether it is new and whether its
    /// processes are looked up one by one: runs of events from one cgroup skip the cache lookup
    /// (entries of `cg` never change once made).
    last_cg: Option<(u64, String, bool, bool)>,
    /// The last thread whose container came from its v1 cgroup (see [`Decoder::fill`]): tid,
    /// container id, whether it is new. Dropped when a task context or a v1 cgroup record
    /// arrives (either may change the answer).
    last_v1: Option<(u32, String, bool)>,
    cg_updates: Vec<(u64, u8)>,
    delivered: u64,
    user_filtered: u64,
    truncated: u64,
    bad: u64,
}

const CACHE_LIMIT: usize = 200_000;
/// Records read per drain before `poll` returns to its caller.
const MAX_RECORDS_PER_DRAIN: usize = 65_536;

/// How often `poll` walks the cgroup hierarchy for new cgroups (a walk of a few dozen
/// directories costs well under a millisecond).
const CG_SCAN_EVERY: Duration = Duration::from_millis(10);

impl Decoder {
    fn new(filter: KernelFilter, cg: cgroups::Cgroups) -> Decoder {
        Decoder {
            filter,
            wall_offset: sys::boot_to_wall_offset(),
            tasks: IdMap::default(),
            cwd: IdMap::default(),
            bases: IdMap::default(),
            entry: IdMap::default(),
            cg,
            last_cg: None,
            last_v1: None,
            cg_updates: Vec::new(),
            delivered: 0,
            user_filtered: 0,
            truncated: 0,
            bad: 0,
        }
    }

    /// Decodes a record into `out`, reusing its strings and argument vector (no allocation for
    /// an event without string arguments once the buffers have grown); returns whether it made
    /// an event. Context records, `execve` strings read at entry and events the user-space part
    /// of the container filter drops make none (`out` is then left in an unspecified state).
    fn handle_into(&mut self, r: Record, out: &mut Event) -> bool {
        let made = match r {
            Record::Task { h, ctx } => {
                if self.tasks.len() > CACHE_LIMIT {
                    self.tasks.clear();
                }
                self.tasks.insert(h.tid, ctx);
                self.last_v1 = None;
                return false;
            }
            Record::Sys {
                h,
                ret,
                args,
                items,
            } if h.kind == Kind::EntryExt => {
                let _ = (ret, args);
                if self.entry.len() > CACHE_LIMIT {
                    self.entry.clear();
                }
                self.entry
                    .insert(h.tid, (h.pid, items, h.flags & record::HF_TRUNCATED != 0));
                return false;
            }
            Record::Sys {
                h,
                ret,
                args,
                items,
            } => self.sys_event(&h, ret, &args, items, out),
            Record::Fork {
                h,
                ids,
                child_start,
            } => {
                if let Some(c) = self.cwd.get(&ids[2]).cloned() {
                    self.cwd.insert(ids[6], c);
                }
                out.args.clear();
                out.args
                    .extend(ids.iter().map(|&x| ArgValue::UInt(u64::from(x))));
                out.args
                    .push(ArgValue::UInt(child_start + self.wall_offset));
                self.fill(&h, EventId::SCHED_PROCESS_FORK, 0, out)
            }
            Record::Exec { h, items } => {
                // An exec may follow a move into a container's cgroup (runc init).
                self.cg.forget_process(h.pid);
                let find = |a: u8| items.iter().find(|i| i.arg == a);
                // The cwd as the kernel walked it at exec time.
                let cwd = find(2)
                    .map(|i| record::cstr(&i.data))
                    .or_else(|| proc_link(h.pid, "cwd"));
                if let Some(c) = &cwd {
                    self.cwd.insert(h.pid, c.clone());
                }
                let path = find(0).map(|i| record::cstr(&i.data));
                let path = path.map(|p| match &cwd {
                    Some(c) if !p.starts_with('/') => layout::join(c, &p),
                    _ => self.resolve(h.pid, &p, None),
                });
                let argv = find(1).map(|i| layout::split_argv(&i.data));
                let tty = find(3).map(|i| record::cstr(&i.data));
                let ctx = self.tasks.get(&h.tid);
                out.args.clear();
                out.args.extend([
                    path.map_or(ArgValue::None, ArgValue::Str),
                    argv.map_or(ArgValue::None, ArgValue::StrList),
                    cwd.map_or(ArgValue::None, ArgValue::Str),
                    tty.map_or(ArgValue::None, ArgValue::Str),
                    ctx.map_or(ArgValue::None, |c| ArgValue::UInt(u64::from(c.sid))),
                    ctx.map_or(ArgValue::None, |c| ArgValue::UInt(u64::from(c.loginuid))),
                    ctx.map_or(ArgValue::None, |c| {
                        ArgValue::UInt(c.start_time + self.wall_offset)
                    }),
                ]);
                let made = self.fill(&h, EventId::SCHED_PROCESS_EXEC, 0, out);
                if made && h.flags & record::HF_TRUNCATED != 0 {
                    self.truncated += 1;
                }
                made
            }
            Record::Cgroup { h, path } if h.flags & record::HF_V1 != 0 => {
                self.cg.learn_v1(h.cgroup, &path);
                self.note_new_v1_cgroups();
                self.last_v1 = None;
                return false;
            }
            Record::Cgroup { h, path } => {
                if self.cg.learn(h.cgroup, &path) {
                    self.note_new_cgroups(&[h.cgroup]);
                    if self
                        .last_cg
                        .as_ref()
                        .is_some_and(|(id, _, _, _)| *id == h.cgroup)
                    {
                        self.last_cg = None;
                    }
                }
                return false;
            }
            Record::Exit { h, code, group } => {
                out.args.clear();
                out.args.extend([
                    ArgValue::Int(i64::from(exit_status(code))),
                    ArgValue::Int(i64::from(group)),
                ]);
                let made = self.fill(&h, EventId::SCHED_PROCESS_EXIT, 0, out);
                self.tasks.remove(&h.tid);
                self.bases.remove(&h.tid);
                if group {
                    self.cwd.remove(&h.pid);
                    self.cg.forget_process(h.pid);
                }
                made
            }
        };
        if made {
            self.delivered += 1;
        } else {
            self.user_filtered += 1;
        }
        made
    }

    /// Decodes the record in `b` into `out` (see [`Decoder::handle_into`]). A fixed system-call
    /// record, the most frequent kind, is decoded from the bytes directly.
    fn handle_bytes(&mut self, b: &[u8], out: &mut Event) -> Result<bool, record::BadRecord> {
        if let Some((h, ret, args)) = record::parse_fixed_sys(b)? {
            let made = self.sys_event(&h, ret, &args, Vec::new(), out);
            if made {
                self.delivered += 1;
            } else {
                self.user_filtered += 1;
            }
            return Ok(made);
        }
        Ok(self.handle_into(record::parse(b)?, out))
    }

    /// A system call's event (its exit record, or its entry record for a call that does not
    /// return), joined with the strings `execve` sent at entry.
    fn sys_event(
        &mut self,
        h: &Header,
        ret: i64,
        args: &[u64; 6],
        mut items: Vec<Item>,
        out: &mut Event,
    ) -> bool {
        let id = EventId(h.id);
        let info = layout::call_info(id);
        let mut truncated = h.flags & record::HF_TRUNCATED != 0;
        // The thread whose records the items came with (for their bases): an exec from another
        // thread of the process comes back on the leader's id.
        let mut items_tid = h.tid;
        if info.is_some_and(|i| i.at_entry) {
            let key = if self.entry.contains_key(&h.tid) {
                Some(h.tid)
            } else {
                self.entry
                    .iter()
                    .find(|(_, (pid, _, _))| *pid == h.pid)
                    .map(|(k, _)| *k)
            };
            if let Some((k, (_, it, cut))) = key.and_then(|k| self.entry.remove(&k).map(|v| (k, v)))
            {
                items = it;
                truncated |= cut;
                items_tid = k;
            }
        }
        if items.iter().any(|i| i.ty == record::ItemType::BaseSlot) {
            self.apply_bases(items_tid, &mut items);
        }
        out.args.clear();
        let paths = layout::decode_args_into(id, args, &items, &mut out.args);
        for p in paths {
            let abs = self.resolve(h.pid, &p.path, p.dirfd);
            out.args[p.index] = ArgValue::Str(abs);
        }
        let name = info.map_or("", |i| i.def.name);
        if ret == 0 && (name == "chdir" || name == "fchdir") {
            self.track_cwd(h.pid, name == "chdir", &out.args);
        }
        let made = self.fill(h, id, ret, out);
        if made && truncated {
            self.truncated += 1;
        }
        made
    }

    /// Resolves each base-slot item against the thread's slots as they were before the record
    /// (dropped when that slot is unknown here: the path is then resolved from /proc), then
    /// fills the slots the record's bases take, in item order, as the programs do once the
    /// record went out.
    fn apply_bases(&mut self, tid: u32, items: &mut Vec<Item>) {
        let mut fills: Vec<(usize, Option<Vec<u8>>)> = Vec::new();
        {
            let slots = self.bases.get(&tid);
            items.retain_mut(|it| {
                if it.ty != record::ItemType::BaseSlot {
                    return true;
                }
                let (path, fill) = record::slot_base(slots, &it.data);
                if let Some(f) = fill {
                    fills.push((f, path.clone()));
                }
                match path {
                    Some(p) => {
                        it.ty = record::ItemType::Base;
                        it.data = p;
                        true
                    }
                    None => false,
                }
            });
        }
        if fills.is_empty() {
            return;
        }
        if self.bases.len() > CACHE_LIMIT && !self.bases.contains_key(&tid) {
            self.bases.clear();
        }
        let slots = self.bases.entry(tid).or_default();
        for (f, p) in fills {
            slots[f] = p;
        }
    }

    /// [`Decoder::handle_into`] into a new event.
    #[cfg(test)]
    fn handle(&mut self, r: Record) -> Option<Event> {
        let mut ev = empty_event();
        self.handle_into(r, &mut ev).then_some(ev)
    }

    /// Queues the kernel-side class of the reported v1 hierarchy's cgroups learnt since the last
    /// call (under their tagged keys, see `cgroups::V1_KEY`).
    fn note_new_v1_cgroups(&mut self) {
        for (id, host, new) in self.cg.take_v1_added() {
            let cls = match (host, new) {
                (true, _) => CG_HOST,
                (false, false) => CG_CONTAINER,
                (false, true) => CG_NEW_CONTAINER,
            };
            self.cg_updates.push((id | cgroups::V1_KEY, cls));
        }
    }

    /// Queues the kernel-side class of cgroups seen for the first time.
    fn note_new_cgroups(&mut self, added: &[u64]) {
        let by_v1 = self.cg.v1_code() != 0;
        for &a in added {
            if let Some(i) = self.cg.peek(a) {
                let cls = match (i.per_process, i.container.is_empty(), i.new) {
                    (true, _, _) if by_v1 => CG_BY_V1,
                    (true, _, _) => continue,
                    (false, true, _) => CG_HOST,
                    (false, false, false) => CG_CONTAINER,
                    (false, false, true) => CG_NEW_CONTAINER,
                };
                self.cg_updates.push((a, cls));
            }
        }
    }

    /// Fills `out` (all but `args`) with the header and the task's context; `false` when the
    /// container filter (decided here for cgroups the kernel did not know yet) drops the event.
    fn fill(&mut self, h: &Header, id: EventId, ret: i64, out: &mut Event) -> bool {
        let (mut new, per_process) = match &self.last_cg {
            Some((cg, c, n, p)) if *cg == h.cgroup => {
                set_str(&mut out.container_id, c);
                (*n, *p)
            }
            _ => {
                let (info, added) = self.cg.get(h.cgroup);
                set_str(&mut out.container_id, &info.container);
                let (new, per_process) = (info.new, info.per_process);
                self.note_new_cgroups(&added);
                self.last_cg = Some((h.cgroup, out.container_id.clone(), new, per_process));
                (new, per_process)
            }
        };
        if per_process {
            // The v2 cgroup names no container (the root on a cgroup v1 host): the task's cgroup
            // in the reported v1 hierarchy decides, as its context record named it; without
            // one, the process's own /proc/<pid>/cgroup, v1 lines included. A process already
            // gone: the host.
            // Runs of events from one thread reuse its answer.
            let found = match &self.last_v1 {
                Some((tid, c, n)) if *tid == h.tid => Some((c.as_str(), *n)),
                _ => {
                    let v1 = self.tasks.get(&h.tid).map_or(0, |c| c.v1_cgroup);
                    let known = self.cg.v1_known(v1);
                    self.note_new_v1_cgroups();
                    if known {
                        let (c, n) = self.cg.v1_container(v1).unwrap_or(("", false));
                        self.last_v1 = Some((h.tid, c.to_string(), n));
                        Some((c, n))
                    } else {
                        self.cg.process_container(h.pid, h.ts)
                    }
                }
            };
            match found {
                Some((c, n)) => {
                    set_str(&mut out.container_id, c);
                    new = n;
                }
                None => {
                    out.container_id.clear();
                    new = false;
                }
            }
        }
        if h.flags & record::HF_UNDECIDED != 0 {
            let is_c = !out.container_id.is_empty();
            let keep = match self.filter.container {
                Some(want) => want == is_c,
                None => true,
            } && (!self.filter.new_containers || (is_c && new));
            if !keep {
                return false;
            }
        }
        if self.tasks.len() > CACHE_LIMIT && !self.tasks.contains_key(&h.tid) {
            self.tasks.clear();
        }
        let ctx = self
            .tasks
            .entry(h.tid)
            .or_insert_with(|| proc_ctx(h.pid, h.tid));
        out.ts = h.ts + self.wall_offset;
        out.id = id;
        out.cpu = h.cpu;
        out.pid = ctx.ns_pid;
        out.tid = ctx.ns_tid;
        out.ppid = ctx.ns_ppid;
        out.host_pid = h.pid;
        out.host_tid = h.tid;
        out.host_ppid = ctx.ppid;
        out.uid = h.uid;
        out.gid = h.gid;
        record::set_cstr(&mut out.comm, &h.comm);
        set_str(&mut out.uts, &ctx.uts);
        out.mntns = ctx.mntns;
        out.pidns = ctx.pidns;
        out.cgroup_id = h.cgroup;
        out.ret = ret;
        true
    }

    /// Makes a path absolute: against the directory fd, else the process's cwd.
    fn resolve(&mut self, pid: u32, path: &str, dirfd: Option<i32>) -> String {
        if path.starts_with('/') {
            return layout::join("/", path);
        }
        let base = match dirfd {
            Some(fd) => proc_link(pid, &format!("fd/{fd}")),
            None => match proc_link(pid, "cwd") {
                Some(c) => {
                    self.cwd.insert(pid, c.clone());
                    Some(c)
                }
                None => self.cwd.get(&pid).cloned(),
            },
        };
        match base {
            Some(b) if path.is_empty() => b,
            Some(b) => layout::join(&b, path),
            None => path.to_string(),
        }
    }

    fn track_cwd(&mut self, pid: u32, chdir: bool, vals: &[ArgValue]) {
        let new = if chdir {
            vals.first().and_then(|v| v.as_str()).map(str::to_string)
        } else {
            proc_link(pid, "cwd")
        };
        if let Some(c) = new {
            self.cwd.insert(pid, c);
        }
    }
}

/// Replaces a string's text, keeping its buffer.
fn set_str(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// An event with every field zero or empty: the buffer [`Sensor::poll_ref`] decodes into.
fn empty_event() -> Event {
    Event {
        ts: 0,
        id: EventId(0),
        cpu: 0,
        pid: 0,
        tid: 0,
        ppid: 0,
        host_pid: 0,
        host_tid: 0,
        host_ppid: 0,
        uid: 0,
        gid: 0,
        comm: String::new(),
        uts: String::new(),
        mntns: 0,
        pidns: 0,
        cgroup_id: 0,
        container_id: String::new(),
        ret: 0,
        args: Vec::new(),
    }
}

/// The shell's view of a wait status: the exit code, or 128 + the signal number.
fn exit_status(code: i32) -> i32 {
    if code & 0x7f == 0 {
        (code >> 8) & 0xff
    } else {
        128 + (code & 0x7f)
    }
}

fn proc_link(pid: u32, what: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/{what}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The task context from /proc, for a task whose context record was lost or never sent.
fn proc_ctx(pid: u32, tid: u32) -> TaskCtx {
    let mut c = TaskCtx {
        ns_pid: pid,
        ns_tid: tid,
        ..TaskCtx::default()
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"));
    if let Ok(s) = status {
        for l in s.lines() {
            let last = |l: &str| l.split_whitespace().last().and_then(|v| v.parse().ok());
            if let Some(v) = l.strip_prefix("PPid:") {
                c.ppid = v.trim().parse().unwrap_or(0);
            } else if l.starts_with("NStgid:") {
                c.ns_pid = last(l).unwrap_or(pid);
            } else if l.starts_with("NSpid:") {
                c.ns_tid = last(l).unwrap_or(tid);
            }
        }
    }
    let ns = |n: &str| {
        proc_link(pid, &format!("ns/{n}"))
            .and_then(|l| {
                l.split_once('[')
                    .and_then(|(_, r)| r.trim_end_matches(']').parse().ok())
            })
            .unwrap_or(0)
    };
    c.mntns = ns("mnt");
    c.pidns = ns("pid");
    c.uts = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fentry plan as chosen when the probe allows fentry, but the per-call programs are
    /// refused (as on a kernel that forbids them, like the development machine's): the sensor
    /// falls back to BTF tracepoints on the same (fentry) object and still delivers events.
    /// Needs root; on a kernel that allows fentry it checks the fentry path instead.
    #[test]
    fn a_refused_fentry_load_falls_back_to_tp_btf() {
        if sys::euid() != 0 {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true: needs root"
            );
            eprintln!("skipped: needs root");
            return;
        }
        let openat = EventId::from_name("openat").unwrap();
        let filter = KernelFilter {
            events: [openat].into_iter().collect(),
            pids: [std::process::id()].into_iter().collect(),
            follow: true,
            ..KernelFilter::default()
        };
        let plan = hooks::Plan::Fentry {
            calls: vec![(257, hooks::kernel_function("openat"))],
            forced: false,
        };
        let mut s = Sensor::start_planned(
            SensorConfig {
                filter,
                ring_bytes: 0,
            },
            HookChoice::Auto,
            Some(plan),
        )
        .unwrap();
        let allowed = hooks::probe_hooks().unwrap().fentry.allowed();
        assert_eq!(s.hook(), if allowed { Hook::Fentry } else { Hook::TpBtf });
        // An openat by a child (the sensor never reports its own process).
        let path = std::env::temp_dir().join(format!("palisade-fentry-{}", std::process::id()));
        std::fs::write(&path, "x").unwrap();
        let st = std::process::Command::new("cat")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let want = path.display().to_string();
        let mut found = false;
        let end = Instant::now() + Duration::from_secs(10);
        while !found && Instant::now() < end {
            s.poll(Duration::from_millis(50), &mut |e| {
                found |= e.id == openat
                    && e.arg("pathname").and_then(ArgValue::as_str) == Some(want.as_str());
            })
            .unwrap();
        }
        let _ = std::fs::remove_file(&path);
        assert!(found, "no openat of {want}");
    }

    #[test]
    fn on_a_cgroup_v1_host_the_process_cgroup_decides_the_container_filter() {
        use record::tests::{build, sys_body};
        let proc_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/proc-v1");
        let cg = cgroups::Cgroups::with_roots(None, true, proc_root);
        let filter = KernelFilter {
            container: Some(true),
            ..KernelFilter::default()
        };
        let mut d = Decoder::new(filter, cg);
        d.cg.scan();
        // An undecided close (cgroup id 1, the v2 root, as on a v1-only host) from `pid`.
        let rec = |pid: u32| {
            let mut b = build(1, 3, &sys_body(0, [5, 0, 0, 0, 0, 0]), &[]);
            b[8..16].copy_from_slice(&1u64.to_le_bytes());
            b[16..20].copy_from_slice(&pid.to_le_bytes());
            b[20..24].copy_from_slice(&pid.to_le_bytes());
            b[35] = record::HF_UNDECIDED;
            b
        };
        let ev = d.handle(record::parse(&rec(4242)).unwrap()).unwrap();
        assert_eq!(ev.container_id, "a".repeat(64));
        let ev = d.handle(record::parse(&rec(5151)).unwrap()).unwrap();
        assert_eq!(ev.container_id, "b".repeat(64));
        // The host process (same cgroup id, right after: the last-cgroup cache must not answer).
        assert_eq!(d.handle(record::parse(&rec(1)).unwrap()), None);
        assert_eq!((d.delivered, d.user_filtered), (2, 1));
        // The root cgroup is never given a class for the kernel to decide with.
        assert!(
            d.cg_updates.iter().all(|(id, _)| *id != 1),
            "{:?}",
            d.cg_updates
        );
    }

    #[test]
    fn the_v1_cgroup_of_a_task_context_names_the_container_of_a_process_gone_since() {
        use record::tests::{build, sys_body};
        // A v1-only host: no v2 hierarchy, v1 memory reported; /proc knows none of these
        // processes (they are gone) and the hierarchy holds none of these cgroups (removed).
        let proc_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/proc-v1");
        let mut cg = cgroups::Cgroups::with_roots(None, true, proc_root.clone());
        cg.report_v1(proc_root.join("no-such-hierarchy"), 1);
        let filter = KernelFilter {
            container: Some(true),
            new_containers: true,
            ..KernelFilter::default()
        };
        let mut d = Decoder::new(filter, cg);
        d.cg.scan();
        let with_ids = |mut b: Vec<u8>, cgroup: u64, tid: u32| {
            b[8..16].copy_from_slice(&cgroup.to_le_bytes());
            b[16..20].copy_from_slice(&tid.to_le_bytes());
            b[20..24].copy_from_slice(&tid.to_le_bytes());
            b
        };
        // Task contexts (kind 4): 7001 in v1 cgroup 900, 7002 in 901.
        let task = |tid: u32, v1: u64| {
            let mut body = vec![0u8; record::TASK_LEN - record::HDR_LEN];
            body[168 - record::HDR_LEN..].copy_from_slice(&v1.to_le_bytes());
            with_ids(build(4, 0, &body, &[]), 1, tid)
        };
        // The kernel's record of cgroup 900 of the v1 hierarchy (kind 9, HF_V1).
        let ctr = "e".repeat(64);
        let path = format!("/docker/{ctr}\0");
        let mut cgrec = with_ids(build(9, 0, &[], &[(0, 1, path.as_bytes())]), 900, 7001);
        cgrec[35] = record::HF_V1;
        // An undecided close (v2 root) from a task.
        let close = |tid: u32| {
            let mut b = with_ids(build(1, 3, &sys_body(0, [5, 0, 0, 0, 0, 0]), &[]), 1, tid);
            b[35] = record::HF_UNDECIDED;
            b
        };
        for r in [task(7001, 900), cgrec, task(7002, 901)] {
            assert_eq!(d.handle(record::parse(&r).unwrap()), None);
        }
        let ev = d.handle(record::parse(&close(7001)).unwrap()).unwrap();
        assert_eq!(ev.container_id, ctr);
        // The v1 path record did not reach the v2 table.
        assert!(d.cg.peek(900).is_none());
        // 7002's cgroup was never sent and is not in the hierarchy, and the process is gone
        // from /proc: the host, dropped by the container filter.
        assert_eq!(d.handle(record::parse(&close(7002)).unwrap()), None);
        assert_eq!((d.delivered, d.user_filtered), (1, 1));
        // 7001 again, answered from the last-thread cache; then its context is sent again (it
        // moved to cgroup 901): the cache must not answer for the old cgroup.
        let ev = d.handle(record::parse(&close(7001)).unwrap()).unwrap();
        assert_eq!(ev.container_id, ctr);
        assert_eq!(d.handle(record::parse(&task(7001, 901)).unwrap()), None);
        assert_eq!(d.handle(record::parse(&close(7001)).unwrap()), None);
        assert_eq!((d.delivered, d.user_filtered), (2, 2));
    }

    #[test]
    fn slots_and_descriptors() {
        assert_eq!(slot(EventId(0)), Some(0));
        assert_eq!(slot(EventId::SCHED_PROCESS_EXIT), Some(514));
        assert_eq!(slot(EventId(700)), None);
        let f = KernelFilter {
            events: [
                EventId::from_name("openat").unwrap(),
                EventId::SCHED_PROCESS_EXEC,
            ]
            .into_iter()
            .collect(),
            ..KernelFilter::default()
        };
        let d = descriptors(&f);
        let selected: Vec<usize> = (0..NSLOTS).filter(|&i| d[i] >> 63 == 1).collect();
        assert_eq!(selected, vec![257, 513]);
        // Default set: execve selected, read not.
        let d = descriptors(&KernelFilter::default());
        assert_eq!(d[59] >> 63, 1);
        assert_eq!(d[0] >> 63, 0);
        assert_eq!(d[512] >> 63, 1);
    }

    #[test]
    fn flags_follow_the_filter() {
        let f = KernelFilter {
            uid_range: Some((0, 0)),
            container: Some(false),
            follow: true,
            ..KernelFilter::default()
        };
        assert_eq!(config_flags(&f), CF_UID_RANGE | CF_HOST | CF_FOLLOW);
        assert_eq!(config_flags(&KernelFilter::default()), 0);
    }

    #[test]
    fn joins_paths_and_decodes_exit_statuses() {
        assert_eq!(layout::join("/", "/tmp/./a//b/../c"), "/tmp/a/c");
        assert_eq!(layout::join("/", "/.."), "/");
        assert_eq!(exit_status(7 << 8), 7);
        assert_eq!(exit_status(9), 137);
        assert_eq!(exit_status(0), 0);
    }

    #[test]
    fn base_slot_items_resolve_against_the_threads_slots() {
        use record::tests::{build, sys_body};
        let mut d = Decoder::new(KernelFilter::default(), cgroups::Cgroups::new());
        // openat(dirfd 3, name) with a base-slot item: {anc, fill, 0, 0} + leaf-first
        // components; kind 2 (exit with strings), on thread `tid`.
        let open = |name: &[u8], anc: u8, fill: u8, comps: &[u8], tid: u32| {
            let mut base = vec![anc, fill, 0, 0];
            base.extend_from_slice(comps);
            let mut b = build(
                2,
                257,
                &sys_body(4, [3, 0, 0, 0, 0, 0]),
                &[(1, 1, name), (1, 9, &base)],
            );
            b[16..20].copy_from_slice(&tid.to_le_bytes());
            b
        };
        let mut path_of = |b: Vec<u8>| {
            let ev = d.handle(record::parse(&b).unwrap()).unwrap();
            ev.arg("pathname")
                .and_then(ArgValue::as_str)
                .unwrap()
                .to_owned()
        };
        // A walk to the root: the whole path, leaf first; it fills slot 3.
        assert_eq!(path_of(open(b"a\0", 0xff, 3, b"d1/srv/", 101)), "/srv/d1/a");
        // Slot 3 itself: no components, nothing filled.
        assert_eq!(path_of(open(b"b\0", 3, 0xff, b"", 101)), "/srv/d1/b");
        // Below slot 3: its path and the components; fills slot 2.
        assert_eq!(path_of(open(b"c\0", 3, 2, b"y/x/", 101)), "/srv/d1/x/y/c");
        assert_eq!(path_of(open(b"e\0", 2, 0xff, b"", 101)), "/srv/d1/x/y/e");
        // A slot is overwritten only after the record that fills it: the record resolves
        // against slot 2 as it was, then slot 2 becomes /srv/d1/x/y/z.
        assert_eq!(path_of(open(b"f\0", 2, 2, b"z/", 101)), "/srv/d1/x/y/z/f");
        assert_eq!(path_of(open(b"g\0", 2, 0xff, b"", 101)), "/srv/d1/x/y/z/g");
        // The root as a base.
        assert_eq!(path_of(open(b"h\0", 0xff, 1, b"", 101)), "/h");
        assert_eq!(path_of(open(b"i\0", 1, 0, b"tmp/", 101)), "/tmp/i");
        // Slots are per thread: another thread's slot 3 is unknown, and the path is left to the
        // /proc fallback (this test's thread has no fd 3 of that name).
        let other = path_of(open(b"j\0", 3, 0xff, b"", 202));
        assert_ne!(other, "/srv/d1/j");
    }

    #[test]
    fn decoder_pairs_execve_strings_and_resolves_relative_paths() {
        use record::tests::{build, sys_body};
        let mut d = Decoder::new(KernelFilter::default(), cgroups::Cgroups::new());
        d.wall_offset = 5;
        let me = std::process::id();
        let set_pid = |mut b: Vec<u8>| {
            b[16..20].copy_from_slice(&me.to_le_bytes());
            b[20..24].copy_from_slice(&me.to_le_bytes());
            b
        };
        // execve: strings at entry, return value at exit.
        let entry = set_pid(build(
            3,
            59,
            &sys_body(0, [0; 6]),
            &[(0, 1, b"/bin/echo\0"), (1, 2, b"echo\0hi\0")],
        ));
        assert_eq!(d.handle(record::parse(&entry).unwrap()), None);
        let exit = set_pid(build(1, 59, &sys_body(0, [0; 6]), &[]));
        let ev = d.handle(record::parse(&exit).unwrap()).unwrap();
        assert_eq!(ev.ts, 1_005);
        assert_eq!(ev.arg("pathname"), Some(&ArgValue::Str("/bin/echo".into())));
        assert_eq!(
            ev.arg("argv"),
            Some(&ArgValue::StrList(vec!["echo".into(), "hi".into()]))
        );
        // openat of a relative path resolves against this process's cwd.
        let open = set_pid(build(
            2,
            257,
            &sys_body(3, [(-100i64) as u64, 0, 0, 0, 0, 0]),
            &[(1, 1, b"some/file\0")],
        ));
        let ev = d.handle(record::parse(&open).unwrap()).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            ev.arg("pathname").and_then(ArgValue::as_str),
            Some(format!("{}/some/file", cwd.display()).as_str())
        );
        assert_eq!(ev.ret, 3);
        assert_eq!(d.delivered, 2);
    }
}
