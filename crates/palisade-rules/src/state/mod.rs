//! The state Falco's fields rely on.
//!
//! CONTRACT (skeleton written before the implementation): the field extractors of the rules
//! engine read these types; the state module keeps them current. Names stay; fields may be added.
//!
//! [`State`] holds the process table (one [`Process`] per thread group, keyed by host pid, with
//! its fd table), the users and groups of the host and of each container, and container
//! metadata. It is seeded from a /proc tree ([`State::seed_from_proc`]) and kept current by
//! events: [`State::apply`] runs before the rules see an event (fork, exec, open, socket,
//! connect, dup... take effect), [`State::finish`] after (close and exit take effect), so rules
//! on `close` and `sched_process_exit` still see what is being closed or exiting.
//!
//! High-rate events (`read`, `write`, `recvmsg`...) are not looked at: [`State::apply`] returns
//! on the event id alone. The tables are bounded ([`StateOptions::max_processes`],
//! [`StateOptions::max_fds_per_process`]); when the process table is full, processes that no
//! longer exist (live) and then the least recently active ones are evicted.
//!
//! # Transitions
//!
//! | event | effect |
//! |---|---|
//! | `sched_process_fork`, `clone`/`clone3`/`fork`/`vfork` | child = copy of the parent (fds, cwd, credentials, container, environment); threads map to their group |
//! | `sched_process_exec`, `execve`/`execveat` (ret 0; ignored once a `sched_process_exec` was seen) | exe (argv\[0\]), args, name, exepath (resolved against cwd or dirfd; the fd's file for fexecve, `/dev/fd/N`, `/proc/self/fd/N`), cwd, tty, session, login uid, start time; close-on-exec fds go; `exe_from_memfd`; `exe_upper_layer` |
//! | `open`/`openat`/`openat2`/`creat` (ret ≥ 0) | file or directory fd with the normalised absolute path (`nameraw` keeps the given one) |
//! | `socket`, `bind`, `listen`, `connect` (0 or `EINPROGRESS`), `accept`/`accept4`, `sendto` with an address | socket fd: kind from the family (IPv4-mapped IPv6 shows as IPv4), protocol from type/protocol, ends, `ip:port->ip:port` name |
//! | `dup`/`dup2`/`dup3` | copy (close-on-exec only with `dup3(O_CLOEXEC)`) |
//! | `memfd_create`, `eventfd*`, `epoll_create*`, `inotify_init*`, `timerfd_create`, `signalfd*`, `userfaultfd`, `pidfd_open` | fd of that kind (the number is the return value) |
//! | `chdir`/`fchdir`, `set*uid`/`set*gid`, `setsid`, `setpgid`, `capset` (live: re-read) | cwd, ids, session, process group, capabilities |
//! | `rename*`/`link*`/`chmod`/`fchmodat`/writable opens in a container; `unlink*` | the container's written paths |
//! | `close`, `sched_process_exit` (in [`State::finish`]) | fd removed; thread removed; process removed when its group exits |
//!
//! [`TRACKED_EVENTS`] lists these events: a sensor must capture them (besides what the rules
//! need) for the state to stay right; any other event leaves the state untouched.
//!
//! Any state-changing event of an unknown process creates it (from /proc when live, else from the
//! event's context and its known parent); the parent pid and container id follow what events
//! carry (reparenting, a runtime's init joining the container's cgroup).
//!
//! # Known gaps
//!
//! - `pipe`/`pipe2`/`socketpair`: the new fd numbers are written to user memory, not returned,
//!   and the sensor does not decode them: such fds are only known from /proc (seeding, live
//!   lazy creation). `fcntl(F_DUPFD)` and `close_range` are not decoded either.
//! - `connect` does not report the local end: `client` stays unknown (`0.0.0.0:0` in the name)
//!   unless the socket was bound, or seeded from the socket tables.
//! - Fd tables shared without `CLONE_THREAD` (`CLONE_FILES`) are copied, not shared.
//! - `exe_upper_layer` is true when the container wrote the path since the state saw it (open
//!   for writing, rename/link target, chmod), or when the file exists in the container's overlay
//!   upper directory (known when a process of the container could be inspected through /proc).
//! - Capabilities, `exe_ino`/`exe_ctime`/`exe_mtime` and euid after exec of a set-uid program
//!   come from /proc: known for seeded processes and in live mode, not in replay.
//! - Pod labels: from CRI-O's `io.kubernetes.cri-o.Labels` annotation only (containerd keeps pod
//!   labels in its own database). `privileged`: the bounding set holds `CAP_SYS_ADMIN` and at
//!   least 38 capabilities.

