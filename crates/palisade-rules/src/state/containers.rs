//! Container metadata from the runtime's state: runc's state directory and the OCI bundle.
//!
//! `<root>/<id>/state.json` (runc, containerd's runc shim, Docker) gives the creation time, the
//! rootfs, the capabilities and the bundle (label `bundle=<dir>`); `<bundle>/config.json` gives
//! the annotations and the host name. Kubernetes metadata comes from the annotations the CRI
//! runtimes write: containerd's `io.kubernetes.cri.*` (container name, sandbox name, namespace
//! and uid, image name) and CRI-O's `io.kubernetes.pod.*`, `io.kubernetes.container.name`,
//! `io.kubernetes.cri-o.ImageName` and `io.kubernetes.cri-o.Labels`. Pod labels are only known
//! under CRI-O (containerd keeps them in its own database, not in the bundle). Docker's own
//! files (`<docker root>/containers/<id>/config.v2.json`, `hostconfig.json`) give a Docker
//! container's name, image and privileged flag.

use super::{ContainerInfo, ContainerMount};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Number of capabilities at or above which a container holding `CAP_SYS_ADMIN` counts as
/// privileged (Docker and Kubernetes give privileged containers every capability the runtime
/// knows: 38 to 41 depending on its age; defaults give 14).
const PRIVILEGED_CAPS: usize = 38;

/// Looks a container up in the runc roots; `None` when no root has it (or its state is not
/// readable JSON).
pub(crate) fn lookup(
    roots: &[PathBuf],
    docker_root: Option<&Path>,
    id: &str,
) -> Option<ContainerInfo> {
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return None;
    }
    let runc = roots
        .iter()
        .find_map(|r| from_state_dir(&r.join(id).join("state.json"), id));
    let docker = docker_root.and_then(|d| from_docker(&d.join("containers").join(id)));
    match (runc, docker) {
        (Some(mut r), Some(d)) => {
            // Docker knows the name and image; runc the rootfs, mounts and times
            r.name = d.name;
            if !d.image.is_empty() {
                r.image = d.image;
            }
            r.privileged |= d.privileged;
            if r.start_ts == 0 {
                r.start_ts = d.start_ts;
            }
            Some(r)
        }
        (r, d) => r.or(d.map(|d| ContainerInfo {
            id: id.to_string(),
            ..d
        })),
    }
}

