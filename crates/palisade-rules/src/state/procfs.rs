//! Seeding from a /proc tree (the live one, or a fake tree in tests).
//!
//! Per process: `status` (ids, namespaced pids, capabilities), `stat` (session, process group,
//! tty, start time), `cmdline`, `exe`, `cwd`, `loginuid`, `cgroup` (container id), `fd/*` with
//! `fdinfo/*` flags, and `task/*` (threads). Socket fds (`socket:[inode]`) are resolved through
//! the socket tables of the process's network namespace (`<pid>/net/{tcp,tcp6,udp,udp6,raw,raw6,
//! unix,netlink}`), read once per namespace.

use super::apply::oflag;
use super::fx::FxHashMap;
use super::names::tuple_name;
use super::{Fd, FdKind, L4Proto, Process, State, StateError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Clock ticks per second of `stat` times (`USER_HZ`, 100 on every Linux architecture the
/// sensor supports).
const USER_HZ: u64 = 100;

/// What seeding found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedStats {
    /// Processes read.
    pub processes: usize,
    /// Threads (other than group leaders) recorded.
    pub threads: usize,
    /// Fds read.
    pub fds: usize,
    /// Socket fds resolved through the socket tables.
    pub sockets_resolved: usize,
    /// Processes that vanished or could not be read.
    pub skipped: usize,
    /// Containers seen.
    pub containers: usize,
}

/// Boot time from `<proc>/stat` (`btime`, seconds) in ns.
pub(crate) fn boot_time_ns(proc_root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(proc_root.join("stat")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1_000_000_000))
}

/// One socket of a socket table.
#[derive(Clone, Debug)]
struct SockInfo {
    kind: FdKind,
    l4: L4Proto,
    local: Option<(IpAddr, u16)>,
    remote: Option<(IpAddr, u16)>,
    listening: bool,
    path: String,
}

/// The sockets of one network namespace, by inode.
#[derive(Debug, Default)]
struct SockTable {
    by_inode: FxHashMap<u64, SockInfo>,
    /// Local ports with a listening TCP socket.
    listen_ports: Vec<u16>,
}

fn parse_hex_ip(s: &str) -> Option<IpAddr> {
    match s.len() {
        8 => {
            let v = u32::from_str_radix(s, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(v.to_le_bytes())))
        }
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&s[i * 8..i * 8 + 8], 16).ok()?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn parse_hex_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.split_once(':')?;
    Some((parse_hex_ip(ip)?, u16::from_str_radix(port, 16).ok()?))
}

fn is_unspecified(ep: (IpAddr, u16)) -> bool {
    ep.0.is_unspecified() && ep.1 == 0
}

