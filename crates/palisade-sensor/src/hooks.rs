//! Which hook types the kernel allows (a start-up probe) and which one the system-call programs
//! use (the plan).
//!
//! Every program on the `raw_syscalls` tracepoints runs for every system call of the machine,
//! selected or not (the per-syscall floor). fentry/fexit programs on a call's kernel function
//! (`__x64_sys_openat`) run only for that call, so when the kernel allows them and few calls are
//! selected the sensor hooks only those. Kernels refuse fentry (and BPF LSM) programs in some
//! configurations (this development machine answers EPERM), hence the probe.

use crate::{SensorError, chain, err};
use aya::programs::{FEntry, Lsm};
use aya::{Btf, EbpfLoader};
use palisade_events::EventId;
use std::collections::BTreeSet;

static PROBE_OBJ: &[u8] = aya::include_bytes_aligned!("../bpf/probe.bpf.o");

/// Most system calls hooked one by one with fentry/fexit; a larger selection uses the
/// `raw_syscalls` tracepoints (two programs, whatever the selection).
pub const FENTRY_MAX_SYSCALLS: usize = 64;

/// Most calls whose entries are hooked one by one (`syscalls/sys_enter_<call>`, with BTF
/// tracepoints at exit); when more calls need their entry, one program on `sys_enter` runs for
/// every call instead. Each per-call entry is a perf event of its own; the kernel's probe behind
/// them costs every other call one bit test.
pub const ENTRY_CALLS_MAX: usize = 64;

/// Calls whose entry makes the sensor send the task's context again (see `D_CTX_RESET` in the C
/// source): hooked by the fentry plan even when not selected.
const CTX_RESET_CALLS: [&str; 3] = ["setns", "unshare", "sethostname"];

/// Calls that can move a directory the programs keep in a thread's base slots (see
/// `D_MOVES_PATHS` in the C source): hooked by the fentry plan even when not selected, where the
/// kernel has them, so that their success drops every thread's slots.
const PATH_MOVE_CALLS: [&str; 7] = [
    "rename",
    "renameat",
    "renameat2",
    "mount",
    "umount2",
    "move_mount",
    "pivot_root",
];

/// The hook type for the system-call programs, as asked for (`PALISADE_SENSOR_HOOK`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HookChoice {
    /// fentry/fexit when the kernel allows them and at most [`FENTRY_MAX_SYSCALLS`] calls are
    /// selected; otherwise BTF tracepoints; classic tracepoints when those are refused.
    #[default]
    Auto,
    /// BTF tracepoints only (an error when the kernel refuses them). Entries are hooked per
    /// call where that is possible (see [`ENTRY_CALLS_MAX`]).
    TpBtf,
    /// BTF tracepoints with one program on `sys_enter` for every call, as when too many calls
    /// need their entry (the comparison for the per-call entries).
    TpBtfRawEntry,
    /// Classic tracepoints (`raw_syscalls`) for the system calls and the process exit event
    /// (fork and exec have no classic form here and stay on BTF tracepoints).
    Tracepoint,
    /// fentry/fexit on each selected call's kernel function (an error when refused).
    Fentry,
}

impl HookChoice {
    /// Parses `auto`, `tp_btf`, `tp_btf_raw`, `tracepoint` or `fentry`.
    pub fn parse(s: &str) -> Result<HookChoice, SensorError> {
        Ok(match s {
            "" | "auto" => HookChoice::Auto,
            "tp_btf" => HookChoice::TpBtf,
            "tp_btf_raw" => HookChoice::TpBtfRawEntry,
            "tracepoint" => HookChoice::Tracepoint,
            "fentry" => HookChoice::Fentry,
            _ => {
                return Err(SensorError::Other(format!(
                    "PALISADE_SENSOR_HOOK={s}: expected auto, tp_btf, tp_btf_raw, tracepoint or fentry"
                )));
            }
        })
    }