mod apply;
mod containers;
mod fx;
mod names;
mod procfs;
mod users;

pub use apply::TRACKED_EVENTS;
pub use containers::parse_rfc3339_ns;
pub use fx::{FxBuild, FxHashMap, FxHashSet, FxHasher};
pub use names::{normalize_path, tty_from_name};
pub use procfs::SeedStats;
pub use users::{UserDb, UserEntry};

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// One process (thread group) as the rules see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    /// Host pid (tgid).
    pub pid: u32,
    /// Pid in its own pid namespace (`proc.vpid`).
    pub vpid: u32,
    /// Host pid of the parent.
    pub ppid: u32,
    /// `comm` / program name (`proc.name`).
    pub name: String,
    /// Executable as given to exec (`proc.exe`, argv\[0\] for Falco).
    pub exe: String,
    /// Resolved executable path (`proc.exepath`).
    pub exepath: String,
    /// Arguments without argv\[0\] (`proc.args` joins them with spaces).
    pub args: Vec<String>,
    /// Current working directory (`proc.cwd`).
    pub cwd: String,
    /// Controlling terminal device number, 0 when none (`proc.tty`).
    pub tty: u32,
    /// Session id (`proc.sid`), host view.
    pub sid: u32,
    /// Process group id (`proc.vpgid`).
    pub pgid: u32,
    /// Real uid / gid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Login uid (`user.loginuid`), `u32::MAX` when unset.
    pub loginuid: u32,
    /// Start time (ns since the epoch).
    pub start_ts: u64,
    /// Container id, empty on the host.
    pub container_id: String,
    /// Whether the executable was deleted or is a memfd (`proc.is_exe_from_memfd`).
    pub exe_from_memfd: bool,
    /// Whether exec'd file was written by the container after it started
    /// (`proc.is_exe_upper_layer`).
    pub exe_upper_layer: bool,
    /// File descriptors.
    pub fds: HashMap<i32, Fd>,
    /// Effective uid (`user.uid` in Falco is the effective uid).
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Effective capabilities (bit `n` = capability `n`, as in `/proc/<pid>/status` `CapEff`).
    pub cap_effective: u64,
    /// Permitted capabilities (`CapPrm`).
    pub cap_permitted: u64,
    /// Inheritable capabilities (`CapInh`).
    pub cap_inheritable: u64,
    /// Session id as seen in the process's own pid namespace.
    pub vsid: u32,
    /// Inode number of the executable, 0 when unknown (`proc.exe_ino`).
    pub exe_ino: u64,
    /// Change time of the executable's inode (ns since the epoch), 0 when unknown.
    pub exe_ctime: u64,
    /// Modification time of the executable (ns since the epoch), 0 when unknown.
    pub exe_mtime: u64,
    /// Event time (ns) of the last state-changing event of this process; drives eviction.
    pub last_seen: u64,
    /// Environment (`NAME=value`) read from `/proc/<pid>/environ` when seeding, inherited across
    /// fork and exec (exec events do not carry the new environment); empty when unknown.
    pub env: std::sync::Arc<[String]>,
}

impl Process {
    /// A process with the given host pid and nothing else known (`loginuid` unset).
    pub fn new(pid: u32) -> Process {
        Process {
            pid,
            vpid: pid,
            loginuid: u32::MAX,
            ..Process::default()
        }
    }

