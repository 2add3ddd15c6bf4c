//! The binary records the BPF programs write to the ring buffer (layouts mirrored from
//! `bpf/sensor.bpf.c`, little endian) and their parsing. Parsing never panics: a short or
//! malformed record is an error value.

/// Record kinds (`R_*` in the C source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A system call with its return value (fixed size).
    Sys,
    /// A system call with its return value, followed by string/socket items.
    SysExt,
    /// Items read at a call's entry (execve), completed by the call's `Sys` record.
    EntryExt,
    /// The context of a task.
    Task,
    /// `sched_process_fork`.
    Fork,
    /// `sched_process_exec`, followed by items.
    Exec,
    /// `sched_process_exit`.
    Exit,
    /// A call that never returns (`exit`, `exit_group`), sent at entry.
    NoRet,
    /// The path of the header's cgroup, sent the first time the kernel sees the id.
    Cgroup,
}

impl Kind {
    fn from_u8(k: u8) -> Option<Kind> {
        Some(match k {
            1 => Kind::Sys,
            2 => Kind::SysExt,
            3 => Kind::EntryExt,
            4 => Kind::Task,
            5 => Kind::Fork,
            6 => Kind::Exec,
            7 => Kind::Exit,
            8 => Kind::NoRet,
            9 => Kind::Cgroup,
            _ => return None,
        })
    }
}

/// Header flag: the container part of the filter is left to user space (unknown cgroup).
pub(crate) const HF_UNDECIDED: u8 = 1;
/// Header flag: strings were truncated (for a cgroup record: only the path's last components).
#[allow(dead_code)]
pub(crate) const HF_TRUNCATED: u8 = 2;
/// Header flag of a cgroup record: the cgroup is in the reported v1 hierarchy, not in v2.
pub(crate) const HF_V1: u8 = 4;

pub(crate) const HDR_LEN: usize = 56;
pub(crate) const SYS_LEN: usize = 112;
/// A fixed system-call record without arguments (header and return value).
pub(crate) const SYS_MIN_LEN: usize = 64;
pub(crate) const TASK_LEN: usize = 176;
pub(crate) const FORK_LEN: usize = 96;
pub(crate) const EXIT_LEN: usize = 64;

/// Item types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemType {
    /// A NUL-terminated string.
    Str,
    /// NUL-separated strings.
    Argv,
    /// Raw `struct sockaddr` bytes.
    Sock,
    /// Raw structure bytes.
    Bytes,
    /// A tty name.
    Tty,
    /// The absolute directory a relative path (same argument) is relative to (the programs
    /// send it leaf first, item type 8; [`items`] turns it the right way round).
    Base,
    /// A base directory against the thread's base slots: `{anc, fill, 0, 0}` then components
    /// leaf first (`c/b/a/`). The path is slot `anc` (0xff: the root) followed by the
    /// components; it then fills slot `fill` (0xff: none). See [`slot_base`].
    BaseSlot,
}

/// One item: the raw argument index it belongs to, its type and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub arg: u8,
    pub ty: ItemType,
    pub data: Vec<u8>,
}

/// The common header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub ts: u64,
    pub cgroup: u64,
    pub tid: u32,
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
    pub id: u16,
    pub kind: Kind,
    pub flags: u8,
    pub cpu: u16,
    /// The thread's name as the kernel holds it (NUL-padded); see [`set_cstr`].
    pub comm: [u8; 16],
}

/// The task context record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskCtx {
    pub ppid: u32,
    pub ns_pid: u32,
    pub ns_tid: u32,
    pub ns_ppid: u32,
    pub mntns: u32,
    pub pidns: u32,
    pub start_time: u64,
    pub sid: u32,
    pub loginuid: u32,
    pub uts: String,
    /// The task's cgroup id in the reported cgroup v1 hierarchy (0: none reported).
    pub v1_cgroup: u64,
}

/// A parsed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// `Sys`, `SysExt`, `EntryExt`, `NoRet`.
    Sys {
        h: Header,
        ret: i64,
        args: [u64; 6],
        items: Vec<Item>,
    },
    Task {
        h: Header,
        ctx: TaskCtx,
    },
    Fork {
        h: Header,
        /// parent_tid, parent_ns_tid, parent_pid, parent_ns_pid, child_tid, child_ns_tid,
        /// child_pid, child_ns_pid.
        ids: [u32; 8],
        child_start: u64,
    },
    Exec {
        h: Header,
        items: Vec<Item>,
    },
    Exit {
        h: Header,
        code: i32,
        group: bool,
    },
    Cgroup {
        h: Header,
        /// The cgroup's path below its hierarchy's root (`/a/b`): v2, or the reported v1
        /// hierarchy when the header has [`HF_V1`].
        path: String,
    },
}

