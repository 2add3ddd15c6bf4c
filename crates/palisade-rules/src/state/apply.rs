//! The transitions: how each event changes the state.
//!
//! Arguments are read by position (the catalog's argument order, checked by a test), never by
//! name, and the dispatch is one `match` on the event id, so an event that changes nothing costs
//! a jump.

use super::names::{basename, comm_of, is_normal_abs, normalize_path, tty_from_name, tuple_name};
use super::{ContainerEntry, Fd, FdKind, L4Proto, Process, State};
use palisade_events::{ArgValue, Event, EventId, SockAddr};
use std::net::IpAddr;

/// x86_64 numbers of the system calls the state follows.
pub(crate) mod nr {
    pub const OPEN: u16 = 2;
    pub const CLOSE: u16 = 3;
    pub const DUP: u16 = 32;
    pub const DUP2: u16 = 33;
    pub const SOCKET: u16 = 41;
    pub const CONNECT: u16 = 42;
    pub const ACCEPT: u16 = 43;
    pub const SENDTO: u16 = 44;
    pub const BIND: u16 = 49;
    pub const LISTEN: u16 = 50;
    pub const CLONE: u16 = 56;
    pub const FORK: u16 = 57;
    pub const VFORK: u16 = 58;
    pub const EXECVE: u16 = 59;
    pub const RENAME: u16 = 82;
    pub const CHDIR: u16 = 80;
    pub const FCHDIR: u16 = 81;
    pub const CREAT: u16 = 85;
    pub const LINK: u16 = 86;
    pub const UNLINK: u16 = 87;
    pub const CHMOD: u16 = 90;
    pub const SETUID: u16 = 105;
    pub const SETGID: u16 = 106;
    pub const SETPGID: u16 = 109;
    pub const SETSID: u16 = 112;
    pub const SETREUID: u16 = 113;
    pub const SETREGID: u16 = 114;
    pub const SETRESUID: u16 = 117;
    pub const SETRESGID: u16 = 119;
    pub const CAPSET: u16 = 126;
    pub const EPOLL_CREATE: u16 = 213;
    pub const INOTIFY_INIT: u16 = 253;
    pub const UNLINKAT: u16 = 263;
    pub const RENAMEAT: u16 = 264;
    pub const LINKAT: u16 = 265;
    pub const FCHMODAT: u16 = 268;
    pub const SIGNALFD: u16 = 282;
    pub const TIMERFD_CREATE: u16 = 283;
    pub const EVENTFD: u16 = 284;
    pub const ACCEPT4: u16 = 288;
    pub const SIGNALFD4: u16 = 289;
    pub const EVENTFD2: u16 = 290;
    pub const EPOLL_CREATE1: u16 = 291;
    pub const DUP3: u16 = 292;
    pub const INOTIFY_INIT1: u16 = 294;
    pub const OPENAT: u16 = 257;
    pub const RENAMEAT2: u16 = 316;
    pub const MEMFD_CREATE: u16 = 319;
    pub const EXECVEAT: u16 = 322;
    pub const USERFAULTFD: u16 = 323;
    pub const PIDFD_OPEN: u16 = 434;
    pub const CLONE3: u16 = 435;
    pub const OPENAT2: u16 = 437;
}

/// Every event the state follows: what a sensor must capture, besides what the rules need, for
/// the process, fd and container fields to stay right (Falco's "state engine set"). Events not in
/// this list leave the state untouched.
pub const TRACKED_EVENTS: &[EventId] = &[
    EventId::SCHED_PROCESS_FORK,
    EventId::SCHED_PROCESS_EXEC,
    EventId::SCHED_PROCESS_EXIT,
    EventId(nr::CLONE),
    EventId(nr::CLONE3),
    EventId(nr::FORK),
    EventId(nr::VFORK),
    EventId(nr::EXECVE),
    EventId(nr::EXECVEAT),
    EventId(nr::OPEN),
    EventId(nr::OPENAT),
    EventId(nr::OPENAT2),
    EventId(nr::CREAT),
    EventId(nr::CLOSE),
    EventId(nr::SOCKET),
    EventId(nr::CONNECT),
    EventId(nr::ACCEPT),
    EventId(nr::ACCEPT4),
    EventId(nr::BIND),
    EventId(nr::LISTEN),
    EventId(nr::SENDTO),
    EventId(nr::DUP),
    EventId(nr::DUP2),
    EventId(nr::DUP3),
    EventId(nr::MEMFD_CREATE),
    EventId(nr::EVENTFD),
    EventId(nr::EVENTFD2),
    EventId(nr::EPOLL_CREATE),
    EventId(nr::EPOLL_CREATE1),
    EventId(nr::INOTIFY_INIT),
    EventId(nr::INOTIFY_INIT1),
    EventId(nr::TIMERFD_CREATE),
    EventId(nr::SIGNALFD),
    EventId(nr::SIGNALFD4),
    EventId(nr::USERFAULTFD),
    EventId(nr::PIDFD_OPEN),
    EventId(nr::CHDIR),
    EventId(nr::FCHDIR),
    EventId(nr::SETUID),
    EventId(nr::SETGID),
    EventId(nr::SETREUID),
    EventId(nr::SETREGID),
    EventId(nr::SETRESUID),
    EventId(nr::SETRESGID),
    EventId(nr::SETSID),
    EventId(nr::SETPGID),
    EventId(nr::CAPSET),
    EventId(nr::RENAME),
    EventId(nr::RENAMEAT),
    EventId(nr::RENAMEAT2),
    EventId(nr::LINK),
    EventId(nr::LINKAT),
    EventId(nr::CHMOD),
    EventId(nr::FCHMODAT),
    EventId(nr::UNLINK),
    EventId(nr::UNLINKAT),
];

const FORK: u16 = EventId::SCHED_PROCESS_FORK.0;
const EXEC: u16 = EventId::SCHED_PROCESS_EXEC.0;
const EXIT: u16 = EventId::SCHED_PROCESS_EXIT.0;

/// open(2) flags.
pub(crate) mod oflag {
    pub const WRONLY: i64 = 0o1;
    pub const RDWR: i64 = 0o2;
    pub const CREAT: i64 = 0o100;
    pub const TRUNC: i64 = 0o1000;
    pub const DIRECTORY: i64 = 0o200000;
    pub const CLOEXEC: i64 = 0o2000000;
    pub const TMPFILE: i64 = 0o20200000;
}

const AT_FDCWD: i64 = -100;
const AT_EMPTY_PATH: i64 = 0x1000;
const CLONE_THREAD: i64 = 0x10000;
const EINPROGRESS: i64 = -115;