    /// `proc.cmdline`: the name followed by the arguments, space-separated.
    pub fn cmdline(&self) -> String {
        let mut s = String::with_capacity(
            self.name.len() + self.args.iter().map(|a| a.len() + 1).sum::<usize>(),
        );
        s.push_str(&self.name);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// `proc.args`: the arguments joined with spaces.
    pub fn args_joined(&self) -> String {
        self.args.join(" ")
    }

    /// `proc.duration`: ns since the process started, at event time `now` (0 when unknown).
    pub fn duration(&self, now: u64) -> u64 {
        if self.start_ts == 0 {
            0
        } else {
            now.saturating_sub(self.start_ts)
        }
    }

    /// `proc.is_sid_leader`: the process leads its session.
    pub fn is_sid_leader(&self) -> bool {
        self.sid == self.pid || (self.vsid != 0 && self.vsid == self.vpid)
    }

    /// `proc.is_vpgid_leader`: the process leads its process group (pid-namespace view).
    pub fn is_vpgid_leader(&self) -> bool {
        self.pgid != 0 && self.pgid == self.vpid
    }

    /// Whether the process runs in a container.
    pub fn in_container(&self) -> bool {
        !self.container_id.is_empty()
    }

    /// `proc.exe_ino.ctime_duration_proc_start`: ns between the executable's ctime and the
    /// process start, 0 when either is unknown.
    pub fn exe_ctime_to_start(&self) -> u64 {
        if self.exe_ctime == 0 || self.start_ts == 0 {
            0
        } else {
            self.start_ts.saturating_sub(self.exe_ctime)
        }
    }
}

/// What a file descriptor refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A regular file or anything opened by path (`f`).
    File,
    /// A directory (`d`).
    Directory,
    /// An IPv4 socket (`4`).
    Ipv4,
    /// An IPv6 socket (`6`).
    Ipv6,
    /// A unix socket (`u`).
    Unix,
    /// A pipe (`p`).
    Pipe,
    /// An eventfd (`e`).
    Event,
    /// A signalfd (`s`).
    Signalfd,
    /// An eventpoll fd (`l`).
    Eventpoll,
    /// An inotify fd (`i`).
    Inotify,
    /// A timerfd (`t`).
    Timerfd,
    /// A netlink socket (`n`).
    Netlink,
    /// A memfd (`m`).
    Memfd,
    /// Something else (`o`).
    Other,
}

/// Layer 4 protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// Raw IP / packet.
    Raw,
    /// ICMP.
    Icmp,
    /// Not known.
    Unknown,
}

/// One open file descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fd {
    /// The number.
    pub num: i32,
    /// Kind.
    pub kind: FdKind,
    /// Full name: absolute path for files; `sip:sport->dip:dport` for connected sockets; the
    /// path for unix sockets.
    pub name: String,
    /// open(2) flags, for files.
    pub flags: i64,
    /// Socket protocol.
    pub l4proto: L4Proto,
    /// Client (source) address and port of a connection.
    pub client: Option<(IpAddr, u16)>,
    /// Server (destination) address and port of a connection.
    pub server: Option<(IpAddr, u16)>,
    /// Whether the local side is the server (accept/listen).
    pub is_server: bool,
    /// Local address given to `bind`, if any.
    pub bound: Option<(IpAddr, u16)>,
    /// The name as the program gave it (`fd.nameraw`), when it differs from `name` (a relative
    /// or unnormalised path); empty otherwise.
    pub nameraw: String,
}

impl Fd {
    /// An fd of `kind` named `name`, with no flags and no addresses.
    pub fn new(num: i32, kind: FdKind, name: impl Into<String>) -> Fd {
        Fd {
            num,
            kind,
            name: name.into(),
            flags: 0,
            l4proto: L4Proto::Unknown,
            client: None,
            server: None,
            is_server: false,
            bound: None,
            nameraw: String::new(),
        }
    }

    /// `fd.nameraw`: the name as given, or `name` when they are the same.
    pub fn name_raw(&self) -> &str {
        if self.nameraw.is_empty() {
            &self.name
        } else {
            &self.nameraw
        }
    }

    /// Whether the fd is a socket (IPv4, IPv6, unix or netlink).
    pub fn is_socket(&self) -> bool {
        matches!(
            self.kind,
            FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Unix | FdKind::Netlink
        )
    }

    /// Whether an inet socket is connected (both ends known, or the server end after `connect`).
    pub fn is_connected(&self) -> bool {
        self.server.is_some() && (self.client.is_some() || !self.is_server)
    }

    /// The local end: the server side for accepted/listening sockets, the client side otherwise.
    pub fn local(&self) -> Option<(IpAddr, u16)> {
        if self.is_server {
            self.server.or(self.bound)
        } else {
            self.client.or(self.bound)
        }
    }