    /// From the `PALISADE_SENSOR_HOOK` environment variable (unset: [`HookChoice::Auto`]).
    pub fn from_env() -> Result<HookChoice, SensorError> {
        match std::env::var("PALISADE_SENSOR_HOOK") {
            Ok(v) => HookChoice::parse(v.trim()),
            Err(_) => Ok(HookChoice::Auto),
        }
    }
}

/// What the kernel answered when a trivial program of one hook type was loaded and attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Loaded and attached.
    Allowed,
    /// Refused; `errno` when the kernel gave one (EPERM on kernels that forbid the type).
    Refused {
        /// The error number of the failed load or attach.
        errno: Option<i32>,
        /// The loader's message.
        detail: String,
    },
}

impl ProbeOutcome {
    /// Whether the hook type may be used.
    pub fn allowed(&self) -> bool {
        matches!(self, ProbeOutcome::Allowed)
    }
}

impl std::fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeOutcome::Allowed => f.write_str("allowed"),
            ProbeOutcome::Refused { errno: Some(e), .. } => {
                write!(f, "refused ({})", errno_name(*e))
            }
            ProbeOutcome::Refused {
                errno: None,
                detail,
            } => write!(f, "refused ({detail})"),
        }
    }
}

/// The hook types probed at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookSupport {
    /// fentry/fexit programs (`BPF_PROG_TYPE_TRACING`), tried on `__x64_sys_sethostname`.
    pub fentry: ProbeOutcome,
    /// BPF LSM programs, tried on the `file_open` hook (needs `bpf` in the active LSMs).
    pub lsm: ProbeOutcome,
}

impl std::fmt::Display for HookSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fentry {}, lsm {}", self.fentry, self.lsm)
    }
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".into(),
        libc::E2BIG => "E2BIG".into(),
        libc::EBUSY => "EBUSY".into(),
        524 => "ENOTSUPP".into(),
        _ => format!("errno {e}"),
    }
}

/// The first OS error number in an error's chain.
pub(crate) fn errno_of(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && let Some(n) = io.raw_os_error()
        {
            return Some(n);
        }
        cur = c.source();
    }
    None
}