#[inline]
fn int(ev: &Event, i: usize) -> Option<i64> {
    ev.args.get(i)?.as_i64()
}

#[inline]
fn string(ev: &Event, i: usize) -> Option<&str> {
    ev.args.get(i)?.as_str()
}

#[inline]
fn sock(ev: &Event, i: usize) -> Option<&SockAddr> {
    match ev.args.get(i)? {
        ArgValue::Sock(s) => Some(s),
        _ => None,
    }
}

/// An id argument of set*id: -1 (as i64, u32 or u64) means "unchanged".
#[inline]
fn id_arg(ev: &Event, i: usize) -> Option<u32> {
    let v = int(ev, i)?;
    let v32 = v as u32;
    (v32 != u32::MAX).then_some(v32)
}

/// The address and port of an inet socket address; IPv4-mapped IPv6 addresses are given as IPv4
/// (as Falco shows a dual-stack socket talking IPv4).
fn endpoint(s: &SockAddr) -> Option<(IpAddr, u16)> {
    match s {
        SockAddr::Inet { addr, port } => Some((IpAddr::V4(*addr), *port)),
        SockAddr::Inet6 { addr, port, .. } => Some((
            addr.to_ipv4_mapped().map_or(IpAddr::V6(*addr), IpAddr::V4),
            *port,
        )),
        _ => None,
    }
}

fn kind_of_addr(s: &SockAddr) -> FdKind {
    match s {
        SockAddr::Inet { .. } => FdKind::Ipv4,
        SockAddr::Inet6 { .. } => FdKind::Ipv6,
        SockAddr::Unix { .. } => FdKind::Unix,
        SockAddr::Other { family: 16 } => FdKind::Netlink,
        SockAddr::Other { .. } => FdKind::Other,
    }
}

/// Sets the name of a socket fd from its ends; an IPv6 socket whose known ends are IPv4 (mapped)
/// becomes an IPv4 one.
fn rename_socket(fd: &mut Fd) {
    if fd.kind == FdKind::Ipv6 {
        let v4 = |e: Option<(IpAddr, u16)>| e.is_none_or(|(ip, _)| ip.is_ipv4());
        if (fd.client.is_some() || fd.server.is_some()) && v4(fd.client) && v4(fd.server) {
            fd.kind = FdKind::Ipv4;
        }
    }
    match fd.kind {
        FdKind::Ipv4 | FdKind::Ipv6 => {
            fd.name = tuple_name(fd.client, fd.server, fd.kind == FdKind::Ipv6);
        }
        _ => {}
    }
}

/// Puts an fd in a process, within the per-process bound; false when it was dropped.
#[must_use]
fn put_fd(p: &mut Process, fd: Fd, max: usize) -> bool {
    if p.fds.len() >= max && !p.fds.contains_key(&fd.num) {
        return false;
    }
    p.fds.insert(fd.num, fd);
    true
}

/// Turns a start time from an event (since boot, or since the epoch) into ns since the epoch.
pub(crate) fn start_ts(boot_ns: u64, v: u64, fallback: u64) -> u64 {
    if v == 0 {
        fallback
    } else if v < 100_000_000_000_000_000 {
        // below ~3 years: a since-boot time (task->start_time)
        boot_ns.saturating_add(v)
    } else {
        v
    }
}

