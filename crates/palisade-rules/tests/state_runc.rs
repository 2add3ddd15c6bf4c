//! Container metadata from a fake runc state directory and OCI bundles.

use palisade_events::{ArgValue, Event, EventId};
use palisade_rules::state::{State, StateOptions};
use std::fs;
use std::path::Path;

const C1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const C3: &str = "3333333333333333333333333333333333333333333333333333333333333333";

fn write(p: &Path, text: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn exec_in(container: &str, host_pid: u32, ts: u64, uid: u32) -> Event {
    Event {
        ts,
        id: EventId::SCHED_PROCESS_EXEC,
        cpu: 0,
        pid: 1,
        tid: 1,
        ppid: 0,
        host_pid,
        host_tid: host_pid,
        host_ppid: 1,
        uid,
        gid: uid,
        comm: "nginx".into(),
        uts: "web-0".into(),
        mntns: 1,
        pidns: 2,
        cgroup_id: 3,
        container_id: container.into(),
        ret: 0,
        args: vec![
            ArgValue::Str("/usr/sbin/nginx".into()),
            ArgValue::StrList(vec!["nginx".into(), "-g".into(), "daemon off;".into()]),
            ArgValue::Str("/".into()),
            ArgValue::Str(String::new()),
            ArgValue::UInt(1),
            ArgValue::UInt(u64::from(u32::MAX)),
            ArgValue::UInt(0),
        ],
    }
}

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[test]
fn containers_from_runc_state_and_bundles() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // containerd (CRI) container: default capabilities, annotations in the bundle
    let b1 = t.join("bundles/c1");
    write(
        &t.join("runc-k8s").join(C1).join("state.json"),
        &serde_json::json!({
            "id": C1,
            "init_process_pid": 4242,
            "created": "2026-12-06T08:00:00.5Z",
            "config": {
                "rootfs": b1.join("rootfs"),
                "hostname": "web-0",
                "labels": [format!("bundle={}", b1.display())],
                "capabilities": {"Bounding": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]}
            }
        })
        .to_string(),
    );
    write(
        &b1.join("config.json"),
        &serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": "web",
                "io.kubernetes.cri.sandbox-name": "web-0",
                "io.kubernetes.cri.sandbox-namespace": "prod",
                "io.kubernetes.cri.sandbox-uid": "8d7f-uid",
                "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27"
            }
        })
        .to_string(),
    );
    write(
        &b1.join("rootfs/etc/passwd"),
        "root:x:0:0:root:/root:/bin/ash\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n",
    );
    write(&b1.join("rootfs/etc/group"), "root:x:0:\nnginx:x:101:\n");

    // CRI-O style privileged container in a second root; rootfs only in the bundle
    let b2 = t.join("bundles/c2");
    write(
        &t.join("runc-plain").join(C2).join("state.json"),
        &serde_json::json!({
            "id": "db",
            "created": "2026-12-06T09:00:00+01:00",
            "config": {"labels": ["other=1", format!("bundle={}", b2.display())]}
        })
        .to_string(),
    );
    write(
        &b2.join("config.json"),
        &serde_json::json!({
            "root": {"path": "fs"},
            "hostname": "db-host",
            "process": {"capabilities": {"bounding": ALL_CAPS}},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
                {"destination": "/var/run/docker.sock", "type": "bind", "source": "/run/docker.sock", "options": ["rbind", "rprivate", "rw"]},
                {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/x/hosts", "options": ["rbind", "ro"]},
                {"type": "bind", "source": "/no-destination"}
            ],
            "annotations": {
                "io.kubernetes.container.name": "postgres",
                "io.kubernetes.pod.name": "db-0",
                "io.kubernetes.pod.namespace": "data",
                "io.kubernetes.pod.uid": "aa-bb",
                "io.kubernetes.cri-o.ImageName": "quay.io/org/postgres:16",
                "io.kubernetes.cri-o.Labels": "{\"app\":\"db\",\"tier\":\"backend\",\"io.kubernetes.pod.name\":\"db-0\"}"
            }
        })
        .to_string(),
    );
    write(
        &b2.join("fs/etc/passwd"),
        "postgres:x:70:70::/var/lib/postgresql:/bin/sh\n",
    );

    let mut opts = StateOptions::isolated();
    opts.runc_roots = vec![
        t.join("missing-root"),
        t.join("runc-k8s"),
        t.join("runc-plain"),
    ];
    let mut st = State::new(opts);
    st.apply(&exec_in(C1, 5000, 10, 101));
    st.apply(&exec_in(C2, 6000, 20, 70));
    st.apply(&exec_in(C3, 7000, 30, 0));

    let c1 = st.container(C1).expect("c1");
    assert_eq!(c1.name, "web");
    assert_eq!(c1.image, "docker.io/library/nginx:1.27");
    assert_eq!(c1.image_repository(), "docker.io/library/nginx");
    assert_eq!(c1.image_tag(), "1.27");
    assert_eq!(
        (
            c1.pod_name.as_str(),
            c1.pod_namespace.as_str(),
            c1.pod_uid.as_str()
        ),
        ("web-0", "prod", "8d7f-uid")
    );
    assert_eq!(c1.hostname, "web-0");
    assert_eq!(c1.rootfs, b1.join("rootfs").display().to_string());
    assert_eq!(c1.start_ts, 1_796_544_000_500_000_000);
    assert!(!c1.privileged);
    assert_eq!(
        c1.annotation("io.kubernetes.cri.container-type"),
        Some("container")
    );
    assert_eq!(st.user_name(101, C1), Some("nginx"));
    assert_eq!(st.user_shell(0, C1), Some("/bin/ash"));
    assert_eq!(st.group_name(101, C1), Some("nginx"));
    assert_eq!(st.process(5000).unwrap().container_id, C1);

    let c2 = st.container(C2).expect("c2");
    assert_eq!(c2.name, "postgres");
    assert_eq!(c2.image_repository(), "quay.io/org/postgres");
    assert_eq!(
        (
            c2.pod_name.as_str(),
            c2.pod_namespace.as_str(),
            c2.pod_uid.as_str()
        ),
        ("db-0", "data", "aa-bb")
    );
    assert_eq!(
        c2.pod_labels,
        [
            ("app".to_string(), "db".to_string()),
            ("tier".into(), "backend".into())
        ]
    );
    assert!(c2.privileged);
    assert_eq!(c2.hostname, "db-host");
    assert_eq!(c2.rootfs, b2.join("fs").display().to_string());
    assert_eq!(c2.start_ts, 1_796_544_000_000_000_000);
    assert_eq!(st.user_name(70, C2), Some("postgres"));
    assert_eq!(
        c2.mounts.len(),
        3,
        "an entry without destination is skipped"
    );
    let sock = c2.mount_by_dest("/var/run/docker.sock").unwrap();
    assert_eq!(
        (
            sock.source.as_str(),
            sock.fstype.as_str(),
            sock.rw,
            sock.propagation.as_str()
        ),
        ("/run/docker.sock", "bind", true, "rprivate")
    );
    assert!(!c2.mount_by_source("/var/lib/x/hosts").unwrap().rw);
    assert_eq!(
        c2.mounts_string(),
        "proc:/proc::true:,/run/docker.sock:/var/run/docker.sock::true:rprivate,/var/lib/x/hosts:/etc/hosts::false:"
    );
    assert!(c1.mounts.is_empty());
    assert_eq!(
        st.user_name(0, C2),
        None,
        "no root in that passwd, and not the host's"
    );

    // unknown to the runtime: only the id, no users; looked up again after the retry interval
    let c3 = st.container(C3).expect("c3 noted");
    assert_eq!((c3.name.as_str(), c3.image.as_str()), ("", ""));
    assert_eq!(
        c3.start_ts, 30,
        "its pid 1's exec time: the runtime did not say"
    );
    assert_eq!(st.user_name(0, C3), None);
    let lookups = st.stats().container_lookups;
    let b3 = t.join("bundles/c3");
    write(
        &t.join("runc-plain").join(C3).join("state.json"),
        &serde_json::json!({"id": "late", "config": {"rootfs": b3.join("rootfs")}}).to_string(),
    );
    write(&b3.join("rootfs/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    st.apply(&exec_in(C3, 7000, 31, 0));
    assert_eq!(
        st.stats().container_lookups,
        lookups,
        "not before the retry interval"
    );
    assert_eq!(st.container(C3).unwrap().name, "");
    st.apply(&exec_in(C3, 7000, 31 + 2_000_000_000, 0));
    assert_eq!(st.stats().container_lookups, lookups + 1);
    assert_eq!(st.container(C3).unwrap().name, "late");
    assert_eq!(st.user_name(0, C3), Some("root"));
    // found containers are not looked up again
    st.apply(&exec_in(C1, 5000, 10_000_000_000, 101));
    assert_eq!(st.stats().container_lookups, lookups + 1);
}

#[test]
fn unreadable_state_is_skipped_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join(C1).join("state.json"), "{not json");
    let mut opts = StateOptions::isolated();
    opts.runc_roots = vec![tmp.path().to_path_buf()];
    let mut st = State::new(opts);
    st.apply(&exec_in(C1, 5000, 10, 0));
    let c = st.container(C1).expect("noted");
    assert_eq!(c.id, C1);
    assert_eq!(c.name, "");
}

