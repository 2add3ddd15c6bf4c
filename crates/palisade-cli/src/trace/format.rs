//! Output of `palisade trace`: the table and the JSON lines (Tracee v0.24 `trace.Event` shape;
//! schema in `crates/palisade-cli/TRACE-SCHEMA.md`).

use palisade_events::{ArgKind, ArgValue, Event, SockAddr};
use serde::{Serialize, Serializer};
use serde_json::{Value as J, json};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Header of the table.
pub const TABLE_HEADER: &str = "TIME             UTS              UID    COMM             PID/TID       RET          EVENT                ARGS";

/// `HH:MM:SS.micro` (UTC) of a wall-clock nanosecond time stamp.
pub fn clock(ts: u64) -> String {
    let secs = ts / 1_000_000_000;
    let micros = (ts % 1_000_000_000) / 1000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{micros:06}",
        day / 3600,
        (day / 60) % 60,
        day % 60
    )
}

/// The RET column: the value, or the errno name when the call failed.
pub fn ret(ev: &Event) -> String {
    match ev.errno() {
        Some(name) => name.to_owned(),
        None => ev.ret.to_string(),
    }
}

/// Control characters escaped (`\n`, `\x1b`...), so that what a traced process chose (its
/// name, argv, paths) cannot break table lines or send escape sequences to the terminal.
pub fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// One table row (no trailing newline).
pub fn table_row(ev: &Event) -> String {
    let mut uts = clean(&ev.uts);
    truncate(&mut uts, 16);
    let mut comm = clean(&ev.comm);
    truncate(&mut comm, 16);
    format!(
        "{:<16} {:<16} {:<6} {:<16} {:<13} {:<12} {:<20} {}",
        clock(ev.ts),
        uts,
        ev.uid,
        comm,
        format!("{}/{}", ev.pid, ev.tid),
        ret(ev),
        ev.id.name(),
        args_text(ev)
    )
}

fn truncate(s: &mut String, n: usize) {
    if s.chars().count() > n {
        *s = s.chars().take(n).collect();
    }
}

/// `name: value, name: value`.
pub fn args_text(ev: &Event) -> String {
    let Some(def) = ev.def() else {
        return String::new();
    };
    let mut out = String::new();
    for (a, v) in def.args.iter().zip(&ev.args) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        let _ = write!(out, "{}: {}", a.name, value_text(a.kind, v));
    }
    out
}

/// An argument value for people.
pub fn value_text(kind: ArgKind, v: &ArgValue) -> String {
    match (kind, v) {
        (_, ArgValue::None) => "?".into(),
        (ArgKind::Fd, ArgValue::Int(-100)) => "AT_FDCWD".into(),
        (ArgKind::OpenFlags, v) => v.as_i64().map(|f| open_flags(f as u64)).unwrap_or_default(),
        (ArgKind::Mode, v) => v
            .as_i64()
            .map(|m| {
                if m == 0 {
                    "0".into()
                } else {
                    format!("0{m:o}")
                }
            })
            .unwrap_or_default(),
        (ArgKind::Ptr, v) => v.as_i64().map(|p| format!("0x{p:x}")).unwrap_or_default(),
        (ArgKind::Bool, v) => v.as_i64().map(|b| (b != 0).to_string()).unwrap_or_default(),
        (_, ArgValue::Int(i)) => i.to_string(),
        (_, ArgValue::UInt(u)) => u.to_string(),
        (_, ArgValue::Str(s)) => clean(s),
        (_, ArgValue::StrList(l)) => {
            format!(
                "[{}]",
                l.iter().map(|a| clean(a)).collect::<Vec<_>>().join(" ")
            )
        }
        (_, ArgValue::Sock(a)) => clean(&a.to_string()),
        (_, ArgValue::Bytes(b)) => format!("{} bytes", b.len()),
    }
}

/// `open(2)` flags symbolically (x86_64 values).
pub fn open_flags(f: u64) -> String {
    const FLAGS: &[(u64, &str)] = &[
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o4010000, "O_SYNC"),
        (0o10000, "O_DSYNC"),
        (0o20000, "O_ASYNC"),
        (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"),
        (0o20200000, "O_TMPFILE"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
    ];
    let mut parts = vec![match f & 3 {
        0 => "O_RDONLY".to_owned(),
        1 => "O_WRONLY".to_owned(),
        2 => "O_RDWR".to_owned(),
        _ => "O_ACCMODE".to_owned(),
    }];
    let mut rest = f & !3;
    for &(bit, name) in FLAGS {
        if rest & bit == bit && bit != 0 {
            parts.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("0{rest:o}"));
    }
    parts.join("|")
}

/// The C type Tracee names for an argument kind.
pub fn arg_type(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::Int | ArgKind::Fd | ArgKind::OpenFlags => "int",
        ArgKind::UInt => "unsigned long",
        ArgKind::Path | ArgKind::Str => "const char*",
        ArgKind::StrArray => "const char*const*",
        ArgKind::SockAddr => "struct sockaddr*",
        ArgKind::Mode => "mode_t",
        ArgKind::Ptr => "void*",
        ArgKind::Bool => "bool",
    }
}

