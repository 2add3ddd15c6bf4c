//! What the evaluator needs to know per event kind: Falco's name, which fd the event is about,
//! and how its arguments are named and rendered the way Falco renders them.

use crate::compile::{EVT_SLOTS, evt_slot};
use palisade_events::catalog::catalog;
use palisade_events::{ArgDef, ArgKind, ArgValue, Event, EventId, SockAddr};
use std::fmt::Write;

/// Where the event's fd (`fd.*` fields) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdSource {
    /// No fd.
    None,
    /// The return value, and the call opens a file by path (described by the arguments when
    /// the call failed or the state lacks it).
    OpenRet,
    /// The return value (socket, accept, memfd_create...).
    Ret,
    /// The argument at this index.
    Arg(usize),
}

/// Per-kind facts.
#[derive(Clone, Debug)]
pub struct EvInfo {
    /// Falco's name for the event type.
    pub name: &'static str,
    /// The fd the event is about.
    pub fd: FdSource,
    /// Argument definitions.
    pub args: &'static [ArgDef],
    /// Whether it is a system call.
    pub syscall: bool,
}

/// Falco's name of an event of ours (`sched_process_exit` is `procexit`).
fn falco_name(name: &'static str) -> &'static str {
    match name {
        "sched_process_exit" => "procexit",
        n => n,
    }
}

fn fd_source(name: &str, args: &[ArgDef]) -> FdSource {
    match name {
        "open" | "openat" | "openat2" | "creat" => FdSource::OpenRet,
        "socket" | "accept" | "accept4" | "memfd_create" | "eventfd" | "eventfd2" | "signalfd"
        | "signalfd4" | "timerfd_create" | "inotify_init" | "inotify_init1" | "epoll_create"
        | "epoll_create1" | "userfaultfd" | "pidfd_open" | "fanotify_init" => FdSource::Ret,
        // dup: Falco's fd fields describe the duplicated (old) fd.
        _ => match args.iter().position(|a| a.kind == ArgKind::Fd) {
            // `*at` calls: the directory fd is not what the event is about.
            Some(i) if args[i].name == "dirfd" || args[i].name.ends_with("dirfd") => FdSource::None,
            Some(i) => FdSource::Arg(i),
            None => FdSource::None,
        },
    }
}

/// The table, by slot.
pub fn table() -> &'static [EvInfo] {
    static T: std::sync::OnceLock<Vec<EvInfo>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<EvInfo> = (0..EVT_SLOTS)
            .map(|_| EvInfo {
                name: "unknown",
                fd: FdSource::None,
                args: &[],
                syscall: false,
            })
            .collect();
        for d in catalog() {
            let slot = evt_slot(d.id);
            v[slot] = EvInfo {
                name: falco_name(d.name),
                fd: fd_source(d.name, d.args),
                args: d.args,
                syscall: d.id.is_syscall(),
            };
        }
        v
    })
}

/// Facts of one event.
#[inline]
pub fn info(id: EventId) -> &'static EvInfo {
    &table()[evt_slot(id)]
}

/// The slots an event type name (Falco's or ours) designates; empty when unknown.
pub fn slots_for_name(name: &str) -> Vec<usize> {
    let ours = match name {
        "procexit" => "sched_process_exit",
        n => n,
    };
    catalog()
        .iter()
        .filter(|d| d.name == ours || d.name == name)
        .map(|d| evt_slot(d.id))
        .collect()
}

/// Falco's argument names that differ from ours, mapped to the position of our argument.
fn alias(ev: &Event, info: &EvInfo, name: &str) -> Option<usize> {
    let by = |n: &str| info.args.iter().position(|a| a.name == n);
    let first_kind = |k: ArgKind| info.args.iter().position(|a| a.kind == k);
    match name {
        "name" | "path" | "filename" | "exe" | "pathname" => by("pathname")
            .or_else(|| by("path"))
            .or_else(|| by("name"))
            .or_else(|| first_kind(ArgKind::Path)),
        "fd" => match info.fd {
            FdSource::Arg(i) => Some(i),
            _ => by("fd").or_else(|| by("sockfd")).or_else(|| by("oldfd")),
        },
        "proto" => by("protocol"),
        "size" => by("len").or_else(|| by("count")),
        "dev" => by("source"),
        "dir" => by("target"),
        "type" if ev.id == EventId::from_name("mount").unwrap_or(EventId(u16::MAX)) => {
            by("filesystemtype")
        }
        "uargs" => by("param_values"),
        "tuple" => by("addr").or_else(|| by("dest_addr")),
        "sig" => by("sig"),
        _ => None,
    }
}

