//! Paths, terminals and socket names as Falco shows them.

use std::net::IpAddr;

/// Lexically normalises a path: resolves `.` and `..`, collapses repeated slashes. A relative
/// path is joined to `base` first (the cwd or the directory of a dirfd). `..` never climbs above
/// `/`. Symbolic links are not resolved (the state has no file system to look them up in).
pub fn normalize_path(base: &str, path: &str) -> String {
    let mut out = String::with_capacity(base.len() + path.len() + 1);
    let mut comps: Vec<&str> = Vec::new();
    let joined_base = if path.starts_with('/') { "" } else { base };
    for c in joined_base.split('/').chain(path.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    if comps.is_empty() {
        out.push('/');
    }
    for c in comps {
        out.push('/');
        out.push_str(c);
    }
    out
}

/// Whether a path is already absolute and normal (no `//`, `/./`, `/../`, no trailing `/`);
/// lets the hot path skip [`normalize_path`].
pub(crate) fn is_normal_abs(p: &str) -> bool {
    if !p.starts_with('/') {
        return false;
    }
    if p == "/" {
        return true;
    }
    if p.ends_with('/') {
        return false;
    }
    !p[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
}

/// Encodes a device number the way the kernel shows `tty_nr` (`new_encode_dev`).
pub(crate) fn encode_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// The device number (`proc.tty`) of a terminal given by name: `pts/3`, `/dev/pts/3`, `pts3`
/// (the kernel's `tty->name`), `tty1`,
/// `ttyS0`, `console`, or a number. 0 for no terminal (empty, `?`) or an unknown name.
pub fn tty_from_name(name: &str) -> u32 {
    let n = name.trim();
    let n = n.strip_prefix("/dev/").unwrap_or(n);
    if n.is_empty() || n == "?" {
        return 0;
    }
    if let Ok(v) = n.parse::<u32>() {
        return v;
    }
    // the kernel's own name of a pty slave is `pts<N>`; devpts paths are `pts/<N>`
    let pts = n.strip_prefix("pts/").or_else(|| n.strip_prefix("pts"));
    if let Some(i) = pts.and_then(|s| s.parse::<u32>().ok()) {
        // Unix98 ptys: majors 136..=143, 256 minors each
        return encode_dev(136 + i / 256, i % 256);
    }
    if let Some(i) = n.strip_prefix("ttyS").and_then(|s| s.parse::<u32>().ok()) {
        return encode_dev(4, i.saturating_add(64));
    }
    if let Some(i) = n.strip_prefix("tty").and_then(|s| s.parse::<u32>().ok()) {
        return encode_dev(4, i);
    }
    match n {
        "console" => encode_dev(5, 1),
        "tty" => encode_dev(5, 0),
        _ => 0,
    }
}

/// Appends `ip:port` as Falco writes socket tuples (IPv6 without brackets).
pub(crate) fn push_endpoint(out: &mut String, ep: Option<(IpAddr, u16)>, v6: bool) {
    use std::fmt::Write;
    match ep {
        Some((ip, port)) => {
            let _ = write!(out, "{ip}:{port}");
        }
        None if v6 => out.push_str("::0"),
        None => out.push_str("0.0.0.0:0"),
    }
}

/// The `fd.name` of an inet socket: `cip:cport->sip:sport`; the bound address alone for a
/// listening socket; empty when nothing is known.
pub(crate) fn tuple_name(
    client: Option<(IpAddr, u16)>,
    server: Option<(IpAddr, u16)>,
    v6: bool,
) -> String {
    if client.is_none() && server.is_none() {
        return String::new();
    }
    let mut s = String::with_capacity(48);
    push_endpoint(&mut s, client, v6);
    s.push_str("->");
    push_endpoint(&mut s, server, v6);
    s
}

/// Last path component.
pub(crate) fn basename(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// `comm` as the kernel keeps it: at most 15 bytes (cut on a character boundary).
pub(crate) fn comm_of(name: &str) -> &str {
    if name.len() <= 15 {
        return name;
    }
    let mut end = 15;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize() {
        let cases = [
            ("/home/u", "a.txt", "/home/u/a.txt"),
            ("/home/u", "../x/./y", "/home/x/y"),
            ("/", "../../etc//passwd", "/etc/passwd"),
            ("/tmp", "/etc/../etc/shadow", "/etc/shadow"),
            ("/tmp", ".", "/tmp"),
            ("/tmp", "", "/tmp"),
            ("", "rel", "/rel"),
            ("/a/", "b/", "/a/b"),
        ];
        for (base, p, want) in cases {
            assert_eq!(normalize_path(base, p), want, "{base} + {p}");
        }
        assert!(is_normal_abs("/etc/passwd") && is_normal_abs("/"));
        for p in ["etc", "/etc/", "//etc", "/a/./b", "/a/../b", ""] {
            assert!(!is_normal_abs(p), "{p}");
        }
    }

    #[test]
    fn ttys() {
        assert_eq!(tty_from_name("pts/0"), 34816);
        assert_eq!(tty_from_name("/dev/pts/3"), 34819);
        assert_eq!(tty_from_name("pts3"), 34819);
        assert_eq!(tty_from_name("pts/300"), encode_dev(137, 44));
        assert_eq!(tty_from_name("tty1"), 1025);
        assert_eq!(tty_from_name("ttyS0"), 1088);
        assert_eq!(tty_from_name("34817"), 34817);
        assert_eq!(tty_from_name(""), 0);
        assert_eq!(tty_from_name("?"), 0);
        assert_eq!(tty_from_name("whatever"), 0);
        // absurd numbers do not overflow
        assert_ne!(tty_from_name("ttyS4294967295"), 0);
        assert_ne!(tty_from_name("pts/4294967295"), 0);
    }

    #[test]
    fn tuples_and_names() {
        let c = Some(("10.0.0.1".parse().unwrap(), 40000));
        let s = Some(("10.0.0.2".parse().unwrap(), 443));
        assert_eq!(tuple_name(c, s, false), "10.0.0.1:40000->10.0.0.2:443");
        assert_eq!(tuple_name(None, s, false), "0.0.0.0:0->10.0.0.2:443");
        assert_eq!(tuple_name(None, None, false), "");
        let s6 = Some(("::1".parse().unwrap(), 80));
        assert_eq!(tuple_name(None, s6, true), "::0->::1:80");
        assert_eq!(basename("/usr/bin/bash"), "bash");
        assert_eq!(basename("sh"), "sh");
        assert_eq!(comm_of("a-very-long-program-name"), "a-very-long-pro");
        assert_eq!(comm_of("é".repeat(8).as_str()).len(), 14);
    }
}