impl State {
    /// Applies what an event changes, BEFORE the rules evaluate it: new processes (fork, clone),
    /// exec, new fds (open, socket, accept, dup, memfd_create...), socket ends (bind, connect,
    /// listen, sendto), cwd, credentials and session. Failed calls change nothing.
    pub fn apply(&mut self, ev: &Event) {
        if ev.host_pid == 0 {
            return;
        }
        let id = ev.id.0;
        match id {
            FORK => self.on_fork(ev),
            EXEC => {
                self.sched_exec_seen = true;
                self.on_exec(ev, 0, Some(2), Some(3), true)
            }
            nr::EXECVE if ev.ret == 0 && !self.sched_exec_seen => {
                self.on_exec(ev, 0, None, None, false)
            }
            nr::EXECVEAT if ev.ret == 0 && !self.sched_exec_seen => self.on_execveat(ev),
            nr::CLONE | nr::CLONE3 | nr::FORK | nr::VFORK => self.on_clone(ev),
            nr::OPEN | nr::OPENAT | nr::OPENAT2 | nr::CREAT if ev.ret >= 0 => self.on_open(ev),
            nr::SOCKET if ev.ret >= 0 => self.on_socket(ev),
            nr::CONNECT if ev.ret == 0 || ev.ret == EINPROGRESS => self.on_connect(ev),
            nr::ACCEPT | nr::ACCEPT4 if ev.ret >= 0 => self.on_accept(ev),
            nr::BIND if ev.ret == 0 => self.on_bind(ev),
            nr::LISTEN if ev.ret == 0 => self.on_listen(ev),
            nr::SENDTO if ev.ret >= 0 && matches!(ev.args.get(3), Some(ArgValue::Sock(_))) => {
                self.on_sendto(ev)
            }
            nr::DUP | nr::DUP2 | nr::DUP3 if ev.ret >= 0 => self.on_dup(ev),
            nr::MEMFD_CREATE if ev.ret >= 0 => {
                let name = format!("memfd:{}", string(ev, 0).unwrap_or(""));
                let mut fd = Fd::new(ev.ret as i32, FdKind::Memfd, name);
                if int(ev, 1).unwrap_or(0) & 1 != 0 {
                    // MFD_CLOEXEC
                    fd.flags = oflag::CLOEXEC;
                }
                self.add_fd(ev, fd);
            }
            nr::EVENTFD | nr::EVENTFD2 if ev.ret >= 0 => self.add_anon(ev, FdKind::Event),
            nr::EPOLL_CREATE | nr::EPOLL_CREATE1 if ev.ret >= 0 => {
                self.add_anon(ev, FdKind::Eventpoll)
            }
            nr::INOTIFY_INIT | nr::INOTIFY_INIT1 if ev.ret >= 0 => {
                self.add_anon(ev, FdKind::Inotify)
            }
            nr::TIMERFD_CREATE if ev.ret >= 0 => self.add_anon(ev, FdKind::Timerfd),
            nr::SIGNALFD | nr::SIGNALFD4 if ev.ret >= 0 => self.add_anon(ev, FdKind::Signalfd),
            nr::USERFAULTFD | nr::PIDFD_OPEN if ev.ret >= 0 => self.add_anon(ev, FdKind::Other),
            nr::CHDIR if ev.ret == 0 => {
                if let Some(path) = string(ev, 0) {
                    let p = self.ensure(ev);
                    p.cwd = resolve(&p.cwd, path);
                }
            }
            nr::FCHDIR if ev.ret == 0 => {
                let fd = int(ev, 0).unwrap_or(-1) as i32;
                let live_cwd = self
                    .opts
                    .proc_root
                    .as_ref()
                    .map(|r| r.join(ev.host_pid.to_string()).join("cwd"));
                let p = self.ensure(ev);
                match p.fds.get(&fd) {
                    Some(f) if f.kind == FdKind::Directory => p.cwd = f.name.clone(),
                    // live, an fd the state missed: the kernel knows the new cwd
                    _ => {
                        if let Some(cwd) = live_cwd
                            .and_then(|l| std::fs::read_link(l).ok())
                            .and_then(|l| l.to_str().map(str::to_string))
                        {
                            p.cwd = cwd;
                        }
                    }
                }
            }
            nr::SETUID | nr::SETGID if ev.ret == 0 => {
                let Some(v) = id_arg(ev, 0) else { return };
                let setuid = id == nr::SETUID;
                let p = self.ensure(ev);
                // privileged callers set every id; others only the effective one
                let privileged = p.euid == 0;
                if setuid {
                    if privileged {
                        p.uid = v;
                    }
                    p.euid = v;
                } else {
                    if privileged {
                        p.gid = v;
                    }
                    p.egid = v;
                }
            }
            nr::SETREUID | nr::SETRESUID | nr::SETREGID | nr::SETRESGID if ev.ret == 0 => {
                let (r, e) = (id_arg(ev, 0), id_arg(ev, 1));
                let uids = id == nr::SETREUID || id == nr::SETRESUID;
                let p = self.ensure(ev);
                let (real, eff) = if uids {
                    (&mut p.uid, &mut p.euid)
                } else {
                    (&mut p.gid, &mut p.egid)
                };
                if let Some(r) = r {
                    *real = r;
                }
                if let Some(e) = e {
                    *eff = e;
                }
            }
            nr::SETSID if ev.ret >= 0 => {
                let (host, ns) = (ev.host_pid, ev.ret as u32);
                let p = self.ensure(ev);
                p.sid = host;
                p.vsid = ns;
                p.pgid = ns;
            }
            nr::SETPGID if ev.ret == 0 => {
                let target = int(ev, 0).unwrap_or(0);
                if target == 0 || target == i64::from(ev.pid) {
                    let pg = int(ev, 1).unwrap_or(0);
                    let vpid = ev.pid;
                    let p = self.ensure(ev);
                    p.pgid = if pg == 0 { vpid } else { pg as u32 };
                }
            }
            nr::CAPSET if ev.ret == 0 => {
                if let Some(root) = self.opts.proc_root.clone() {
                    let pid = ev.host_pid;
                    let p = self.ensure(ev);
                    super::procfs::refresh_creds(&root, pid, p);
                }
            }
            nr::RENAME | nr::RENAMEAT | nr::RENAMEAT2 | nr::LINK | nr::LINKAT
                if ev.ret == 0 && ev.in_container() =>
            {
                let i = if id == nr::RENAME || id == nr::LINK {
                    1
                } else {
                    3
                };
                if let Some(path) = string(ev, i) {
                    self.note_written(ev, path);
                }
                if (id == nr::RENAME || id == nr::RENAMEAT || id == nr::RENAMEAT2)
                    && let Some(old) = string(ev, if id == nr::RENAME { 0 } else { 1 })
                {
                    self.forget_written(ev, old);
                }
            }
            nr::CHMOD | nr::FCHMODAT if ev.ret == 0 && ev.in_container() => {
                let i = if id == nr::CHMOD { 0 } else { 1 };
                if let Some(path) = string(ev, i) {
                    self.note_written(ev, path);
                }
            }
            nr::UNLINK | nr::UNLINKAT if ev.ret == 0 && ev.in_container() => {
                let i = if id == nr::UNLINK { 0 } else { 1 };
                if let Some(path) = string(ev, i) {
                    self.forget_written(ev, path);
                }
            }
            _ => {}
        }
    }

    /// Applies what takes effect AFTER the rules saw an event: `close` removes the fd,
    /// `sched_process_exit` removes the thread, and the process when its group exits.
    pub fn finish(&mut self, ev: &Event) {
        match ev.id.0 {
            nr::CLOSE => {
                if let Some(fd) = int(ev, 0)
                    && let Some(p) = self.procs.get_mut(&ev.host_pid)
                {
                    p.fds.remove(&(fd as i32));
                }
            }
            EXIT => {
                let group = match ev.args.get(1) {
                    Some(ArgValue::Int(v)) => *v != 0,
                    Some(ArgValue::UInt(v)) => *v != 0,
                    _ => ev.host_tid == ev.host_pid,
                };
                if group {
                    if self.procs.remove(&ev.host_pid).is_some() {
                        self.stats.processes_exited += 1;
                    }
                    if ev.host_tid != ev.host_pid {
                        self.threads.remove(&ev.host_tid);
                    }
                } else {
                    self.threads.remove(&ev.host_tid);
                }
            }
            _ => {}
        }
    }

    /// The process of an event, created from the event (or from /proc when live) when unknown;
    /// refreshes its parent and activity time.
    pub(crate) fn ensure(&mut self, ev: &Event) -> &mut Process {
        let pid = ev.host_pid;
        if !self.procs.contains_key(&pid) {
            self.create_from_event(ev);
        }
        let p = self.procs.get_mut(&pid).expect("just inserted");
        p.last_seen = ev.ts;
        if ev.host_tid == pid && !ev.comm.is_empty() && p.name != ev.comm {
            // the main thread renamed itself (prctl PR_SET_NAME: runc:[0:PARENT]...)
            p.name.clone_from(&ev.comm);
        }
        if ev.host_ppid != 0 && p.ppid != ev.host_ppid {
            // reparented (the parent exited) or created without knowing the parent
            p.ppid = ev.host_ppid;
        }
        if p.container_id != ev.container_id {
            // moved into a container's cgroup (runc init) since its fork
            p.container_id.clone_from(&ev.container_id);
            if !ev.container_id.is_empty() {
                self.note_container(&ev.container_id, ev.ts);
            }
        }
        self.procs.get_mut(&pid).expect("present")
    }