/// A resolved argument: where its value is.
pub enum ArgRef<'e> {
    /// The return value.
    Ret,
    /// An argument.
    Arg(&'static ArgDef, &'e ArgValue),
}

/// Finds argument `name` of an event (ours, or Falco's spelling).
pub fn arg_by_name<'e>(ev: &'e Event, name: &str) -> Option<ArgRef<'e>> {
    let info = info(ev.id);
    if name == "res" || (name == "fd" && matches!(info.fd, FdSource::Ret | FdSource::OpenRet)) {
        return Some(ArgRef::Ret);
    }
    let i = info
        .args
        .iter()
        .position(|a| a.name == name)
        .or_else(|| alias(ev, info, name))?;
    Some(ArgRef::Arg(&info.args[i], ev.args.get(i)?))
}

/// Argument `i` (Falco counts the return value as argument 0 of an exit event: we do the same).
pub fn arg_by_index(ev: &Event, i: usize) -> Option<ArgRef<'_>> {
    if i == 0 {
        return Some(ArgRef::Ret);
    }
    let info = info(ev.id);
    Some(ArgRef::Arg(info.args.get(i - 1)?, ev.args.get(i - 1)?))
}

const OPEN_FLAGS: &[(i64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
];

/// Renders open(2) flags the way Falco does in `evt.arg.flags` (`O_WRONLY|O_CREAT|O_TRUNC`).
pub fn open_flags(f: i64) -> String {
    let mut s = String::from(match f & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    });
    let mut rest = f;
    // O_SYNC includes O_DSYNC; O_TMPFILE includes O_DIRECTORY.
    if f & 0o4010000 == 0o4010000 {
        s.push_str("|O_SYNC");
        rest &= !0o4010000;
    }
    if f & 0o20200000 == 0o20200000 {
        s.push_str("|O_TMPFILE");
        rest &= !0o20200000;
    }
    for &(bit, n) in OPEN_FLAGS {
        if rest & bit != 0 {
            s.push('|');
            s.push_str(n);
        }
    }
    s
}

