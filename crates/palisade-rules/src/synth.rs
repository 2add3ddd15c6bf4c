//! A synthetic, deterministic workload for benches: a process population (host and container
//! processes with open files and sockets) and a realistic mix of system calls — mostly reads and
//! writes, then opens and closes, network I/O, and a few execs, connects, dups, renames...

use crate::state::{ContainerInfo, Fd, FdKind, L4Proto, Process};
use palisade_events::{ArgValue, Event, EventId, SockAddr};
use std::net::{IpAddr, Ipv4Addr};

/// Processes, containers and events.
#[derive(Debug, Clone, Default)]
pub struct Workload {
    /// The process table before the first event.
    pub processes: Vec<Process>,
    /// Containers.
    pub containers: Vec<ContainerInfo>,
    /// Events, in time order.
    pub events: Vec<Event>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

fn id(name: &str) -> EventId {
    EventId::from_name(name).unwrap_or(EventId(0))
}

const PROGRAMS: &[(&str, &str, &[&str])] = &[
    ("nginx", "/usr/sbin/nginx", &["-g", "daemon off;"]),
    ("python3", "/usr/bin/python3", &["app.py"]),
    ("java", "/usr/bin/java", &["-jar", "svc.jar"]),
    ("node", "/usr/bin/node", &["server.js"]),
    (
        "postgres",
        "/usr/lib/postgresql/bin/postgres",
        &["-D", "/var/lib/postgresql"],
    ),
    ("redis-server", "/usr/bin/redis-server", &["*:6379"]),
    ("sshd", "/usr/sbin/sshd", &["-D"]),
    ("bash", "/bin/bash", &[]),
    (
        "kubelet",
        "/usr/bin/kubelet",
        &["--config", "/var/lib/kubelet/config.yaml"],
    ),
    ("containerd", "/usr/bin/containerd", &[]),
];

const EXECS: &[(&str, &str, &[&str])] = &[
    ("ls", "/bin/ls", &["-la"]),
    ("cat", "/bin/cat", &["/etc/os-release"]),
    ("grep", "/bin/grep", &["-r", "error", "/var/log"]),
    ("sh", "/bin/sh", &["-c", "date"]),
    ("curl", "/usr/bin/curl", &["-s", "http://example.com"]),
    ("python3", "/usr/bin/python3", &["-c", "print(1)"]),
    ("find", "/usr/bin/find", &["/tmp", "-name", "*.log"]),
    ("ps", "/bin/ps", &["aux"]),
    ("git", "/usr/bin/git", &["status"]),
    ("sed", "/bin/sed", &["-i", "s/a/b/", "/tmp/f"]),
];

const READ_PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/etc/ld.so.cache",
    "/proc/self/stat",
    "/proc/meminfo",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/usr/share/zoneinfo/UTC",
    "/var/lib/app/data.db",
    "/etc/passwd",
    "/app/config.yaml",
    "/sys/fs/cgroup/memory.max",
    "/etc/nginx/nginx.conf",
];

const WRITE_PATHS: &[&str] = &[
    "/tmp/app.tmp",
    "/var/log/app.log",
    "/var/lib/app/data.db-wal",
    "/run/app.pid",
    "/dev/null",
    "/home/user/.cache/x",
];