    fn create_from_event(&mut self, ev: &Event) {
        let pid = ev.host_pid;
        let from_proc = self
            .opts
            .proc_root
            .as_deref()
            .and_then(|root| super::procfs::read_process(root, pid, self.boot_time_ns));
        let p = match from_proc {
            Some(p) => p,
            None => {
                // what the event tells: inherit the parent's view when it is known
                let mut p = match self.procs.get(&ev.host_ppid) {
                    Some(parent) => Process {
                        fds: Default::default(),
                        ..parent.clone()
                    },
                    None => Process::new(pid),
                };
                p.pid = pid;
                p.vpid = ev.pid;
                p.ppid = ev.host_ppid;
                if p.name != ev.comm || p.exe.is_empty() {
                    // it ran exec since the fork: the parent's program says nothing about it
                    p.exe = ev.comm.clone();
                    p.exepath = String::new();
                    p.args = Vec::new();
                    p.exe_from_memfd = false;
                    p.exe_upper_layer = false;
                }
                p.name = ev.comm.clone();
                p.uid = ev.uid;
                p.euid = ev.uid;
                p.gid = ev.gid;
                p.egid = ev.gid;
                p.container_id = ev.container_id.clone();
                p.start_ts = 0;
                p
            }
        };
        self.stats.processes_from_events += 1;
        if !p.container_id.is_empty() {
            let cid = p.container_id.clone();
            self.note_container(&cid, ev.ts);
        }
        self.insert_process(p);
        if ev.host_tid != pid {
            self.add_thread(ev.host_tid, pid);
        }
    }

    /// Makes sure a container has an entry, looking its runtime state up when it is new (or was
    /// not found and the retry interval passed); reads its users from the rootfs when the
    /// runtime names one.
    pub(crate) fn note_container(&mut self, id: &str, ts: u64) {
        let retry = self.opts.container_retry_ns;
        let due = match self.containers.get(id) {
            None => true,
            Some(c) => !c.found && ts.saturating_sub(c.looked_up_at) >= retry,
        };
        if !due {
            return;
        }
        if !self.containers.contains_key(id) && self.containers.len() >= self.opts.max_containers {
            // forget containers no known process runs in
            let used: super::FxHashSet<&str> = self
                .procs
                .values()
                .map(|p| p.container_id.as_str())
                .collect();
            self.containers.retain(|cid, _| used.contains(cid.as_str()));
            self.stats.containers_forgotten += 1;
        }
        self.stats.container_lookups += 1;
        let found =
            super::containers::lookup(&self.opts.runc_roots, self.opts.docker_root.as_deref(), id);
        let e = self
            .containers
            .entry(id.to_string())
            .or_insert_with(|| ContainerEntry {
                info: super::ContainerInfo {
                    id: id.to_string(),
                    ..Default::default()
                },
                ..Default::default()
            });
        e.looked_up_at = ts;
        if let Some(info) = found {
            e.info = info;
            e.found = true;
        }
        if e.users.is_none() && !e.info.rootfs.is_empty() {
            let root = std::path::Path::new(&e.info.rootfs);
            if root.join("etc/passwd").exists() {
                e.users = Some(super::UserDb::load(root));
            }
        }
    }

    /// Looks at a running process of a container through its /proc directory, once per
    /// container: its users (`<pid>/root/etc/...`) when the runtime gave no rootfs, its overlay
    /// upper directory (`<pid>/mountinfo`, for `proc.is_exe_upper_layer`) and the Kubernetes
    /// API server address in its environment (`KUBERNETES_SERVICE_HOST`, for `fd.sip.name`).
    /// Only called for processes that run the container's program (after exec, or seeded), never
    /// for the runtime's init before it entered the container's root.
    pub(crate) fn inspect_container_process(&mut self, cid: &str, pid_dir: &std::path::Path) {
        let Some(c) = self.containers.get_mut(cid) else {
            return;
        };
        if c.inspected {
            return;
        }
        c.inspected = true;
        if c.users.is_none() {
            let root = pid_dir.join("root");
            if root.join("etc/passwd").exists() {
                c.users = Some(super::UserDb::load(&root));
            }
        }
        if let Ok(mi) = std::fs::read_to_string(pid_dir.join("mountinfo")) {
            c.upperdir = super::procfs::overlay_upperdir(&mi);
        }
        let api = std::fs::read(pid_dir.join("environ")).ok().and_then(|env| {
            env.split(|&b| b == 0)
                .filter_map(|v| std::str::from_utf8(v).ok())
                .find_map(|v| v.strip_prefix("KUBERNETES_SERVICE_HOST="))
                .and_then(|v| v.parse::<IpAddr>().ok())
        });
        if let Some(ip) = api {
            self.insert_ip_name(ip, super::KUBERNETES_API_NAME);
        }
    }

    fn on_fork(&mut self, ev: &Event) {
        let arg = |i| int(ev, i).map(|v| v as u32);
        let (Some(parent_pid), Some(child_tid), Some(child_pid)) = (arg(2), arg(4), arg(6)) else {
            return;
        };
        let child_ns_pid = arg(7).unwrap_or(child_pid);
        let start = int(ev, 8).unwrap_or(0) as u64;
        if child_pid == parent_pid {
            // a new thread of the same process
            self.ensure(ev);
            self.add_thread(child_tid, parent_pid);
            return;
        }
        let start = start_ts(self.boot_time_ns, start, ev.ts);
        self.spawn(ev, parent_pid, child_pid, child_ns_pid, start);
        if child_tid != child_pid {
            self.add_thread(child_tid, child_pid);
        }
    }

    /// Adds `child` as a copy of `parent` (fds, cwd, credentials, container...).
    fn spawn(&mut self, ev: &Event, parent_pid: u32, child: u32, child_vpid: u32, start: u64) {
        let parent = if ev.host_pid == parent_pid {
            Some(self.ensure(ev).clone())
        } else {
            self.procs.get(&parent_pid).cloned()
        };
        let mut c = match parent {
            Some(p) => p,
            None => {
                let mut p = Process::new(child);
                p.name = ev.comm.clone();
                p.exe = ev.comm.clone();
                p.uid = ev.uid;
                p.euid = ev.uid;
                p.gid = ev.gid;
                p.egid = ev.gid;
                p.container_id = ev.container_id.clone();
                p
            }
        };
        if !ev.comm.is_empty() {
            // the child starts with the comm of the thread that forked it
            c.name.clone_from(&ev.comm);
        }
        c.pid = child;
        c.vpid = child_vpid;
        c.ppid = parent_pid;
        c.start_ts = start;
        c.last_seen = ev.ts;
        self.insert_process(c);
    }

