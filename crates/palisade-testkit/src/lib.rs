//! Test-only helpers: real `runc` containers on a busybox-static root file system.
//!
//! ```no_run
//! use palisade_testkit::{Container, require_root};
//! if require_root("example") {
//!     let mut c = Container::new("c0ffee").unwrap();
//!     c.write_file("/etc/motd", b"hello\n").unwrap();
//!     let out = c.run(&["sh", "-c", "cat /etc/motd"]).unwrap();
//!     assert_eq!(out.stdout, b"hello\n");
//! }
//! ```
//!
//! Every container gets a 64-hex id (the form container runtimes use and the one the rules
//! engine's container fields expect), a cgroup path `/palisade-test/<id>` so the id can be read
//! back from the cgroup path, and the host's network namespace so it can connect to `127.0.0.1`.
//! The container is deleted and its bundle removed when the [`Container`] drops.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Parent cgroup of every test container.
pub const CGROUP_PARENT: &str = "/palisade-test";

/// How long [`Container::run`] waits before killing the container.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of the kit.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A tool the kit needs is missing.
    #[error("{tool} not found ({hint})")]
    Missing {
        /// The tool.
        tool: String,
        /// How to get it.
        hint: &'static str,
    },
    /// The id prefix is not hexadecimal or too long.
    #[error("container id prefix {0:?}: want at most 32 hexadecimal digits")]
    BadPrefix(String),
    /// A path given to [`Container::write_file`] is not absolute or leaves the root.
    #[error("path {0:?}: want an absolute path without `..`")]
    BadPath(String),
    /// An I/O error, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What the kit was doing.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// A command failed.
    #[error("{cmd} failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error.
        stderr: String,
    },
    /// `runc spec` wrote something that is not the expected JSON.
    #[error("runc spec: {0}")]
    Spec(String),
    /// The container ran longer than its timeout and was killed.
    #[error("container {id} still running after {secs} s; killed")]
    Timeout {
        /// Container id.
        id: String,
        /// The timeout.
        secs: u64,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> TestkitError {
    let what = what.into();
    move |source| TestkitError::Io { what, source }
}

/// Whether a test that needs root (and runc / eBPF) can run. Not root: `false` (skip) with a
/// message on stderr — but panics when `CI=true`, since CI runs as root and must never skip.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs root, and CI=true forbids skipping");
    }
    eprintln!("{test}: skipped (needs root)");
    false
}

/// Whether this process runs as uid 0 (read from `/proc/self/status`, no unsafe code).
pub fn is_root() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

/// The runc binary (`PALISADE_RUNC` or `runc` on the PATH, also looked for in /usr/sbin).
pub fn runc_path() -> Result<PathBuf, TestkitError> {
    if let Some(p) = std::env::var_os("PALISADE_RUNC") {
        return Ok(PathBuf::from(p));
    }
    find_program(
        "runc",
        &["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"],
    )
    .ok_or(TestkitError::Missing {
        tool: "runc".into(),
        hint: "apt-get install runc",
    })
}

/// The static busybox (`PALISADE_BUSYBOX` or Debian's busybox-static `/bin/busybox`).
pub fn busybox_path() -> Result<PathBuf, TestkitError> {
    if let Some(p) = std::env::var_os("PALISADE_BUSYBOX") {
        return Ok(PathBuf::from(p));
    }
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if is_static_elf(Path::new(p)) {
            return Ok(PathBuf::from(p));
        }
    }
    Err(TestkitError::Missing {
        tool: "a statically linked busybox".into(),
        hint: "apt-get install busybox-static",
    })
}

fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// A static ELF has no PT_INTERP program header.
fn is_static_elf(path: &Path) -> bool {
    let Ok(data) = fs::read(path) else {
        return false;
    };
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= data.len()
            && u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]) != 3
    })
}

/// 64 hexadecimal digits: `prefix` followed by random digits.
fn make_id(prefix: &str) -> Result<String, TestkitError> {
    if prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TestkitError::BadPrefix(prefix.into()));
    }
    let mut rnd = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut rnd))
        .map_err(io_err("reading /dev/urandom"))?;
    let mut id = prefix.to_ascii_lowercase();
    for b in rnd {
        if id.len() >= 64 {
            break;
        }
        id.push_str(&format!("{b:02x}"));
    }
    id.truncate(64);
    Ok(id)
}

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// An OCI bundle with a busybox root file system, run with `runc`.
pub struct Container {
    id: String,
    runc: PathBuf,
    bundle: tempfile::TempDir,
    config: serde_json::Value,
    timeout: Duration,
}

