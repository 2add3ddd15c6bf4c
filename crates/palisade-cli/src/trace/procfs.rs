//! The processes running when tracing starts, from /proc, to seed the process tree (so
//! `pid=new`, `container=new`, `follow` and `executable` know what existed before).

use palisade_events::container::from_cgroup_path;
use palisade_events::filter::{ProcInfo, ProcessTree};
use std::fs;
use std::path::Path;

/// The inode of a namespace link (`mnt:[4026531840]`).
fn ns_inode(path: &Path) -> Option<u32> {
    let link = fs::read_link(path).ok()?;
    let s = link.to_str()?;
    let inner = s.split_once('[')?.1.strip_suffix(']')?;
    inner.parse().ok()
}

/// `(comm, ppid)` from `/proc/<pid>/stat` (the comm may hold spaces and parentheses).
fn parse_stat(stat: &str) -> Option<(String, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}

fn real_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

/// One process's entry, `None` when it vanished while being read.
fn read_proc(dir: &Path) -> Option<ProcInfo> {
    let (comm, ppid) = parse_stat(&fs::read_to_string(dir.join("stat")).ok()?)?;
    let uid = fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|s| real_uid(&s))
        .unwrap_or(0);
    let container_id = fs::read_to_string(dir.join("cgroup"))
        .ok()
        .and_then(|c| {
            c.lines()
                .filter_map(|l| l.splitn(3, ':').nth(2))
                .find_map(from_cgroup_path)
        })
        .map(|c| c.id)
        .unwrap_or_default();
    let exe = fs::read_link(dir.join("exe")).ok().and_then(|p| {
        p.to_str()
            .map(|s| s.trim_end_matches(" (deleted)").to_owned())
    });
    Some(ProcInfo {
        ppid,
        comm,
        uid,
        uts: String::new(),
        mntns: ns_inode(&dir.join("ns/mnt")).unwrap_or(0),
        pidns: ns_inode(&dir.join("ns/pid")).unwrap_or(0),
        container_id,
        exe,
        new: false,
        exited: false,
    })
}

/// A tree seeded with every process under `proc_root` (normally `/proc`).
pub fn snapshot(proc_root: &Path) -> ProcessTree {
    let mut tree = ProcessTree::new();
    // The host's mount namespace is init's; where init cannot be inspected (a sandbox), ours.
    if let Some(m) =
        ns_inode(&proc_root.join("1/ns/mnt")).or_else(|| ns_inode(&proc_root.join("self/ns/mnt")))
    {
        tree.set_host_mntns(m);
    }
    let Ok(dir) = fs::read_dir(proc_root) else {
        return tree;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(info) = read_proc(&entry.path()) {
            tree.insert_existing(pid, info);
        }
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        assert_eq!(
            parse_stat("42 (a (b) c) S 7 42 42 0 -1"),
            Some(("a (b) c".into(), 7))
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(real_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n"), Some(1000));
    }

    #[test]
    fn snapshot_of_this_machine_has_this_process() {
        let tree = snapshot(Path::new("/proc"));
        let me = std::process::id();
        let info = tree.get(me).expect("own process in the snapshot");
        assert!(!info.new);
        assert!(info.exe.is_some());
        assert!(!tree.is_new(me));
        assert!(tree.host_mntns().is_some());
    }
}