/// A Docker container's `config.v2.json` (name, image, start time) and `hostconfig.json`
/// (privileged).
fn from_docker(dir: &Path) -> Option<ContainerInfo> {
    let text = std::fs::read_to_string(dir.join("config.v2.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let s = |ptr: &str| v.pointer(ptr).and_then(Value::as_str).unwrap_or_default();
    let mut info = ContainerInfo {
        name: s("/Name").trim_start_matches('/').to_string(),
        image: s("/Config/Image").to_string(),
        hostname: s("/Config/Hostname").to_string(),
        start_ts: parse_rfc3339_ns(s("/State/StartedAt")).unwrap_or(0),
        ..ContainerInfo::default()
    };
    if let Some(labels) = v.pointer("/Config/Labels").and_then(Value::as_object) {
        let get = |k: &str| labels.get(k).and_then(Value::as_str).unwrap_or_default();
        info.pod_name = get("io.kubernetes.pod.name").to_string();
        info.pod_namespace = get("io.kubernetes.pod.namespace").to_string();
        info.pod_uid = get("io.kubernetes.pod.uid").to_string();
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("hostconfig.json"))
        && let Ok(h) = serde_json::from_str::<Value>(&text)
    {
        info.privileged = h.get("Privileged").and_then(Value::as_bool) == Some(true);
    }
    Some(info)
}

fn from_state_dir(state_path: &Path, id: &str) -> Option<ContainerInfo> {
    let text = std::fs::read_to_string(state_path).ok()?;
    let state: Value = serde_json::from_str(&text).ok()?;
    let config = state.get("config");
    let mut info = ContainerInfo {
        id: id.to_string(),
        name: state
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string(),
        ..ContainerInfo::default()
    };
    if let Some(c) = state.get("created").and_then(Value::as_str) {
        info.start_ts = parse_rfc3339_ns(c).unwrap_or(0);
    }
    if let Some(rootfs) = config.and_then(|c| c.get("rootfs")).and_then(Value::as_str) {
        info.rootfs = rootfs.to_string();
    }
    if let Some(h) = config
        .and_then(|c| c.get("hostname"))
        .and_then(Value::as_str)
    {
        info.hostname = h.to_string();
    }
    let mut caps = config
        .and_then(|c| c.get("capabilities"))
        .and_then(|c| c.get("Bounding").or_else(|| c.get("bounding")))
        .map(cap_list)
        .unwrap_or_default();
    let bundle = config
        .and_then(|c| c.get("labels"))
        .and_then(Value::as_array)
        .and_then(|labels| {
            labels
                .iter()
                .filter_map(Value::as_str)
                .find_map(|l| l.strip_prefix("bundle="))
        })
        .map(PathBuf::from);
    if let Some(bundle) = bundle
        && let Ok(text) = std::fs::read_to_string(bundle.join("config.json"))
        && let Ok(spec) = serde_json::from_str::<Value>(&text)
    {
        if let Some(ann) = spec.get("annotations").and_then(Value::as_object) {
            info.annotations = ann
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect();
            info.annotations.sort();
        }
        if info.hostname.is_empty()
            && let Some(h) = spec.get("hostname").and_then(Value::as_str)
        {
            info.hostname = h.to_string();
        }
        if info.rootfs.is_empty()
            && let Some(root) = spec.pointer("/root/path").and_then(Value::as_str)
        {
            info.rootfs = bundle.join(root).to_string_lossy().into_owned();
        }
        if caps.is_empty()
            && let Some(b) = spec.pointer("/process/capabilities/bounding")
        {
            caps = cap_list(b);
        }
        if let Some(mounts) = spec.get("mounts").and_then(Value::as_array) {
            info.mounts = mounts.iter().filter_map(mount_of).collect();
        }
    }
    info.privileged = caps.len() >= PRIVILEGED_CAPS && caps.iter().any(|c| c == "CAP_SYS_ADMIN");
    apply_annotations(&mut info);
    Some(info)
}

/// One entry of an OCI config's `mounts`.
fn mount_of(v: &Value) -> Option<ContainerMount> {
    let dest = v.get("destination")?.as_str()?.to_string();
    let opts: Vec<&str> = v
        .get("options")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let propagation = opts
        .iter()
        .find(|o| {
            matches!(
                **o,
                "private"
                    | "rprivate"
                    | "shared"
                    | "rshared"
                    | "slave"
                    | "rslave"
                    | "unbindable"
                    | "runbindable"
            )
        })
        .map(|o| o.to_string())
        .unwrap_or_default();
    Some(ContainerMount {
        source: v
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        dest,
        fstype: v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        rw: !opts.contains(&"ro"),
        propagation,
    })
}

fn cap_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Fills name, image and pod fields from CRI annotations.
fn apply_annotations(info: &mut ContainerInfo) {
    let ann = std::mem::take(&mut info.annotations);
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| ann.iter().find(|(ak, _)| ak == k).map(|(_, v)| v.as_str()))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let Some(n) = get(&[
        "io.kubernetes.cri.container-name",
        "io.kubernetes.container.name",
    ]) {
        info.name = n;
    }
    let image = get(&[
        "io.kubernetes.cri.image-name",
        "io.kubernetes.cri-o.ImageName",
        "io.containerd.image.name",
    ])
    .or_else(|| {
        get(&["org.opencontainers.image.ref.name"]).filter(|v| v.contains('/') || v.contains(':'))
    });
    if let Some(i) = image {
        info.image = i;
    }
    if let Some(v) = get(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]) {
        info.pod_name = v;
    }
    if let Some(v) = get(&[
        "io.kubernetes.cri.sandbox-namespace",
        "io.kubernetes.pod.namespace",
    ]) {
        info.pod_namespace = v;
    }
    if let Some(v) = get(&["io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"]) {
        info.pod_uid = v;
    }
    if let Some(labels) = get(&["io.kubernetes.cri-o.Labels"])
        && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&labels)
    {
        info.pod_labels = m
            .iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        info.pod_labels.sort();
    }
    info.annotations = ann;
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 time (`2024-05-01T10:20:30.123456789Z`, `+02:00` offsets, any number of
/// fraction digits) into ns since the epoch; `None` for malformed text or times before 1970.
pub fn parse_rfc3339_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded = digits.chars().take(9).collect::<String>();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().ok()?;
    }
    let offset_s = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    if secs < 0 {
        return None;
    }
    (secs as u64)
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ns("2024-05-01T10:20:30.123456789Z"),
            Some(1_714_558_830_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_ns("2024-05-01T12:20:30.5+02:00"),
            Some(1_714_558_830_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("2000-02-29T00:00:00.1234567891234Z"),
            Some(951_782_400_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_ns("9999-12-31T23:59:59Z"),
            None,
            "beyond u64 ns"
        );
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-05-01 10:20:30",
            "yesterday",
            "2024-05-01T10:20:30.Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn image_parts() {
        let mut c = ContainerInfo {
            image: "registry.local:5000/team/app:1.2@sha256:abc".into(),
            ..Default::default()
        };
        assert_eq!(c.image_repository(), "registry.local:5000/team/app");
        assert_eq!(c.image_tag(), "1.2");
        assert_eq!(c.image_digest(), "sha256:abc");
        c.image = "registry.local:5000/team/app".into();
        assert_eq!(c.image_repository(), "registry.local:5000/team/app");
        assert_eq!(c.image_tag(), "");
        c.image = "nginx:latest".into();
        assert_eq!(c.image_repository(), "nginx");
    }

    #[test]
    fn ids_that_are_not_names_are_refused() {
        let roots = [PathBuf::from("/nonexistent-root")];
        let docker = Some(Path::new("/nonexistent-docker"));
        assert!(lookup(&roots, docker, "../etc").is_none());
        assert!(lookup(&roots, docker, "").is_none());
        assert!(lookup(&roots, docker, "abc").is_none());
    }
}