    /// The remote end.
    pub fn remote(&self) -> Option<(IpAddr, u16)> {
        if self.is_server {
            self.client
        } else {
            self.server
        }
    }

    /// Directory part of a file name (`fd.directory`): the name itself for directories.
    pub fn directory(&self) -> &str {
        match self.kind {
            FdKind::Directory => &self.name,
            FdKind::File => match self.name.rfind('/') {
                Some(0) => "/",
                Some(i) => &self.name[..i],
                None => "",
            },
            _ => "",
        }
    }

    /// File name part (`fd.filename`): empty for directories and non-files.
    pub fn filename(&self) -> &str {
        match self.kind {
            FdKind::File => match self.name.rfind('/') {
                Some(i) => &self.name[i + 1..],
                None => &self.name,
            },
            _ => "",
        }
    }
}

impl FdKind {
    /// Falco's `fd.typechar`.
    pub fn typechar(&self) -> char {
        match self {
            FdKind::File => 'f',
            FdKind::Directory => 'd',
            FdKind::Ipv4 => '4',
            FdKind::Ipv6 => '6',
            FdKind::Unix => 'u',
            FdKind::Pipe => 'p',
            FdKind::Event => 'e',
            FdKind::Signalfd => 's',
            FdKind::Eventpoll => 'l',
            FdKind::Inotify => 'i',
            FdKind::Timerfd => 't',
            FdKind::Netlink => 'n',
            FdKind::Memfd => 'm',
            FdKind::Other => 'o',
        }
    }

    /// Falco's `fd.type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Pipe => "pipe",
            FdKind::Event => "event",
            FdKind::Signalfd => "signalfd",
            FdKind::Eventpoll => "eventpoll",
            FdKind::Inotify => "inotify",
            FdKind::Timerfd => "timerfd",
            FdKind::Netlink => "netlink",
            FdKind::Memfd => "memfd",
            FdKind::Other => "other",
        }
    }
}

impl L4Proto {
    /// Falco's `fd.l4proto` value (`tcp`, `udp`, `raw`, `icmp`, `<NA>` when unknown).
    pub fn name(&self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Raw => "raw",
            L4Proto::Icmp => "icmp",
            L4Proto::Unknown => "<NA>",
        }
    }
}

/// Metadata of one container, as far as the runtime's state tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Full id.
    pub id: String,
    /// Name (runc: the container id given to `runc run`; CRI: the container name).
    pub name: String,
    /// Image reference (repository:tag), empty when unknown.
    pub image: String,
    /// Whether the container is privileged.
    pub privileged: bool,
    /// Kubernetes pod name (from CRI labels), empty outside Kubernetes.
    pub pod_name: String,
    /// Kubernetes namespace.
    pub pod_namespace: String,
    /// Kubernetes pod uid.
    pub pod_uid: String,
    /// Pod labels.
    pub pod_labels: Vec<(String, String)>,
    /// Root filesystem on the host, to read the container's /etc/passwd.
    pub rootfs: String,
    /// Start time (ns since the epoch), 0 when unknown.
    pub start_ts: u64,
    /// Host name of the container (from the runtime config), empty when unknown.
    pub hostname: String,
    /// OCI annotations of the container, as the runtime recorded them.
    pub annotations: Vec<(String, String)>,
    /// Mounts of the container's OCI config, in order (`container.mounts`,
    /// `container.mount.dest[...]`, `container.mount.source[...]`).
    pub mounts: Vec<ContainerMount>,
}

/// One mount of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerMount {
    /// Source on the host (a path for bind mounts, the file system name otherwise).
    pub source: String,
    /// Destination in the container.
    pub dest: String,
    /// File system type (`bind`, `proc`, `tmpfs`...).
    pub fstype: String,
    /// Whether it is writable (no `ro` option).
    pub rw: bool,
    /// Propagation option (`rprivate`, `shared`...), empty when none is given.
    pub propagation: String,
}

impl ContainerInfo {
    /// `container.image.repository`: the image reference without tag and digest.
    pub fn image_repository(&self) -> &str {
        let s = self.image.split('@').next().unwrap_or("");
        match s.rfind(':') {
            // a colon after the last slash separates the tag; before it, a registry port
            Some(i) if !s[i..].contains('/') => &s[..i],
            _ => s,
        }
    }