fn refused(e: &(dyn std::error::Error + 'static)) -> ProbeOutcome {
    ProbeOutcome::Refused {
        errno: errno_of(e),
        detail: chain(e),
    }
}

/// Loads and attaches one trivial fentry and one trivial LSM program, then drops them. The
/// answer does not change while the system runs, so it is computed once per process.
pub fn probe_hooks() -> Result<HookSupport, SensorError> {
    if let Some(s) = PROBED.get() {
        return Ok(s.clone());
    }
    crate::check_privileges()?;
    let btf = Btf::from_sys_fs().map_err(|e| err("reading kernel BTF", &e))?;
    probe_cached(&btf)
}

static PROBED: std::sync::OnceLock<HookSupport> = std::sync::OnceLock::new();

/// [`probe_hooks`] with the kernel BTF at hand (privileges already checked).
pub(crate) fn probe_cached(btf: &Btf) -> Result<HookSupport, SensorError> {
    if let Some(s) = PROBED.get() {
        return Ok(s.clone());
    }
    let s = probe_with(btf)?;
    Ok(PROBED.get_or_init(|| s).clone())
}

fn probe_with(btf: &Btf) -> Result<HookSupport, SensorError> {
    let mut ebpf = EbpfLoader::new()
        .btf(Some(btf))
        .load(PROBE_OBJ)
        .map_err(|e| err("loading the hook probe object", &e))?;
    let fentry = {
        let p: &mut FEntry = ebpf
            .program_mut("probe_fentry")
            .ok_or_else(|| SensorError::Other("program probe_fentry missing".into()))?
            .try_into()
            .map_err(|e| err("probe_fentry", &e))?;
        // A rarely called syscall function that has BTF (this kernel has none for
        // `__x64_sys_getppid`, a SYSCALL_DEFINE0).
        let target = FENTRY_PROBE_TARGETS.iter().find(|f| has_function(btf, f));
        match target {
            Some(f) => match p.load(f, btf).and_then(|_| p.attach()) {
                Ok(_) => ProbeOutcome::Allowed,
                Err(e) => refused(&e),
            },
            None => ProbeOutcome::Refused {
                errno: None,
                detail: format!("no BTF for any of {FENTRY_PROBE_TARGETS:?}"),
            },
        }
    };
    let lsm = {
        let p: &mut Lsm = ebpf
            .program_mut("probe_lsm")
            .ok_or_else(|| SensorError::Other("program probe_lsm missing".into()))?
            .try_into()
            .map_err(|e| err("probe_lsm", &e))?;
        match p.load("file_open", btf).and_then(|_| p.attach()) {
            Ok(_) => ProbeOutcome::Allowed,
            Err(e) => refused(&e),
        }
    };
    // Dropping `ebpf` detaches and unloads both.
    Ok(HookSupport { fentry, lsm })
}

/// Kernel functions the fentry probe may attach to, in order of preference.
const FENTRY_PROBE_TARGETS: [&str; 3] = [
    "__x64_sys_sethostname",
    "__x64_sys_getppid",
    "__x64_sys_close",
];

/// Whether the kernel has BTF for a function (so fentry/fexit programs can name it).
pub(crate) fn has_function(btf: &Btf, name: &str) -> bool {
    btf.id_by_type_name_kind(name, aya_obj::btf::BtfKind::Func)
        .is_ok()
}

/// How the system-call programs are attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// fentry/fexit programs `fe_<nr>`/`fx_<nr>` of the fentry object on these kernel
    /// functions; `forced` when asked for explicitly (no fallback on failure).
    Fentry {
        calls: Vec<(u16, String)>,
        forced: bool,
    },
    /// BTF tracepoints; `fallback` to classic tracepoints when refused; `raw_entry`: one
    /// program on `sys_enter` for every call even when per-call entries would do.
    TpBtf { fallback: bool, raw_entry: bool },
    /// Classic tracepoints.
    Tracepoint,
}

/// The kernel function of a system call (`__x64_sys_<name>`, with the table's historical
/// spellings).
pub(crate) fn kernel_function(name: &str) -> String {
    let f = match name {
        "stat" => "newstat",
        "lstat" => "newlstat",
        "fstat" => "newfstat",
        "uname" => "newuname",
        "umount2" => "umount",
        "sendfile" => "sendfile64",
        other => other,
    };
    format!("__x64_sys_{f}")
}