const C4: &str = "4444444444444444444444444444444444444444444444444444444444444444";
const C5: &str = "5555555555555555555555555555555555555555555555555555555555555555";

#[test]
fn docker_containers_take_name_image_and_privilege_from_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // C4: runc state (Docker's runc root) plus Docker's files
    write(
        &t.join("runtime-runc/moby").join(C4).join("state.json"),
        &serde_json::json!({
            "id": C4,
            "created": "2026-12-06T08:00:00Z",
            "config": {"rootfs": "/var/lib/docker/overlay2/abc/merged"}
        })
        .to_string(),
    );
    let d4 = t.join("docker/containers").join(C4);
    write(
        &d4.join("config.v2.json"),
        &serde_json::json!({
            "Name": "/web",
            "Config": {"Image": "nginx:1.27", "Hostname": "c4host"},
            "State": {"StartedAt": "2026-12-06T08:00:01.25Z"}
        })
        .to_string(),
    );
    write(&d4.join("hostconfig.json"), r#"{"Privileged": true}"#);
    // C5: Docker's files only
    let d5 = t.join("docker/containers").join(C5);
    write(
        &d5.join("config.v2.json"),
        &serde_json::json!({
            "Name": "/db",
            "Config": {"Image": "postgres:16", "Labels": {"io.kubernetes.pod.name": "db-0", "io.kubernetes.pod.namespace": "data"}},
            "State": {"StartedAt": "2026-12-06T09:00:00Z"}
        })
        .to_string(),
    );
    write(&d5.join("hostconfig.json"), r#"{"Privileged": false}"#);

    let mut opts = StateOptions::isolated();
    opts.runc_roots = vec![t.join("runtime-runc/moby")];
    opts.docker_root = Some(t.join("docker"));
    let mut st = State::new(opts);
    st.apply(&exec_in(C4, 100, 1, 0));
    st.apply(&exec_in(C5, 200, 2, 0));
    let c4 = st.container(C4).unwrap();
    assert_eq!((c4.name.as_str(), c4.image.as_str()), ("web", "nginx:1.27"));
    assert!(c4.privileged);
    assert_eq!(c4.rootfs, "/var/lib/docker/overlay2/abc/merged");
    assert_eq!(
        c4.start_ts, 1_796_544_000_000_000_000,
        "runc's creation time"
    );
    let c5 = st.container(C5).unwrap();
    assert_eq!(
        (c5.name.as_str(), c5.image_repository()),
        ("db", "postgres")
    );
    assert!(!c5.privileged);
    assert_eq!(c5.start_ts, 1_796_547_600_000_000_000);
    assert_eq!(
        (c5.pod_name.as_str(), c5.pod_namespace.as_str()),
        ("db-0", "data")
    );
    assert_eq!(c5.id, C5);
}
