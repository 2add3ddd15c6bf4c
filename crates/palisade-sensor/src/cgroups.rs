//! cgroup id -> cgroup path -> container id, by walking the cgroup v2 hierarchy (the id of a v2
//! cgroup is the inode number of its directory). Cached; rescanned when an unknown id shows up.

use palisade_events::container::from_cgroup_path;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a cgroup is, as far as the filters care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgInfo {
    /// Path below the cgroup v2 root.
    pub path: String,
    /// Container id, empty for the host.
    pub container: String,
    /// The cgroup appeared after the sensor started.
    pub new: bool,
}

/// The cgroup cache.
pub(crate) struct Cgroups {
    root: Option<PathBuf>,
    by_id: crate::IdMap<u64, CgInfo>,
    scanned: bool,
}

/// The cgroup v2 mount point, from /proc/self/mountinfo.
fn cgroup2_root() -> Option<PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        pre.split_whitespace().nth(4).map(PathBuf::from)
    })
}

impl Cgroups {
    /// An empty cache on the system's cgroup v2 hierarchy.
    pub(crate) fn new() -> Cgroups {
        Cgroups {
            root: cgroup2_root(),
            by_id: crate::IdMap::default(),
            scanned: false,
        }
    }

    /// Walks the hierarchy; returns the ids seen for the first time.
    pub(crate) fn scan(&mut self) -> Vec<u64> {
        let Some(root) = self.root.clone() else {
            return Vec::new();
        };
        let first = !self.scanned;
        self.scanned = true;
        let mut added = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(md) = std::fs::metadata(&dir) else {
                continue;
            };
            let id = md.ino();
            if let std::collections::hash_map::Entry::Vacant(v) = self.by_id.entry(id) {
                let rel = rel_path(&root, &dir);
                let container = from_cgroup_path(&rel).map(|c| c.id).unwrap_or_default();
                v.insert(CgInfo {
                    path: rel,
                    container,
                    new: !first,
                });
                added.push(id);
            }
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
        added
    }

    /// Looks an id up, rescanning the tree when it is unknown. The scan happens after the event
    /// (events are decoded after they happen), so an id it does not find is a cgroup already
    /// removed: recorded as a host cgroup with an empty path, and never scanned for again.
    pub(crate) fn get(&mut self, id: u64) -> (&CgInfo, Vec<u64>) {
        let mut added = Vec::new();
        if !self.by_id.contains_key(&id) {
            added = self.scan();
            if let std::collections::hash_map::Entry::Vacant(v) = self.by_id.entry(id) {
                v.insert(CgInfo {
                    path: String::new(),
                    container: String::new(),
                    new: true,
                });
                added.push(id);
            }
        }
        (&self.by_id[&id], added)
    }

    /// Records a cgroup's path as the kernel reported it. Fills in an id that is unknown, or that
    /// was recorded as gone (empty path) because its events were decoded after its removal.
    /// Returns whether the entry was added or changed.
    pub(crate) fn learn(&mut self, id: u64, path: &str) -> bool {
        if self.by_id.get(&id).is_some_and(|i| !i.path.is_empty()) {
            return false;
        }
        let container = from_cgroup_path(path).map(|c| c.id).unwrap_or_default();
        self.by_id.insert(
            id,
            CgInfo {
                path: path.to_string(),
                container,
                // Every cgroup present at start was found by the first walk.
                new: self.scanned,
            },
        );
        true
    }

    /// Known entries.
    pub(crate) fn peek(&self, id: u64) -> Option<&CgInfo> {
        self.by_id.get(&id)
    }
}

fn rel_path(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(r) => format!("/{}", r.display()),
        Err(_) => dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            rel_path(Path::new("/sys/fs/cgroup"), Path::new("/sys/fs/cgroup")),
            "/"
        );
        assert_eq!(
            rel_path(Path::new("/sys/fs/cgroup"), Path::new("/sys/fs/cgroup/a/b")),
            "/a/b"
        );
    }

    #[test]
    fn a_removed_cgroup_is_learnt_from_the_kernel_record() {
        let mut cg = Cgroups {
            root: None,
            by_id: crate::IdMap::default(),
            scanned: true,
        };
        let id = 0xfeed_0000_0001;
        // Decoded after the cgroup was removed: taken for the host...
        let (info, _) = cg.get(id);
        assert_eq!(info.container, "");
        // ...until the kernel's record of its path arrives.
        let ctr = "0123456789abcdef".repeat(4);
        assert!(cg.learn(id, &format!("/palisade-test/{ctr}")));
        let info = cg.peek(id).unwrap();
        assert_eq!(info.container, ctr);
        assert!(info.new);
        // A known path is never replaced.
        assert!(!cg.learn(id, "/elsewhere"));
        assert_eq!(cg.peek(id).unwrap().container, ctr);
    }

    #[test]
    fn the_cgroup_of_this_process_is_found() {
        let mut cg = Cgroups::new();
        let Some(root) = cg.root.clone() else {
            return; // no cgroup v2 on this machine: nothing to check
        };
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let v2 = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
        let dir = root.join(v2.trim_start_matches('/'));
        let id = std::fs::metadata(&dir).unwrap().ino();
        cg.scan();
        let (info, _) = cg.get(id);
        assert_eq!(info.path, v2);
        assert!(!info.new);
    }
}
