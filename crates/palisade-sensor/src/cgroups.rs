//! cgroup id -> cgroup path -> container id, by walking the cgroup v2 hierarchy (the id of a v2
//! cgroup is the inode number of its directory). Cached; rescanned when an unknown id shows up.
//!
//! cgroup v1 fallback: the kernel reports the task's cgroup in the v2 (default) hierarchy. On a
//! host without cgroup v2 every task is in its root; on a hybrid host a runtime that uses only
//! the v1 controllers (older Docker or kubelet with the cgroupfs driver) leaves its containers
//! in a v2 cgroup that names no container. For such cgroups (the root, an unknown one, or any
//! cgroup without a container when v1 hierarchies are mounted) the container id comes from the
//! task's cgroup in one v1 hierarchy (memory, else pids, cpu, devices, freezer or cpuset: the
//! first one mounted), which the kernel reports in each task's context record together with
//! that cgroup's path; so a process gone before its events are decoded keeps its container.
//! Without that report (a task whose context was not seen), the process's own
//! `/proc/<pid>/cgroup` (v1 lines `N:controllers:/path`) decides, cached per process.

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
    /// The v2 cgroup does not tell whether its processes are in a container: ask each process's
    /// `/proc/<pid>/cgroup` (see the module documentation). Never decided in the kernel.
    pub per_process: bool,
}

/// The cgroup v1 controllers whose hierarchy the kernel can report in task contexts, in order
/// of preference, with their codes in the BPF programs (`V1_*` in sensor.bpf.c).
const V1_CONTROLLERS: [(&str, u32); 6] = [
    ("memory", 1),
    ("pids", 2),
    ("cpu", 3),
    ("devices", 4),
    ("freezer", 5),
    ("cpuset", 6),
];

/// The kernel map key of a cgroup of the reported v1 hierarchy: its id with the top bit set (v1
/// and v2 ids are numbered apart and may collide).
pub(crate) const V1_KEY: u64 = 1 << 63;

/// The cgroup mounts of a mount namespace, as far as the sensor cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mounts {
    /// The cgroup v2 mount point.
    pub v2: Option<PathBuf>,
    /// Any cgroup v1 hierarchy is mounted.
    pub v1: bool,
    /// The v1 hierarchy to report: its mount point and its controller's code (`V1_CONTROLLERS`).
    pub v1_report: Option<(PathBuf, u32)>,
}

/// The cgroup cache.
pub(crate) struct Cgroups {
    root: Option<PathBuf>,
    by_id: crate::IdMap<u64, CgInfo>,
    scanned: bool,
    /// Where `/proc` is (a fixture directory in tests).
    proc_root: PathBuf,
    /// cgroup v1 hierarchies are mounted: a v2 cgroup without a container id may hold a
    /// container that lives in the v1 controllers only.
    v1: bool,
    /// Per process (tgid): its container id from `/proc/<pid>/cgroup`, and when it was read
    /// (boot-clock ns, the clock of event timestamps: no clock read per event).
    by_pid: crate::IdMap<u32, (String, u64)>,
    /// Container ids found through `/proc` or the reported v1 hierarchy before the sensor
    /// started (for `container=new`).
    v1_at_start: std::collections::HashSet<String>,
    /// The v1 hierarchy the kernel reports in task contexts (mount point, controller code).
    v1_report: Option<(PathBuf, u32)>,
    /// cgroups of that hierarchy by id, from the kernel's records or a walk of its mount.
    v1_by_id: crate::IdMap<u64, CgInfo>,
    /// Ids of that hierarchy learnt since [`Cgroups::take_v1_added`] last ran (for the kernel's
    /// class map).
    v1_added: Vec<u64>,
}

/// How long a process's container id read from `/proc/<pid>/cgroup` is trusted (a process can
/// be moved into a container's cgroup, as `runc init` is).
const PID_TTL_NS: u64 = 1_000_000_000;
/// Most processes cached.
const PID_LIMIT: usize = 65_536;

/// The cgroup mounts in a mountinfo text.
fn mounts(mountinfo: &str) -> Mounts {
    let mut m = Mounts::default();
    // The preferred v1 controller found so far (its rank in V1_CONTROLLERS).
    let mut rank = usize::MAX;
    for l in mountinfo.lines() {
        let Some((pre, post)) = l.split_once(" - ") else {
            continue;
        };
        let point = || pre.split_whitespace().nth(4).map(PathBuf::from);
        let mut f = post.split_whitespace();
        match f.next() {
            Some("cgroup2") if m.v2.is_none() => m.v2 = point(),
            Some("cgroup") => {
                m.v1 = true;
                let opts = f.nth(1).unwrap_or("");
                for o in opts.split(',') {
                    if let Some(r) = V1_CONTROLLERS.iter().position(|(c, _)| *c == o)
                        && r < rank
                        && let Some(p) = point()
                    {
                        rank = r;
                        m.v1_report = Some((p, V1_CONTROLLERS[r].1));
                    }
                }
            }
            _ => {}
        }
    }
    m
}