/// The passwd/group/shadow files of every root file system: root, a user `app` (1000) and
/// `nobody` (65534).
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
app:x:1000:1000:app:/home/app:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";
const SHADOW: &str =
    "root:*:19000:0:99999:7:::\napp:!:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n";

impl Container {
    /// A new bundle whose container id starts with `id_prefix` (hexadecimal, at most 32
    /// digits; the rest is random). Builds the root file system and `config.json` (runs
    /// `runc spec`); the command is set by [`Container::run`] or [`Container::spawn`].
    pub fn new(id_prefix: &str) -> Result<Container, TestkitError> {
        let id = make_id(id_prefix)?;
        let runc = runc_path()?;
        let busybox = busybox_path()?;
        let bundle = tempfile::Builder::new()
            .prefix(&format!(
                "palisade-bundle-{}-",
                SERIAL.fetch_add(1, Ordering::Relaxed)
            ))
            .tempdir()
            .map_err(io_err("creating the bundle directory"))?;
        build_rootfs(&bundle.path().join("rootfs"), &busybox, &id[..12])?;
        let config = make_config(&runc, bundle.path(), &id)?;
        Ok(Container {
            id,
            runc,
            bundle,
            config,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The 64-hex container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The first 12 digits of the id (Docker's short id; also the container's hostname).
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// The cgroup path the container runs in (`/palisade-test/<id>`).
    pub fn cgroup_path(&self) -> String {
        format!("{CGROUP_PARENT}/{}", self.id)
    }

    /// The bundle directory (holds `config.json` and `rootfs/`).
    pub fn bundle(&self) -> &Path {
        self.bundle.path()
    }

    /// The root file system on the host.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle.path().join("rootfs")
    }

    /// The OCI configuration, to edit before running (e.g. capabilities, user, env).
    pub fn config_mut(&mut self) -> &mut serde_json::Value {
        &mut self.config
    }

    /// Run the process as `uid`:`gid`.
    pub fn set_user(&mut self, uid: u32, gid: u32) -> &mut Self {
        self.config["process"]["user"] = serde_json::json!({ "uid": uid, "gid": gid });
        self
    }

    /// Add `KEY=VALUE` to the environment.
    pub fn add_env(&mut self, kv: &str) -> &mut Self {
        if let Some(env) = self.config["process"]["env"].as_array_mut() {
            env.push(kv.into());
        }
        self
    }

    /// How long [`Container::run`] waits before killing the container.
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Write a file into the root file system (`path` absolute, as seen in the container;
    /// parent directories are created).
    pub fn write_file(&self, path: &str, bytes: &[u8]) -> Result<PathBuf, TestkitError> {
        let rel = path
            .strip_prefix('/')
            .filter(|r| !r.split('/').any(|c| c == ".."))
            .ok_or_else(|| TestkitError::BadPath(path.into()))?;
        let host = self.rootfs().join(rel);
        if let Some(dir) = host.parent() {
            fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        }
        fs::write(&host, bytes).map_err(io_err(format!("writing {}", host.display())))?;
        Ok(host)
    }

    fn prepare(&mut self, args: &[&str]) -> Result<(), TestkitError> {
        self.config["process"]["args"] = serde_json::json!(args);
        let text = serde_json::to_vec_pretty(&self.config)
            .map_err(|e| TestkitError::Spec(e.to_string()))?;
        let path = self.bundle.path().join("config.json");
        fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
        // A previous run with the same id may have left state behind.
        self.delete();
        Ok(())
    }

    /// Start `args` in the container in the background (`runc run`); standard output and
    /// error are collected for [`Running::wait`].
    pub fn spawn(&mut self, args: &[&str]) -> Result<Running<'_>, TestkitError> {
        self.prepare(args)?;
        let mut child = Command::new(&self.runc)
            .arg("run")
            .arg("--bundle")
            .arg(self.bundle.path())
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err(format!("starting {}", self.runc.display())))?;
        let out = child.stdout.take().map(drain);
        let err = child.stderr.take().map(drain);
        Ok(Running {
            container: self,
            child: Some(child),
            out,
            err,
        })
    }

    /// Run `args` in the container to the end; returns the container process's output and
    /// exit status. Killed after the timeout ([`Container::set_timeout`]).
    pub fn run(&mut self, args: &[&str]) -> Result<Output, TestkitError> {
        let timeout = self.timeout;
        let running = self.spawn(args)?;
        running.wait_timeout(timeout)
    }

    /// Run `args` in the running container (`runc exec`) and wait for it.
    pub fn exec(&self, args: &[&str]) -> Result<Output, TestkitError> {
        Command::new(&self.runc)
            .arg("exec")
            .arg(&self.id)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(io_err(format!("runc exec {}", self.id)))
    }

    /// The container's state as `runc state` reports it (`running`, `stopped`...), `None`
    /// when runc does not know the container.
    pub fn state(&self) -> Option<String> {
        let out = Command::new(&self.runc)
            .arg("state")
            .arg(&self.id)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["status"].as_str().map(str::to_owned)
    }

    /// The host pid of the container's first process while it runs.
    pub fn pid(&self) -> Option<u32> {
        let out = Command::new(&self.runc)
            .arg("state")
            .arg(&self.id)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p != 0)
    }