fn sock_json(a: &SockAddr) -> J {
    match a {
        SockAddr::Inet { addr, port } => json!({
            "sa_family": "AF_INET", "sin_addr": addr.to_string(), "sin_port": port.to_string()
        }),
        SockAddr::Inet6 {
            addr,
            port,
            flowinfo,
            scope_id,
        } => json!({
            "sa_family": "AF_INET6", "sin6_addr": addr.to_string(), "sin6_port": port.to_string(),
            "sin6_flowinfo": flowinfo.to_string(), "sin6_scopeid": scope_id.to_string()
        }),
        SockAddr::Unix { path } => json!({ "sa_family": "AF_UNIX", "sun_path": path }),
        SockAddr::Other { family } => json!({ "sa_family": family.to_string() }),
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An argument value in JSON (serialised in place; only socket addresses build a map).
struct ArgJson<'a> {
    kind: ArgKind,
    value: &'a ArgValue,
}

impl Serialize for ArgJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.kind, self.value) {
            (_, ArgValue::None) => s.serialize_none(),
            (ArgKind::Bool, v) => match v.as_i64() {
                Some(b) => s.serialize_bool(b != 0),
                None => s.serialize_none(),
            },
            (_, ArgValue::Int(i)) => s.serialize_i64(*i),
            (_, ArgValue::UInt(u)) => s.serialize_u64(*u),
            (_, ArgValue::Str(v)) => s.serialize_str(v),
            (_, ArgValue::StrList(l)) => l.serialize(s),
            (_, ArgValue::Sock(a)) => sock_json(a).serialize(s),
            (_, ArgValue::Bytes(b)) => s.serialize_str(&base64(b)),
        }
    }
}

/// One entry of `args`.
#[derive(Serialize)]
struct ArgEntry<'a> {
    name: &'static str,
    #[serde(rename = "type")]
    ty: &'static str,
    value: ArgJson<'a>,
}

/// One event in the Tracee v0.24 `trace.Event` shape (TRACE-SCHEMA.md), borrowing the event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventJson<'a> {
    timestamp: u64,
    processor_id: u16,
    process_id: u32,
    cgroup_id: u64,
    thread_id: u32,
    parent_process_id: u32,
    host_process_id: u32,
    host_thread_id: u32,
    host_parent_process_id: u32,
    user_id: u32,
    mount_namespace: u32,
    pid_namespace: u32,
    process_name: &'a str,
    host_name: &'a str,
    container_id: &'a str,
    event_id: String,
    event_name: Cow<'static, str>,
    args_num: usize,
    return_value: i64,
    args: Vec<ArgEntry<'a>>,
}

/// The JSON view of one event.
pub fn event_json(ev: &Event) -> EventJson<'_> {
    let args: Vec<ArgEntry<'_>> = ev
        .def()
        .map(|d| {
            d.args
                .iter()
                .zip(&ev.args)
                .map(|(a, v)| ArgEntry {
                    name: a.name,
                    ty: arg_type(a.kind),
                    value: ArgJson {
                        kind: a.kind,
                        value: v,
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    EventJson {
        timestamp: ev.ts,
        processor_id: ev.cpu,
        process_id: ev.pid,
        cgroup_id: ev.cgroup_id,
        thread_id: ev.tid,
        parent_process_id: ev.ppid,
        host_process_id: ev.host_pid,
        host_thread_id: ev.host_tid,
        host_parent_process_id: ev.host_ppid,
        user_id: ev.uid,
        mount_namespace: ev.mntns,
        pid_namespace: ev.pidns,
        process_name: &ev.comm,
        host_name: &ev.uts,
        container_id: &ev.container_id,
        event_id: ev.id.0.to_string(),
        event_name: ev.id.name(),
        args_num: args.len(),
        return_value: ev.ret,
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_clock() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(
            open_flags(0o2000000 | 0o100 | 1),
            "O_WRONLY|O_CREAT|O_CLOEXEC"
        );
        assert_eq!(open_flags(0o4010000 | 2), "O_RDWR|O_SYNC");
        assert_eq!(
            clock(3_723_000_004_000 + 86_400_000_000_000),
            "01:02:03.000004"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("plain /tmp/x"), "plain /tmp/x");
        assert_eq!(clean("a\nb\tc\x1b[31m"), "a\\nb\\tc\\x1b[31m");
        assert_eq!(
            value_text(
                ArgKind::StrArray,
                &ArgValue::StrList(vec!["echo".into(), "\x07".into()])
            ),
            "[echo \\x07]"
        );
    }

    #[test]
    fn base64_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
