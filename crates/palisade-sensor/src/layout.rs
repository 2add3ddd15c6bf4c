//! Where each decoded argument of [`palisade_events::catalog::DECODED`] comes from in the raw
//! system call (register index, string, socket address, field of a user structure), the BPF
//! descriptor built from it, and the conversion of raw values and items into [`ArgValue`]s.

use crate::record::{Item, ItemType, cstr};
use palisade_events::{ArgKind, ArgValue, EventId, SockAddr};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Source of one catalog argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// A 32-bit C `int`/`unsigned` register argument (upper bits ignored).
    R32(u8),
    /// A 64-bit register argument (`size_t`, `unsigned long`, pointers).
    R64(u8),
    /// A user string at register argument i.
    Str(u8),
    /// A path at register argument i, relative to the directory fd in argument `dirfd` (or the cwd).
    Path(u8, Option<u8>),
    /// `char *const argv[]` at register argument i.
    Argv(u8),
    /// A socket address at argument i whose length is the value of argument `len`.
    SockLen(u8, u8),
    /// A socket address at argument i whose length is behind the pointer in argument `len`.
    SockPLen(u8, u8),
    /// The n-th u64 of a user structure at argument i (`open_how`, `clone_args`).
    Field(u8, u8),
}

use Src::*;

/// The sources of a decoded system call's arguments, in catalog order, and whether its strings
/// must be read at entry (the memory is gone after a successful `execve`).
pub(crate) fn sources(name: &str) -> Option<(&'static [Src], bool)> {
    Some(match name {
        "execve" => (&[Path(0, None), Argv(1)], true),
        "execveat" => (&[R32(0), Path(1, Some(0)), Argv(2), R32(4)], true),
        "open" => (&[Path(0, None), R32(1), R32(2)], false),
        "openat" => (&[R32(0), Path(1, Some(0)), R32(2), R32(3)], false),
        "openat2" => (
            &[
                R32(0),
                Path(1, Some(0)),
                Field(2, 0),
                Field(2, 1),
                Field(2, 2),
            ],
            false,
        ),
        "creat" => (&[Path(0, None), R32(1)], false),
        "close" | "fchdir" | "userfaultfd" | "dup" => (&[R32(0)], false),
        "read" | "write" => (&[R32(0), R64(2)], false),
        "connect" | "bind" => (&[R32(0), SockLen(1, 2)], false),
        "accept" => (&[R32(0), SockPLen(1, 2)], false),
        "accept4" => (&[R32(0), SockPLen(1, 2), R32(3)], false),
        "listen" | "setpgid" | "kill" | "tkill" | "dup2" | "setns" => (&[R32(0), R32(1)], false),
        "socket" | "dup3" | "tgkill" => (&[R32(0), R32(1), R32(2)], false),
        "sendto" => (&[R32(0), R64(2), R32(3), SockLen(4, 5)], false),
        "recvfrom" => (&[R32(0), R64(2), R32(3), SockPLen(4, 5)], false),
        "sendmsg" | "recvmsg" => (&[R32(0), R32(2)], false),
        "unlink" | "rmdir" | "chdir" | "chroot" => (&[Path(0, None)], false),
        "unlinkat" | "mkdirat" | "fchmodat" => (&[R32(0), Path(1, Some(0)), R32(2)], false),
        "rename" | "link" => (&[Path(0, None), Path(1, None)], false),
        "renameat" => (&[R32(0), Path(1, Some(0)), R32(2), Path(3, Some(2))], false),
        "renameat2" | "linkat" => (
            &[R32(0), Path(1, Some(0)), R32(2), Path(3, Some(2)), R32(4)],
            false,
        ),
        "symlink" => (&[Str(0), Path(1, None)], false),
        "symlinkat" => (&[Str(0), R32(1), Path(2, Some(1))], false),
        "mkdir" | "chmod" => (&[Path(0, None), R32(1)], false),
        "fchmod" | "setreuid" | "setregid" => (&[R32(0), R32(1)], false),
        "chown" | "lchown" => (&[Path(0, None), R32(1), R32(2)], false),
        "fchown" | "setresuid" | "setresgid" => (&[R32(0), R32(1), R32(2)], false),
        "fchownat" => (&[R32(0), Path(1, Some(0)), R32(2), R32(3), R32(4)], false),
        "setuid" | "setgid" | "unshare" => (&[R32(0)], false),
        "setsid" => (&[], false),
        "capset" => (&[R64(0), R64(1)], false),
        "ptrace" => (&[R64(0), R32(1), R64(2), R64(3)], false),
        "mount" => (&[Str(0), Path(1, None), Str(2), R64(3)], false),
        "umount2" => (&[Path(0, None), R32(1)], false),
        "init_module" => (&[R64(0), R64(1), Str(2)], false),
        "finit_module" => (&[R32(0), Str(1), R32(2)], false),
        "delete_module" => (&[Str(0), R32(1)], false),
        "bpf" => (&[R32(0), R64(1), R32(2)], false),
        "memfd_create" => (&[Str(0), R32(1)], false),
        "clone" => (&[R64(0)], false),
        "clone3" => (&[Field(0, 0), R64(1)], false),
        "prctl" => (&[R32(0), R64(1), R64(2), R64(3), R64(4)], false),
        "pipe2" => (&[R32(1)], false),
        _ => return None,
    })
}