impl SockTable {
    fn read(dir: &Path) -> SockTable {
        let mut t = SockTable::default();
        let inet = [
            ("tcp", FdKind::Ipv4, L4Proto::Tcp),
            ("tcp6", FdKind::Ipv6, L4Proto::Tcp),
            ("udp", FdKind::Ipv4, L4Proto::Udp),
            ("udp6", FdKind::Ipv6, L4Proto::Udp),
            ("raw", FdKind::Ipv4, L4Proto::Raw),
            ("raw6", FdKind::Ipv6, L4Proto::Raw),
        ];
        for (file, kind, l4) in inet {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
                continue;
            };
            t.parse_inet(&text, kind, l4);
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("unix")) {
            t.parse_unix(&text);
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("netlink")) {
            for line in text.lines().skip(1) {
                if let Some(inode) = line
                    .split_whitespace()
                    .last()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    t.by_inode.insert(
                        inode,
                        SockInfo {
                            kind: FdKind::Netlink,
                            l4: L4Proto::Unknown,
                            local: None,
                            remote: None,
                            listening: false,
                            path: String::new(),
                        },
                    );
                }
            }
        }
        t
    }

    fn parse_inet(&mut self, text: &str, kind: FdKind, l4: L4Proto) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let (Some(mut local), Some(mut remote), Ok(inode)) = (
                parse_hex_endpoint(f[1]),
                parse_hex_endpoint(f[2]),
                f[9].parse::<u64>(),
            ) else {
                continue;
            };
            let mut kind = kind.clone();
            if kind == FdKind::Ipv6 {
                // a dual-stack socket talking IPv4 shows as IPv4
                let mapped = |ip: IpAddr| match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
                    v4 => Some(v4),
                };
                if let (Some(l), Some(r)) = (mapped(local.0), mapped(remote.0))
                    && !local.0.is_unspecified()
                {
                    local.0 = l;
                    remote.0 = if remote.0.is_unspecified() {
                        Ipv4Addr::UNSPECIFIED.into()
                    } else {
                        r
                    };
                    kind = FdKind::Ipv4;
                }
            }
            let listening = l4 == L4Proto::Tcp && f[3] == "0A";
            if listening {
                self.listen_ports.push(local.1);
            }
            self.by_inode.insert(
                inode,
                SockInfo {
                    kind,
                    l4,
                    local: Some(local),
                    remote: (!is_unspecified(remote)).then_some(remote),
                    listening,
                    path: String::new(),
                },
            );
        }
    }

    fn parse_unix(&mut self, text: &str) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 7 {
                continue;
            }
            let Ok(inode) = f[6].parse::<u64>() else {
                continue;
            };
            let flags = u32::from_str_radix(f[3], 16).unwrap_or(0);
            self.by_inode.insert(
                inode,
                SockInfo {
                    kind: FdKind::Unix,
                    l4: L4Proto::Unknown,
                    local: None,
                    remote: None,
                    listening: flags & 0x10000 != 0,
                    path: f.get(7).map(|s| s.to_string()).unwrap_or_default(),
                },
            );
        }
    }

    /// The fd for socket `inode`, `None` when the tables do not have it.
    fn fd(&self, num: i32, inode: u64) -> Option<Fd> {
        let s = self.by_inode.get(&inode)?;
        let mut fd = Fd::new(num, s.kind.clone(), String::new());
        fd.l4proto = s.l4;
        match s.kind {
            FdKind::Ipv4 | FdKind::Ipv6 => {
                let v6 = s.kind == FdKind::Ipv6;
                if s.listening || (s.remote.is_none() && s.l4 != L4Proto::Tcp) {
                    fd.bound = s.local;
                    fd.is_server = s.listening;
                    if s.listening {
                        fd.server = s.local;
                        if let Some((ip, port)) = s.local {
                            fd.name = format!("{ip}:{port}");
                        }
                    }
                } else {
                    let local_serves = s
                        .local
                        .is_some_and(|(_, port)| self.listen_ports.contains(&port));
                    if local_serves {
                        fd.is_server = true;
                        fd.server = s.local;
                        fd.client = s.remote;
                    } else {
                        fd.client = s.local;
                        fd.server = s.remote;
                    }
                    fd.name = tuple_name(fd.client, fd.server, v6);
                }
            }
            FdKind::Unix => {
                fd.name = s.path.clone();
                fd.is_server = s.listening;
            }
            _ => {}
        }
        Some(fd)
    }
}

/// The fields of `/proc/<pid>/status` the state uses.
#[derive(Default)]
struct Status {
    name: String,
    tgid: u32,
    ppid: u32,
    uid: [u32; 2],
    gid: [u32; 2],
    ns_pid: Option<u32>,
    ns_pgid: Option<u32>,
    ns_sid: Option<u32>,
    cap_inh: u64,
    cap_prm: u64,
    cap_eff: u64,
}

fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    let last = |v: &str| v.split_whitespace().last().and_then(|x| x.parse().ok());
    let two = |v: &str| {
        let mut it = v.split_whitespace().map(|x| x.parse::<u32>().unwrap_or(0));
        [it.next().unwrap_or(0), it.next().unwrap_or(0)]
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k {
            "Name" => s.name = v.to_string(),
            "Tgid" => s.tgid = v.parse().unwrap_or(0),
            "PPid" => s.ppid = v.parse().unwrap_or(0),
            "Uid" => s.uid = two(v),
            "Gid" => s.gid = two(v),
            "NSpid" => s.ns_pid = last(v),
            "NSpgid" => s.ns_pgid = last(v),
            "NSsid" => s.ns_sid = last(v),
            "CapInh" => s.cap_inh = u64::from_str_radix(v, 16).unwrap_or(0),
            "CapPrm" => s.cap_prm = u64::from_str_radix(v, 16).unwrap_or(0),
            "CapEff" => s.cap_eff = u64::from_str_radix(v, 16).unwrap_or(0),
            _ => {}
        }
    }
    s
}

/// The fields of `/proc/<pid>/stat` the state uses.
struct Stat {
    pgrp: u32,
    session: u32,
    tty_nr: u32,
    start_ticks: u64,
}

fn parse_stat(text: &str) -> Option<Stat> {
    // the comm field may hold spaces and parentheses: the fields start after the LAST ')'
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state)
    Some(Stat {
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        tty_nr: f.get(4)?.parse::<i64>().ok()? as u32,
        start_ticks: f.get(19)?.parse().ok()?,
    })
}

