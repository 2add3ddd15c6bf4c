//! Field extraction: the per-event context with cached state lookups, and the value of every
//! field of [`crate::fields`] for one event.

use crate::evinfo::{self, ArgRef, FdSource};
use crate::fields::{Field, FieldArg, FieldRef};
use crate::state::{ContainerInfo, Fd, FdKind, L4Proto, Process};
use crate::view::StateView;
use palisade_events::{ArgValue, Event, SockAddr};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;

/// An extracted value.
#[derive(Clone, Debug, PartialEq)]
pub enum V<'a> {
    /// Text.
    S(Cow<'a, str>),
    /// Number.
    I(i64),
    /// Boolean.
    B(bool),
    /// Address.
    Ip(IpAddr),
    /// Bytes.
    Bytes(Cow<'a, [u8]>),
    /// A list value (`in` means every item is in the set).
    List(Vec<Cow<'a, str>>),
    /// Several candidates; a comparison holds when it holds for any (`fd.ip`, `proc.aname`).
    Any(Vec<V<'a>>),
}

impl V<'_> {
    /// The value as Falco prints it in an output.
    pub fn to_text(&self) -> String {
        match self {
            V::S(s) => s.to_string(),
            V::I(i) => i.to_string(),
            V::B(b) => b.to_string(),
            V::Ip(ip) => ip.to_string(),
            V::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            V::List(l) => l.join(","),
            V::Any(v) => v.iter().map(V::to_text).collect::<Vec<_>>().join(" "),
        }
    }

    /// The value as a JSON value of `output_fields`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            V::I(i) => serde_json::Value::from(*i),
            V::B(b) => serde_json::Value::Bool(*b),
            V::List(l) => {
                serde_json::Value::Array(l.iter().map(|s| s.to_string().into()).collect())
            }
            other => serde_json::Value::String(other.to_text()),
        }
    }
}

/// Per-event evaluation context: the event, the state, and lookups cached for this event.
pub struct Ctx<'a> {
    /// The event.
    pub ev: &'a Event,
    /// The state.
    pub st: &'a dyn StateView,
    /// Event number.
    pub num: u64,
    /// Host name.
    pub hostname: &'a str,
    proc: OnceCell<Option<&'a Process>>,
    parent: OnceCell<Option<&'a Process>>,
    fd: OnceCell<Option<Cow<'a, Fd>>>,
    container: OnceCell<Option<&'a ContainerInfo>>,
    cmdline: OnceCell<String>,
    args: OnceCell<String>,
    ancestors: OnceCell<Vec<&'a Process>>,
    memo: &'a [std::cell::Cell<u64>],
    dns: Option<&'a crate::dns::DnsNames>,
}

impl<'a> Ctx<'a> {
    /// A context for one event.
    /// `memo` holds macro results: slot = `num << 1 | result` when computed for this event
    /// (`num` must differ between events and be non-zero).
    pub fn new(
        ev: &'a Event,
        st: &'a dyn StateView,
        num: u64,
        hostname: &'a str,
        memo: &'a [std::cell::Cell<u64>],
    ) -> Self {
        Ctx {
            ev,
            st,
            num,
            hostname,
            proc: OnceCell::new(),
            parent: OnceCell::new(),
            fd: OnceCell::new(),
            container: OnceCell::new(),
            cmdline: OnceCell::new(),
            args: OnceCell::new(),
            ancestors: OnceCell::new(),
            memo,
            dns: None,
        }
    }

    /// Uses forward-resolved names for `fd.*ip.name`.
    pub fn with_dns(mut self, dns: Option<&'a crate::dns::DnsNames>) -> Self {
        self.dns = dns;
        self
    }

    /// A macro result computed earlier for this event.
    #[inline]
    pub fn memo_get(&self, slot: u32) -> Option<bool> {
        let v = self.memo.get(slot as usize)?.get();
        (v >> 1 == self.num).then_some(v & 1 == 1)
    }

    /// Records a macro result for this event.
    #[inline]
    pub fn memo_set(&self, slot: u32, r: bool) {
        if let Some(c) = self.memo.get(slot as usize) {
            c.set(self.num << 1 | r as u64);
        }
    }