const D_SELECTED: u64 = 1 << 63;
const D_AT_ENTRY: u64 = 1 << 62;
const D_CTX_RESET: u64 = 1 << 61;
const D_AT_EXIT: u64 = 1 << 60;
const D_MOVES_PATHS: u64 = 1 << 59;
const D_SOCK_PLEN: u64 = 1 << 15;

/// The BPF descriptor of a system call (see `cfg_desc` in the C source): 3-bit fields holding a
/// raw argument index + 1 for up to three strings (bits 0, 3, 6), a socket address (bit 9, its
/// length argument at bit 12, bit 15 when that argument points to the length), a 24-byte user
/// structure (bit 16) and an argv array (bit 19).
pub(crate) fn descriptor(id: EventId, selected: bool) -> u64 {
    let mut d = if selected { D_SELECTED } else { 0 };
    // Calls after which the task's context (namespaces, uts name) must be sent again, whether
    // they are reported or not.
    if id
        .def()
        .is_some_and(|def| matches!(def.name, "setns" | "unshare" | "sethostname"))
    {
        d |= D_CTX_RESET;
    }
    // Calls that can change the path of a directory the programs keep in a thread's base slots:
    // when one succeeds, every thread's slots are dropped.
    if id.def().is_some_and(|def| {
        matches!(
            def.name,
            "rename" | "renameat" | "renameat2" | "mount" | "umount2" | "move_mount" | "pivot_root"
        )
    }) {
        d |= D_MOVES_PATHS;
    }
    let sources = id.def().and_then(|def| sources(def.name));
    if d & D_CTX_RESET == 0
        && !sources.is_some_and(|(_, at_entry)| at_entry)
        && !id.def().is_some_and(|def| needs_entry(def.name))
    {
        d |= D_AT_EXIT;
    }
    let Some((srcs, at_entry)) = sources else {
        return d;
    };
    if at_entry {
        d |= D_AT_ENTRY;
    }
    let mut strings = 0;
    let mut structs_seen = false;
    for s in srcs {
        match *s {
            Str(i) | Path(i, _) => {
                // Three string slots are enough for every decoded call (mount has three).
                if strings < 3 {
                    d |= u64::from(i + 1) << (3 * strings);
                    if let Path(_, dirfd) = *s {
                        d |= 1 << (22 + strings);
                        if let Some(fd) = dirfd {
                            d |= u64::from(fd + 1) << (25 + 3 * strings);
                        }
                    }
                    strings += 1;
                }
            }
            Argv(i) => d |= u64::from(i + 1) << 19,
            SockLen(i, l) => d |= (u64::from(i + 1) << 9) | (u64::from(l) << 12),
            SockPLen(i, l) => d |= (u64::from(i + 1) << 9) | (u64::from(l) << 12) | D_SOCK_PLEN,
            Field(i, _) => {
                if !structs_seen {
                    d |= u64::from(i + 1) << 16;
                    structs_seen = true;
                }
            }
            R32(_) | R64(_) => {}
        }
    }
    d | (u64::from(raw_args_needed(srcs)) << D_NARGS_SHIFT)
}