fn read_link(p: &Path) -> Option<String> {
    std::fs::read_link(p)
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// Kind and name of an fd from its `/proc/<pid>/fd/<n>` link; `None` kind for sockets (resolved
/// separately), with the inode.
fn classify_link(link: &str) -> (Option<FdKind>, String, u64) {
    if let Some(rest) = link.strip_prefix("socket:[") {
        return (
            None,
            String::new(),
            rest.trim_end_matches(']').parse().unwrap_or(0),
        );
    }
    if link.starts_with("pipe:[") {
        return (Some(FdKind::Pipe), String::new(), 0);
    }
    if let Some(anon) = link.strip_prefix("anon_inode:") {
        let a = anon.trim_start_matches('[').trim_end_matches(']');
        let kind = match a {
            "eventfd" => FdKind::Event,
            "eventpoll" => FdKind::Eventpoll,
            "inotify" => FdKind::Inotify,
            "timerfd" => FdKind::Timerfd,
            "signalfd" => FdKind::Signalfd,
            _ => FdKind::Other,
        };
        return (Some(kind), String::new(), 0);
    }
    if let Some(m) = link.strip_prefix("/memfd:") {
        let name = m.strip_suffix(" (deleted)").unwrap_or(m);
        return (Some(FdKind::Memfd), format!("memfd:{name}"), 0);
    }
    if link.starts_with('/') {
        return (Some(FdKind::File), link.to_string(), 0);
    }
    (Some(FdKind::Other), link.to_string(), 0)
}

/// Socket tables by network namespace, filled as processes are read.
#[derive(Default)]
struct NetCache {
    by_ns: FxHashMap<String, SockTable>,
}

impl NetCache {
    fn table(&mut self, root: &Path, pid: u32) -> &SockTable {
        let pdir = root.join(pid.to_string());
        let ns = read_link(&pdir.join("ns/net")).unwrap_or_default();
        self.by_ns.entry(ns).or_insert_with(|| {
            let own = pdir.join("net");
            if own.is_dir() {
                SockTable::read(&own)
            } else {
                SockTable::read(&root.join("net"))
            }
        })
    }
}

/// Reads one fd of a process from /proc (a socket is resolved through the process's own
/// socket tables); `None` when it is not open.
pub(crate) fn read_fd(root: &Path, pid: u32, num: i32) -> Option<Fd> {
    let dir = root.join(pid.to_string());
    let link_path = dir.join("fd").join(num.to_string());
    let link = read_link(&link_path)?;
    let flags = read_fd_flags(&dir, num);
    let mut fd = match classify_link(&link) {
        (None, _, inode) => SockTable::read(&dir.join("net"))
            .fd(num, inode)
            .unwrap_or_else(|| Fd::new(num, FdKind::Other, link.clone())),
        (Some(mut kind), name, _) => {
            if kind == FdKind::File
                && (flags & oflag::DIRECTORY != 0
                    || std::fs::metadata(&link_path).is_ok_and(|m| m.is_dir()))
            {
                kind = FdKind::Directory;
            }
            Fd::new(num, kind, name)
        }
    };
    fd.flags = flags;
    Some(fd)
}

/// Reads one process from /proc (fds included, sockets resolved in its own network namespace).
pub(crate) fn read_process(root: &Path, pid: u32, boot_ns: u64) -> Option<Process> {
    let mut net = NetCache::default();
    let mut n = (0, 0);
    read_process_with(root, pid, boot_ns, &mut net, &mut n)
}

fn read_process_with(
    root: &Path,
    pid: u32,
    boot_ns: u64,
    net: &mut NetCache,
    counts: &mut (usize, usize),
) -> Option<Process> {
    let dir = root.join(pid.to_string());
    let status = parse_status(&std::fs::read_to_string(dir.join("status")).ok()?);
    if status.tgid != 0 && status.tgid != pid {
        // a thread id listed at the top level: not a process
        return None;
    }
    let stat = std::fs::read_to_string(dir.join("stat"))
        .ok()
        .and_then(|t| parse_stat(&t));
    let mut p = Process::new(pid);
    p.ppid = status.ppid;
    p.vpid = status.ns_pid.unwrap_or(pid);
    p.name = status.name;
    p.uid = status.uid[0];
    p.euid = status.uid[1];
    p.gid = status.gid[0];
    p.egid = status.gid[1];
    p.cap_inheritable = status.cap_inh;
    p.cap_permitted = status.cap_prm;
    p.cap_effective = status.cap_eff;
    if let Some(st) = &stat {
        p.sid = st.session;
        p.pgid = status.ns_pgid.unwrap_or(st.pgrp);
        p.vsid = status.ns_sid.unwrap_or(st.session);
        p.tty = st.tty_nr;
        p.start_ts = boot_ns.saturating_add(st.start_ticks.saturating_mul(1_000_000_000 / USER_HZ));
    }
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let mut argv: Vec<String> = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if argv.last().is_some_and(String::is_empty) {
        argv.pop();
    }
    let exe_link = read_link(&dir.join("exe")).unwrap_or_default();
    let exe_clean = exe_link.strip_suffix(" (deleted)").unwrap_or(&exe_link);
    if let Some(m) = exe_clean.strip_prefix("/memfd:") {
        p.exe_from_memfd = true;
        p.exepath = format!("memfd:{m}");
    } else {
        p.exepath = exe_clean.to_string();
    }
    if argv.is_empty() {
        // a kernel thread or a zombie
        p.exe = p.name.clone();
    } else {
        p.exe = argv.remove(0);
        p.args = argv;
    }
    p.cwd = read_link(&dir.join("cwd")).unwrap_or_default();
    if let Ok(l) = std::fs::read_to_string(dir.join("loginuid"))
        && let Ok(v) = l.trim().parse::<u32>()
    {
        p.loginuid = v;
    }
    if let Ok(cg) = std::fs::read_to_string(dir.join("cgroup")) {
        p.container_id = cg
            .lines()
            .filter_map(|l| l.splitn(3, ':').nth(2))
            .find_map(palisade_events::container::from_cgroup_path)
            .map(|c| c.id)
            .unwrap_or_default();
    }
    stat_exe(root, pid, &mut p);
    if let Ok(env) = std::fs::read(dir.join("environ")) {
        p.env = env
            .split(|&b| b == 0)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
    }
    // fds
    if let Ok(rd) = std::fs::read_dir(dir.join("fd")) {
        let mut sockets: Vec<(i32, u64)> = Vec::new();
        for e in rd.flatten() {
            let Some(num) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Some(link) = read_link(&e.path()) else {
                continue;
            };
            let (kind, name, inode) = classify_link(&link);
            let Some(mut kind) = kind else {
                sockets.push((num, inode));
                continue;
            };
            let flags = read_fd_flags(&dir, num);
            if kind == FdKind::File
                && (flags & oflag::DIRECTORY != 0
                    || std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()))
            {
                kind = FdKind::Directory;
            }
            let mut fd = Fd::new(num, kind, name);
            fd.flags = flags;
            p.fds.insert(num, fd);
            counts.0 += 1;
        }
        if !sockets.is_empty() {
            let table = net.table(root, pid);
            for (num, inode) in sockets {
                let mut fd = match table.fd(num, inode) {
                    Some(fd) => {
                        counts.1 += 1;
                        fd
                    }
                    None => Fd::new(num, FdKind::Other, format!("socket:[{inode}]")),
                };
                fd.flags = read_fd_flags(&dir, num);
                p.fds.insert(num, fd);
                counts.0 += 1;
            }
        }
    }
    Some(p)
}