/// Why a record could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadRecord(pub &'static str);

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// The bytes up to the first NUL, as (lossy) UTF-8.
pub(crate) fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let b = &b[..end];
    // Almost always valid UTF-8: one check and one copy, no lossy-chunk iteration.
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Replaces `dst` with the bytes of `b` up to the first NUL, as (lossy) UTF-8, keeping the
/// string's buffer (no allocation once it is large enough).
pub(crate) fn set_cstr(dst: &mut String, b: &[u8]) {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let b = &b[..end];
    dst.clear();
    match std::str::from_utf8(b) {
        Ok(s) => dst.push_str(s),
        Err(_) => dst.push_str(&String::from_utf8_lossy(b)),
    }
}

fn header(b: &[u8]) -> Result<Header, BadRecord> {
    if b.len() < HDR_LEN {
        return Err(BadRecord("record shorter than its header"));
    }
    Ok(Header {
        ts: u64_at(b, 0),
        cgroup: u64_at(b, 8),
        tid: u32_at(b, 16),
        pid: u32_at(b, 20),
        uid: u32_at(b, 24),
        gid: u32_at(b, 28),
        id: u16_at(b, 32),
        kind: Kind::from_u8(b[34]).ok_or(BadRecord("unknown record kind"))?,
        flags: b[35],
        cpu: u16_at(b, 36),
        comm: {
            let mut c = [0u8; 16];
            c.copy_from_slice(&b[40..56]);
            c
        },
    })
}

