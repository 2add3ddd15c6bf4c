//! One decoded event.

use crate::catalog::{EventDef, EventId};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A socket address as passed to `connect`, `bind`, `accept`...
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SockAddr {
    /// `AF_INET`.
    Inet {
        /// Address.
        addr: Ipv4Addr,
        /// Port (host byte order).
        port: u16,
    },
    /// `AF_INET6`.
    Inet6 {
        /// Address.
        addr: Ipv6Addr,
        /// Port (host byte order).
        port: u16,
        /// Flow information.
        flowinfo: u32,
        /// Scope id.
        scope_id: u32,
    },
    /// `AF_UNIX`; abstract names start with `@`.
    Unix {
        /// Socket path.
        path: String,
    },
    /// Another family (`AF_NETLINK`, `AF_PACKET`...), by number.
    Other {
        /// Address family number.
        family: u16,
    },
}

impl std::fmt::Display for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SockAddr::Inet { addr, port } => write!(f, "{addr}:{port}"),
            SockAddr::Inet6 { addr, port, .. } => write!(f, "[{addr}]:{port}"),
            SockAddr::Unix { path } => write!(f, "unix:{path}"),
            SockAddr::Other { family } => write!(f, "family:{family}"),
        }
    }
}

/// A decoded argument value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArgValue {
    /// Not captured (a fault reading user memory, or an absent optional argument).
    None,
    /// Signed integer (also fds, flags and modes).
    Int(i64),
    /// Unsigned integer (also pointers).
    UInt(u64),
    /// String or path.
    Str(String),
    /// Array of strings (`argv`).
    StrList(Vec<String>),
    /// Socket address.
    Sock(SockAddr),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl ArgValue {
    /// The value as a signed integer, if it is numeric.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            ArgValue::Int(i) => Some(i),
            ArgValue::UInt(u) => Some(u as i64),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ArgValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// One captured event, with the context Tracee records for every event.
///
/// `pid`/`tid`/`ppid` are as seen inside the process's own pid namespace; the `host_` fields are
/// as seen from the initial namespace. For system calls, one event covers the call's entry and
/// exit: `args` are the decoded arguments and `ret` the return value (negative errno on failure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time of the event (ns since the Unix epoch).
    pub ts: u64,
    /// Which event.
    pub id: EventId,
    /// CPU the event was captured on.
    pub cpu: u16,
    /// Process id in its pid namespace.
    pub pid: u32,
    /// Thread id in its pid namespace.
    pub tid: u32,
    /// Parent process id in its pid namespace (0 when the parent is outside it).
    pub ppid: u32,
    /// Process id in the initial pid namespace.
    pub host_pid: u32,
    /// Thread id in the initial pid namespace.
    pub host_tid: u32,
    /// Parent process id in the initial pid namespace.
    pub host_ppid: u32,
    /// Real user id (in the initial user namespace).
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Thread name (`comm`, at most 15 bytes).
    pub comm: String,
    /// UTS name (host name as the process sees it).
    pub uts: String,
    /// Mount namespace inode.
    pub mntns: u32,
    /// Pid namespace inode.
    pub pidns: u32,
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Container id (64 hex, or the runtime's id), empty on the host.
    pub container_id: String,
    /// Return value (system calls); 0 for process events.
    pub ret: i64,
    /// Decoded arguments, in the order of [`EventDef::args`].
    pub args: Vec<ArgValue>,
}

impl Event {
    /// The catalog entry.
    pub fn def(&self) -> Option<&'static EventDef> {
        self.id.def()
    }

    /// An argument by name.
    pub fn arg(&self, name: &str) -> Option<&ArgValue> {
        let i = self.def()?.arg_index(name)?;
        self.args.get(i)
    }

    /// Whether the event happened inside a container.
    pub fn in_container(&self) -> bool {
        !self.container_id.is_empty()
    }

    /// The errno name when the call failed (`ret` in -4095..=-1).
    pub fn errno(&self) -> Option<&'static str> {
        if self.id.is_syscall() && (-4095..0).contains(&self.ret) {
            crate::errno_name((-self.ret) as u16)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openat() -> Event {
        Event {
            ts: 1,
            id: EventId(257),
            cpu: 0,
            pid: 7,
            tid: 7,
            ppid: 1,
            host_pid: 700,
            host_tid: 700,
            host_ppid: 600,
            uid: 0,
            gid: 0,
            comm: "cat".into(),
            uts: "node-1".into(),
            mntns: 4026531840,
            pidns: 4026531836,
            cgroup_id: 9,
            container_id: String::new(),
            ret: -2,
            args: vec![
                ArgValue::Int(-100),
                ArgValue::Str("/etc/shadow".into()),
                ArgValue::Int(0),
                ArgValue::Int(0),
            ],
        }
    }

    #[test]
    fn args_by_name_and_errno() {
        let e = openat();
        assert_eq!(
            e.arg("pathname").and_then(ArgValue::as_str),
            Some("/etc/shadow")
        );
        assert_eq!(e.arg("nope"), None);
        assert_eq!(e.errno(), Some("ENOENT"));
        assert!(!e.in_container());
    }
}