const AF: &[(i64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (29, "AF_CAN"),
    (31, "AF_BLUETOOTH"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (44, "AF_XDP"),
];

const SOCK_TYPES: &[(i64, &str)] = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

const PTRACE: &[(i64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (24, "PTRACE_SYSCALL"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
];

const CLONE_FLAGS: &[(i64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

const BPF_CMDS: &[&str] = &[
    "BPF_MAP_CREATE",
    "BPF_MAP_LOOKUP_ELEM",
    "BPF_MAP_UPDATE_ELEM",
    "BPF_MAP_DELETE_ELEM",
    "BPF_MAP_GET_NEXT_KEY",
    "BPF_PROG_LOAD",
    "BPF_OBJ_PIN",
    "BPF_OBJ_GET",
    "BPF_PROG_ATTACH",
    "BPF_PROG_DETACH",
    "BPF_PROG_TEST_RUN",
    "BPF_PROG_GET_NEXT_ID",
    "BPF_MAP_GET_NEXT_ID",
    "BPF_PROG_GET_FD_BY_ID",
    "BPF_MAP_GET_FD_BY_ID",
    "BPF_OBJ_GET_INFO_BY_FD",
    "BPF_PROG_QUERY",
    "BPF_RAW_TRACEPOINT_OPEN",
    "BPF_BTF_LOAD",
];

const MEMFD: &[(i64, &str)] = &[
    (1, "MFD_CLOEXEC"),
    (2, "MFD_ALLOW_SEALING"),
    (4, "MFD_HUGETLB"),
    (8, "MFD_NOEXEC_SEAL"),
    (16, "MFD_EXEC"),
];

fn lookup(table: &[(i64, &'static str)], v: i64) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == v).map(|(_, s)| *s)
}

fn bits(table: &[(i64, &str)], v: i64) -> String {
    let mut s = String::new();
    for &(b, n) in table {
        if v & b != 0 {
            if !s.is_empty() {
                s.push('|');
            }
            s.push_str(n);
        }
    }
    if s.is_empty() {
        s.push('0');
    }
    s
}

/// How an argument renders in `evt.arg.*` / `evt.args` (Falco's "resolved" form): flags and
/// enumerations symbolically, modes in octal, socket addresses as `ip:port`, uids as names
/// (via `user`).
pub fn render(
    ev: &Event,
    def: &ArgDef,
    v: &ArgValue,
    user: &dyn Fn(u32) -> Option<String>,
) -> Option<String> {
    let evname = info(ev.id).name;
    let num = v.as_i64();
    Some(match (def.kind, v) {
        (_, ArgValue::None) => return None,
        (ArgKind::OpenFlags, _) => open_flags(num?),
        (ArgKind::Mode, _) => format!("0{:o}", num?),
        (_, ArgValue::Str(s)) => s.clone(),
        (_, ArgValue::StrList(l)) => l.join(" "),
        (_, ArgValue::Sock(a)) => sock_str(a),
        (_, ArgValue::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        (ArgKind::Ptr, _) => format!("{:#x}", num? as u64),
        _ => {
            let n = num?;
            match (evname, def.name) {
                ("socket", "domain") => lookup(AF, n).map_or_else(|| n.to_string(), str::to_string),
                ("socket", "type") => {
                    let mut s = lookup(SOCK_TYPES, n & 0xf)
                        .map_or_else(|| (n & 0xf).to_string(), str::to_string);
                    if n & 0o2000000 != 0 {
                        s.push_str("|SOCK_CLOEXEC");
                    }
                    if n & 0o4000 != 0 {
                        s.push_str("|SOCK_NONBLOCK");
                    }
                    s
                }
                ("ptrace", "request") => {
                    lookup(PTRACE, n).map_or_else(|| n.to_string(), str::to_string)
                }
                ("unshare", "flags")
                | ("clone", "flags")
                | ("clone3", "flags")
                | ("setns", "nstype") => bits(CLONE_FLAGS, n),
                ("bpf", "cmd") => BPF_CMDS
                    .get(n as usize)
                    .map_or_else(|| n.to_string(), |s| s.to_string()),
                ("memfd_create", "flags") => bits(MEMFD, n),
                (_, "uid" | "ruid" | "euid" | "suid" | "owner") => {
                    user(n as u32).unwrap_or_else(|| "<NA>".to_string())
                }
                _ => n.to_string(),
            }
        }
    })
}

/// `ip:port` (IPv6 without brackets, as Falco prints tuples), or the unix path.
pub fn sock_str(a: &SockAddr) -> String {
    match a {
        SockAddr::Inet { addr, port } => format!("{addr}:{port}"),
        SockAddr::Inet6 { addr, port, .. } => format!("{addr}:{port}"),
        SockAddr::Unix { path } => path.clone(),
        SockAddr::Other { family } => {
            lookup(AF, *family as i64).map_or_else(|| format!("family:{family}"), str::to_string)
        }
    }
}

/// `evt.args`: `name=value` pairs, return value first (`res=`), as Falco prints them.
pub fn render_all(ev: &Event, user: &dyn Fn(u32) -> Option<String>) -> String {
    let info = info(ev.id);
    let mut s = String::new();
    if info.syscall {
        let _ = write!(s, "res={}", ev.ret);
        if let Some(e) = ev.errno() {
            let _ = write!(s, "({e})");
        }
    }
    for (def, v) in info.args.iter().zip(&ev.args) {
        if !s.is_empty() {
            s.push(' ');
        }
        let r = render(ev, def, v, user).unwrap_or_else(|| "<NA>".into());
        let _ = write!(s, "{}={r}", def.name);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_render_like_falco() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(0o2000002), "O_RDWR|O_CLOEXEC");
        assert_eq!(open_flags(0o4010001), "O_WRONLY|O_SYNC");
        assert_eq!(
            bits(CLONE_FLAGS, 0x20000 | 0x40000000),
            "CLONE_NEWNS|CLONE_NEWNET"
        );
    }

    #[test]
    fn names_and_fd_sources() {
        let openat = EventId::from_name("openat").unwrap();
        assert_eq!(info(openat).name, "openat");
        assert_eq!(info(openat).fd, FdSource::OpenRet);
        assert_eq!(info(EventId::SCHED_PROCESS_EXIT).name, "procexit");
        assert_eq!(
            slots_for_name("procexit"),
            vec![evt_slot(EventId::SCHED_PROCESS_EXIT)]
        );
        let connect = EventId::from_name("connect").unwrap();
        assert_eq!(info(connect).fd, FdSource::Arg(0));
        let dup2 = EventId::from_name("dup2").unwrap();
        assert_eq!(info(dup2).fd, FdSource::Arg(0));
        let mkdirat = EventId::from_name("mkdirat").unwrap();
        assert_eq!(info(mkdirat).fd, FdSource::None);
        assert!(slots_for_name("no_such_call").is_empty());
    }
}
