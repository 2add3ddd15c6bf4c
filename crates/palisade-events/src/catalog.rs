//! The event catalog: every event Palisade can capture, its sets and its arguments.
//!
//! System calls keep their x86_64 numbers as ids (`EventId(257)` is `openat`); the scheduler's
//! process events live above [`EventId::FIRST_PROCESS_EVENT`]. Every system call is capturable
//! (raw `sys_enter`/`sys_exit`), but only the calls listed in [`DECODED`] carry decoded arguments;
//! the others report their return value and context only.

use crate::tables::SYSCALLS;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identity of an event kind: a syscall number, or a process event above
/// [`EventId::FIRST_PROCESS_EVENT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub u16);

impl EventId {
    /// Number of syscall slots (x86_64 syscall numbers are below this).
    pub const SYSCALL_SLOTS: u16 = 512;
    /// First id of the non-syscall events.
    pub const FIRST_PROCESS_EVENT: u16 = 1000;
    /// `sched_process_fork`: a new process or thread (scheduler tracepoint).
    pub const SCHED_PROCESS_FORK: EventId = EventId(1000);
    /// `sched_process_exec`: a successful exec, with the new program's context.
    pub const SCHED_PROCESS_EXEC: EventId = EventId(1001);
    /// `sched_process_exit`: a thread exited (`process_group_exit` tells whether the process did).
    pub const SCHED_PROCESS_EXIT: EventId = EventId(1002);

    /// Whether this id is a system call.
    pub fn is_syscall(self) -> bool {
        self.0 < Self::SYSCALL_SLOTS
    }

    /// The catalog entry, if this id is known.
    pub fn def(self) -> Option<&'static EventDef> {
        catalog().iter().find(|d| d.id == self)
    }

    /// Event name (`openat`, `sched_process_exec`), or `syscall_<n>` for an unknown number.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self.def() {
            Some(d) => d.name.into(),
            None => format!("syscall_{}", self.0).into(),
        }
    }

    /// Look an event up by name.
    pub fn from_name(name: &str) -> Option<EventId> {
        catalog().iter().find(|d| d.name == name).map(|d| d.id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Event sets, as Tracee groups its events (`set=fs`, `--events tag=net`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSet {
    /// Every system call.
    Syscalls,
    /// What `palisade trace` captures when no event or set is given.
    Default,
    /// File-system calls: open, stat, link, rename, chmod, chown, mkdir...
    Fs,
    /// File reads and writes (`read`, `write`, `pread64`...): high rate.
    FsReadWrite,
    /// Sockets and network calls.
    Net,
    /// Process life cycle and attributes.
    Proc,
    /// Process creation and termination only (fork, exec, exit, clone).
    ProcLife,
    /// Inter-process communication (pipes, SysV IPC, message queues, eventfd...).
    Ipc,
    /// Signals.
    Signals,
    /// Credentials and capabilities (`setuid`, `capset`...).
    Privileges,
    /// Namespaces, mounts and cgroups: what container escapes use.
    Containers,
    /// System-wide operations: modules, bpf, reboot, clock, kexec.
    System,
    /// Memory mapping and protection.
    Memory,
}

impl EventSet {
    /// Every set, in documentation order.
    pub const ALL: [EventSet; 13] = [
        EventSet::Syscalls,
        EventSet::Default,
        EventSet::Fs,
        EventSet::FsReadWrite,
        EventSet::Net,
        EventSet::Proc,
        EventSet::ProcLife,
        EventSet::Ipc,
        EventSet::Signals,
        EventSet::Privileges,
        EventSet::Containers,
        EventSet::System,
        EventSet::Memory,
    ];

    /// The set's name as used in filters.
    pub fn name(self) -> &'static str {
        match self {
            EventSet::Syscalls => "syscalls",
            EventSet::Default => "default",
            EventSet::Fs => "fs",
            EventSet::FsReadWrite => "fs_read_write",
            EventSet::Net => "net",
            EventSet::Proc => "proc",
            EventSet::ProcLife => "proc_life",
            EventSet::Ipc => "ipc",
            EventSet::Signals => "signals",
            EventSet::Privileges => "privileges",
            EventSet::Containers => "containers",
            EventSet::System => "system",
            EventSet::Memory => "memory",
        }
    }

    /// Parse a set name, accepting the aliases other tools use (`creds`, `network`, `network_events`).
    pub fn from_name(s: &str) -> Option<EventSet> {
        Some(match s {
            "creds" => EventSet::Privileges,
            "network" | "network_events" | "net_sock" => EventSet::Net,
            "process" => EventSet::Proc,
            _ => return EventSet::ALL.iter().copied().find(|e| e.name() == s),
        })
    }

    /// Bit of this set in [`EventDef::sets`].
    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// How an argument is captured and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArgKind {
    /// Signed integer.
    Int,
    /// Unsigned integer.
    UInt,
    /// A file descriptor (`AT_FDCWD` shown as such).
    Fd,
    /// A path, resolved to an absolute path against the cwd or the directory fd.
    Path,
    /// A string read from user memory.
    Str,
    /// An array of strings (`argv`).
    StrArray,
    /// A socket address (IPv4, IPv6, unix).
    SockAddr,
    /// `open(2)` flags, shown symbolically (`O_RDONLY|O_CLOEXEC`).
    OpenFlags,
    /// A file mode (octal).
    Mode,
    /// A user-space pointer (shown in hex, never dereferenced).
    Ptr,
    /// A boolean.
    Bool,
}

/// One argument of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgDef {
    /// Name, as Tracee spells it (`pathname`, `flags`, `addr`...).
    pub name: &'static str,
    /// How it is captured.
    pub kind: ArgKind,
}

/// One event kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDef {
    /// Identity.
    pub id: EventId,
    /// Name (`openat`).
    pub name: &'static str,
    /// Bit set of [`EventSet`]s ([`EventSet::bit`]).
    pub sets: u32,
    /// Decoded arguments, in order; empty for calls that are not decoded.
    pub args: &'static [ArgDef],
}