    fn on_clone(&mut self, ev: &Event) {
        let flags = int(ev, 0).unwrap_or(0);
        if ev.ret > 0 {
            // parent side: the child's pid is only known on the host when the caller is in the
            // host's pid namespace (its own pid is its host pid)
            let child = ev.ret as u32;
            if ev.pid != ev.host_pid {
                return;
            }
            if flags & CLONE_THREAD != 0 && ev.id.0 != nr::FORK && ev.id.0 != nr::VFORK {
                self.ensure(ev);
                self.add_thread(child, ev.host_pid);
            } else if !self.procs.contains_key(&child) {
                self.spawn(ev, ev.host_pid, child, child, ev.ts);
            }
        } else if ev.ret == 0 {
            // child side: the event runs in the child
            if self.procs.contains_key(&ev.host_pid) {
                if ev.host_tid != ev.host_pid {
                    self.add_thread(ev.host_tid, ev.host_pid);
                }
                return;
            }
            if ev.host_tid != ev.host_pid {
                // a new thread of a process we do not know yet
                self.ensure(ev);
                return;
            }
            if self.procs.contains_key(&ev.host_ppid) {
                let (ppid, pid, vpid) = (ev.host_ppid, ev.host_pid, ev.pid);
                self.spawn(ev, ppid, pid, vpid, ev.ts);
            } else {
                self.ensure(ev);
            }
        }
    }