/// Calls the tp_btf programs must see at entry (besides those with strings read at entry and
/// the context resets): calls that never return, the clone family (the child returns from the
/// call as well, without having entered it), credential changes (the kernel filter decides on
/// the caller's credentials before the change) and `rt_sigreturn` (it replaces the registers the
/// arguments are read from at exit). Every other call is filtered and captured at exit from the
/// registers it was made with.
fn needs_entry(name: &str) -> bool {
    matches!(
        name,
        "exit"
            | "exit_group"
            | "clone"
            | "clone3"
            | "fork"
            | "vfork"
            | "rt_sigreturn"
            | "setuid"
            | "setgid"
            | "setreuid"
            | "setregid"
            | "setresuid"
            | "setresgid"
            | "setfsuid"
            | "setfsgid"
            | "capset"
    )
}

/// Whether the programs have work at a call's entry (its descriptor without `D_AT_EXIT`, and
/// selected or resetting the task's context): the calls whose entries must be hooked.
pub(crate) fn entry_matters(desc: u64) -> bool {
    desc & D_AT_EXIT == 0 && desc & (D_SELECTED | D_CTX_RESET) != 0
}

/// Bit position of the descriptor's 3-bit count of raw arguments the decoder reads from a
/// fixed-size system-call record (the record carries only those: 64 bytes plus 8 per argument).
pub(crate) const D_NARGS_SHIFT: u32 = 56;

/// How many leading raw arguments the decoding of a call reads (the highest register index any
/// source refers to, plus one; 0 for a call without sources).
pub(crate) fn raw_args_needed(srcs: &[Src]) -> u8 {
    srcs.iter()
        .map(|s| match *s {
            R32(i) | R64(i) | Str(i) | Argv(i) | Field(i, _) | Path(i, None) => i + 1,
            Path(i, Some(fd)) => i.max(fd) + 1,
            SockLen(i, l) | SockPLen(i, l) => i.max(l) + 1,
        })
        .max()
        .unwrap_or(0)
}

/// Decodes a `struct sockaddr` (IPv4, IPv6, unix; other families by number).
pub(crate) fn sockaddr(b: &[u8]) -> Option<SockAddr> {
    if b.len() < 2 {
        return None;
    }
    let family = u16::from_le_bytes([b[0], b[1]]);
    Some(match family {
        2 if b.len() >= 8 => SockAddr::Inet {
            port: u16::from_be_bytes([b[2], b[3]]),
            addr: Ipv4Addr::new(b[4], b[5], b[6], b[7]),
        },
        10 if b.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            SockAddr::Inet6 {
                port: u16::from_be_bytes([b[2], b[3]]),
                flowinfo: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                addr: Ipv6Addr::from(a),
                scope_id: if b.len() >= 28 {
                    u32::from_le_bytes([b[24], b[25], b[26], b[27]])
                } else {
                    0
                },
            }
        }
        1 => {
            let p = &b[2..];
            let path = if p.first() == Some(&0) && p.len() > 1 {
                // Abstract names: the bytes after the NUL, up to the address length.
                let name = &p[1..];
                let end = name.iter().rposition(|&c| c != 0).map_or(0, |e| e + 1);
                format!("@{}", String::from_utf8_lossy(&name[..end]))
            } else {
                cstr(p)
            };
            SockAddr::Unix { path }
        }
        f => SockAddr::Other { family: f },
    })
}