impl EventDef {
    /// Whether the event belongs to `set`.
    pub fn in_set(&self, set: EventSet) -> bool {
        self.sets & set.bit() != 0
    }

    /// The sets the event belongs to.
    pub fn set_list(&self) -> impl Iterator<Item = EventSet> + '_ {
        EventSet::ALL.into_iter().filter(|s| self.in_set(*s))
    }

    /// Position of an argument by name.
    pub fn arg_index(&self, name: &str) -> Option<usize> {
        self.args.iter().position(|a| a.name == name)
    }
}

macro_rules! args {
    ($($name:literal : $kind:ident),* $(,)?) => {
        &[$(ArgDef { name: $name, kind: ArgKind::$kind }),*]
    };
}

/// System calls whose arguments the sensor decodes, with their argument lists.
pub const DECODED: &[(&str, &[ArgDef])] = &[
    ("execve", args!["pathname": Path, "argv": StrArray]),
    (
        "execveat",
        args!["dirfd": Fd, "pathname": Path, "argv": StrArray, "flags": Int],
    ),
    (
        "open",
        args!["pathname": Path, "flags": OpenFlags, "mode": Mode],
    ),
    (
        "openat",
        args!["dirfd": Fd, "pathname": Path, "flags": OpenFlags, "mode": Mode],
    ),
    (
        "openat2",
        args!["dirfd": Fd, "pathname": Path, "flags": OpenFlags, "mode": Mode, "resolve": UInt],
    ),
    ("creat", args!["pathname": Path, "mode": Mode]),
    ("close", args!["fd": Fd]),
    ("read", args!["fd": Fd, "count": UInt]),
    ("write", args!["fd": Fd, "count": UInt]),
    ("connect", args!["sockfd": Fd, "addr": SockAddr]),
    ("accept", args!["sockfd": Fd, "addr": SockAddr]),
    (
        "accept4",
        args!["sockfd": Fd, "addr": SockAddr, "flags": Int],
    ),
    ("bind", args!["sockfd": Fd, "addr": SockAddr]),
    ("listen", args!["sockfd": Fd, "backlog": Int]),
    ("socket", args!["domain": Int, "type": Int, "protocol": Int]),
    (
        "sendto",
        args!["sockfd": Fd, "len": UInt, "flags": Int, "dest_addr": SockAddr],
    ),
    (
        "recvfrom",
        args!["sockfd": Fd, "len": UInt, "flags": Int, "src_addr": SockAddr],
    ),
    ("sendmsg", args!["sockfd": Fd, "flags": Int]),
    ("recvmsg", args!["sockfd": Fd, "flags": Int]),
    ("unlink", args!["pathname": Path]),
    (
        "unlinkat",
        args!["dirfd": Fd, "pathname": Path, "flags": Int],
    ),
    ("rmdir", args!["pathname": Path]),
    ("rename", args!["oldpath": Path, "newpath": Path]),
    (
        "renameat",
        args!["olddirfd": Fd, "oldpath": Path, "newdirfd": Fd, "newpath": Path],
    ),
    (
        "renameat2",
        args!["olddirfd": Fd, "oldpath": Path, "newdirfd": Fd, "newpath": Path, "flags": UInt],
    ),
    ("link", args!["oldpath": Path, "newpath": Path]),
    (
        "linkat",
        args!["olddirfd": Fd, "oldpath": Path, "newdirfd": Fd, "newpath": Path, "flags": Int],
    ),
    ("symlink", args!["target": Str, "linkpath": Path]),
    (
        "symlinkat",
        args!["target": Str, "newdirfd": Fd, "linkpath": Path],
    ),
    ("mkdir", args!["pathname": Path, "mode": Mode]),
    (
        "mkdirat",
        args!["dirfd": Fd, "pathname": Path, "mode": Mode],
    ),
    ("chmod", args!["pathname": Path, "mode": Mode]),
    ("fchmod", args!["fd": Fd, "mode": Mode]),
    (
        "fchmodat",
        args!["dirfd": Fd, "pathname": Path, "mode": Mode],
    ),
    (
        "chown",
        args!["pathname": Path, "owner": UInt, "group": UInt],
    ),
    (
        "lchown",
        args!["pathname": Path, "owner": UInt, "group": UInt],
    ),
    ("fchown", args!["fd": Fd, "owner": UInt, "group": UInt]),
    (
        "fchownat",
        args!["dirfd": Fd, "pathname": Path, "owner": UInt, "group": UInt, "flags": Int],
    ),
    ("chdir", args!["path": Path]),
    ("fchdir", args!["fd": Fd]),
    ("chroot", args!["path": Path]),
    ("setuid", args!["uid": UInt]),
    ("setgid", args!["gid": UInt]),
    ("setreuid", args!["ruid": UInt, "euid": UInt]),
    ("setregid", args!["rgid": UInt, "egid": UInt]),
    ("setresuid", args!["ruid": UInt, "euid": UInt, "suid": UInt]),
    ("setresgid", args!["rgid": UInt, "egid": UInt, "sgid": UInt]),
    ("setsid", args![]),
    ("setpgid", args!["pid": Int, "pgid": Int]),
    ("capset", args!["hdrp": Ptr, "datap": Ptr]),
    (
        "ptrace",
        args!["request": Int, "pid": Int, "addr": Ptr, "data": Ptr],
    ),
    (
        "mount",
        args!["source": Str, "target": Path, "filesystemtype": Str, "mountflags": UInt],
    ),
    ("umount2", args!["target": Path, "flags": Int]),
    ("unshare", args!["flags": UInt]),
    ("setns", args!["fd": Fd, "nstype": Int]),
    (
        "init_module",
        args!["module_image": Ptr, "len": UInt, "param_values": Str],
    ),
    (
        "finit_module",
        args!["fd": Fd, "param_values": Str, "flags": Int],
    ),
    ("delete_module", args!["name": Str, "flags": Int]),
    ("bpf", args!["cmd": Int, "attr": Ptr, "size": UInt]),
    ("memfd_create", args!["name": Str, "flags": UInt]),
    ("kill", args!["pid": Int, "sig": Int]),
    ("tkill", args!["tid": Int, "sig": Int]),
    ("tgkill", args!["tgid": Int, "tid": Int, "sig": Int]),
    ("clone", args!["flags": UInt]),
    ("clone3", args!["flags": UInt, "size": UInt]),
    ("dup", args!["oldfd": Fd]),
    ("dup2", args!["oldfd": Fd, "newfd": Fd]),
    ("dup3", args!["oldfd": Fd, "newfd": Fd, "flags": Int]),
    (
        "prctl",
        args!["option": Int, "arg2": UInt, "arg3": UInt, "arg4": UInt, "arg5": UInt],
    ),
    ("userfaultfd", args!["flags": Int]),
    ("pipe2", args!["flags": Int]),
];