    fn on_execveat(&mut self, ev: &Event) {
        let path = string(ev, 1).unwrap_or("");
        let flags = int(ev, 3).unwrap_or(0);
        if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
            // fexecve: the program is the file behind dirfd
            let fd = int(ev, 0).unwrap_or(-1) as i32;
            let p = self.ensure(ev);
            let target = p.fds.get(&fd).cloned();
            self.exec_common(
                ev,
                target.as_ref().map(|f| f.name.clone()),
                target,
                2,
                None,
                None,
                false,
            );
        } else {
            let dirfd = int(ev, 0).unwrap_or(AT_FDCWD);
            let base = if dirfd == AT_FDCWD || path.starts_with('/') {
                None
            } else {
                self.procs
                    .get(&ev.host_pid)
                    .and_then(|p| p.fds.get(&(dirfd as i32)))
                    .map(|f| f.name.clone())
            };
            let full = base.map(|b| normalize_path(&b, path));
            self.exec_common(ev, full, None, 2, None, None, false);
        }
    }

    fn on_exec(
        &mut self,
        ev: &Event,
        path_i: usize,
        cwd_i: Option<usize>,
        tty_i: Option<usize>,
        sched: bool,
    ) {
        let _ = path_i;
        self.exec_common(ev, None, None, 1, cwd_i, tty_i, sched);
    }

    /// Exec: new program, arguments, name; fds with close-on-exec go; memfd and upper-layer
    /// provenance of the executable.
    #[allow(clippy::too_many_arguments)]
    fn exec_common(
        &mut self,
        ev: &Event,
        exepath_override: Option<String>,
        exe_fd: Option<Fd>,
        argv_i: usize,
        cwd_i: Option<usize>,
        tty_i: Option<usize>,
        sched: bool,
    ) {
        let path_i = if ev.id.0 == nr::EXECVEAT { 1 } else { 0 };
        let pathname = string(ev, path_i).unwrap_or("");
        let argv: &[String] = match ev.args.get(argv_i) {
            Some(ArgValue::StrList(v)) => v,
            _ => &[],
        };
        let cid = &ev.container_id;
        let boot = self.boot_time_ns;
        let p = self.ensure(ev);
        if let Some(i) = cwd_i
            && let Some(cwd) = string(ev, i)
            && !cwd.is_empty()
        {
            p.cwd = resolve("/", cwd);
        }
        // the executable: a memfd or another fd (fexecve, /dev/fd/N, /proc/self/fd/N), or a path
        let mut exe_fd = exe_fd;
        if exe_fd.is_none()
            && let Some(n) = fd_path_number(pathname, ev.pid)
        {
            exe_fd = p.fds.get(&n).cloned();
        }
        let exepath = match (&exepath_override, &exe_fd) {
            (Some(e), _) => e.clone(),
            (None, Some(f)) => f.name.clone(),
            (None, None) => {
                let raw = pathname.strip_suffix(" (deleted)").unwrap_or(pathname);
                if raw.starts_with("memfd:") || raw.starts_with("/memfd:") {
                    raw.trim_start_matches('/').to_string()
                } else {
                    resolve(&p.cwd, raw)
                }
            }
        };
        p.exe_from_memfd = exe_fd.as_ref().is_some_and(|f| f.kind == FdKind::Memfd)
            || exepath.starts_with("memfd:")
            || pathname.starts_with("/memfd:");
        p.exe = match argv.first() {
            Some(a0) => a0.clone(),
            None if !pathname.is_empty() => pathname.to_string(),
            None => exepath.clone(),
        };
        p.args = argv.iter().skip(1).cloned().collect();
        p.name = if !ev.comm.is_empty() {
            ev.comm.clone()
        } else {
            comm_of(basename(&exepath)).to_string()
        };
        p.exepath = exepath;
        p.uid = ev.uid;
        p.gid = ev.gid;
        p.vpid = ev.pid;
        if let Some(i) = tty_i {
            match ev.args.get(i) {
                Some(ArgValue::Str(s)) => p.tty = tty_from_name(s),
                Some(v) => {
                    if let Some(n) = v.as_i64() {
                        p.tty = n as u32;
                    }
                }
                None => {}
            }
        }
        if sched {
            if let Some(sid) = int(ev, 4) {
                // the sensor reports the session id as the process sees it
                p.vsid = sid as u32;
                if ev.pid == ev.host_pid {
                    p.sid = sid as u32;
                } else if sid as u32 == ev.pid {
                    p.sid = ev.host_pid;
                }
            }
            if let Some(l) = int(ev, 5) {
                p.loginuid = l as u32;
            }
            if let Some(st) = int(ev, 6)
                && st != 0
            {
                p.start_ts = start_ts(boot, st as u64, ev.ts);
            }
        }
        if p.start_ts == 0 {
            p.start_ts = ev.ts;
        }
        p.fds.retain(|_, f| f.flags & oflag::CLOEXEC == 0);
        p.exe_ino = 0;
        p.exe_ctime = 0;
        p.exe_mtime = 0;
        let changed_container = p.container_id != *cid;
        if changed_container {
            p.container_id = cid.clone();
        }
        let pid = p.pid;
        if sched && ev.pid != ev.host_pid {
            self.host_sid_from_ancestors(pid);
        }
        if let Some(root) = self.opts.proc_root.clone() {
            let p = self.procs.get_mut(&pid).expect("present");
            super::procfs::refresh_creds(&root, pid, p);
            super::procfs::stat_exe(&root, pid, p);
        }
        if !cid.is_empty() {
            self.note_container(cid, ev.ts);
            if ev.pid == 1 {
                // the container's first process: its start is the container's when the runtime
                // did not say
                let start = self.procs[&pid].start_ts;
                if let Some(c) = self.containers.get_mut(cid)
                    && c.info.start_ts == 0
                {
                    c.info.start_ts = start;
                }
            }
            if let Some(root) = &self.opts.proc_root {
                let dir = root.join(pid.to_string());
                self.inspect_container_process(cid, &dir);
            }
            let exepath = &self.procs[&pid].exepath;
            let wrote = self.containers.get(cid).is_some_and(|c| {
                c.written.contains(exepath)
                    || c.upperdir.as_ref().is_some_and(|u| {
                        exepath.starts_with('/') && u.join(exepath.trim_start_matches('/')).exists()
                    })
            });
            let p = self.procs.get_mut(&pid).expect("present");
            p.exe_upper_layer = wrote && !p.exe_from_memfd;
        } else if let Some(p) = self.procs.get_mut(&pid) {
            p.exe_upper_layer = false;
        }
    }

    /// In a pid namespace, the host session id is the host pid of the nearest process (itself or
    /// an ancestor in the same container) whose namespaced pid is the namespaced session id.
    fn host_sid_from_ancestors(&mut self, pid: u32) {
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        if p.vsid == 0 || p.vsid == p.vpid {
            return;
        }
        let leader = self
            .ancestors(p)
            .take_while(|a| a.container_id == p.container_id)
            .find(|a| a.vpid == p.vsid)
            .map(|a| a.pid);
        if let Some(l) = leader {
            self.procs.get_mut(&pid).expect("present").sid = l;
        }
    }

    fn on_open(&mut self, ev: &Event) {
        let id = ev.id.0;
        let (path_i, flags) = match id {
            nr::OPEN => (0, int(ev, 1).unwrap_or(0)),
            nr::CREAT => (0, oflag::CREAT | oflag::WRONLY | oflag::TRUNC),
            _ => (1, int(ev, 2).unwrap_or(0)),
        };
        let Some(raw) = string(ev, path_i) else {
            return;
        };
        let dirfd = if id == nr::OPENAT || id == nr::OPENAT2 {
            int(ev, 0).unwrap_or(AT_FDCWD)
        } else {
            AT_FDCWD
        };
        let max = self.opts.max_fds_per_process;
        let p = self.ensure(ev);
        let name = if is_normal_abs(raw) {
            raw.to_string()
        } else if raw.starts_with('/') || dirfd == AT_FDCWD {
            normalize_path(&p.cwd, raw)
        } else {
            let base = p
                .fds
                .get(&(dirfd as i32))
                .map(|f| f.name.as_str())
                .unwrap_or(&p.cwd);
            normalize_path(base, raw)
        };
        let kind = if flags & oflag::TMPFILE == oflag::TMPFILE {
            FdKind::File
        } else if flags & oflag::DIRECTORY != 0 {
            FdKind::Directory
        } else if name.starts_with("/memfd:") {
            FdKind::Memfd
        } else {
            FdKind::File
        };
        let written = flags & (oflag::WRONLY | oflag::RDWR) != 0 && ev.in_container();
        let mut fd = Fd::new(ev.ret as i32, kind, name);
        fd.flags = flags;
        if fd.name != raw {
            fd.nameraw = raw.to_string();
        }
        let written_path = written.then(|| fd.name.clone());
        if !put_fd(p, fd, max) {
            self.stats.fds_dropped += 1;
        }
        if let Some(path) = written_path {
            self.note_written_abs(&ev.container_id, path);
        }
    }

    fn note_written(&mut self, ev: &Event, path: &str) {
        let cwd = self
            .procs
            .get(&ev.host_pid)
            .map(|p| p.cwd.as_str())
            .unwrap_or("/");
        let abs = resolve(cwd, path);
        self.note_written_abs(&ev.container_id, abs);
    }

    /// The path no longer holds what the container wrote (unlinked, renamed away).
    fn forget_written(&mut self, ev: &Event, path: &str) {
        let cwd = self.procs.get(&ev.host_pid).map(|p| p.cwd.as_str());
        let abs = resolve(cwd.unwrap_or("/"), path);
        if let Some(c) = self.containers.get_mut(&ev.container_id) {
            c.written.remove(&abs);
        }
    }

    fn note_written_abs(&mut self, cid: &str, path: String) {
        let max = self.opts.max_written_paths_per_container;
        let Some(c) = self.containers.get_mut(cid) else {
            return;
        };
        if c.written.len() >= max && !c.written.contains(&path) {
            self.stats.written_paths_dropped += 1;
            return;
        }
        c.written.insert(path);
    }

    fn add_fd(&mut self, ev: &Event, fd: Fd) {
        let max = self.opts.max_fds_per_process;
        let p = self.ensure(ev);
        if !put_fd(p, fd, max) {
            self.stats.fds_dropped += 1;
        }
    }

    fn add_anon(&mut self, ev: &Event, kind: FdKind) {
        self.add_fd(ev, Fd::new(ev.ret as i32, kind, String::new()));
    }

    fn on_socket(&mut self, ev: &Event) {
        let domain = int(ev, 0).unwrap_or(-1);
        let ty = int(ev, 1).unwrap_or(0);
        let proto = int(ev, 2).unwrap_or(0);
        let kind = match domain {
            1 => FdKind::Unix,
            2 => FdKind::Ipv4,
            10 => FdKind::Ipv6,
            16 => FdKind::Netlink,
            _ => FdKind::Other,
        };
        let l4 = match (domain, ty & 0xf, proto) {
            (2 | 10, 1, 0 | 6) => L4Proto::Tcp,
            (2 | 10, 2, 0 | 17) => L4Proto::Udp,
            (2 | 10, 2 | 3, 1 | 58) => L4Proto::Icmp,
            (2 | 10, 3, _) | (17, _, _) => L4Proto::Raw,
            _ => L4Proto::Unknown,
        };
        let mut fd = Fd::new(ev.ret as i32, kind, String::new());
        fd.l4proto = l4;
        if ty & 0o2000000 != 0 {
            // SOCK_CLOEXEC
            fd.flags = oflag::CLOEXEC;
        }
        self.add_fd(ev, fd);
    }

    /// The socket fd of a call, created from the address family when the socket is unknown.
    fn socket_fd(&mut self, ev: &Event, num: i32, addr: Option<&SockAddr>) -> Option<&mut Fd> {
        let max = self.opts.max_fds_per_process;
        let pid = ev.host_pid;
        let p = self.ensure(ev);
        if !p.fds.contains_key(&num) {
            if p.fds.len() >= max {
                self.stats.fds_dropped += 1;
                return None;
            }
            // live, the socket (with its protocol and, once connected, its local end) can be
            // read from /proc; otherwise its kind follows the address family
            let from_proc = self
                .opts
                .proc_root
                .as_deref()
                .and_then(|root| super::procfs::read_fd(root, pid, num))
                .filter(Fd::is_socket);
            let fd = match from_proc {
                Some(fd) => fd,
                None => Fd::new(num, addr.map(kind_of_addr)?, String::new()),
            };
            self.procs.get_mut(&pid)?.fds.insert(num, fd);
        }
        self.procs.get_mut(&pid)?.fds.get_mut(&num)
    }

    fn on_connect(&mut self, ev: &Event) {
        let num = int(ev, 0).unwrap_or(-1) as i32;
        let addr = sock(ev, 1).cloned();
        let Some(fd) = self.socket_fd(ev, num, addr.as_ref()) else {
            return;
        };
        match addr {
            Some(SockAddr::Unix { path }) => fd.name = path,
            Some(a) => {
                fd.server = endpoint(&a);
                fd.client = fd.bound.or(fd.client);
                fd.is_server = false;
                rename_socket(fd);
            }
            None => {}
        }
    }

    fn on_sendto(&mut self, ev: &Event) {
        let num = int(ev, 0).unwrap_or(-1) as i32;
        let addr = sock(ev, 3).cloned();
        let Some(fd) = self.socket_fd(ev, num, addr.as_ref()) else {
            return;
        };
        if fd.server.is_none()
            && !fd.is_server
            && let Some(ep) = addr.as_ref().and_then(endpoint)
        {
            fd.server = Some(ep);
            fd.client = fd.bound;
            rename_socket(fd);
        }
    }

    fn on_bind(&mut self, ev: &Event) {
        let num = int(ev, 0).unwrap_or(-1) as i32;
        let addr = sock(ev, 1).cloned();
        let Some(fd) = self.socket_fd(ev, num, addr.as_ref()) else {
            return;
        };
        match addr {
            Some(SockAddr::Unix { path }) => fd.name = path,
            Some(a) => fd.bound = endpoint(&a),
            None => {}
        }
    }

    fn on_listen(&mut self, ev: &Event) {
        let num = int(ev, 0).unwrap_or(-1) as i32;
        let Some(fd) = self.socket_fd(ev, num, None) else {
            return;
        };
        fd.is_server = true;
        if fd.server.is_none() {
            fd.server = fd.bound;
        }
        if matches!(fd.kind, FdKind::Ipv4 | FdKind::Ipv6)
            && let Some(ep) = fd.bound
        {
            fd.name = match ep.0 {
                IpAddr::V4(_) => format!("{}:{}", ep.0, ep.1),
                IpAddr::V6(_) => format!("{}:{}", ep.0, ep.1),
            };
        }
    }

    fn on_accept(&mut self, ev: &Event) {
        let lnum = int(ev, 0).unwrap_or(-1) as i32;
        let addr = sock(ev, 1).cloned();
        let flags = if ev.id.0 == nr::ACCEPT4 {
            int(ev, 2).unwrap_or(0)
        } else {
            0
        };
        let max = self.opts.max_fds_per_process;
        let p = self.ensure(ev);
        let listening = p.fds.get(&lnum);
        let kind = listening
            .map(|f| f.kind.clone())
            .or_else(|| addr.as_ref().map(kind_of_addr))
            .unwrap_or(FdKind::Other);
        let mut fd = Fd::new(ev.ret as i32, kind, String::new());
        fd.is_server = true;
        fd.l4proto = listening.map(|f| f.l4proto).unwrap_or(L4Proto::Unknown);
        fd.server = listening.and_then(|f| f.server.or(f.bound));
        fd.client = addr.as_ref().and_then(endpoint);
        if flags & 0o2000000 != 0 {
            fd.flags = oflag::CLOEXEC;
        }
        match fd.kind {
            FdKind::Unix => fd.name = listening.map(|f| f.name.clone()).unwrap_or_default(),
            _ => rename_socket(&mut fd),
        }
        if !put_fd(p, fd, max) {
            self.stats.fds_dropped += 1;
        }
    }

    fn on_dup(&mut self, ev: &Event) {
        let old = int(ev, 0).unwrap_or(-1) as i32;
        let new = ev.ret as i32;
        let cloexec = ev.id.0 == nr::DUP3 && int(ev, 2).unwrap_or(0) & oflag::CLOEXEC != 0;
        let max = self.opts.max_fds_per_process;
        let p = self.ensure(ev);
        if old == new {
            return;
        }
        match p.fds.get(&old) {
            Some(f) => {
                let mut f = f.clone();
                f.num = new;
                f.flags = (f.flags & !oflag::CLOEXEC) | if cloexec { oflag::CLOEXEC } else { 0 };
                if !put_fd(p, f, max) {
                    self.stats.fds_dropped += 1;
                }
            }
            None => {
                // the old fd is unknown: whatever the new number held is gone; live, the new fd
                // (a copy of the old one) can still be read from /proc
                p.fds.remove(&new);
                let pid = ev.host_pid;
                let Some(root) = self.opts.proc_root.as_deref() else {
                    return;
                };
                let Some(mut f) = super::procfs::read_fd(root, pid, new) else {
                    return;
                };
                let p = self.procs.get_mut(&pid).expect("present");
                let mut o = f.clone();
                o.num = old;
                f.flags = (f.flags & !oflag::CLOEXEC) | if cloexec { oflag::CLOEXEC } else { 0 };
                if !put_fd(p, o, max) || !put_fd(p, f, max) {
                    self.stats.fds_dropped += 1;
                }
            }
        }
    }
}