    /// `runc delete -f`, ignoring errors (nothing to delete is fine).
    fn delete(&self) {
        let _ = Command::new(&self.runc)
            .arg("delete")
            .arg("-f")
            .arg(&self.id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.delete();
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// A container started with [`Container::spawn`].
pub struct Running<'a> {
    container: &'a Container,
    child: Option<Child>,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
}

impl Running<'_> {
    /// The container.
    pub fn container(&self) -> &Container {
        self.container
    }

    /// Wait until the container's process has started (runc reports a pid), up to `timeout`.
    pub fn wait_started(&self, timeout: Duration) -> Option<u32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(pid) = self.container.pid() {
                return Some(pid);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Wait for the container to end (no timeout).
    pub fn wait(mut self) -> Result<Output, TestkitError> {
        let status = self
            .child
            .take()
            .map(|mut c| c.wait())
            .transpose()
            .map_err(io_err("waiting for runc"))?;
        Ok(self.collect(status))
    }

    /// Wait for the container to end; kill it after `timeout`.
    pub fn wait_timeout(mut self, timeout: Duration) -> Result<Output, TestkitError> {
        let end = Instant::now() + timeout;
        let Some(mut child) = self.child.take() else {
            return Ok(self.collect(None));
        };
        loop {
            if let Some(status) = child.try_wait().map_err(io_err("waiting for runc"))? {
                return Ok(self.collect(Some(status)));
            }
            if Instant::now() >= end {
                let _ = child.kill();
                self.container.delete();
                let _ = child.wait();
                return Err(TestkitError::Timeout {
                    id: self.container.id.clone(),
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kill the container (`runc kill <id> KILL`) and wait for it.
    pub fn kill(mut self) -> Result<Output, TestkitError> {
        let _ = Command::new(&self.container.runc)
            .arg("kill")
            .arg(&self.container.id)
            .arg("KILL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let status = self
            .child
            .take()
            .map(|mut c| c.wait())
            .transpose()
            .map_err(io_err("waiting for runc"))?;
        Ok(self.collect(status))
    }

    fn collect(&mut self, status: Option<ExitStatus>) -> Output {
        let take =
            |h: Option<JoinHandle<Vec<u8>>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
        let out = Output {
            status: status.unwrap_or_default(),
            stdout: take(self.out.take()),
            stderr: take(self.err.take()),
        };
        self.container.delete();
        out
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.container.delete();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The busybox root file system: applets as symlinks to `/bin/busybox` at the paths
/// `busybox --list-full` gives, the usual directories, and /etc files for tests.
fn build_rootfs(root: &Path, busybox: &Path, hostname: &str) -> Result<(), TestkitError> {
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
        "home/app", "var/tmp", "run",
    ] {
        let p = root.join(d);
        fs::create_dir_all(&p).map_err(io_err(format!("creating {}", p.display())))?;
    }
    let target = root.join("bin/busybox");
    fs::copy(busybox, &target).map_err(io_err(format!(
        "copying {} to {}",
        busybox.display(),
        target.display()
    )))?;
    let list = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(io_err(format!("{} --list-full", busybox.display())))?;
    if !list.status.success() {
        return Err(TestkitError::Command {
            cmd: format!("{} --list-full", busybox.display()),
            status: list.status,
            stderr: String::from_utf8_lossy(&list.stderr).into_owned(),
        });
    }
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim().trim_start_matches('/');
        if applet.is_empty() || applet == "bin/busybox" || applet.split('/').any(|c| c == "..") {
            continue;
        }
        let link = root.join(applet);
        if let Some(dir) = link.parent() {
            fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        }
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink("/bin/busybox", &link)
                .map_err(io_err(format!("linking {}", link.display())))?;
        }
    }
    let files: [(&str, &str, u32); 5] = [
        ("etc/passwd", PASSWD, 0o644),
        ("etc/group", GROUP, 0o644),
        ("etc/shadow", SHADOW, 0o640),
        ("etc/hostname", &format!("{hostname}\n"), 0o644),
        ("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0o644),
    ];
    for (rel, text, mode) in files {
        let p = root.join(rel);
        fs::write(&p, text).map_err(io_err(format!("writing {}", p.display())))?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .map_err(io_err(format!("chmod {}", p.display())))?;
    }
    use std::os::unix::fs::PermissionsExt;
    for d in ["tmp", "var/tmp"] {
        let p = root.join(d);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o1777))
            .map_err(io_err(format!("chmod {}", p.display())))?;
    }
    Ok(())
}

/// `runc spec` in the bundle, then the edits every test container needs.
fn make_config(runc: &Path, bundle: &Path, id: &str) -> Result<serde_json::Value, TestkitError> {
    let out = Command::new(runc)
        .arg("spec")
        .arg("--bundle")
        .arg(bundle)
        .output()
        .map_err(io_err(format!("{} spec", runc.display())))?;
    if !out.status.success() {
        return Err(TestkitError::Command {
            cmd: format!("{} spec --bundle {}", runc.display(), bundle.display()),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let path = bundle.join("config.json");
    let text = fs::read(&path).map_err(io_err(format!("reading {}", path.display())))?;
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| TestkitError::Spec(e.to_string()))?;
    edit_config(&mut cfg, id)?;
    Ok(cfg)
}

/// The edits to `runc spec`'s default: no terminal, writable root, hostname = short id,
/// cgroup path `/palisade-test/<id>`, no network namespace (the host's network).
fn edit_config(cfg: &mut serde_json::Value, id: &str) -> Result<(), TestkitError> {
    let obj = |v: &serde_json::Value, what: &str| {
        if v.is_object() {
            Ok(())
        } else {
            Err(TestkitError::Spec(format!("{what} is not an object")))
        }
    };
    obj(&cfg["process"], "process")?;
    obj(&cfg["linux"], "linux")?;
    cfg["process"]["terminal"] = false.into();
    cfg["root"] = serde_json::json!({ "path": "rootfs", "readonly": false });
    cfg["hostname"] = id[..12].into();
    cfg["linux"]["cgroupsPath"] = format!("{CGROUP_PARENT}/{id}").into();
    let ns = cfg["linux"]["namespaces"]
        .as_array_mut()
        .ok_or_else(|| TestkitError::Spec("linux.namespaces is not a list".into()))?;
    ns.retain(|n| n["type"] != "network");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_with_the_prefix() {
        let id = make_id("c0FFee").unwrap();
        assert_eq!(id.len(), 64);
        assert!(id.starts_with("c0ffee"));
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(make_id("").unwrap(), make_id("").unwrap());
        assert!(matches!(make_id("xyz"), Err(TestkitError::BadPrefix(_))));
        assert!(make_id(&"a".repeat(33)).is_err());
    }

    #[test]
    fn config_edits() {
        let mut cfg = serde_json::json!({
            "process": { "terminal": true, "args": ["sh"] },
            "root": { "path": "rootfs", "readonly": true },
            "linux": { "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}] }
        });
        let id = "ab".repeat(32);
        edit_config(&mut cfg, &id).unwrap();
        assert_eq!(cfg["process"]["terminal"], false);
        assert_eq!(cfg["root"]["readonly"], false);
        assert_eq!(cfg["hostname"], "abababababab");
        assert_eq!(cfg["linux"]["cgroupsPath"], format!("/palisade-test/{id}"));
        let types: Vec<&str> = cfg["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["pid", "mount"]);
        let mut bad = serde_json::json!({ "process": {} });
        assert!(edit_config(&mut bad, &id).is_err());
    }

    #[test]
    fn static_elf_detection() {
        // Whatever is installed: the test binary itself is dynamically linked.
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me));
        assert!(!is_static_elf(Path::new("/etc/passwd")));
    }
}