/// Splits NUL-separated strings (a trailing NUL ends the last one).
pub(crate) fn split_argv(b: &[u8]) -> Vec<String> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        return Vec::new();
    }
    b.split(|&c| c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// A raw integer as the catalog kind shows it.
fn int_value(kind: ArgKind, raw: u64, wide: bool) -> ArgValue {
    match kind {
        ArgKind::UInt | ArgKind::Ptr if wide => ArgValue::UInt(raw),
        ArgKind::UInt | ArgKind::Ptr => ArgValue::UInt(u64::from(raw as u32)),
        _ if wide => ArgValue::Int(raw as i64),
        _ => ArgValue::Int(i64::from(raw as u32 as i32)),
    }
}

/// A relative path argument the kernel did not send a base directory for: the string and the
/// directory fd it is relative to (`None` = the cwd), for resolution from /proc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawPath {
    /// Index in the argument list.
    pub index: usize,
    /// Path as the process passed it.
    pub path: String,
    /// Directory fd, when the call has one and it is not `AT_FDCWD`.
    pub dirfd: Option<i32>,
}

/// Joins a base directory and a relative path, lexically normalised (`.` dropped, `..` folded).
pub(crate) fn join(base: &str, rel: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in base.split('/').chain(rel.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// What the decoder needs about one system call, looked up once per id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallInfo {
    /// The catalog entry.
    pub def: &'static palisade_events::EventDef,
    /// Argument sources (empty for calls that are not decoded).
    pub srcs: &'static [Src],
    /// Strings are read at entry (execve).
    pub at_entry: bool,
}

/// The per-syscall table, indexed by syscall number.
pub(crate) fn call_table() -> &'static [Option<CallInfo>] {
    static T: std::sync::OnceLock<Vec<Option<CallInfo>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        (0..EventId::SYSCALL_SLOTS)
            .map(|n| {
                EventId(n).def().map(|def| {
                    let (srcs, at_entry) = sources(def.name).unwrap_or((&[], false));
                    CallInfo {
                        def,
                        srcs,
                        at_entry,
                    }
                })
            })
            .collect()
    })
}

/// The table entry of a system call.
pub(crate) fn call_info(id: EventId) -> Option<&'static CallInfo> {
    call_table().get(id.0 as usize).and_then(Option::as_ref)
}

/// Decodes the arguments of a system call record. Absolute paths and relative paths with a base
/// directory from the kernel come out absolute; the other relative paths are listed in the
/// second value for the caller to resolve.
#[cfg(test)]
pub(crate) fn decode_args(
    id: EventId,
    raw: &[u64; 6],
    items: &[Item],
) -> (Vec<ArgValue>, Vec<RawPath>) {
    let mut out = Vec::new();
    let paths = decode_args_into(id, raw, items, &mut out);
    (out, paths)
}