    /// The event's process.
    #[inline]
    pub fn proc(&self) -> Option<&'a Process> {
        *self.proc.get_or_init(|| self.st.process(self.ev.host_pid))
    }

    fn parent(&self) -> Option<&'a Process> {
        *self.parent.get_or_init(|| {
            let p = self.proc()?;
            if p.ppid == 0 || p.ppid == p.pid {
                return None;
            }
            self.st.process(p.ppid)
        })
    }

    /// Ancestors, parent first (bounded, cycle-safe).
    fn ancestors(&self) -> &[&'a Process] {
        self.ancestors.get_or_init(|| {
            let mut v = Vec::new();
            let Some(mut cur) = self.proc() else {
                return v;
            };
            while v.len() < 256 {
                if cur.ppid == 0 || cur.ppid == cur.pid {
                    break;
                }
                let Some(p) = self.st.process(cur.ppid) else {
                    break;
                };
                if v.iter().any(|x: &&Process| x.pid == p.pid) {
                    break;
                }
                v.push(p);
                cur = p;
            }
            v
        })
    }

    /// Ancestor `n` (0 = the process itself).
    fn ancestor(&self, n: usize) -> Option<&'a Process> {
        match n {
            0 => self.proc(),
            1 => self.parent(),
            n => self.ancestors().get(n - 1).copied(),
        }
    }

    /// Full container id of the event (empty on the host).
    fn container_id(&self) -> &'a str {
        if !self.ev.container_id.is_empty() {
            &self.ev.container_id
        } else {
            self.proc().map_or("", |p| p.container_id.as_str())
        }
    }

    fn container(&self) -> Option<&'a ContainerInfo> {
        *self.container.get_or_init(|| {
            let id = self.container_id();
            if id.is_empty() {
                None
            } else {
                self.st.container(id)
            }
        })
    }

    /// The fd the event is about.
    pub fn fd(&self) -> Option<&Fd> {
        self.fd
            .get_or_init(|| {
                let ev = self.ev;
                let info = evinfo::info(ev.id);
                let num = match info.fd {
                    FdSource::None => return None,
                    FdSource::Ret | FdSource::OpenRet => ev.ret,
                    FdSource::Arg(i) => ev.args.get(i)?.as_i64()?,
                };
                if num >= 0
                    && let Some(f) = self.proc().and_then(|p| p.fds.get(&(num as i32)))
                {
                    return Some(Cow::Borrowed(f));
                }
                self.synth_fd(info.fd, num)
            })
            .as_ref()
            .map(|c| c.as_ref())
    }

    /// Describes the fd from the event itself when the state does not have it (a failed open,
    /// a socket created before the state started).
    fn synth_fd(&self, src: FdSource, num: i64) -> Option<Cow<'a, Fd>> {
        let ev = self.ev;
        match src {
            FdSource::OpenRet => {
                let path = match evinfo::arg_by_name(ev, "pathname")? {
                    ArgRef::Arg(_, ArgValue::Str(s)) => s.clone(),
                    _ => return None,
                };
                let flags = match evinfo::arg_by_name(ev, "flags") {
                    Some(ArgRef::Arg(_, v)) => v.as_i64().unwrap_or(0),
                    _ => 0o101, // creat: O_WRONLY|O_CREAT
                };
                let kind = if flags & 0o200000 != 0 && flags & 0o20000000 == 0 {
                    FdKind::Directory
                } else {
                    FdKind::File
                };
                // fd.name is the normalised absolute path, fd.nameraw the path as given.
                let cwd = self.proc().map_or("/", |p| p.cwd.as_str());
                let name = crate::state::normalize_path(cwd, &path);
                let mut f = Fd::new(if num < 0 { -1 } else { num as i32 }, kind, name);
                if f.name != path {
                    f.nameraw = path;
                }
                f.flags = flags;
                Some(Cow::Owned(f))
            }
            FdSource::Arg(_) => {
                // A socket call on an fd the state does not know: describe what the event says.
                let addr = ev.args.iter().find_map(|a| match a {
                    ArgValue::Sock(s) => Some(s),
                    _ => None,
                })?;
                let (kind, server) = match addr {
                    SockAddr::Inet { addr, port } => {
                        (FdKind::Ipv4, Some((IpAddr::V4(*addr), *port)))
                    }
                    SockAddr::Inet6 { addr, port, .. } => {
                        (FdKind::Ipv6, Some((IpAddr::V6(*addr), *port)))
                    }
                    SockAddr::Unix { path } => {
                        return Some(Cow::Owned(Fd::new(num as i32, FdKind::Unix, path.clone())));
                    }
                    SockAddr::Other { .. } => return None,
                };
                let mut f = Fd::new(num as i32, kind, String::new());
                f.server = server;
                if let Some((ip, port)) = server {
                    f.name = format!("->{ip}:{port}");
                }
                Some(Cow::Owned(f))
            }
            _ => None,
        }
    }

    fn cmdline(&self) -> Option<&str> {
        let p = self.proc()?;
        Some(self.cmdline.get_or_init(|| p.cmdline()))
    }

    fn args(&self) -> Option<&str> {
        let p = self.proc()?;
        Some(self.args.get_or_init(|| p.args_joined()))
    }

    fn uid(&self) -> u32 {
        self.proc().map_or(self.ev.uid, |p| p.euid)
    }

    fn gid(&self) -> u32 {
        self.proc().map_or(self.ev.gid, |p| p.egid)
    }

    fn user_lookup(&self, uid: u32) -> Option<String> {
        self.st
            .user_name(uid, self.container_id())
            .map(str::to_string)
    }

    /// Extracts a field.
    pub fn get(&self, f: &FieldRef) -> Option<V<'_>> {
        extract(self, f)
    }
}