/// The container id named by a `/proc/<pid>/cgroup` text: the first line (v1 or v2) whose path
/// names a container. Empty for the host.
pub(crate) fn container_of_proc_cgroup(text: &str) -> String {
    text.lines()
        .filter_map(|l| {
            // N:controllers:/path (the path may itself contain ':').
            let mut parts = l.splitn(3, ':');
            let (_, _, path) = (parts.next()?, parts.next()?, parts.next()?);
            from_cgroup_path(path).map(|c| c.id)
        })
        .next()
        .unwrap_or_default()
}

impl Cgroups {
    /// An empty cache on the system's cgroup hierarchies.
    pub(crate) fn new() -> Cgroups {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let m = mounts(&mi);
        let mut cg = Cgroups::with_roots(m.v2, m.v1, PathBuf::from("/proc"));
        cg.v1_report = m.v1_report;
        cg
    }

    /// The code of the v1 controller whose hierarchy the kernel is to report (`cfg_v1_subsys`;
    /// 0: none, as on a cgroup v2 host).
    pub(crate) fn v1_code(&self) -> u32 {
        self.v1_report.as_ref().map_or(0, |(_, c)| *c)
    }

    /// An empty cache on the given cgroup v2 mount (if any), with or without v1 hierarchies,
    /// reading processes' cgroups below `proc_root`.
    pub(crate) fn with_roots(root: Option<PathBuf>, v1: bool, proc_root: PathBuf) -> Cgroups {
        Cgroups {
            root,
            by_id: crate::IdMap::default(),
            scanned: false,
            proc_root,
            v1,
            by_pid: crate::IdMap::default(),
            v1_at_start: Default::default(),
            v1_report: None,
            v1_by_id: crate::IdMap::default(),
            v1_added: Vec::new(),
        }
    }

    /// Whether a cgroup's processes must be looked at one by one: it names no container and is
    /// the root of the v2 hierarchy, unknown, or there is no v2 hierarchy. (A v1-only runtime on
    /// a hybrid host that leaves its containers in a non-root v2 cgroup is not caught; runc
    /// joins the unified hierarchy too.)
    fn per_process(&self, path: &str, container: &str) -> bool {
        container.is_empty() && (path.is_empty() || path == "/" || self.root.is_none())
    }

    /// The container id of a process (host pid) from its `/proc/<pid>/cgroup`, cached for a
    /// second of event time (`ts`, boot-clock ns); `None` when the process is gone (or never
    /// was). With `new`: whether that container was first seen after the sensor started.
    pub(crate) fn process_container(&mut self, pid: u32, ts: u64) -> Option<(&str, bool)> {
        let fresh = self
            .by_pid
            .get(&pid)
            .is_some_and(|(_, at)| ts.saturating_sub(*at) < PID_TTL_NS);
        if !fresh {
            let text = std::fs::read_to_string(self.proc_root.join(pid.to_string()).join("cgroup"))
                .ok()?;
            let c = container_of_proc_cgroup(&text);
            if self.by_pid.len() >= PID_LIMIT {
                self.by_pid.clear();
            }
            self.by_pid.insert(pid, (c, ts));
        }
        let (c, _) = self.by_pid.get(&pid)?;
        let new = !c.is_empty() && !self.v1_at_start.contains(c);
        Some((c.as_str(), new))
    }

    /// Reports the v1 hierarchy mounted at `root` (tests: a fixture directory).
    #[cfg(test)]
    pub(crate) fn report_v1(&mut self, root: PathBuf, code: u32) {
        self.v1_report = Some((root, code));
    }

    /// The cgroup v2 mount point, if any.
    pub(crate) fn v2_root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Stops using the v1 cgroups of task contexts (the kernel cannot tell when a task moves).
    pub(crate) fn ignore_v1_report(&mut self) {
        self.v1_report = None;
        self.v1_by_id.clear();
        self.v1_added.clear();
    }

    /// Records a cgroup of the reported v1 hierarchy as the kernel sent it. A known id keeps
    /// its entry.
    pub(crate) fn learn_v1(&mut self, id: u64, path: &str) {
        if self.v1_by_id.get(&id).is_some_and(|i| !i.path.is_empty()) {
            return;
        }
        if self.v1_by_id.len() >= PID_LIMIT {
            self.v1_by_id.clear();
        }
        let container = from_cgroup_path(path).map(|c| c.id).unwrap_or_default();
        let new = !container.is_empty() && !self.v1_at_start.contains(&container);
        self.v1_added.push(id);
        self.v1_by_id.insert(
            id,
            CgInfo {
                path: path.to_string(),
                container,
                new,
                per_process: false,
            },
        );
    }