/// Arguments of the process events.
const PROCESS_EVENTS: &[(EventId, &str, &[ArgDef])] = &[
    (
        EventId::SCHED_PROCESS_FORK,
        "sched_process_fork",
        args![
            "parent_tid": UInt, "parent_ns_tid": UInt, "parent_pid": UInt, "parent_ns_pid": UInt,
            "child_tid": UInt, "child_ns_tid": UInt, "child_pid": UInt, "child_ns_pid": UInt,
            "start_time": UInt
        ],
    ),
    (
        EventId::SCHED_PROCESS_EXEC,
        "sched_process_exec",
        args![
            "pathname": Path, "argv": StrArray, "cwd": Path, "tty": Str, "sid": UInt,
            "loginuid": UInt, "start_time": UInt
        ],
    ),
    (
        EventId::SCHED_PROCESS_EXIT,
        "sched_process_exit",
        args!["exit_code": Int, "process_group_exit": Bool],
    ),
];

/// Sets of a system call, by name.
fn syscall_sets(name: &str) -> u32 {
    use EventSet::*;
    let mut s = Syscalls.bit();
    let has = |list: &[&str]| list.contains(&name);
    if has(&[
        "open",
        "openat",
        "openat2",
        "creat",
        "close",
        "close_range",
        "stat",
        "fstat",
        "lstat",
        "newfstatat",
        "statx",
        "access",
        "faccessat",
        "faccessat2",
        "unlink",
        "unlinkat",
        "rmdir",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "readlink",
        "readlinkat",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "chmod",
        "fchmod",
        "fchmodat",
        "fchmodat2",
        "chown",
        "lchown",
        "fchown",
        "fchownat",
        "truncate",
        "ftruncate",
        "getdents",
        "getdents64",
        "chdir",
        "fchdir",
        "getcwd",
        "dup",
        "dup2",
        "dup3",
        "fcntl",
        "flock",
        "fsync",
        "fdatasync",
        "sync",
        "syncfs",
        "utime",
        "utimes",
        "utimensat",
        "futimesat",
        "setxattr",
        "lsetxattr",
        "fsetxattr",
        "getxattr",
        "removexattr",
        "lseek",
        "ioctl",
        "name_to_handle_at",
        "open_by_handle_at",
        "memfd_create",
        "statfs",
        "fstatfs",
        "sendfile",
        "copy_file_range",
        "splice",
        "fallocate",
        "inotify_add_watch",
        "fanotify_mark",
    ]) {
        s |= Fs.bit();
    }
    if has(&[
        "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2",
        "pwritev2",
    ]) {
        s |= FsReadWrite.bit();
    }
    if has(&[
        "socket",
        "socketpair",
        "connect",
        "accept",
        "accept4",
        "bind",
        "listen",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "sendmmsg",
        "recvmmsg",
        "shutdown",
        "getsockname",
        "getpeername",
        "setsockopt",
        "getsockopt",
    ]) {
        s |= Net.bit();
    }
    if has(&[
        "execve",
        "execveat",
        "fork",
        "vfork",
        "clone",
        "clone3",
        "exit",
        "exit_group",
        "wait4",
        "waitid",
    ]) {
        s |= Proc.bit() | ProcLife.bit();
    }
    if has(&[
        "ptrace",
        "prctl",
        "arch_prctl",
        "setsid",
        "setpgid",
        "getpid",
        "getppid",
        "gettid",
        "sched_setaffinity",
        "sched_setscheduler",
        "setpriority",
        "process_vm_readv",
        "process_vm_writev",
        "pidfd_open",
        "pidfd_getfd",
        "seccomp",
        "personality",
        "set_tid_address",
        "prlimit64",
        "setrlimit",
    ]) {
        s |= Proc.bit();
    }
    if has(&[
        "pipe",
        "pipe2",
        "shmget",
        "shmat",
        "shmdt",
        "shmctl",
        "semget",
        "semop",
        "semctl",
        "msgget",
        "msgsnd",
        "msgrcv",
        "msgctl",
        "mq_open",
        "mq_unlink",
        "mq_timedsend",
        "mq_timedreceive",
        "eventfd",
        "eventfd2",
        "futex",
    ]) {
        s |= Ipc.bit();
    }
    if has(&[
        "kill",
        "tkill",
        "tgkill",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigqueueinfo",
        "rt_tgsigqueueinfo",
        "sigaltstack",
        "signalfd",
        "signalfd4",
        "pidfd_send_signal",
        "pause",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "rt_sigpending",
    ]) {
        s |= Signals.bit();
    }
    if has(&[
        "setuid",
        "setgid",
        "setreuid",
        "setregid",
        "setresuid",
        "setresgid",
        "setfsuid",
        "setfsgid",
        "setgroups",
        "capset",
        "capget",
    ]) {
        s |= Privileges.bit();
    }
    if has(&[
        "mount",
        "umount2",
        "unshare",
        "setns",
        "pivot_root",
        "chroot",
        "move_mount",
        "fsopen",
        "fsmount",
        "fsconfig",
        "open_tree",
        "mount_setattr",
    ]) {
        s |= Containers.bit();
    }
    if has(&[
        "init_module",
        "finit_module",
        "delete_module",
        "bpf",
        "reboot",
        "kexec_load",
        "kexec_file_load",
        "settimeofday",
        "clock_settime",
        "adjtimex",
        "clock_adjtime",
        "swapon",
        "swapoff",
        "sethostname",
        "setdomainname",
        "iopl",
        "ioperm",
        "perf_event_open",
        "userfaultfd",
        "syslog",
        "acct",
        "quotactl",
        "keyctl",
        "add_key",
        "request_key",
    ]) {
        s |= System.bit();
    }
    if has(&[
        "mmap",
        "munmap",
        "mprotect",
        "mremap",
        "madvise",
        "brk",
        "mlock",
        "munlock",
        "mlockall",
        "munlockall",
        "pkey_mprotect",
        "memfd_secret",
        "process_madvise",
    ]) {
        s |= Memory.bit();
    }
    // The default set: the security-relevant calls that are not high-rate.
    let decoded = DECODED.iter().any(|(n, _)| *n == name);
    let high_rate = has(&[
        "read", "write", "close", "sendto", "recvfrom", "sendmsg", "recvmsg", "dup",
    ]);
    if decoded && !high_rate {
        s |= Default.bit();
    }
    s
}