/// The `upperdir=` of the overlay mounted on `/` in a `mountinfo` text, `None` when the root is
/// not an overlay. Octal escapes (`\040` for a space) are decoded.
pub(crate) fn overlay_upperdir(mountinfo: &str) -> Option<PathBuf> {
    // the last mount on "/" is the one in effect
    let line = mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))?;
    let (_, tail) = line.split_once(" - ")?;
    let mut f = tail.split(' ');
    if f.next()? != "overlay" {
        return None;
    }
    let opts = f.nth(1)?;
    let up = opts.split(',').find_map(|o| o.strip_prefix("upperdir="))?;
    Some(PathBuf::from(unescape_octal(up)))
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push((v & 0xff) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `flags:` of `/proc/<pid>/fdinfo/<n>` (octal), 0 when unreadable.
fn read_fd_flags(dir: &Path, num: i32) -> i64 {
    std::fs::read_to_string(dir.join("fdinfo").join(num.to_string()))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|v| i64::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0)
}

/// Re-reads credentials and capabilities from `<proc>/<pid>/status`.
pub(crate) fn refresh_creds(root: &Path, pid: u32, p: &mut Process) {
    let Ok(text) = std::fs::read_to_string(root.join(pid.to_string()).join("status")) else {
        return;
    };
    let s = parse_status(&text);
    p.uid = s.uid[0];
    p.euid = s.uid[1];
    p.gid = s.gid[0];
    p.egid = s.gid[1];
    p.cap_inheritable = s.cap_inh;
    p.cap_permitted = s.cap_prm;
    p.cap_effective = s.cap_eff;
}

/// Stats the executable through `<proc>/<pid>/exe` (inode, ctime, mtime).
pub(crate) fn stat_exe(root: &Path, pid: u32, p: &mut Process) {
    if let Ok(m) = std::fs::metadata(root.join(pid.to_string()).join("exe")) {
        p.exe_ino = m.ino();
        p.exe_ctime = ns(m.ctime(), m.ctime_nsec());
        p.exe_mtime = ns(m.mtime(), m.mtime_nsec());
    }
}