    /// `container.image.tag`: the tag, empty when none.
    pub fn image_tag(&self) -> &str {
        let s = self.image.split('@').next().unwrap_or("");
        match s.rfind(':') {
            Some(i) if !s[i..].contains('/') => &s[i + 1..],
            _ => "",
        }
    }

    /// `container.image.digest`: the digest (`sha256:...`), empty when none.
    pub fn image_digest(&self) -> &str {
        self.image.split_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// The mount whose destination is `dest`.
    pub fn mount_by_dest(&self, dest: &str) -> Option<&ContainerMount> {
        self.mounts.iter().find(|m| m.dest == dest)
    }

    /// The mount whose source is `source`.
    pub fn mount_by_source(&self, source: &str) -> Option<&ContainerMount> {
        self.mounts.iter().find(|m| m.source == source)
    }

    /// `container.mounts`: `source:dest:mode:rw:propagation` items joined with commas, as
    /// Falco's implementation joins them (its field description says spaces); mode is always
    /// empty (a Docker SELinux label).
    pub fn mounts_string(&self) -> String {
        self.mounts
            .iter()
            .map(|m| format!("{}:{}::{}:{}", m.source, m.dest, m.rw, m.propagation))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One annotation by key.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// How the state is kept.
#[derive(Clone, Debug)]
pub struct StateOptions {
    /// Most processes kept; when full, dead then least recently active ones are evicted.
    pub max_processes: usize,
    /// Most fds kept per process; further opens are not recorded (counted in [`StateStats`]).
    pub max_fds_per_process: usize,
    /// Most paths remembered as written per container (for `proc.is_exe_upper_layer`).
    pub max_written_paths_per_container: usize,
    /// runc state roots searched for `<root>/<id>/state.json`, in order.
    pub runc_roots: Vec<PathBuf>,
    /// Docker's data root: `<root>/containers/<id>/config.v2.json` and `hostconfig.json` give a
    /// Docker container's name, image and privileged flag; `None` skips Docker.
    pub docker_root: Option<PathBuf>,
    /// Root of the host file system, for `/etc/passwd` and `/etc/group`; `None` reads no host
    /// users.
    pub host_root: Option<PathBuf>,
    /// The live /proc, used after seeding to fill in processes that appear without a fork event,
    /// to read a container's users through `/proc/<pid>/root` and to stat executables on exec.
    /// `None` for replay (nothing is read from the running host).
    pub proc_root: Option<PathBuf>,
    /// Boot time (ns since the epoch), to turn since-boot times into wall-clock times; `None`
    /// reads `btime` from `proc_root`'s `stat` (or 0 without a proc root).
    pub boot_time_ns: Option<u64>,
    /// Event-time interval (ns) after which a container whose runtime state was not found is
    /// looked up again.
    pub container_retry_ns: u64,
    /// Most containers kept; when full, containers no process runs in any more are forgotten.
    pub max_containers: usize,
}

impl Default for StateOptions {
    /// Defaults for replay: nothing read from the running host but its users.
    fn default() -> Self {
        StateOptions {
            max_processes: 131_072,
            max_fds_per_process: 8_192,
            max_written_paths_per_container: 4_096,
            runc_roots: Vec::new(),
            docker_root: None,
            host_root: Some(PathBuf::from("/")),
            proc_root: None,
            boot_time_ns: None,
            container_retry_ns: 2_000_000_000,
            max_containers: 4_096,
        }
    }
}

impl StateOptions {
    /// Defaults for a live sensor: /proc, the host's users and the usual runc roots (plain runc,
    /// containerd's `k8s.io`, `moby` and `default` namespaces, Docker's runc root).
    pub fn live() -> Self {
        StateOptions {
            runc_roots: [
                "/run/runc",
                "/run/containerd/runc/k8s.io",
                "/run/containerd/runc/moby",
                "/run/containerd/runc/default",
                "/run/docker/runtime-runc/moby",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            proc_root: Some(PathBuf::from("/proc")),
            docker_root: Some(PathBuf::from("/var/lib/docker")),
            ..StateOptions::default()
        }
    }

    /// Options that read nothing from the host at all (tests, pure replay).
    pub fn isolated() -> Self {
        StateOptions {
            host_root: None,
            ..StateOptions::default()
        }
    }
}

/// Counters of what the state had to drop or evict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateStats {
    /// Processes evicted because the table was full.
    pub processes_evicted: u64,
    /// Processes removed on exit.
    pub processes_exited: u64,
    /// Processes created from an event without a fork (not seeded, fork missed).
    pub processes_from_events: u64,
    /// Fds not recorded because a process had [`StateOptions::max_fds_per_process`].
    pub fds_dropped: u64,
    /// Container runtime lookups done.
    pub container_lookups: u64,
    /// Written paths not recorded because a container's set was full.
    pub written_paths_dropped: u64,
    /// Times the container table was full and containers without processes were forgotten.
    pub containers_forgotten: u64,
}

/// Errors of the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The /proc tree could not be listed.
    #[error("{path}: cannot list the proc tree: {source}")]
    ProcRoot {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What the state knows of one container, with its users and the paths it wrote.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContainerEntry {
    pub(crate) info: ContainerInfo,
    /// Users and groups of the container's root file system, when readable.
    pub(crate) users: Option<UserDb>,
    /// Paths the container created or wrote since the state saw it.
    pub(crate) written: FxHashSet<String>,
    /// Whether the runtime state was found.
    pub(crate) found: bool,
    /// Event time of the last lookup.
    pub(crate) looked_up_at: u64,
    /// Whether a process of the container was inspected through /proc (users, overlay upper
    /// directory, environment).
    pub(crate) inspected: bool,
    /// The overlay upper directory of the container's root, when its root is an overlay.
    pub(crate) upperdir: Option<PathBuf>,
}

/// The process, fd, user and container state the rules read.
#[derive(Debug)]
pub struct State {
    opts: StateOptions,
    procs: FxHashMap<u32, Process>,
    /// Host tid -> host tgid, for threads other than the group leader.
    threads: FxHashMap<u32, u32>,
    containers: HashMap<String, ContainerEntry>,
    host_users: UserDb,
    /// Names of addresses (`fd.sip.name`...): the host's `/etc/hosts`, the API server address of
    /// `KUBERNETES_SERVICE_HOST` in seeded environments, and what callers add.
    ip_names: FxHashMap<IpAddr, String>,
    boot_time_ns: u64,
    stats: StateStats,
    /// Whether a `sched_process_exec` event was seen: from then on the `execve`/`execveat`
    /// system call events of the same execs change nothing (the scheduler event carries more,
    /// and comes first: a second application could no longer see a close-on-exec memfd).
    sched_exec_seen: bool,
}

impl State {
    /// An empty state; reads the host's users (when [`StateOptions::host_root`] is set) and the
    /// boot time.
    pub fn new(opts: StateOptions) -> State {
        let host_users = match &opts.host_root {
            Some(root) => UserDb::load(root),
            None => UserDb::default(),
        };
        let boot_time_ns = opts.boot_time_ns.unwrap_or_else(|| {
            opts.proc_root
                .as_deref()
                .and_then(procfs::boot_time_ns)
                .unwrap_or(0)
        });
        let mut ip_names = FxHashMap::default();
        if let Some(root) = &opts.host_root
            && let Ok(hosts) = std::fs::read_to_string(root.join("etc/hosts"))
        {
            parse_hosts(&hosts, &mut ip_names);
        }
        State {
            opts,
            procs: FxHashMap::default(),
            threads: FxHashMap::default(),
            containers: HashMap::new(),
            host_users,
            ip_names,
            boot_time_ns,
            stats: StateStats::default(),
            sched_exec_seen: false,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &StateOptions {
        &self.opts
    }

    /// Counters of drops and evictions.
    pub fn stats(&self) -> StateStats {
        self.stats
    }

    /// Boot time (ns since the epoch), 0 when unknown.
    pub fn boot_time_ns(&self) -> u64 {
        self.boot_time_ns
    }

    /// Number of processes (thread groups) known.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// Whether no process is known.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Every process, in no particular order.
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.procs.values()
    }

    /// The process (thread group) with this host pid.
    #[inline]
    pub fn process(&self, host_pid: u32) -> Option<&Process> {
        self.procs.get(&host_pid)
    }

    /// The process a host thread id belongs to (the thread's group).
    #[inline]
    pub fn thread_group(&self, host_tid: u32) -> Option<&Process> {
        match self.procs.get(&host_tid) {
            Some(p) => Some(p),
            None => self.procs.get(self.threads.get(&host_tid)?),
        }
    }

    /// The parent of a process, if known.
    #[inline]
    pub fn parent(&self, p: &Process) -> Option<&Process> {
        if p.ppid == 0 || p.ppid == p.pid {
            return None;
        }
        self.procs.get(&p.ppid)
    }

    /// The ancestors of a process, parent first (`proc.aname[1]` is the first item,
    /// `proc.aname[2]` the second...). Stops at an unknown parent, at pid 0 and after 256 steps
    /// (a cycle can only come from pid reuse).
    pub fn ancestors<'a>(&'a self, p: &'a Process) -> Ancestors<'a> {
        Ancestors {
            state: self,
            cur: p,
            left: 256,
        }
    }

    /// The session leader of a process (`proc.sname`): the nearest process, itself included, whose
    /// host pid is its session id, or else the farthest known ancestor in the same session.
    pub fn session_leader<'a>(&'a self, p: &'a Process) -> Option<&'a Process> {
        if p.sid == p.pid {
            return Some(p);
        }
        if let Some(l) = self.procs.get(&p.sid)
            && l.sid == p.sid
        {
            return Some(l);
        }
        let mut last = None;
        for a in self.ancestors(p) {
            if a.sid != p.sid {
                break;
            }
            last = Some(a);
            if a.sid == a.pid {
                break;
            }
        }
        last
    }

    /// An open fd of a process.
    #[inline]
    pub fn fd(&self, host_pid: u32, fd: i32) -> Option<&Fd> {
        self.procs.get(&host_pid)?.fds.get(&fd)
    }

    /// The user entry of `uid`: the container's `/etc/passwd` when `container_id` is not empty,
    /// the host's otherwise.
    pub fn user(&self, uid: u32, container_id: &str) -> Option<&UserEntry> {
        self.users_of(container_id)?.user(uid)
    }

    /// `user.name`.
    pub fn user_name(&self, uid: u32, container_id: &str) -> Option<&str> {
        self.user(uid, container_id).map(|u| u.name.as_str())
    }

    /// `user.homedir`.
    pub fn user_home(&self, uid: u32, container_id: &str) -> Option<&str> {
        self.user(uid, container_id).map(|u| u.home.as_str())
    }

    /// `user.shell`.
    pub fn user_shell(&self, uid: u32, container_id: &str) -> Option<&str> {
        self.user(uid, container_id).map(|u| u.shell.as_str())
    }

    /// `group.name`.
    pub fn group_name(&self, gid: u32, container_id: &str) -> Option<&str> {
        self.users_of(container_id)?.group(gid)
    }

    fn users_of(&self, container_id: &str) -> Option<&UserDb> {
        if container_id.is_empty() {
            Some(&self.host_users)
        } else {
            self.containers.get(container_id)?.users.as_ref()
        }
    }

    /// The environment of a process (`proc.env`), when known.
    pub fn env(&self, host_pid: u32) -> Option<&[String]> {
        let p = self.procs.get(&host_pid)?;
        (!p.env.is_empty()).then_some(&p.env[..])
    }

    /// The name of an address (`fd.sip.name`, `fd.rip.name`...), when known.
    pub fn ip_name(&self, ip: &IpAddr) -> Option<&str> {
        self.ip_names.get(ip).map(String::as_str)
    }

    /// Names an address (the first name given to an address stays).
    pub fn insert_ip_name(&mut self, ip: IpAddr, name: impl Into<String>) {
        self.ip_names.entry(ip).or_insert_with(|| name.into());
    }

    /// Metadata of a container seen in an event or while seeding.
    pub fn container(&self, id: &str) -> Option<&ContainerInfo> {
        self.containers.get(id).map(|c| &c.info)
    }

    /// Every container known.
    pub fn containers(&self) -> impl Iterator<Item = &ContainerInfo> {
        self.containers.values().map(|c| &c.info)
    }

    /// Whether a container wrote `path` since the state first saw it (see
    /// `proc.is_exe_upper_layer`).
    pub fn container_wrote(&self, container_id: &str, path: &str) -> bool {
        self.containers
            .get(container_id)
            .is_some_and(|c| c.written.contains(path))
    }

    /// Puts a process in the table as it is (replacing one with the same pid); for tests and
    /// for callers that learn processes elsewhere.
    pub fn insert_process(&mut self, p: Process) {
        if self.procs.len() >= self.opts.max_processes && !self.procs.contains_key(&p.pid) {
            self.evict(p.last_seen);
        }
        self.procs.insert(p.pid, p);
    }

    /// Records a thread of a process.
    pub fn insert_thread(&mut self, host_tid: u32, host_pid: u32) {
        self.add_thread(host_tid, host_pid);
    }

    /// Records a thread; when the thread map outgrows the process table (exits were lost), the
    /// threads of processes no longer known are dropped first.
    pub(crate) fn add_thread(&mut self, host_tid: u32, host_pid: u32) {
        if host_tid == host_pid {
            return;
        }
        let cap = self.opts.max_processes.saturating_mul(8).max(1024);
        if self.threads.len() >= cap {
            let procs = &self.procs;
            self.threads.retain(|_, tgid| procs.contains_key(tgid));
            if self.threads.len() >= cap {
                // still full: the oldest entries cannot be told apart, start over
                self.threads.clear();
            }
        }
        self.threads.insert(host_tid, host_pid);
    }

    /// Number of threads (other than group leaders) recorded.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// Number of containers recorded.
    pub fn container_count(&self) -> usize {
        self.containers.len()
    }

    /// Puts a container's metadata in the table as it is (no runtime lookup will be done for it).
    pub fn insert_container(&mut self, info: ContainerInfo) {
        let e = self.containers.entry(info.id.clone()).or_default();
        e.info = info;
        e.found = true;
    }

    /// Sets the users and groups of a container (or of the host when `container_id` is empty).
    pub fn insert_users(&mut self, container_id: &str, db: UserDb) {
        if container_id.is_empty() {
            self.host_users = db;
        } else {
            self.containers
                .entry(container_id.to_string())
                .or_insert_with(|| ContainerEntry {
                    info: ContainerInfo {
                        id: container_id.to_string(),
                        ..ContainerInfo::default()
                    },
                    ..ContainerEntry::default()
                })
                .users = Some(db);
        }
    }

    /// Removes processes to make room: first those whose /proc entry is gone (live), then the
    /// least recently active eighth of the table.
    fn evict(&mut self, _now: u64) {
        let before = self.procs.len();
        if let Some(root) = self.opts.proc_root.clone() {
            self.procs
                .retain(|pid, _| root.join(pid.to_string()).exists());
        }
        let target = self.opts.max_processes - self.opts.max_processes / 8;
        if self.procs.len() >= target.max(1) {
            let mut seen: Vec<(u64, u32)> =
                self.procs.values().map(|p| (p.last_seen, p.pid)).collect();
            seen.sort_unstable();
            let n = self.procs.len() + 1 - target.max(1);
            for &(_, pid) in seen.iter().take(n) {
                self.procs.remove(&pid);
            }
        }
        let procs = &self.procs;
        self.threads.retain(|_, tgid| procs.contains_key(tgid));
        self.stats.processes_evicted += (before - self.procs.len()) as u64;
    }
}

/// Iterator over a process's ancestors, parent first.
pub struct Ancestors<'a> {
    state: &'a State,
    cur: &'a Process,
    left: u32,
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a Process;

    fn next(&mut self) -> Option<&'a Process> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let p = self.state.parent(self.cur)?;
        self.cur = p;
        Some(p)
    }
}

/// The name of the Kubernetes API server service, as pods resolve it.
pub const KUBERNETES_API_NAME: &str = "kubernetes.default.svc.cluster.local";

/// Adds the first name of each `/etc/hosts` line.
fn parse_hosts(text: &str, out: &mut FxHashMap<IpAddr, String>) {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_whitespace();
        if let (Some(ip), Some(name)) = (f.next(), f.next())
            && let Ok(ip) = ip.parse::<IpAddr>()
        {
            out.entry(ip).or_insert_with(|| name.to_string());
        }
    }
}