/// Generates `n` events over a population of `procs` processes (a third in containers).
pub fn generate(n: usize, procs: u32, seed: u64) -> Workload {
    let mut rng = Rng(seed | 1);
    let mut w = Workload::default();
    let n_containers = (procs / 30).max(1);
    for c in 0..n_containers {
        w.containers.push(ContainerInfo {
            id: format!("{:064x}", 0xabcd_0000_u64 + c as u64),
            name: format!("app-{c}"),
            image: format!("registry.example.com/team/app{}:1.{c}", c % 5),
            pod_name: format!("app-{c}-7d9f"),
            pod_namespace: "prod".into(),
            ..ContainerInfo::default()
        });
    }
    let mut init = Process::new(1);
    init.name = "systemd".into();
    init.exe = "/sbin/init".into();
    init.exepath = "/usr/lib/systemd/systemd".into();
    init.sid = 1;
    w.processes.push(init);
    for i in 0..procs {
        let pid = 1000 + i * 7;
        let (name, path, args) = *rng.pick(PROGRAMS);
        let mut p = Process::new(pid);
        p.ppid = if i > 10 && rng.below(3) == 0 {
            1000 + (i / 2) * 7
        } else {
            1
        };
        p.name = name.into();
        p.exe = path.into();
        p.exepath = path.into();
        p.args = args.iter().map(|s| s.to_string()).collect();
        p.cwd = "/".into();
        p.sid = pid;
        p.uid = if rng.below(2) == 0 { 0 } else { 1000 };
        p.euid = p.uid;
        p.start_ts = 1_600_000_000_000_000_000;
        if i % 3 == 0 {
            p.container_id = w.containers[(i as usize / 3) % w.containers.len()]
                .id
                .clone();
        }
        for f in 0..3 {
            p.fds
                .insert(f, Fd::new(f, FdKind::Pipe, format!("pipe:[{}]", 9000 + f)));
        }
        for f in 3..8 {
            let mut fd = if f % 2 == 0 {
                let mut s = Fd::new(f, FdKind::Ipv4, String::new());
                s.l4proto = L4Proto::Tcp;
                s.client = Some((
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, (i % 250) as u8)),
                    40000 + f as u16,
                ));
                s.server = Some((IpAddr::V4(Ipv4Addr::new(10, 1, 0, 5)), 5432));
                s.name = format!("10.0.0.{}:{}->10.1.0.5:5432", i % 250, 40000 + f);
                s
            } else {
                Fd::new(f, FdKind::File, rng.pick(READ_PATHS).to_string())
            };
            fd.flags = 0;
            p.fds.insert(f, fd);
        }
        w.processes.push(p);
    }
    let pids: Vec<u32> = w.processes.iter().skip(1).map(|p| p.pid).collect();
    let conts: Vec<String> = w
        .processes
        .iter()
        .skip(1)
        .map(|p| p.container_id.clone())
        .collect();
    let (
        read,
        write,
        openat,
        close,
        sendto,
        recvfrom,
        connect,
        socket,
        execve,
        mmap,
        dup2,
        unlink,
        rename,
        setuid,
        fstat,
    ) = (
        id("read"),
        id("write"),
        id("openat"),
        id("close"),
        id("sendto"),
        id("recvfrom"),
        id("connect"),
        id("socket"),
        id("execve"),
        id("mmap"),
        id("dup2"),
        id("unlinkat"),
        id("renameat2"),
        id("setuid"),
        id("newfstatat"),
    );
    let mut next_fd = vec![8i64; pids.len()];
    let mut ts = 1_700_000_000_000_000_000u64;
    for _ in 0..n {
        ts += 1_000 + rng.below(2_000);
        let pi = rng.below(pids.len() as u64) as usize;
        let pid = pids[pi];
        let roll = rng.below(1000);
        let (eid, ret, args): (EventId, i64, Vec<ArgValue>) = match roll {
            0..300 => (
                read,
                512,
                vec![ArgValue::Int(rng.below(8) as i64), ArgValue::UInt(4096)],
            ),
            300..480 => (
                write,
                128,
                vec![ArgValue::Int(rng.below(8) as i64), ArgValue::UInt(128)],
            ),
            480..620 => {
                let wr = rng.below(4) == 0;
                let path = if wr {
                    *rng.pick(WRITE_PATHS)
                } else {
                    *rng.pick(READ_PATHS)
                };
                let failed = rng.below(10) == 0;
                let fd = next_fd[pi];
                let ret = if failed {
                    -2
                } else {
                    next_fd[pi] = if fd >= 60 { 8 } else { fd + 1 };
                    fd
                };
                let flags = if wr { 0o2101 } else { 0o2000000 };
                (
                    openat,
                    ret,
                    vec![
                        ArgValue::Int(-100),
                        ArgValue::Str(path.into()),
                        ArgValue::Int(flags),
                        ArgValue::Int(0o644),
                    ],
                )
            }
            620..700 => (close, 0, vec![ArgValue::Int(8 + rng.below(52) as i64)]),
            700..790 => (
                sendto,
                64,
                vec![
                    ArgValue::Int(4),
                    ArgValue::UInt(64),
                    ArgValue::Int(0),
                    ArgValue::None,
                ],
            ),
            790..880 => (
                recvfrom,
                64,
                vec![
                    ArgValue::Int(6),
                    ArgValue::UInt(64),
                    ArgValue::Int(0),
                    ArgValue::None,
                ],
            ),
            880..930 => (mmap, 0, vec![]),
            930..960 => (fstat, 0, vec![]),
            960..968 => {
                let port = *rng.pick(&[443u16, 80, 5432, 6379, 53]);
                let ip = if rng.below(10) == 0 {
                    Ipv4Addr::new(10, 96, 0, 1)
                } else {
                    Ipv4Addr::new(10, 1, 0, rng.below(200) as u8)
                };
                (
                    connect,
                    0,
                    vec![
                        ArgValue::Int(4),
                        ArgValue::Sock(SockAddr::Inet { addr: ip, port }),
                    ],
                )
            }
            968..974 => (
                socket,
                next_fd[pi],
                vec![ArgValue::Int(2), ArgValue::Int(1), ArgValue::Int(6)],
            ),
            974..984 => {
                let (_, path, a) = *rng.pick(EXECS);
                let mut argv = vec![path.to_string()];
                argv.extend(a.iter().map(|s| s.to_string()));
                (
                    execve,
                    0,
                    vec![ArgValue::Str(path.into()), ArgValue::StrList(argv)],
                )
            }
            984..988 => (
                dup2,
                1,
                vec![ArgValue::Int(rng.below(8) as i64), ArgValue::Int(1)],
            ),
            988..994 => (
                unlink,
                0,
                vec![
                    ArgValue::Int(-100),
                    ArgValue::Str("/tmp/app.tmp".into()),
                    ArgValue::Int(0),
                ],
            ),
            994..998 => (
                rename,
                0,
                vec![
                    ArgValue::Int(-100),
                    ArgValue::Str("/tmp/app.tmp".into()),
                    ArgValue::Int(-100),
                    ArgValue::Str("/var/lib/app/data.db".into()),
                    ArgValue::UInt(0),
                ],
            ),
            _ => (setuid, 0, vec![ArgValue::UInt(1000)]),
        };
        let comm = w.processes[pi + 1].name.clone();
        w.events.push(Event {
            ts,
            id: eid,
            cpu: (pid % 2) as u16,
            pid,
            tid: pid,
            ppid: 1,
            host_pid: pid,
            host_tid: pid,
            host_ppid: 1,
            uid: 0,
            gid: 0,
            comm,
            uts: "bench".into(),
            mntns: 0,
            pidns: 0,
            cgroup_id: 0,
            container_id: conts[pi].clone(),
            ret,
            args,
        });
    }
    w
}