fn ns(secs: i64, nsec: i64) -> u64 {
    (secs.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec.max(0) as u64)
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl State {
    /// Seeds the state from a /proc-like directory: every process with its cmdline, exe, cwd,
    /// credentials, session, tty, start time, cgroup (container), and fds (sockets resolved
    /// through the socket tables of its network namespace); threads from `task/`; the users of
    /// each container through its rootfs or `<pid>/root`. Processes that vanish while being read
    /// are skipped and counted. The boot time is taken from `<proc_root>/stat` when not known.
    pub fn seed_from_proc(&mut self, proc_root: &Path) -> Result<SeedStats, StateError> {
        let rd = std::fs::read_dir(proc_root).map_err(|source| StateError::ProcRoot {
            path: proc_root.to_path_buf(),
            source,
        })?;
        if self.boot_time_ns == 0
            && let Some(b) = boot_time_ns(proc_root)
        {
            self.boot_time_ns = b;
        }
        let boot = self.boot_time_ns;
        let now = now_ns();
        let mut stats = SeedStats::default();
        let mut net = NetCache::default();
        let mut counts = (0usize, 0usize);
        let mut pids: Vec<u32> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .collect();
        pids.sort_unstable();
        let mut seen_containers: Vec<(String, u32)> = Vec::new();
        for pid in pids {
            let Some(mut p) = read_process_with(proc_root, pid, boot, &mut net, &mut counts) else {
                stats.skipped += 1;
                continue;
            };
            p.last_seen = now;
            if !p.container_id.is_empty()
                && !seen_containers.iter().any(|(c, _)| *c == p.container_id)
            {
                seen_containers.push((p.container_id.clone(), pid));
            }
            if let Ok(tasks) = std::fs::read_dir(proc_root.join(pid.to_string()).join("task")) {
                for t in tasks.flatten() {
                    if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                        && tid != pid
                    {
                        self.add_thread(tid, pid);
                        stats.threads += 1;
                    }
                }
            }
            self.insert_process(p);
            stats.processes += 1;
        }
        stats.fds = counts.0;
        stats.sockets_resolved = counts.1;
        stats.containers = seen_containers.len();
        for (cid, pid) in seen_containers {
            self.note_container(&cid, 0);
            let dir: PathBuf = proc_root.join(pid.to_string());
            self.inspect_container_process(&cid, &dir);
        }
        // programs running from a container's overlay upper directory; the start of a
        // container's first process is the container's when the runtime did not say
        for p in self.procs.values_mut() {
            if p.vpid == 1
                && let Some(c) = self.containers.get_mut(&p.container_id)
                && c.info.start_ts == 0
            {
                c.info.start_ts = p.start_ts;
            }
            if let Some(upper) = self
                .containers
                .get(&p.container_id)
                .and_then(|c| c.upperdir.as_ref())
                && p.exepath.starts_with('/')
            {
                p.exe_upper_layer = upper.join(p.exepath.trim_start_matches('/')).exists();
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_addresses() {
        assert_eq!(
            parse_hex_endpoint("0100007F:1F90"),
            Some(("127.0.0.1".parse().unwrap(), 8080))
        );
        assert_eq!(
            parse_hex_endpoint("00000000000000000000000001000000:0050"),
            Some(("::1".parse().unwrap(), 80))
        );
        assert_eq!(
            parse_hex_endpoint("0000000000000000FFFF00000100007F:0035"),
            Some(("::ffff:127.0.0.1".parse().unwrap(), 53))
        );
        assert_eq!(parse_hex_endpoint("zz:1"), None);
    }

    #[test]
    fn stat_with_awkward_comm() {
        let s =
            parse_stat("42 (a) b (c)) S 1 42 40 34817 42 4194560 1 0 0 0 3 4 0 0 20 0 1 0 12345 0")
                .unwrap();
        assert_eq!(
            (s.pgrp, s.session, s.tty_nr, s.start_ticks),
            (42, 40, 34817, 12345)
        );
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn overlay_upper_directory() {
        let mi = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                  300 250 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/var/lib/c/x\\040y/fs,workdir=/var/lib/c/work\n\
                  301 300 0:51 / /proc rw - proc proc rw\n";
        assert_eq!(
            overlay_upperdir(mi),
            Some(PathBuf::from("/var/lib/c/x y/fs"))
        );
        assert_eq!(
            overlay_upperdir("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"),
            None
        );
        assert_eq!(overlay_upperdir("garbage"), None);
        assert_eq!(unescape_octal("a\\777b\\04"), "a\u{fffd}b\\04");
    }

    #[test]
    fn links() {
        assert_eq!(classify_link("socket:[123]"), (None, String::new(), 123));
        assert_eq!(classify_link("pipe:[9]").0, Some(FdKind::Pipe));
        assert_eq!(classify_link("anon_inode:[eventfd]").0, Some(FdKind::Event));
        assert_eq!(classify_link("anon_inode:inotify").0, Some(FdKind::Inotify));
        assert_eq!(
            classify_link("/memfd:payload (deleted)"),
            (Some(FdKind::Memfd), "memfd:payload".into(), 0)
        );
        assert_eq!(
            classify_link("/etc/passwd"),
            (Some(FdKind::File), "/etc/passwd".into(), 0)
        );
    }
}