fn s<'a>(x: &'a str) -> Option<V<'a>> {
    Some(V::S(Cow::Borrowed(x)))
}

fn owned<'a>(x: String) -> Option<V<'a>> {
    Some(V::S(Cow::Owned(x)))
}

fn cap_names(mask: u64) -> String {
    const CAPS: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    let mut out = String::new();
    for (i, n) in CAPS.iter().enumerate() {
        if mask & (1 << i) != 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(n);
        }
    }
    out
}

/// Time of day `HH:MM:SS.nnnnnnnnn` (UTC) of a ns timestamp.
pub fn time_of_day(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let d = secs % 86_400;
    format!("{:02}:{:02}:{:02}.{sub:09}", d / 3600, d / 60 % 60, d % 60)
}

/// `YYYY-MM-DD` of days since the epoch (civil calendar).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ISO 8601 UTC with ns (`2026-12-06T08:45:00.123456789Z`), as Falco's JSON `time`.
pub fn iso8601(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (y, m, d) = civil((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}T{}Z", time_of_day(ns))
}

fn ip_of(v: Option<(IpAddr, u16)>) -> Option<V<'static>> {
    v.map(|(ip, _)| V::Ip(ip))
}

fn port_of(v: Option<(IpAddr, u16)>) -> Option<V<'static>> {
    v.map(|(_, p)| V::I(p as i64))
}

fn either<'a>(a: Option<V<'a>>, b: Option<V<'a>>) -> Option<V<'a>> {
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x),
        (Some(x), Some(y)) => Some(V::Any(vec![x, y])),
    }
}

fn is_inet(f: &Fd) -> bool {
    matches!(f.kind, FdKind::Ipv4 | FdKind::Ipv6)
}

fn arg_value<'a>(c: &'a Ctx<'_>, r: ArgRef<'a>, raw: bool) -> Option<V<'a>> {
    match r {
        ArgRef::Ret => {
            if raw {
                Some(V::I(c.ev.ret))
            } else {
                Some(V::S(Cow::Owned(c.ev.ret.to_string())))
            }
        }
        ArgRef::Arg(def, v) => {
            if raw {
                return match v {
                    ArgValue::Int(i) => Some(V::I(*i)),
                    ArgValue::UInt(u) => Some(V::I(*u as i64)),
                    ArgValue::Str(s) => Some(V::S(Cow::Borrowed(s))),
                    ArgValue::Bytes(b) => Some(V::Bytes(Cow::Borrowed(b))),
                    ArgValue::None => None,
                    other => {
                        evinfo::render(c.ev, def, other, &|_| None).map(|s| V::S(Cow::Owned(s)))
                    }
                };
            }
            if let ArgValue::Str(s) = v {
                return Some(V::S(Cow::Borrowed(s)));
            }
            evinfo::render(c.ev, def, v, &|u| c.user_lookup(u)).map(|s| V::S(Cow::Owned(s)))
        }
    }
}

