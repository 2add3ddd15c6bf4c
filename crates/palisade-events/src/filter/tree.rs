//! The process tree user-space filtering needs: parents, executables, which processes and
//! containers are new. Fed with every event ([`ProcessTree::observe`]), optionally seeded with
//! the processes that existed when tracing started ([`ProcessTree::insert_existing`]).

use crate::catalog::EventId;
use crate::event::{ArgValue, Event};
use std::collections::{HashMap, HashSet};

/// What the tree knows of one process (by host pid).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// Host pid of the parent (0 when unknown).
    pub ppid: u32,
    /// Latest thread name seen.
    pub comm: String,
    /// Real uid.
    pub uid: u32,
    /// UTS name.
    pub uts: String,
    /// Mount namespace.
    pub mntns: u32,
    /// Pid namespace.
    pub pidns: u32,
    /// Container id (empty on the host).
    pub container_id: String,
    /// Executable path, from the last exec seen (or the snapshot).
    pub exe: Option<String>,
    /// Started after tracing began (its fork was seen, or it was absent from the snapshot).
    pub new: bool,
    /// Its exit was seen.
    pub exited: bool,
}

/// Processes by host pid, and containers by id.
#[derive(Clone, Debug, Default)]
pub struct ProcessTree {
    procs: HashMap<u32, ProcInfo>,
    /// Container id -> started after tracing began.
    containers: HashMap<String, bool>,
    /// Containers that existed when tracing started.
    existing_containers: HashSet<String>,
    /// Whether a snapshot of the existing processes was taken: then a process missing from it
    /// is new even when its fork was not seen.
    seeded: bool,
    host_mntns: Option<u32>,
    /// Exited processes still kept (ancestors of running ones need them for `follow`).
    exited: usize,
}

/// How many exited processes are kept before the ones without a running descendant go.
const PRUNE_EXITED: usize = 1 << 16;

impl ProcessTree {
    /// An empty tree: processes count as new only when their fork is observed.
    pub fn new() -> ProcessTree {
        ProcessTree::default()
    }

    /// Record a process that existed when tracing started. After the first call, processes
    /// absent from the snapshot count as new.
    pub fn insert_existing(&mut self, pid: u32, info: ProcInfo) {
        self.seeded = true;
        if !info.container_id.is_empty() {
            self.existing_containers.insert(info.container_id.clone());
            self.containers.insert(info.container_id.clone(), false);
        }
        self.procs.insert(pid, ProcInfo { new: false, ..info });
    }

    /// Set the host's mount namespace (for `executable=host:...`).
    pub fn set_host_mntns(&mut self, mntns: u32) {
        self.host_mntns = Some(mntns);
    }

    /// The host's mount namespace, when known.
    pub fn host_mntns(&self) -> Option<u32> {
        self.host_mntns
    }

    /// What the tree knows of `pid`.
    pub fn get(&self, pid: u32) -> Option<&ProcInfo> {
        self.procs.get(&pid)
    }

    /// Number of processes known.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// Whether no process is known.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Whether `pid` started after tracing began.
    pub fn is_new(&self, pid: u32) -> bool {
        self.procs.get(&pid).is_some_and(|p| p.new)
    }

    /// Whether the container started after tracing began: it did not exist at the start and
    /// the first process seen in it was new.
    pub fn container_is_new(&self, id: &str) -> bool {
        self.containers.get(id).copied().unwrap_or(false)
    }

