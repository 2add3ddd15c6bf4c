//! The state against a real runc container (root; runs, never skips, with `CI=true`): seeding
//! finds the container's process with its container id, cwd and program, the container's
//! metadata from runc's state directory and bundle, and its users from its root file system.

use palisade_events::{ArgValue, Event, EventId};
use palisade_rules::state::{State, StateOptions};
use palisade_testkit::{Container, require_root};
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_for_cmdline(pid: u32, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && String::from_utf8_lossy(&c).contains(needle)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn runc_container_seen_by_the_state() {
    if !require_root("runc_container_seen_by_the_state") {
        return;
    }
    let mut c = Container::new("5ea7e").expect("bundle");
    let id = c.id().to_string();
    let rootfs = c.rootfs();
    let running = c
        .spawn(&["sh", "-c", "cd /tmp && exec sleep 60"])
        .expect("runc run");
    let pid = running
        .wait_started(Duration::from_secs(30))
        .expect("container started");
    assert!(
        wait_for_cmdline(pid, "sleep"),
        "the container's sh exec'd sleep"
    );

    let mut st = State::new(StateOptions::live());
    let stats = st.seed_from_proc(Path::new("/proc")).expect("seed");
    assert!(stats.containers >= 1, "{stats:?}");
    let p = st.process(pid).expect("the container's process");
    assert_eq!(p.container_id, id);
    assert_eq!(p.name, "sleep");
    assert_eq!(p.exe, "sleep");
    assert_eq!(p.args, ["60"]);
    assert_eq!(p.cwd, "/tmp");
    assert_eq!(p.vpid, 1, "pid 1 of its own pid namespace");
    assert_eq!(
        p.exepath, "/bin/busybox",
        "the path as the container sees it"
    );

    let info = st.container(&id).expect("container metadata");
    assert_eq!(info.name, id, "runc's container id is its name");
    assert_eq!(Path::new(&info.rootfs), rootfs.as_path());
    assert_eq!(info.hostname, id[..12]);
    assert!(
        info.start_ts > 1_600_000_000_000_000_000,
        "{}",
        info.start_ts
    );
    assert!(!info.privileged, "runc spec's default capabilities");
    assert_eq!(st.user_name(1000, &id), Some("app"));
    assert_eq!(st.user_home(1000, &id), Some("/home/app"));
    assert_eq!(st.group_name(65534, &id), Some("nogroup"));

    // an exec event of that process (as the sensor would send it) keeps the container's view
    let exec = Event {
        ts: info.start_ts + 1,
        id: EventId::SCHED_PROCESS_EXEC,
        cpu: 0,
        pid: 1,
        tid: 1,
        ppid: 0,
        host_pid: pid,
        host_tid: pid,
        host_ppid: p.ppid,
        uid: 0,
        gid: 0,
        comm: "sleep".into(),
        uts: id[..12].to_string(),
        mntns: 0,
        pidns: 0,
        cgroup_id: 0,
        container_id: id.clone(),
        ret: 0,
        args: vec![
            ArgValue::Str("/bin/sleep".into()),
            ArgValue::StrList(vec!["sleep".into(), "60".into()]),
            ArgValue::Str("/tmp".into()),
            ArgValue::None,
            ArgValue::UInt(1),
            ArgValue::UInt(u64::from(u32::MAX)),
            ArgValue::None,
        ],
    };
    st.apply(&exec);
    let p = st.process(pid).unwrap();
    assert_eq!(p.exepath, "/bin/sleep");
    assert!(!p.exe_upper_layer, "an image file");
    assert!(
        p.exe_ino != 0,
        "live: the executable is stat'ed through /proc"
    );
    running.kill().expect("kill");
}