/// One process-valued field of an ancestor.
fn proc_field<'a>(c: &'a Ctx<'_>, p: &'a Process, f: Field) -> Option<V<'a>> {
    match f {
        Field::ProcAname => s(&p.name),
        Field::ProcApid => Some(V::I(p.pid as i64)),
        Field::ProcAexe => s(&p.exe),
        Field::ProcAexepath => s(&p.exepath),
        Field::ProcAcmdline => {
            let _ = c;
            owned(p.cmdline())
        }
        _ => None,
    }
}

/// The value of field `f` for the event of `c`; `None` when it has none.
pub fn extract<'a>(c: &'a Ctx<'_>, f: &FieldRef) -> Option<V<'a>> {
    let ev = c.ev;
    use Field::*;
    match f.field {
        EvtType => s(evinfo::info(ev.id).name),
        EvtDir => s("<"),
        EvtNum => Some(V::I(c.num as i64)),
        EvtTime => Some(V::I(ev.ts as i64)),
        EvtTimeS => owned(time_of_day(ev.ts)[..8].to_string()),
        EvtTimeIso => owned(iso8601(ev.ts)),
        EvtDatetime => owned(
            iso8601(ev.ts)
                .replace('T', " ")
                .trim_end_matches('Z')
                .to_string(),
        ),
        EvtRawTime => Some(V::I(ev.ts as i64)),
        EvtCpu => Some(V::I(ev.cpu as i64)),
        EvtRes => {
            if !ev.id.is_syscall() {
                return None;
            }
            match ev.errno() {
                Some(e) => s(e),
                None if ev.ret < 0 => owned(ev.ret.to_string()),
                None => s("SUCCESS"),
            }
        }
        EvtRawRes => Some(V::I(ev.ret)),
        EvtFailed => Some(V::B(ev.id.is_syscall() && ev.ret < 0)),
        EvtIsOpenRead | EvtIsOpenWrite | EvtIsOpenExec | EvtIsOpenCreate => {
            if evinfo::info(ev.id).fd != FdSource::OpenRet {
                return Some(V::B(false));
            }
            let flags = match evinfo::arg_by_name(ev, "flags") {
                Some(ArgRef::Arg(_, v)) => v.as_i64().unwrap_or(0),
                _ => 0o1101, // creat = O_WRONLY|O_CREAT|O_TRUNC
            };
            let acc = flags & 3;
            Some(V::B(match f.field {
                EvtIsOpenRead => acc == 0 || acc == 2,
                EvtIsOpenWrite => acc == 1 || acc == 2,
                EvtIsOpenCreate => flags & 0o100 != 0,
                _ => {
                    let mode = match evinfo::arg_by_name(ev, "mode") {
                        Some(ArgRef::Arg(_, v)) => v.as_i64().unwrap_or(0),
                        _ => 0,
                    };
                    flags & 0o100 != 0 && mode & 0o111 != 0
                }
            }))
        }
        EvtArgs | EvtInfo => owned(evinfo::render_all(ev, &|u| c.user_lookup(u))),
        EvtArg | EvtRawArg => {
            let r = match &f.arg {
                FieldArg::Key(k) => evinfo::arg_by_name(ev, k)?,
                FieldArg::Index(i) => evinfo::arg_by_index(ev, *i)?,
                FieldArg::None => return None,
            };
            arg_value(c, r, f.field == EvtRawArg)
        }
        EvtBuffer => None,
        EvtHostname => s(c.hostname),
        EvtSource => s("syscall"),
        EvtIsSyscall => Some(V::B(ev.id.is_syscall())),

        ProcPid => Some(V::I(ev.host_pid as i64)),
        ProcVpid => Some(V::I(c.proc().map_or(ev.pid, |p| p.vpid) as i64)),
        ProcPpid => Some(V::I(c.proc().map_or(ev.host_ppid, |p| p.ppid) as i64)),
        ProcVpgid => c.proc().map(|p| V::I(p.pgid as i64)),
        ProcSid => c.proc().map(|p| V::I(p.sid as i64)),
        ProcName => match c.proc() {
            Some(p) => s(&p.name),
            None => s(&ev.comm),
        },
        ProcExe => s(&c.proc()?.exe),
        ProcExepath => s(&c.proc()?.exepath),
        ProcArgs => c.args().map(|a| V::S(Cow::Borrowed(a))),
        ProcCmdline => c.cmdline().map(|a| V::S(Cow::Borrowed(a))),
        ProcExeline => {
            let p = c.proc()?;
            let mut out = p.exe.clone();
            for a in &p.args {
                out.push(' ');
                out.push_str(a);
            }
            owned(out)
        }
        ProcCmdnargs => c.proc().map(|p| V::I(p.args.len() as i64)),
        ProcCmdlenargs => c.proc().map(|p| {
            V::I(
                p.args.iter().map(|a| a.len() as i64).sum::<i64>()
                    + p.args.len().saturating_sub(1) as i64,
            )
        }),
        ProcCwd => {
            let cwd = &c.proc()?.cwd;
            if cwd.ends_with('/') {
                s(cwd)
            } else {
                owned(format!("{cwd}/"))
            }
        }
        ProcTty => c.proc().map(|p| V::I(p.tty as i64)),
        ProcSname => {
            let p = c.proc()?;
            if p.sid == p.pid {
                return s(&p.name);
            }
            if let Some(l) = c.st.process(p.sid) {
                return s(&l.name);
            }
            let mut last = None;
            for a in c.ancestors() {
                if a.sid != p.sid {
                    break;
                }
                last = Some(*a);
            }
            last.map(|a| V::S(Cow::Borrowed(a.name.as_str())))
        }
        ProcIsSidLeader => c.proc().map(|p| V::B(p.is_sid_leader())),
        ProcIsVpgidLeader => c.proc().map(|p| V::B(p.is_vpgid_leader())),
        ProcPname => s(&c.parent()?.name),
        ProcPexe => s(&c.parent()?.exe),
        ProcPexepath => s(&c.parent()?.exepath),
        ProcPcmdline => owned(c.parent()?.cmdline()),
        ProcAname | ProcApid | ProcAexe | ProcAexepath | ProcAcmdline => match f.arg {
            FieldArg::Index(n) => proc_field(c, c.ancestor(n)?, f.field),
            _ => {
                let v: Vec<V<'a>> = c
                    .ancestors()
                    .iter()
                    .filter_map(|p| proc_field(c, p, f.field))
                    .collect();
                if v.is_empty() { None } else { Some(V::Any(v)) }
            }
        },
        ProcDuration => {
            let p = c.proc()?;
            (p.start_ts != 0).then(|| V::I(p.duration(ev.ts) as i64))
        }
        ProcStartTs => {
            let p = c.proc()?;
            (p.start_ts != 0).then_some(V::I(p.start_ts as i64))
        }
        ProcEnv => {
            let env = c.st.env(ev.host_pid)?;
            match &f.arg {
                FieldArg::Key(k) => env.iter().find_map(|e| {
                    let (n, v) = e.split_once('=')?;
                    (n == k).then_some(V::S(Cow::Borrowed(v)))
                }),
                _ => owned(env.join(" ")),
            }
        }
        ProcIsExeFromMemfd => c.proc().map(|p| V::B(p.exe_from_memfd)),
        ProcIsExeUpperLayer => c.proc().map(|p| V::B(p.exe_upper_layer)),
        ProcIsExeWritable
        | ProcIsContainerHealthcheck
        | ProcIsContainerLivenessProbe
        | ProcIsContainerReadinessProbe => Some(V::B(false)),
        ProcExeInoCtime => c
            .proc()
            .and_then(|p| (p.exe_ctime != 0).then_some(V::I(p.exe_ctime as i64))),
        ProcExeInoMtime => c
            .proc()
            .and_then(|p| (p.exe_mtime != 0).then_some(V::I(p.exe_mtime as i64))),
        ProcExeInoCtimeDurationProcStart => c.proc().and_then(|p| {
            (p.exe_ctime != 0 && p.start_ts != 0).then(|| V::I(p.exe_ctime_to_start() as i64))
        }),

        ThreadTid => Some(V::I(ev.host_tid as i64)),
        ThreadVtid => Some(V::I(ev.tid as i64)),
        ThreadIsMain => Some(V::B(ev.host_tid == ev.host_pid)),
        ThreadCapEffective => c
            .proc()
            .map(|p| V::S(Cow::Owned(cap_names(p.cap_effective)))),
        ThreadCapPermitted => c
            .proc()
            .map(|p| V::S(Cow::Owned(cap_names(p.cap_permitted)))),
        ThreadCapInheritable => c
            .proc()
            .map(|p| V::S(Cow::Owned(cap_names(p.cap_inheritable)))),

        UserUid => Some(V::I(c.uid() as i64)),
        // Unknown users and groups are "root" for id 0 and "<NA>" otherwise, as in Falco.
        UserName => Some(name_or(
            c.st.user_name(c.uid(), c.container_id()),
            c.uid(),
            "root",
        )),
        UserLoginuid => {
            let l = c.proc()?.loginuid;
            Some(V::I(if l == u32::MAX { -1 } else { l as i64 }))
        }
        UserLoginname => {
            let l = c.proc()?.loginuid;
            Some(name_or(c.st.user_name(l, c.container_id()), l, "root"))
        }
        UserHomedir => Some(name_or(
            c.st.user_home(c.uid(), c.container_id()),
            c.uid(),
            "/root",
        )),
        UserShell => Some(name_or(
            c.st.user_shell(c.uid(), c.container_id()),
            u32::MAX,
            "",
        )),
        GroupGid => Some(V::I(c.gid() as i64)),
        GroupName => Some(name_or(
            c.st.group_name(c.gid(), c.container_id()),
            c.gid(),
            "root",
        )),

        FdNum | FdType | FdTypechar | FdName | FdNameraw | FdDirectory | FdFilename | FdIp
        | FdCip | FdSip | FdLip | FdRip | FdPort | FdCport | FdSport | FdLport | FdRport
        | FdL4proto | FdSockfamily | FdIsServer | FdNet | FdCnet | FdSnet | FdLnet | FdRnet
        | FdConnected | FdNameChanged | FdCipName | FdSipName | FdLipName | FdRipName => {
            fd_field(c, f.field)
        }
        FdTypes => {
            let p = c.proc()?;
            match &f.arg {
                FieldArg::Key(k) => {
                    let n: i32 = k.parse().ok()?;
                    let fd = p.fds.get(&n)?;
                    Some(V::List(vec![Cow::Borrowed(fd.kind.type_name())]))
                }
                _ => {
                    let mut t: Vec<&'static str> =
                        p.fds.values().map(|f| f.kind.type_name()).collect();
                    t.sort_unstable();
                    t.dedup();
                    Some(V::List(t.into_iter().map(Cow::Borrowed).collect()))
                }
            }
        }

        ContainerId | ContainerFullId | ContainerName | ContainerType => {
            let id = c.container_id();
            if id.is_empty() {
                return s("host");
            }
            match f.field {
                ContainerId => s(&id[..id.len().min(12)]),
                ContainerFullId => s(id),
                ContainerName => match c.container() {
                    Some(ci) if !ci.name.is_empty() => s(&ci.name),
                    _ => None,
                },
                _ => s(if c.container().is_some_and(|ci| !ci.pod_name.is_empty()) {
                    "containerd"
                } else {
                    "runc"
                }),
            }
        }
        ContainerImage => non_empty(&c.container()?.image),
        ContainerImageRepository => non_empty(c.container()?.image_repository()),
        ContainerImageTag => non_empty(c.container()?.image_tag()),
        ContainerImageDigest => non_empty(c.container()?.image_digest()),
        ContainerPrivileged => c.container().map(|ci| V::B(ci.privileged)),
        ContainerStartTs => {
            let ci = c.container()?;
            (ci.start_ts != 0).then_some(V::I(ci.start_ts as i64))
        }
        ContainerDuration => {
            let ci = c.container()?;
            (ci.start_ts != 0).then(|| V::I(ev.ts.saturating_sub(ci.start_ts) as i64))
        }
        // Mounts are not known: the container plugin's value for a mount that is not there
        // ("<NA>"), which rules test for (`not container.mount.dest[/proc*] in ("<NA>","N/A")`).
        ContainerMountDest | ContainerMountSource => s("<NA>"),
        ContainerMounts => None,
        K8sPodName => non_empty(&c.container()?.pod_name),
        K8sNsName => non_empty(&c.container()?.pod_namespace),
        K8sPodUid | K8sPodId => non_empty(&c.container()?.pod_uid),
        K8sPodLabel => {
            let FieldArg::Key(k) = &f.arg else {
                return None;
            };
            c.container()?
                .pod_labels
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| V::S(Cow::Borrowed(v.as_str())))
        }
        K8sPodLabels => {
            let ci = c.container()?;
            if ci.pod_labels.is_empty() {
                return None;
            }
            owned(
                ci.pod_labels
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        }
    }
}