/// Chooses the hooks for the selected system calls. `support` is the probe's answer (`None`
/// when it was not run); `has_function` says whether a kernel function has BTF (it can be hooked).
pub(crate) fn plan(
    choice: HookChoice,
    support: Option<&HookSupport>,
    syscalls: &BTreeSet<EventId>,
    has_function: &dyn Fn(&str) -> bool,
) -> Result<Plan, String> {
    let fentry_calls = || -> Result<Vec<(u16, String)>, Vec<String>> {
        let mut ids: BTreeSet<EventId> = syscalls
            .iter()
            .copied()
            .filter(|i| i.is_syscall())
            .collect();
        ids.extend(CTX_RESET_CALLS.iter().filter_map(|n| EventId::from_name(n)));
        let mut calls = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            let f = kernel_function(&id.name());
            if has_function(&f) {
                calls.push((id.0, f));
            } else {
                missing.push(f);
            }
        }
        for id in PATH_MOVE_CALLS.iter().filter_map(|n| EventId::from_name(n)) {
            let f = kernel_function(&id.name());
            if !calls.iter().any(|(c, _)| *c == id.0) && has_function(&f) {
                calls.push((id.0, f));
            }
        }
        calls.sort_by_key(|(id, _)| *id);
        if missing.is_empty() {
            Ok(calls)
        } else {
            Err(missing)
        }
    };
    match choice {
        HookChoice::TpBtf => Ok(Plan::TpBtf {
            fallback: false,
            raw_entry: false,
        }),
        HookChoice::TpBtfRawEntry => Ok(Plan::TpBtf {
            fallback: false,
            raw_entry: true,
        }),
        HookChoice::Tracepoint => Ok(Plan::Tracepoint),
        HookChoice::Fentry => match fentry_calls() {
            Ok(calls) => Ok(Plan::Fentry {
                calls,
                forced: true,
            }),
            Err(missing) => Err(format!(
                "fentry hooks asked for, but the kernel has no BTF for {}",
                missing.join(", ")
            )),
        },
        HookChoice::Auto => {
            let allowed = support.is_some_and(|s| s.fentry.allowed());
            let n = syscalls.iter().filter(|i| i.is_syscall()).count();
            if allowed
                && n <= FENTRY_MAX_SYSCALLS
                && let Ok(calls) = fentry_calls()
            {
                return Ok(Plan::Fentry {
                    calls,
                    forced: false,
                });
            }
            Ok(Plan::TpBtf {
                fallback: true,
                raw_entry: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> BTreeSet<EventId> {
        names
            .iter()
            .map(|n| EventId::from_name(n).unwrap())
            .collect()
    }

    fn support(fentry: bool) -> HookSupport {
        let no = ProbeOutcome::Refused {
            errno: Some(libc::EPERM),
            detail: "Operation not permitted".into(),
        };
        HookSupport {
            fentry: if fentry {
                ProbeOutcome::Allowed
            } else {
                no.clone()
            },
            lsm: no,
        }
    }

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn a_small_selection_uses_fentry_when_allowed() {
        let sel = ids(&["openat", "execve", "sched_process_exec"]);
        let p = plan(HookChoice::Auto, Some(&support(true)), &sel, &any).unwrap();
        let Plan::Fentry { calls, forced } = p else {
            panic!("{p:?}")
        };
        assert!(!forced);
        let names: Vec<&str> = calls.iter().map(|(_, f)| f.as_str()).collect();
        // The selected calls plus the context-reset and path-moving calls; process events are
        // not syscalls.
        assert_eq!(
            names,
            [
                "__x64_sys_execve",
                "__x64_sys_rename",
                "__x64_sys_pivot_root",
                "__x64_sys_mount",
                "__x64_sys_umount",
                "__x64_sys_sethostname",
                "__x64_sys_openat",
                "__x64_sys_renameat",
                "__x64_sys_unshare",
                "__x64_sys_setns",
                "__x64_sys_renameat2",
                "__x64_sys_move_mount"
            ]
        );
        assert_eq!(calls[6].0, 257);
    }

    #[test]
    fn refused_fentry_means_tp_btf() {
        let sel = ids(&["openat"]);
        let p = plan(HookChoice::Auto, Some(&support(false)), &sel, &any).unwrap();
        assert_eq!(
            p,
            Plan::TpBtf {
                fallback: true,
                raw_entry: false
            }
        );
        // Not probed: no fentry either.
        let p = plan(HookChoice::Auto, None, &sel, &any).unwrap();
        assert_eq!(
            p,
            Plan::TpBtf {
                fallback: true,
                raw_entry: false
            }
        );
    }

    #[test]
    fn a_large_selection_uses_tp_btf_even_when_fentry_is_allowed() {
        let all: BTreeSet<EventId> = palisade_events::catalog::catalog()
            .iter()
            .map(|d| d.id)
            .collect();
        let p = plan(HookChoice::Auto, Some(&support(true)), &all, &any).unwrap();
        assert_eq!(
            p,
            Plan::TpBtf {
                fallback: true,
                raw_entry: false
            }
        );
        let limit: BTreeSet<EventId> = all
            .iter()
            .copied()
            .filter(|i| i.is_syscall())
            .take(FENTRY_MAX_SYSCALLS)
            .collect();
        assert!(matches!(
            plan(HookChoice::Auto, Some(&support(true)), &limit, &any).unwrap(),
            Plan::Fentry { .. }
        ));
        let over: BTreeSet<EventId> = all
            .iter()
            .copied()
            .filter(|i| i.is_syscall())
            .take(FENTRY_MAX_SYSCALLS + 1)
            .collect();
        assert_eq!(
            plan(HookChoice::Auto, Some(&support(true)), &over, &any).unwrap(),
            Plan::TpBtf {
                fallback: true,
                raw_entry: false
            }
        );
    }

    #[test]
    fn a_call_without_a_kernel_function_keeps_tracepoints() {
        let sel = ids(&["openat", "stat"]);
        let no_stat = |f: &str| f != "__x64_sys_newstat";
        let p = plan(HookChoice::Auto, Some(&support(true)), &sel, &no_stat).unwrap();
        assert_eq!(
            p,
            Plan::TpBtf {
                fallback: true,
                raw_entry: false
            }
        );
        let e = plan(HookChoice::Fentry, Some(&support(true)), &sel, &no_stat).unwrap_err();
        assert!(e.contains("__x64_sys_newstat"), "{e}");
    }

    #[test]
    fn explicit_choices_win() {
        let sel = ids(&["openat"]);
        let s = support(true);
        assert_eq!(
            plan(HookChoice::Tracepoint, Some(&s), &sel, &any).unwrap(),
            Plan::Tracepoint
        );
        assert_eq!(
            plan(HookChoice::TpBtf, Some(&s), &sel, &any).unwrap(),
            Plan::TpBtf {
                fallback: false,
                raw_entry: false
            }
        );
        assert_eq!(
            plan(HookChoice::TpBtfRawEntry, Some(&s), &sel, &any).unwrap(),
            Plan::TpBtf {
                fallback: false,
                raw_entry: true
            }
        );
        // Forced fentry ignores the probe (its own load reports the refusal).
        assert!(matches!(
            plan(HookChoice::Fentry, Some(&support(false)), &sel, &any).unwrap(),
            Plan::Fentry { forced: true, .. }
        ));
    }

    #[test]
    fn choices_parse() {
        assert_eq!(
            HookChoice::parse("tracepoint").unwrap(),
            HookChoice::Tracepoint
        );
        assert_eq!(HookChoice::parse("").unwrap(), HookChoice::Auto);
        assert_eq!(HookChoice::parse("fentry").unwrap(), HookChoice::Fentry);
        assert_eq!(
            HookChoice::parse("tp_btf_raw").unwrap(),
            HookChoice::TpBtfRawEntry
        );
        let e = HookChoice::parse("kprobe").unwrap_err().to_string();
        assert!(e.contains("PALISADE_SENSOR_HOOK=kprobe"), "{e}");
    }

    #[test]
    fn kernel_functions_follow_the_syscall_table() {
        assert_eq!(kernel_function("openat"), "__x64_sys_openat");
        assert_eq!(kernel_function("fstat"), "__x64_sys_newfstat");
        assert_eq!(kernel_function("umount2"), "__x64_sys_umount");
    }

    #[test]
    fn the_fentry_object_has_programs_for_every_catalog_syscall() {
        let obj = aya_obj::Object::parse(crate::FENTRY_OBJ).unwrap();
        for d in palisade_events::catalog::catalog() {
            if d.id.is_syscall() {
                for p in ["fe", "fx"] {
                    let name = format!("{p}_{}", d.id.0);
                    assert!(obj.programs.contains_key(&name), "{name} ({})", d.name);
                }
            }
        }
        // And the programs of the tracepoint object, so one object serves both plans.
        for p in [
            "fork_btf",
            "exec_btf",
            "exit_btf",
            "exit_tp",
            "sys_enter_btf",
            "cgroup_attach_btf",
        ] {
            assert!(obj.programs.contains_key(p), "{p}");
        }
    }

    #[test]
    fn outcomes_print_the_errno() {
        let s = support(false);
        assert_eq!(s.to_string(), "fentry refused (EPERM), lsm refused (EPERM)");
        assert_eq!(support(true).fentry.to_string(), "allowed");
    }
}