    /// Whether the container of a task whose context named `id` (a cgroup of the reported v1
    /// hierarchy) is known: from the kernel's record of it, else from a walk of the hierarchy.
    /// A cgroup gone before it could be found is not: the caller falls back to `/proc`.
    pub(crate) fn v1_known(&mut self, id: u64) -> bool {
        if id == 0 || self.v1_report.is_none() {
            return false;
        }
        if !self.v1_by_id.contains_key(&id) {
            self.walk_v1();
            // Not found: gone already. Remembered (empty path) so that the walk is not repeated
            // for each of its events; the kernel's record, if it comes, still fills it in.
            self.v1_by_id.entry(id).or_insert_with(|| CgInfo {
                path: String::new(),
                container: String::new(),
                new: false,
                per_process: true,
            });
        }
        self.v1_by_id.get(&id).is_some_and(|i| !i.path.is_empty())
    }

    /// The container id of a cgroup of the reported v1 hierarchy (see [`Cgroups::v1_known`]),
    /// and whether it was first seen after the sensor started.
    pub(crate) fn v1_container(&self, id: u64) -> Option<(&str, bool)> {
        self.v1_by_id
            .get(&id)
            .map(|i| (i.container.as_str(), i.new))
    }

    /// The cgroups of the reported v1 hierarchy learnt since the last call, with what they
    /// are: (id, container id is empty, new).
    pub(crate) fn take_v1_added(&mut self) -> Vec<(u64, bool, bool)> {
        let added = std::mem::take(&mut self.v1_added);
        added
            .into_iter()
            .filter_map(|id| {
                let i = self.v1_by_id.get(&id)?;
                (!i.path.is_empty()).then_some((id, i.container.is_empty(), i.new))
            })
            .collect()
    }

    /// Walks the reported v1 hierarchy, adding the cgroups not known yet. The first walk (at
    /// start) notes the containers present then.
    fn walk_v1(&mut self) {
        let Some((root, _)) = self.v1_report.clone() else {
            return;
        };
        let first = !self.scanned;
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(md) = std::fs::metadata(&dir) else {
                continue;
            };
            if !self.v1_by_id.contains_key(&md.ino()) {
                let rel = rel_path(&root, &dir);
                if first && let Some(c) = from_cgroup_path(&rel) {
                    self.v1_at_start.insert(c.id);
                }
                self.learn_v1(md.ino(), &rel);
            }
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
    }

    /// Forgets a process (it exited or exec'd: its cgroup may change).
    pub(crate) fn forget_process(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }

    /// At start, when per-process lookups may be needed (v1 hierarchies mounted, or no v2
    /// one): the containers present now, so that `container=new` does not take them for new.
    fn note_containers_at_start(&mut self) {
        if !(self.v1 || self.root.is_none()) {
            return;
        }
        let Ok(rd) = std::fs::read_dir(&self.proc_root) else {
            return;
        };
        let now = crate::sys::boottime_ns();
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())
                && let Ok(t) = std::fs::read_to_string(e.path().join("cgroup"))
            {
                let c = container_of_proc_cgroup(&t);
                if !c.is_empty() {
                    self.v1_at_start.insert(c.clone());
                }
                self.by_pid.insert(pid, (c, now));
            }
        }
    }

    /// Walks the hierarchy; returns the ids seen for the first time.
    pub(crate) fn scan(&mut self) -> Vec<u64> {
        if !self.scanned {
            self.note_containers_at_start();
            self.walk_v1();
        }
        let first = !self.scanned;
        self.scanned = true;
        let Some(root) = self.root.clone() else {
            return Vec::new();
        };
        let mut added = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(md) = std::fs::metadata(&dir) else {
                continue;
            };
            let id = md.ino();
            if !self.by_id.contains_key(&id) {
                let rel = rel_path(&root, &dir);
                let container = from_cgroup_path(&rel).map(|c| c.id).unwrap_or_default();
                let per_process = self.per_process(&rel, &container);
                self.by_id.insert(
                    id,
                    CgInfo {
                        path: rel,
                        container,
                        new: !first,
                        per_process,
                    },
                );
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
                    per_process: true,
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
        let per_process = self.per_process(path, &container);
        self.by_id.insert(
            id,
            CgInfo {
                path: path.to_string(),
                container,
                // Every cgroup present at start was found by the first walk.
                new: self.scanned,
                per_process,
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
        let mut cg = Cgroups::with_roots(None, false, PathBuf::from("/nonexistent"));
        cg.scanned = true;
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

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/proc-v1")
    }

    #[test]
    fn mountinfo_tells_the_v2_root_and_v1_hierarchies() {
        let hybrid = std::fs::read_to_string(fixtures().join("self/mountinfo")).unwrap();
        let m = mounts(&hybrid);
        assert_eq!(m.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert!(m.v1);
        // memory is preferred to the controllers mounted before it.
        assert_eq!(
            m.v1_report,
            Some((PathBuf::from("/sys/fs/cgroup/memory"), 1))
        );
        let v2_only = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mounts(v2_only),
            Mounts {
                v2: Some(PathBuf::from("/sys/fs/cgroup")),
                ..Mounts::default()
            }
        );
        assert_eq!(mounts(""), Mounts::default());
        // Without memory, the next controller in order; named hierarchies (systemd) are not
        // controllers.
        let v1_only = "25 20 0:22 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
                       26 20 0:23 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                       27 20 0:24 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        assert_eq!(
            mounts(v1_only),
            Mounts {
                v2: None,
                v1: true,
                v1_report: Some((PathBuf::from("/sys/fs/cgroup/pids"), 2)),
            }
        );
    }

    #[test]
    fn v1_lines_of_proc_cgroup_name_the_container() {
        let docker = "a".repeat(64);
        let t = std::fs::read_to_string(fixtures().join("4242/cgroup")).unwrap();
        assert_eq!(container_of_proc_cgroup(&t), docker);
        let t = std::fs::read_to_string(fixtures().join("5151/cgroup")).unwrap();
        assert_eq!(container_of_proc_cgroup(&t), "b".repeat(64));
        let t = std::fs::read_to_string(fixtures().join("1/cgroup")).unwrap();
        assert_eq!(container_of_proc_cgroup(&t), "");
        // Malformed lines are skipped, not fatal.
        assert_eq!(container_of_proc_cgroup("garbage\n::\n7\n"), "");
    }

    #[test]
    fn without_a_v2_container_the_process_cgroup_decides() {
        // A host with v1 hierarchies and no cgroup v2 mount: the kernel reports every task in
        // the v2 root, whose id is unknown here.
        let mut cg = Cgroups::with_roots(None, true, fixtures());
        const T: u64 = u64::MAX / 2;
        assert!(cg.scan().is_empty());
        let (info, _) = cg.get(1);
        assert!(info.per_process && info.container.is_empty());
        // 4242 is in a Docker container (v1 memory/cpu lines), 5151 in a kubelet pod, 1 on the
        // host; 9999 does not exist. All were present at start: not new.
        assert_eq!(
            cg.process_container(4242, T),
            Some(("a".repeat(64).as_str(), false))
        );
        assert_eq!(
            cg.process_container(5151, T),
            Some(("b".repeat(64).as_str(), false))
        );
        assert_eq!(cg.process_container(1, T), Some(("", false)));
        assert_eq!(cg.process_container(9999, T), None);
        // A cgroup learnt from the kernel that names a container needs no lookup; the root does.
        let ctr = "c".repeat(64);
        assert!(cg.learn(77, &format!("/docker/{ctr}")));
        assert!(!cg.peek(77).unwrap().per_process);
        assert!(cg.learn(78, "/"));
        assert!(cg.peek(78).unwrap().per_process);
    }

    #[test]
    fn a_container_first_seen_after_start_is_new() {
        let dir = std::env::temp_dir().join(format!("palisade-cg-v1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("10")).unwrap();
        std::fs::write(dir.join("10/cgroup"), "4:memory:/user.slice\n0::/\n").unwrap();
        let mut cg = Cgroups::with_roots(None, true, dir.clone());
        cg.scan();
        // A process appears later, in a container that did not exist at start.
        let id = "d".repeat(64);
        std::fs::create_dir_all(dir.join("11")).unwrap();
        std::fs::write(
            dir.join("11/cgroup"),
            format!("4:memory:/docker/{id}\n0::/\n"),
        )
        .unwrap();
        let t = crate::sys::boottime_ns();
        assert_eq!(cg.process_container(11, t), Some((id.as_str(), true)));
        // It moves back to the host: cached for a second of event time, then read again; an
        // exec (forget) reads it again at once.
        std::fs::write(dir.join("11/cgroup"), "4:memory:/\n0::/\n").unwrap();
        assert_eq!(
            cg.process_container(11, t + 999_999_999).unwrap().0,
            id,
            "cached"
        );
        assert_eq!(cg.process_container(11, t + 1_000_000_000).unwrap().0, "");
        std::fs::write(dir.join("11/cgroup"), format!("4:memory:/docker/{id}\n")).unwrap();
        cg.forget_process(11);
        assert_eq!(cg.process_container(11, t + 1_000_000_001).unwrap().0, id);
        let _ = std::fs::remove_dir_all(&dir);
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