/// [`decode_args`] appending to `out` (a buffer reused from event to event).
pub(crate) fn decode_args_into(
    id: EventId,
    raw: &[u64; 6],
    items: &[Item],
    out: &mut Vec<ArgValue>,
) -> Vec<RawPath> {
    let Some(info) = call_info(id) else {
        return Vec::new();
    };
    let (def, srcs) = (info.def, info.srcs);
    if srcs.is_empty() {
        return Vec::new();
    }
    let item = |i: u8| {
        items
            .iter()
            .find(|it| it.arg == i && it.ty != ItemType::Base)
    };
    let base = |i: u8| {
        items
            .iter()
            .find(|it| it.arg == i && it.ty == ItemType::Base)
    };
    out.reserve(srcs.len());
    let mut paths = Vec::new();
    for (n, (src, ad)) in srcs.iter().zip(def.args.iter()).enumerate() {
        let v = match *src {
            R32(i) => int_value(ad.kind, raw[i as usize], false),
            R64(i) => int_value(ad.kind, raw[i as usize], true),
            Str(i) => item(i).map_or(ArgValue::None, |it| ArgValue::Str(cstr(&it.data))),
            Path(i, dirfd) => match item(i) {
                Some(it) => {
                    let path = cstr(&it.data);
                    if path.starts_with('/') {
                        ArgValue::Str(join("/", &path))
                    } else if let Some(b) = base(i) {
                        ArgValue::Str(join(&cstr(&b.data), &path))
                    } else {
                        let fd = dirfd.map(|d| raw[d as usize] as u32 as i32);
                        paths.push(RawPath {
                            index: n,
                            path: path.clone(),
                            dirfd: fd.filter(|&f| f != libc::AT_FDCWD),
                        });
                        ArgValue::Str(path)
                    }
                }
                None => ArgValue::None,
            },
            Argv(i) => item(i).map_or(ArgValue::None, |it| ArgValue::StrList(split_argv(&it.data))),
            SockLen(i, _) | SockPLen(i, _) => item(i)
                .filter(|it| it.ty == ItemType::Sock)
                .and_then(|it| sockaddr(&it.data))
                .map_or(ArgValue::None, ArgValue::Sock),
            Field(i, k) => item(i)
                .filter(|it| it.data.len() >= 8 * (k as usize + 1))
                .map_or(ArgValue::None, |it| {
                    let o = 8 * k as usize;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&it.data[o..o + 8]);
                    int_value(ad.kind, u64::from_le_bytes(a), true)
                }),
        };
        out.push(v);
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_events::catalog::DECODED;
    use std::collections::BTreeSet;

    #[test]
    fn every_decoded_call_has_sources_matching_its_catalog_arguments() {
        for (name, args) in DECODED {
            let (srcs, _) = sources(name).unwrap_or_else(|| panic!("{name}: no sources"));
            assert_eq!(srcs.len(), args.len(), "{name}: argument count");
            for (s, a) in srcs.iter().zip(args.iter()) {
                let ok = match s {
                    Path(..) => a.kind == ArgKind::Path,
                    Str(_) => a.kind == ArgKind::Str,
                    Argv(_) => a.kind == ArgKind::StrArray,
                    SockLen(..) | SockPLen(..) => a.kind == ArgKind::SockAddr,
                    R32(_) | R64(_) | Field(..) => !matches!(
                        a.kind,
                        ArgKind::Path | ArgKind::Str | ArgKind::StrArray | ArgKind::SockAddr
                    ),
                };
                assert!(ok, "{name}.{}: source {s:?} for kind {:?}", a.name, a.kind);
            }
        }
    }

    #[test]
    fn descriptors() {
        let nargs = |n: u64| n << D_NARGS_SHIFT;
        let openat = EventId::from_name("openat").unwrap();
        // pathname (arg 1) is the first string; selected bit set.
        // pathname (arg 1) is the first string, a path relative to dirfd (arg 0).
        assert_eq!(
            descriptor(openat, true),
            D_SELECTED | D_AT_EXIT | 2 | (1 << 22) | (1 << 25) | nargs(4)
        );
        assert_eq!(
            descriptor(openat, false),
            D_AT_EXIT | 2 | (1 << 22) | (1 << 25) | nargs(4)
        );
        let recvfrom = EventId::from_name("recvfrom").unwrap();
        assert_eq!(
            descriptor(recvfrom, false),
            D_AT_EXIT | (5 << 9) | (5 << 12) | D_SOCK_PLEN | nargs(6)
        );
        let connect = EventId::from_name("connect").unwrap();
        assert_eq!(
            descriptor(connect, false),
            D_AT_EXIT | (2 << 9) | (2 << 12) | nargs(3)
        );
        let execve = EventId::from_name("execve").unwrap();
        assert_eq!(
            descriptor(execve, true),
            D_SELECTED | D_AT_ENTRY | 1 | (1 << 22) | (2 << 19) | nargs(2)
        );
        let mount = EventId::from_name("mount").unwrap();
        // source (str), target (path, cwd-relative), filesystemtype (str).
        assert_eq!(
            descriptor(mount, false),
            D_AT_EXIT | D_MOVES_PATHS | 1 | (2 << 3) | (3 << 6) | (1 << 23) | nargs(4)
        );
        let renameat = EventId::from_name("renameat").unwrap();
        assert_eq!(
            descriptor(renameat, false),
            D_AT_EXIT
                | D_MOVES_PATHS
                | 2
                | (4 << 3)
                | (1 << 22)
                | (1 << 23)
                | (1 << 25)
                | (3 << 28)
                | nargs(4)
        );
        let openat2 = EventId::from_name("openat2").unwrap();
        assert_eq!(
            descriptor(openat2, false),
            D_AT_EXIT | 2 | (1 << 22) | (1 << 25) | (3 << 16) | nargs(3)
        );
        // Not decoded: no arguments in its record.
        let getppid = EventId::from_name("getppid").unwrap();
        assert_eq!(descriptor(getppid, true), D_SELECTED | D_AT_EXIT);
        let sethostname = EventId::from_name("sethostname").unwrap();
        assert_eq!(descriptor(sethostname, false), D_CTX_RESET);
        // Seen at entry: the clone family, exits, credential changes.
        for name in ["clone", "clone3", "exit_group", "setuid", "capset"] {
            let id = EventId::from_name(name).unwrap();
            assert_eq!(descriptor(id, true) & D_AT_EXIT, 0, "{name}");
        }
        // Entries to hook: those calls when selected, and context resets even when not.
        let setuid = EventId::from_name("setuid").unwrap();
        assert!(entry_matters(descriptor(setuid, true)));
        assert!(!entry_matters(descriptor(setuid, false)));
        assert!(entry_matters(descriptor(sethostname, false)));
        assert!(!entry_matters(descriptor(getppid, true)));
        assert!(!entry_matters(descriptor(openat, true)));
    }

    #[test]
    fn records_carry_every_raw_argument_the_decoding_reads() {
        // Decoding a call from a record cut after its descriptor's argument count gives the
        // same arguments as from the full record.
        for (name, _) in DECODED {
            let id = EventId::from_name(name).unwrap();
            let n = ((descriptor(id, true) >> D_NARGS_SHIFT) & 7) as usize;
            assert!(n <= 6, "{name}: {n}");
            let raw = [11, 22, 33, 44, 55, 66];
            let mut cut = [0u64; 6];
            cut[..n].copy_from_slice(&raw[..n]);
            // Relative paths, so that their directory-fd arguments are read too.
            let (srcs, _) = sources(name).unwrap();
            let items: Vec<Item> = srcs
                .iter()
                .filter_map(|s| match *s {
                    Str(i) | Path(i, _) => Some(Item {
                        arg: i,
                        ty: ItemType::Str,
                        data: b"rel\0".to_vec(),
                    }),
                    _ => None,
                })
                .collect();
            assert_eq!(
                decode_args(id, &raw, &items),
                decode_args(id, &cut, &items),
                "{name}: {n} arguments"
            );
        }
        assert_eq!(raw_args_needed(&[R32(0), SockPLen(1, 2)]), 3);
        assert_eq!(raw_args_needed(&[Path(3, Some(2)), R32(0)]), 4);
        assert_eq!(raw_args_needed(&[]), 0);
    }

    #[test]
    fn no_call_needs_more_string_slots_than_the_kernel_has() {
        for (name, _) in DECODED {
            let (srcs, _) = sources(name).unwrap();
            let strings = srcs
                .iter()
                .filter(|s| matches!(s, Str(_) | Path(..)))
                .count();
            let socks = srcs
                .iter()
                .filter(|s| matches!(s, SockLen(..) | SockPLen(..)))
                .count();
            let structs: BTreeSet<u8> = srcs
                .iter()
                .filter_map(|s| match s {
                    Field(i, _) => Some(*i),
                    _ => None,
                })
                .collect();
            assert!(strings <= 3 && socks <= 1 && structs.len() <= 1, "{name}");
        }
    }

    #[test]
    fn sockaddrs() {
        let v4 = [2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            sockaddr(&v4),
            Some(SockAddr::Inet {
                addr: Ipv4Addr::LOCALHOST,
                port: 8080
            })
        );
        let mut v6 = vec![10, 0, 0, 80, 0, 0, 0, 0];
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&3u32.to_le_bytes());
        assert_eq!(
            sockaddr(&v6),
            Some(SockAddr::Inet6 {
                addr: Ipv6Addr::LOCALHOST,
                port: 80,
                flowinfo: 0,
                scope_id: 3
            })
        );
        let mut un = vec![1, 0];
        un.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(
            sockaddr(&un),
            Some(SockAddr::Unix {
                path: "/run/x.sock".into()
            })
        );
        let mut abs = vec![1, 0, 0];
        abs.extend_from_slice(b"bus");
        assert_eq!(
            sockaddr(&abs),
            Some(SockAddr::Unix {
                path: "@bus".into()
            })
        );
        assert_eq!(
            sockaddr(&[16, 0, 0, 0]),
            Some(SockAddr::Other { family: 16 })
        );
        assert_eq!(sockaddr(&[2]), None);
    }

    #[test]
    fn decodes_openat_and_sign_extends_dirfd() {
        let openat = EventId::from_name("openat").unwrap();
        let raw = [0xffff_ff9c, 0x7fff_0000, 0o2000000 | 0o100, 0o644, 0, 0];
        let items = [Item {
            arg: 1,
            ty: ItemType::Str,
            data: b"rel/file\0".to_vec(),
        }];
        let (args, paths) = decode_args(openat, &raw, &items);
        assert_eq!(
            args,
            vec![
                ArgValue::Int(-100),
                ArgValue::Str("rel/file".into()),
                ArgValue::Int(0o2000100),
                ArgValue::Int(0o644)
            ]
        );
        assert_eq!(
            paths,
            vec![RawPath {
                index: 1,
                path: "rel/file".into(),
                dirfd: None
            }]
        );
        // With the base directory the kernel walked, the path comes out absolute.
        let items = [
            items[0].clone(),
            Item {
                arg: 1,
                ty: ItemType::Base,
                data: b"/home/u/src".to_vec(),
            },
        ];
        let (args, paths) = decode_args(openat, &raw, &items);
        assert_eq!(args[1], ArgValue::Str("/home/u/src/rel/file".into()));
        assert!(paths.is_empty());
        assert_eq!(join("/a/b", "../c/./d"), "/a/c/d");
        assert_eq!(join("/", "x"), "/x");
    }

    #[test]
    fn decodes_openat2_fields_and_argv() {
        let openat2 = EventId::from_name("openat2").unwrap();
        let mut how = Vec::new();
        for v in [0o101u64, 0o600, 8] {
            how.extend_from_slice(&v.to_le_bytes());
        }
        let items = [
            Item {
                arg: 1,
                ty: ItemType::Str,
                data: b"/x\0".to_vec(),
            },
            Item {
                arg: 2,
                ty: ItemType::Bytes,
                data: how,
            },
        ];
        let (args, _) = decode_args(openat2, &[3, 0, 0, 24, 0, 0], &items);
        assert_eq!(
            args,
            vec![
                ArgValue::Int(3),
                ArgValue::Str("/x".into()),
                ArgValue::Int(0o101),
                ArgValue::Int(0o600),
                ArgValue::UInt(8)
            ]
        );
        assert_eq!(split_argv(b"ls\0-l\0/tmp\0"), vec!["ls", "-l", "/tmp"]);
        assert_eq!(split_argv(b""), Vec::<String>::new());
    }
}