/// An absolute normal path from a possibly relative one.
fn resolve(cwd: &str, path: &str) -> String {
    if is_normal_abs(path) {
        path.to_string()
    } else {
        normalize_path(if cwd.is_empty() { "/" } else { cwd }, path)
    }
}

/// `N` when a path names an fd of the calling process (`/dev/fd/N`, `/proc/self/fd/N`,
/// `/proc/<own pid>/fd/N`).
fn fd_path_number(path: &str, own_pid: u32) -> Option<i32> {
    let rest = path
        .strip_prefix("/dev/fd/")
        .or_else(|| path.strip_prefix("/proc/self/fd/"))
        .or_else(|| {
            let r = path.strip_prefix("/proc/")?;
            let (pid, r) = r.split_once('/')?;
            (pid.parse::<u32>().ok()? == own_pid).then_some(())?;
            r.strip_prefix("fd/")
        })?;
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_numbers_and_argument_positions_match_the_catalog() {
        let nums = [
            ("open", nr::OPEN),
            ("close", nr::CLOSE),
            ("dup", nr::DUP),
            ("dup2", nr::DUP2),
            ("dup3", nr::DUP3),
            ("socket", nr::SOCKET),
            ("connect", nr::CONNECT),
            ("accept", nr::ACCEPT),
            ("accept4", nr::ACCEPT4),
            ("sendto", nr::SENDTO),
            ("bind", nr::BIND),
            ("listen", nr::LISTEN),
            ("clone", nr::CLONE),
            ("clone3", nr::CLONE3),
            ("fork", nr::FORK),
            ("vfork", nr::VFORK),
            ("execve", nr::EXECVE),
            ("execveat", nr::EXECVEAT),
            ("rename", nr::RENAME),
            ("renameat", nr::RENAMEAT),
            ("renameat2", nr::RENAMEAT2),
            ("link", nr::LINK),
            ("linkat", nr::LINKAT),
            ("unlink", nr::UNLINK),
            ("unlinkat", nr::UNLINKAT),
            ("chmod", nr::CHMOD),
            ("fchmodat", nr::FCHMODAT),
            ("chdir", nr::CHDIR),
            ("fchdir", nr::FCHDIR),
            ("creat", nr::CREAT),
            ("setuid", nr::SETUID),
            ("setgid", nr::SETGID),
            ("setpgid", nr::SETPGID),
            ("setsid", nr::SETSID),
            ("setreuid", nr::SETREUID),
            ("setregid", nr::SETREGID),
            ("setresuid", nr::SETRESUID),
            ("setresgid", nr::SETRESGID),
            ("capset", nr::CAPSET),
            ("epoll_create", nr::EPOLL_CREATE),
            ("epoll_create1", nr::EPOLL_CREATE1),
            ("inotify_init", nr::INOTIFY_INIT),
            ("inotify_init1", nr::INOTIFY_INIT1),
            ("signalfd", nr::SIGNALFD),
            ("signalfd4", nr::SIGNALFD4),
            ("timerfd_create", nr::TIMERFD_CREATE),
            ("eventfd", nr::EVENTFD),
            ("eventfd2", nr::EVENTFD2),
            ("openat", nr::OPENAT),
            ("openat2", nr::OPENAT2),
            ("memfd_create", nr::MEMFD_CREATE),
            ("userfaultfd", nr::USERFAULTFD),
            ("pidfd_open", nr::PIDFD_OPEN),
        ];
        for (name, n) in nums {
            assert_eq!(EventId::from_name(name), Some(EventId(n)), "{name}");
        }
        let pos = [
            ("open", "pathname", 0),
            ("open", "flags", 1),
            ("openat", "dirfd", 0),
            ("openat", "pathname", 1),
            ("openat", "flags", 2),
            ("openat2", "flags", 2),
            ("creat", "pathname", 0),
            ("close", "fd", 0),
            ("socket", "domain", 0),
            ("socket", "type", 1),
            ("socket", "protocol", 2),
            ("connect", "sockfd", 0),
            ("connect", "addr", 1),
            ("accept4", "addr", 1),
            ("accept4", "flags", 2),
            ("bind", "addr", 1),
            ("listen", "sockfd", 0),
            ("sendto", "sockfd", 0),
            ("sendto", "dest_addr", 3),
            ("dup", "oldfd", 0),
            ("dup3", "flags", 2),
            ("execve", "pathname", 0),
            ("execve", "argv", 1),
            ("execveat", "dirfd", 0),
            ("execveat", "pathname", 1),
            ("execveat", "argv", 2),
            ("execveat", "flags", 3),
            ("chdir", "path", 0),
            ("fchdir", "fd", 0),
            ("setuid", "uid", 0),
            ("setresuid", "euid", 1),
            ("setreuid", "euid", 1),
            ("setpgid", "pid", 0),
            ("setpgid", "pgid", 1),
            ("rename", "newpath", 1),
            ("renameat", "newpath", 3),
            ("renameat2", "newpath", 3),
            ("link", "newpath", 1),
            ("linkat", "newpath", 3),
            ("chmod", "pathname", 0),
            ("fchmodat", "pathname", 1),
            ("unlink", "pathname", 0),
            ("unlinkat", "pathname", 1),
            ("memfd_create", "name", 0),
            ("memfd_create", "flags", 1),
            ("clone", "flags", 0),
            ("sched_process_fork", "parent_pid", 2),
            ("sched_process_fork", "child_tid", 4),
            ("sched_process_fork", "child_pid", 6),
            ("sched_process_fork", "child_ns_pid", 7),
            ("sched_process_fork", "start_time", 8),
            ("sched_process_exec", "pathname", 0),
            ("sched_process_exec", "argv", 1),
            ("sched_process_exec", "cwd", 2),
            ("sched_process_exec", "tty", 3),
            ("sched_process_exec", "sid", 4),
            ("sched_process_exec", "loginuid", 5),
            ("sched_process_exec", "start_time", 6),
            ("sched_process_exit", "process_group_exit", 1),
        ];
        for (ev, arg, i) in pos {
            let def = EventId::from_name(ev).unwrap().def().unwrap();
            assert_eq!(def.arg_index(arg), Some(i), "{ev}.{arg}");
        }
    }

    #[test]
    fn fd_paths_and_start_times() {
        assert_eq!(fd_path_number("/dev/fd/3", 9), Some(3));
        assert_eq!(fd_path_number("/proc/self/fd/4", 9), Some(4));
        assert_eq!(fd_path_number("/proc/9/fd/5", 9), Some(5));
        assert_eq!(fd_path_number("/proc/8/fd/5", 9), None);
        assert_eq!(fd_path_number("/usr/bin/ls", 9), None);
        assert_eq!(start_ts(1_000, 0, 77), 77);
        assert_eq!(start_ts(1_000, 500, 77), 1_500);
        let epoch = 1_700_000_000_000_000_000;
        assert_eq!(start_ts(1_000, epoch, 77), epoch);
    }
}