/// `prefix` (an absolute directory; empty or `/` for the root) followed by components the
/// programs walked from the leaf up: `below(b"", b"c/b/a/")` is `/a/b/c`, no components `/`.
fn below(prefix: &[u8], leaf_first: &[u8]) -> Vec<u8> {
    let prefix = if prefix == b"/" { &[][..] } else { prefix };
    let mut out = Vec::with_capacity(prefix.len() + leaf_first.len() + 1);
    out.extend_from_slice(prefix);
    for part in leaf_first.rsplit(|&c| c == b'/').filter(|p| !p.is_empty()) {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// No slot (`anc` of a walk that reached the root, `fill` of a base that fills none).
pub(crate) const NO_SLOT: u8 = 0xff;

/// Resolves an [`ItemType::BaseSlot`] item's bytes against a thread's slots (as they were
/// before the record): `(path, slot it fills)`. The path is `None` when its slot is unknown
/// here (the slot it fills is then unknown too).
pub(crate) fn slot_base(
    slots: Option<&[Option<Vec<u8>>; 4]>,
    data: &[u8],
) -> (Option<Vec<u8>>, Option<usize>) {
    let (Some(&anc), Some(&fill)) = (data.first(), data.get(1)) else {
        return (None, None);
    };
    let fill = (fill != NO_SLOT).then_some(usize::from(fill & 3));
    let comps = data.get(4..).unwrap_or_default();
    let path = if anc == NO_SLOT {
        Some(below(b"", comps))
    } else {
        slots
            .and_then(|s| s[usize::from(anc & 3)].as_deref())
            .map(|p| below(p, comps))
    };
    (path, fill)
}

fn items(b: &[u8], mut off: usize) -> Result<Vec<Item>, BadRecord> {
    let mut v = Vec::new();
    while off + 4 <= b.len() {
        let arg = b[off];
        let ty = match b[off + 1] {
            1 => ItemType::Str,
            2 => ItemType::Argv,
            3 => ItemType::Sock,
            4 => ItemType::Bytes,
            5 => ItemType::Tty,
            6 => ItemType::Base,
            8 => ItemType::Base,
            9 => ItemType::BaseSlot,
            _ => return Err(BadRecord("unknown item type")),
        };
        let len = u16_at(b, off + 2) as usize;
        let start = off + 4;
        let end = start + len;
        if end > b.len() {
            return Err(BadRecord("item runs past the record"));
        }
        let data = if b[off + 1] == 8 {
            below(b"", &b[start..end])
        } else {
            b[start..end].to_vec()
        };
        v.push(Item { arg, ty, data });
        off = (end + 3) & !3;
    }
    Ok(v)
}

/// A fixed system-call record (`Sys` or `NoRet`, no items) parsed without building a
/// [`Record`]: `None` for the other kinds.
pub(crate) fn parse_fixed_sys(b: &[u8]) -> Result<Option<(Header, i64, [u64; 6])>, BadRecord> {
    if b.len() < HDR_LEN || !matches!(b[34], 1 | 8) {
        return Ok(None);
    }
    let h = header(b)?;
    if b.len() < SYS_MIN_LEN {
        return Err(BadRecord("record shorter than its kind"));
    }
    let mut args = [0u64; 6];
    for (i, a) in args.iter_mut().enumerate() {
        let o = SYS_MIN_LEN + 8 * i;
        if o + 8 <= b.len() {
            *a = u64_at(b, o);
        }
    }
    Ok(Some((h, u64_at(b, 56) as i64, args)))
}

/// Parses one ring-buffer record.
pub(crate) fn parse(b: &[u8]) -> Result<Record, BadRecord> {
    let h = header(b)?;
    let need = |n: usize| {
        if b.len() < n {
            Err(BadRecord("record shorter than its kind"))
        } else {
            Ok(())
        }
    };
    Ok(match h.kind {
        Kind::Sys | Kind::SysExt | Kind::EntryExt | Kind::NoRet => {
            // Records with items have all six arguments; the fixed ones (`Sys`, `NoRet`) only
            // those the call's decoding reads (64 bytes plus 8 per argument); the rest are 0.
            let ext = matches!(h.kind, Kind::SysExt | Kind::EntryExt);
            need(if ext { SYS_LEN } else { SYS_MIN_LEN })?;
            let mut args = [0u64; 6];
            for (i, a) in args.iter_mut().enumerate() {
                let o = SYS_MIN_LEN + 8 * i;
                if o + 8 <= b.len() {
                    *a = u64_at(b, o);
                }
            }
            let items = if ext { items(b, SYS_LEN)? } else { Vec::new() };
            Record::Sys {
                ret: u64_at(b, 56) as i64,
                args,
                items,
                h,
            }
        }
        Kind::Task => {
            need(TASK_LEN)?;
            Record::Task {
                ctx: TaskCtx {
                    ppid: u32_at(b, 56),
                    ns_pid: u32_at(b, 60),
                    ns_tid: u32_at(b, 64),
                    ns_ppid: u32_at(b, 68),
                    mntns: u32_at(b, 72),
                    pidns: u32_at(b, 76),
                    start_time: u64_at(b, 80),
                    sid: u32_at(b, 88),
                    loginuid: u32_at(b, 92),
                    uts: cstr(&b[96..161]),
                    v1_cgroup: u64_at(b, 168),
                },
                h,
            }
        }
        Kind::Fork => {
            need(FORK_LEN)?;
            let mut ids = [0u32; 8];
            for (i, x) in ids.iter_mut().enumerate() {
                *x = u32_at(b, 56 + 4 * i);
            }
            Record::Fork {
                ids,
                child_start: u64_at(b, 88),
                h,
            }
        }
        Kind::Exec => Record::Exec {
            items: items(b, HDR_LEN)?,
            h,
        },
        Kind::Cgroup => {
            let path = items(b, HDR_LEN)?
                .into_iter()
                .find(|i| i.arg == 0 && i.ty == ItemType::Str)
                .map(|i| cstr(&i.data))
                .ok_or(BadRecord("cgroup record without its path"))?;
            Record::Cgroup { h, path }
        }
        Kind::Exit => {
            need(EXIT_LEN)?;
            Record::Exit {
                code: u32_at(b, 56) as i32,
                group: b[60] != 0,
                h,
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a record the way the BPF side lays it out.
    pub(crate) fn build(kind: u8, id: u16, body: &[u8], items: &[(u8, u8, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; HDR_LEN];
        b[0..8].copy_from_slice(&1_000u64.to_le_bytes());
        b[8..16].copy_from_slice(&77u64.to_le_bytes());
        b[16..20].copy_from_slice(&101u32.to_le_bytes());
        b[20..24].copy_from_slice(&100u32.to_le_bytes());
        b[24..28].copy_from_slice(&1000u32.to_le_bytes());
        b[28..32].copy_from_slice(&1001u32.to_le_bytes());
        b[32..34].copy_from_slice(&id.to_le_bytes());
        b[34] = kind;
        b[40..43].copy_from_slice(b"cat");
        b.extend_from_slice(body);
        for (arg, ty, data) in items {
            b.push(*arg);
            b.push(*ty);
            b.extend_from_slice(&(data.len() as u16).to_le_bytes());
            b.extend_from_slice(data);
            while !b.len().is_multiple_of(4) {
                b.push(0);
            }
        }
        b
    }

    pub(crate) fn sys_body(ret: i64, args: [u64; 6]) -> Vec<u8> {
        let mut v = ret.to_le_bytes().to_vec();
        for a in args {
            v.extend_from_slice(&a.to_le_bytes());
        }
        v
    }

    #[test]
    fn parses_a_syscall_with_items() {
        let body = sys_body(-2, [(-100i64) as u64, 0x1000, 0, 0, 0, 0]);
        let b = build(2, 257, &body, &[(1, 1, b"/etc/passwd\0")]);
        let Record::Sys {
            h,
            ret,
            args,
            items,
        } = parse(&b).unwrap()
        else {
            panic!("not a syscall record");
        };
        assert_eq!(
            (h.id, h.tid, h.pid, h.uid, h.gid),
            (257, 101, 100, 1000, 1001)
        );
        assert_eq!(cstr(&h.comm), "cat");
        assert_eq!(ret, -2);
        assert_eq!(args[0] as i64, -100);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].arg, 1);
        assert_eq!(cstr(&items[0].data), "/etc/passwd");
    }

    #[test]
    fn the_fixed_record_parser_agrees_with_the_full_one() {
        for (kind, nargs) in [(1u8, 0usize), (1, 2), (1, 4), (1, 6), (8, 0)] {
            let mut body = (-5i64).to_le_bytes().to_vec();
            for a in 0..nargs {
                body.extend_from_slice(&(a as u64 + 10).to_le_bytes());
            }
            let b = build(kind, 257, &body, &[]);
            let (h, ret, args) = parse_fixed_sys(&b).unwrap().unwrap();
            let Record::Sys {
                h: h2,
                ret: r2,
                args: a2,
                items,
            } = parse(&b).unwrap()
            else {
                panic!("not a syscall record");
            };
            assert_eq!((h, ret, args), (h2, r2, a2));
            assert!(items.is_empty());
            assert_eq!(args[..nargs], [10, 11, 12, 13, 14, 15][..nargs]);
            assert!(args[nargs..].iter().all(|&a| a == 0));
        }
        // Other kinds go to the full parser; short records are errors.
        assert_eq!(
            parse_fixed_sys(&build(2, 257, &sys_body(0, [0; 6]), &[])),
            Ok(None)
        );
        assert!(parse_fixed_sys(&build(1, 257, &[0u8; 4], &[])).is_err());
    }

    #[test]
    fn rejects_short_and_corrupt_records() {
        assert!(parse(&[0u8; 10]).is_err());
        let b = build(42, 0, &[], &[]);
        assert_eq!(parse(&b), Err(BadRecord("unknown record kind")));
        let b = build(9, 0, &[], &[]);
        assert_eq!(parse(&b), Err(BadRecord("cgroup record without its path")));
        let mut b = build(2, 257, &sys_body(0, [0; 6]), &[(1, 1, b"abc\0")]);
        b[SYS_LEN + 2] = 200; // item length past the end
        assert!(parse(&b).is_err());
        let b = build(4, 0, &[0u8; 20], &[]);
        assert!(parse(&b).is_err());
    }

    #[test]
    fn parses_a_cgroup_record() {
        let b = build(9, 0, &[], &[(0, 1, b"/palisade-test/abc\0")]);
        let Record::Cgroup { h, path } = parse(&b).unwrap() else {
            panic!("not a cgroup record");
        };
        assert_eq!((h.cgroup, path.as_str()), (77, "/palisade-test/abc"));
    }

    #[test]
    fn cstr_stops_at_nul_and_replaces_invalid_utf8() {
        assert_eq!(cstr(b"bash\0\0junk"), "bash");
        assert_eq!(cstr(b"no-nul"), "no-nul");
        assert_eq!(cstr(b""), "");
        assert_eq!(cstr("h\u{e9}te\0".as_bytes()), "h\u{e9}te");
        assert_eq!(cstr(b"a\xffb\0c"), "a\u{fffd}b");
    }
}
