//! The state Falco's fields rely on.
//!
//! CONTRACT (skeleton written before the implementation): the field extractors of the rules
//! engine read these types; the state module keeps them current. Names stay; fields may be added.

use std::collections::HashMap;
use std::net::IpAddr;

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
}