fn build() -> Vec<EventDef> {
    let mut v: Vec<EventDef> = SYSCALLS
        .iter()
        .map(|&(nr, name)| EventDef {
            id: EventId(nr),
            name,
            sets: syscall_sets(name),
            args: DECODED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, a)| *a)
                .unwrap_or(&[]),
        })
        .collect();
    for &(id, name, args) in PROCESS_EVENTS {
        v.push(EventDef {
            id,
            name,
            sets: EventSet::Proc.bit() | EventSet::ProcLife.bit() | EventSet::Default.bit(),
            args,
        });
    }
    v
}

/// Every known event, syscalls first (by number), then the process events.
pub fn catalog() -> &'static [EventDef] {
    static CATALOG: std::sync::OnceLock<Vec<EventDef>> = std::sync::OnceLock::new();
    CATALOG.get_or_init(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        assert_eq!(EventId::from_name("openat"), Some(EventId(257)));
        assert_eq!(EventId::from_name("execve"), Some(EventId(59)));
        assert_eq!(EventId(257).name(), "openat");
        assert_eq!(EventId::SCHED_PROCESS_EXEC.name(), "sched_process_exec");
        assert_eq!(EventId(499).name(), "syscall_499");
    }

    #[test]
    fn every_decoded_call_exists_and_is_unique() {
        for (i, (name, _)) in DECODED.iter().enumerate() {
            assert!(
                EventId::from_name(name).is_some(),
                "{name} is not an x86_64 syscall"
            );
            assert!(!DECODED[..i].iter().any(|(n, _)| n == name), "{name} twice");
        }
    }

    #[test]
    fn sets() {
        let openat = EventId(257).def().unwrap();
        assert!(openat.in_set(EventSet::Fs) && openat.in_set(EventSet::Default));
        assert!(!openat.in_set(EventSet::Net));
        assert_eq!(openat.arg_index("pathname"), Some(1));
        let read = EventId::from_name("read").unwrap().def().unwrap();
        assert!(read.in_set(EventSet::FsReadWrite) && !read.in_set(EventSet::Default));
        assert_eq!(EventSet::from_name("creds"), Some(EventSet::Privileges));
        assert_eq!(EventSet::from_name("fs"), Some(EventSet::Fs));
        assert_eq!(EventSet::from_name("nope"), None);
    }
}