fn name_or<'a>(found: Option<&'a str>, id: u32, for_root: &'static str) -> V<'a> {
    V::S(Cow::Borrowed(match found {
        Some(n) => n,
        None if id == 0 => for_root,
        None => "<NA>",
    }))
}

fn non_empty(x: &str) -> Option<V<'_>> {
    if x.is_empty() { None } else { s(x) }
}

fn fd_field<'a>(c: &'a Ctx<'_>, f: Field) -> Option<V<'a>> {
    let fd = c.fd()?;
    use Field::*;
    let inet = is_inet(fd);
    let name_of = |ip: Option<(IpAddr, u16)>| -> Option<V<'a>> {
        let (ip, _) = ip?;
        match c.st.ip_name(&ip) {
            Some(n) => Some(V::S(Cow::Borrowed(n))),
            None => c.dns?.name_of(&ip).map(|n| V::S(Cow::Owned(n))),
        }
    };
    match f {
        FdNum => Some(V::I(fd.num as i64)),
        FdType => s(fd.kind.type_name()),
        FdTypechar => s(match fd.kind {
            FdKind::File => "f",
            FdKind::Directory => "d",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Pipe => "p",
            FdKind::Event => "e",
            FdKind::Signalfd => "s",
            FdKind::Eventpoll => "l",
            FdKind::Inotify => "i",
            FdKind::Timerfd => "t",
            FdKind::Netlink => "n",
            FdKind::Memfd => "m",
            FdKind::Other => "o",
        }),
        FdName => s(&fd.name),
        FdNameraw => s(fd.name_raw()),
        FdDirectory => non_empty(fd.directory()).or_else(|| {
            matches!(fd.kind, FdKind::File | FdKind::Directory).then(|| V::S(Cow::Borrowed("")))
        }),
        FdFilename => matches!(fd.kind, FdKind::File).then(|| V::S(Cow::Borrowed(fd.filename()))),
        FdIp | FdNet if inet => either(ip_of(fd.client), ip_of(fd.server)),
        FdCip | FdCnet if inet => ip_of(fd.client),
        FdSip | FdSnet if inet => ip_of(fd.server),
        FdLip | FdLnet if inet => ip_of(fd.local()),
        FdRip | FdRnet if inet => ip_of(fd.remote()),
        FdPort if inet => either(port_of(fd.client), port_of(fd.server)),
        FdCport if inet => port_of(fd.client),
        FdSport if inet => port_of(fd.server),
        FdLport if inet => port_of(fd.local()),
        FdRport if inet => port_of(fd.remote()),
        FdCipName if inet => name_of(fd.client),
        FdSipName if inet => name_of(fd.server),
        FdLipName if inet => name_of(fd.local()),
        FdRipName if inet => name_of(fd.remote()),
        FdL4proto => match (inet, fd.l4proto) {
            (false, _) | (true, L4Proto::Unknown) => None,
            (true, p) => s(p.name()),
        },
        FdSockfamily => match fd.kind {
            FdKind::Ipv4 | FdKind::Ipv6 => s("ip"),
            FdKind::Unix => s("unix"),
            _ => None,
        },
        FdIsServer => fd.is_socket().then_some(V::B(fd.is_server)),
        FdConnected => Some(V::B(fd.is_socket() && fd.is_connected())),
        FdNameChanged => {
            let name = evinfo::info(c.ev.id).name;
            Some(V::B(
                matches!(
                    name,
                    "connect" | "accept" | "accept4" | "bind" | "sendto" | "sendmsg" | "recvfrom"
                ) && c.ev.ret >= 0
                    || name == "connect",
            ))
        }
        _ => None,
    }
}