    /// The ancestors of `pid`, nearest first (stops at an unknown pid or a cycle).
    pub fn ancestors(&self, pid: u32) -> impl Iterator<Item = (u32, &ProcInfo)> + '_ {
        let mut cur = self.procs.get(&pid).map(|p| p.ppid);
        let mut steps = 0usize;
        std::iter::from_fn(move || {
            let ppid = cur.filter(|&p| p != 0)?;
            steps += 1;
            if steps > 4096 {
                return None;
            }
            let info = self.procs.get(&ppid)?;
            cur = (info.ppid != ppid).then_some(info.ppid);
            Some((ppid, info))
        })
    }

    /// Learn from one event: the process's context, forks (new children), execs (the
    /// executable), exits.
    pub fn observe(&mut self, ev: &Event) {
        let seeded = self.seeded;
        let known = self.procs.contains_key(&ev.host_pid);
        let entry = self.procs.entry(ev.host_pid).or_insert_with(|| ProcInfo {
            new: seeded,
            ..ProcInfo::default()
        });
        if !known || ev.host_ppid != 0 {
            entry.ppid = ev.host_ppid;
        }
        entry.comm.clone_from(&ev.comm);
        entry.uid = ev.uid;
        entry.uts.clone_from(&ev.uts);
        entry.mntns = ev.mntns;
        entry.pidns = ev.pidns;
        entry.container_id.clone_from(&ev.container_id);
        let proc_new = entry.new;
        if !ev.container_id.is_empty() && !self.containers.contains_key(&ev.container_id) {
            let new = proc_new && !self.existing_containers.contains(&ev.container_id);
            self.containers.insert(ev.container_id.clone(), new);
        }
        match ev.id {
            EventId::SCHED_PROCESS_FORK => self.fork(ev),
            EventId::SCHED_PROCESS_EXEC => {
                if let Some(ArgValue::Str(path)) = ev.arg("pathname") {
                    let path = path.clone();
                    if let Some(p) = self.procs.get_mut(&ev.host_pid) {
                        p.exe = Some(path);
                    }
                }
            }
            EventId::SCHED_PROCESS_EXIT => {
                let group = ev.arg("process_group_exit").and_then(ArgValue::as_i64);
                if group != Some(0)
                    && ev.host_pid == ev.host_tid
                    && let Some(p) = self.procs.get_mut(&ev.host_pid)
                {
                    p.exited = true;
                    self.exited += 1;
                }
                if self.exited > PRUNE_EXITED {
                    self.prune();
                }
            }
            _ => {}
        }
    }

    /// Drop exited processes that are no running process's ancestor.
    fn prune(&mut self) {
        let mut needed: HashSet<u32> = HashSet::new();
        for (&pid, p) in &self.procs {
            if p.exited {
                continue;
            }
            let mut cur = p.ppid;
            let mut steps = 0;
            while cur != 0 && cur != pid && steps < 4096 && needed.insert(cur) {
                steps += 1;
                match self.procs.get(&cur) {
                    Some(a) => cur = a.ppid,
                    None => break,
                }
            }
        }
        self.procs
            .retain(|pid, p| !p.exited || needed.contains(pid));
        self.exited = self.procs.values().filter(|p| p.exited).count();
    }

    fn fork(&mut self, ev: &Event) {
        let num = |n: &str| {
            ev.arg(n)
                .and_then(ArgValue::as_i64)
                .and_then(|v| u32::try_from(v).ok())
        };
        let parent = num("parent_pid").unwrap_or(ev.host_pid);
        let Some(child) = num("child_pid") else {
            return;
        };
        if child == parent || child == 0 {
            return; // a new thread
        }
        let base = self.procs.get(&parent).cloned().unwrap_or_default();
        self.procs.insert(
            child,
            ProcInfo {
                ppid: parent,
                new: true,
                exited: false,
                ..base
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::EventId;

    fn ev(id: EventId, pid: u32, ppid: u32, comm: &str, args: Vec<ArgValue>) -> Event {
        Event {
            ts: 0,
            id,
            cpu: 0,
            pid,
            tid: pid,
            ppid,
            host_pid: pid,
            host_tid: pid,
            host_ppid: ppid,
            uid: 0,
            gid: 0,
            comm: comm.into(),
            uts: "h".into(),
            mntns: 1,
            pidns: 2,
            cgroup_id: 0,
            container_id: String::new(),
            ret: 0,
            args,
        }
    }

    fn fork(parent: u32, grandparent: u32, child: u32, comm: &str) -> Event {
        let u = |v: u32| ArgValue::UInt(v as u64);
        ev(
            EventId::SCHED_PROCESS_FORK,
            parent,
            grandparent,
            comm,
            vec![
                u(parent),
                u(parent),
                u(parent),
                u(parent),
                u(child),
                u(child),
                u(child),
                u(child),
                u(0),
            ],
        )
    }

    #[test]
    fn forks_make_new_children_with_parents() {
        let mut t = ProcessTree::new();
        t.observe(&fork(100, 1, 200, "bash"));
        assert!(!t.is_new(100), "without a snapshot, unseen forks are old");
        assert!(t.is_new(200));
        assert_eq!(t.get(200).unwrap().comm, "bash");
        t.observe(&fork(200, 100, 300, "bash"));
        let chain: Vec<u32> = t.ancestors(300).map(|(p, _)| p).collect();
        assert_eq!(chain, [200, 100], "pid 1 was never seen");
        // An exec updates the executable.
        t.observe(&ev(
            EventId::SCHED_PROCESS_EXEC,
            300,
            200,
            "ls",
            vec![ArgValue::Str("/bin/ls".into())],
        ));
        assert_eq!(t.get(300).unwrap().exe.as_deref(), Some("/bin/ls"));
        assert_eq!(t.get(300).unwrap().comm, "ls");
    }

    #[test]
    fn pruning_keeps_ancestors_of_running_processes() {
        let mut t = ProcessTree::new();
        t.observe(&fork(10, 1, 11, "a"));
        t.observe(&fork(11, 10, 12, "b"));
        t.observe(&fork(10, 1, 13, "c"));
        for pid in [11, 13] {
            let mut e = ev(
                EventId::SCHED_PROCESS_EXIT,
                pid,
                10,
                "x",
                vec![ArgValue::Int(0), ArgValue::Int(1)],
            );
            e.host_ppid = 10;
            t.observe(&e);
        }
        assert!(t.get(11).unwrap().exited);
        t.prune();
        assert!(t.get(11).is_some(), "parent of the running 12");
        assert!(t.get(13).is_none(), "exited leaf");
        let chain: Vec<u32> = t.ancestors(12).map(|(p, _)| p).collect();
        assert_eq!(chain, [11, 10]);
    }

    #[test]
    fn snapshot_makes_unknown_processes_new() {
        let mut t = ProcessTree::new();
        t.insert_existing(
            50,
            ProcInfo {
                comm: "init".into(),
                container_id: "c".repeat(64),
                ..ProcInfo::default()
            },
        );
        let mut e = ev(EventId(257), 60, 50, "x", vec![]);
        e.container_id = "d".repeat(64);
        t.observe(&e);
        assert!(t.is_new(60));
        assert!(t.container_is_new(&"d".repeat(64)));
        assert!(!t.container_is_new(&"c".repeat(64)));
        let mut old = ev(EventId(257), 50, 1, "init", vec![]);
        old.container_id = "c".repeat(64);
        t.observe(&old);
        assert!(!t.is_new(50));
    }
}
