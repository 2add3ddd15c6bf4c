//! HTTP output: every alert is POSTed as Falco's JSON object (what Falcosidekick's `/` endpoint
//! and most SIEM collectors accept) by a background thread, with retries and exponential backoff.
//!
//! With a spool directory, an alert is written to disk before [`HttpSink::send`] returns and
//! removed only after the receiver answered 2xx: alerts survive a receiver that is down and a
//! restart of palisade itself (the next run sends what the last one left, oldest first). Without
//! one, alerts wait in a bounded memory queue.
//!
//! Plain `http://` only (no TLS): point it at a local forwarder or Falcosidekick.

use super::OutputError;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Settings of the HTTP output.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `http://host[:port][/path]`.
    pub url: String,
    /// Spool directory (created if missing); `None` keeps the queue in memory.
    pub spool_dir: Option<PathBuf>,
    /// Connect/read/write timeout of one request.
    pub timeout: Duration,
    /// First retry delay; doubled after each failure up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Largest memory queue (without a spool); the oldest alert is dropped beyond it.
    pub memory_queue: usize,
    /// How long [`HttpSink::close`] keeps trying to deliver what is queued.
    pub drain_timeout: Duration,
}

impl HttpConfig {
    /// Defaults for `url`: 5 s timeout, backoff 200 ms .. 30 s, 10,000 queued, 5 s drain.
    pub fn new(url: &str) -> HttpConfig {
        HttpConfig {
            url: url.to_string(),
            spool_dir: None,
            timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            memory_queue: 10_000,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address (IPv6 in brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parse `http://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<HttpUrl, OutputError> {
        let bad = |why: &str| OutputError::Config(format!("HTTP output URL '{url}': {why}"));
        if url.starts_with("https://") {
            return Err(bad(
                "https is not supported; send to a local forwarder (e.g. Falcosidekick) over http://",
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("expected http://host[:port][/path]"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        let (host, port) = if let Some(end) = authority.strip_prefix('[').and_then(|a| a.find(']'))
        {
            let host = &authority[..end + 2];
            match authority[end + 2..].strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad("bad port"))?),
                None if authority.len() == end + 2 => (host, 80),
                None => return Err(bad("bad host")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
                None => (authority, 80),
            }
        };
        Ok(HttpUrl {
            host: host.to_string(),
            port,
            path,
        })
    }
}

/// Why one POST did not deliver.
#[derive(Debug)]
enum PostError {
    /// Network failure or a 5xx/408/429 answer: retry.
    Retry(String),
    /// Another 4xx: the receiver refuses this alert; retrying will not help.
    Rejected(u16),
}

/// One POST of a JSON body; Ok on 2xx.
fn post(url: &HttpUrl, body: &[u8], timeout: Duration) -> Result<(), PostError> {
    let retry = |e: std::io::Error| PostError::Retry(e.to_string());
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    let addrs = (host, url.port).to_socket_addrs().map_err(retry)?;
    let mut last = PostError::Retry(format!("{}: no address", url.host));
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = PostError::Retry(format!("connect {a}: {e}")),
        }
    }
    let mut s = stream.ok_or(last)?;
    s.set_read_timeout(Some(timeout)).map_err(retry)?;
    s.set_write_timeout(Some(timeout)).map_err(retry)?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: palisade\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host,
        url.port,
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(retry)?;
    s.write_all(body).map_err(retry)?;
    s.flush().map_err(retry)?;
    // Read the status line.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 8192 {
        let n = s.read(&mut chunk).map_err(retry)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            PostError::Retry(format!(
                "no HTTP status in answer {:?}",
                line.lines().next().unwrap_or("")
            ))
        })?;
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(PostError::Retry(format!("HTTP {status}"))),
        _ => Err(PostError::Rejected(status)),
    }
}

/// The on-disk queue: one file per alert, `NNNNNNNNNNNNNNNN.json`, oldest = lowest number.
#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    next: u64,
}

impl Spool {
    fn open(dir: &Path) -> Result<(Spool, VecDeque<u64>), OutputError> {
        let io = |e| OutputError::Io {
            target: format!("spool directory {}", dir.display()),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut seqs: Vec<u64> = Vec::new();
        for ent in std::fs::read_dir(dir).map_err(io)? {
            let ent = ent.map_err(io)?;
            let name = ent.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".json").and_then(|n| n.parse().ok()) {
                seqs.push(n);
            } else if name.starts_with(".tmp-") {
                // A write interrupted by a crash: never acknowledged, never complete.
                let _ = std::fs::remove_file(ent.path());
            }
        }
        seqs.sort_unstable();
        let next = seqs.last().map_or(1, |l| l + 1);
        Ok((
            Spool {
                dir: dir.to_path_buf(),
                next,
            },
            seqs.into(),
        ))
    }

    fn path(dir: &Path, seq: u64) -> PathBuf {
        dir.join(format!("{seq:016}.json"))
    }

    /// Write one alert durably; returns its number.
    fn push(&mut self, body: &str) -> Result<u64, OutputError> {
        let seq = self.next;
        self.next += 1;
        let tmp = self.dir.join(format!(".tmp-{seq}"));
        let io = |e| OutputError::Io {
            target: format!("spool file {}", tmp.display()),
            source: e,
        };
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(body.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)?;
        std::fs::rename(&tmp, Self::path(&self.dir, seq)).map_err(io)?;
        Ok(seq)
    }
}

enum Msg {
    /// An alert body (memory queue).
    Body(String),
    /// An alert spooled under this number.
    Spooled(u64),
    /// Stop after draining (bounded by the drain timeout).
    Close,
}

/// Counters of the HTTP output.
#[derive(Debug, Default)]
pub struct HttpCounters {
    /// Alerts the receiver accepted.
    pub delivered: AtomicU64,
    /// Failed attempts (each retry counts).
    pub failed_attempts: AtomicU64,
    /// Alerts the receiver refused with a 4xx (not retried).
    pub rejected: AtomicU64,
    /// Alerts dropped from a full memory queue or left in memory at exit.
    pub lost: AtomicU64,
    /// Alerts waiting (in memory or in the spool).
    pub pending: AtomicU64,
    /// The last delivery error, for the exit statistics.
    pub last_error: Mutex<Option<String>>,
}

/// What the HTTP output did, reported at close.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpReport {
    /// Alerts delivered.
    pub delivered: u64,
    /// Failed attempts.
    pub failed_attempts: u64,
    /// Alerts refused by the receiver (4xx).
    pub rejected: u64,
    /// Alerts lost (memory queue only).
    pub lost: u64,
    /// Alerts still in the spool directory, sent by the next run.
    pub spooled: u64,
    /// The last delivery error.
    pub last_error: Option<String>,
}

/// The HTTP output.
pub struct HttpSink {
    tx: Sender<Msg>,
    spool: Option<Spool>,
    worker: Option<JoinHandle<()>>,
    counters: Arc<HttpCounters>,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("spool", &self.spool)
            .finish()
    }
}

impl HttpSink {
    /// Start the output (and send what an earlier run left in the spool).
    pub fn start(cfg: HttpConfig) -> Result<HttpSink, OutputError> {
        let url = HttpUrl::parse(&cfg.url)?;
        let (spool, backlog) = match &cfg.spool_dir {
            Some(d) => {
                let (s, b) = Spool::open(d)?;
                (Some(s), b)
            }
            None => (None, VecDeque::new()),
        };
        let counters = Arc::new(HttpCounters::default());
        counters
            .pending
            .store(backlog.len() as u64, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let worker = Worker {
            url,
            cfg: cfg.clone(),
            rx,
            counters: counters.clone(),
            spooled: backlog,
            memory: VecDeque::new(),
            closing: None,
        };
        let handle = std::thread::Builder::new()
            .name("palisade-http-out".into())
            .spawn(move || worker.run())
            .map_err(|e| OutputError::Io {
                target: "HTTP output thread".into(),
                source: e,
            })?;
        Ok(HttpSink {
            tx,
            spool,
            worker: Some(handle),
            counters,
        })
    }

    /// Queue one JSON alert. With a spool it is on disk when this returns.
    pub fn send(&mut self, json: &str) -> Result<(), OutputError> {
        let msg = match &mut self.spool {
            Some(s) => Msg::Spooled(s.push(json)?),
            None => Msg::Body(json.to_string()),
        };
        self.counters.pending.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(msg)
            .map_err(|_| OutputError::Config("HTTP output thread stopped".into()))
    }

    /// Live counters (for metrics).
    pub fn counters(&self) -> Arc<HttpCounters> {
        self.counters.clone()
    }

    /// Deliver what is queued (up to the drain timeout) and stop the thread.
    pub fn close(mut self) -> HttpReport {
        self.shutdown()
    }

    fn shutdown(&mut self) -> HttpReport {
        let _ = self.tx.send(Msg::Close);
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
        let c = &self.counters;
        let pending = c.pending.load(Ordering::Relaxed);
        let (spooled, lost_now) = if self.spool.is_some() {
            (pending, 0)
        } else {
            (0, pending)
        };
        HttpReport {
            delivered: c.delivered.load(Ordering::Relaxed),
            failed_attempts: c.failed_attempts.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed) + lost_now,
            spooled,
            last_error: c.last_error.lock().map(|e| e.clone()).unwrap_or(None),
        }
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        if self.worker.is_some() {
            self.shutdown();
        }
    }
}

struct Worker {
    url: HttpUrl,
    cfg: HttpConfig,
    rx: Receiver<Msg>,
    counters: Arc<HttpCounters>,
    spooled: VecDeque<u64>,
    memory: VecDeque<String>,
    closing: Option<Instant>,
}

impl Worker {
    fn accept(&mut self, m: Msg) {
        match m {
            Msg::Body(b) => {
                if self.memory.len() >= self.cfg.memory_queue.max(1) {
                    self.memory.pop_front();
                    self.counters.lost.fetch_add(1, Ordering::Relaxed);
                    self.counters.pending.fetch_sub(1, Ordering::Relaxed);
                }
                self.memory.push_back(b);
            }
            Msg::Spooled(seq) => self.spooled.push_back(seq),
            Msg::Close => {
                if self.closing.is_none() {
                    self.closing = Some(Instant::now() + self.cfg.drain_timeout);
                }
            }
        }
    }

    /// Wait for messages up to `d` (or until one arrives when `d` is None).
    fn wait(&mut self, d: Option<Duration>) {
        let first = match d {
            Some(d) => match self.rx.recv_timeout(d) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Msg::Close),
            },
            None => Some(self.rx.recv().unwrap_or(Msg::Close)),
        };
        if let Some(m) = first {
            self.accept(m);
        }
        while let Ok(m) = self.rx.try_recv() {
            self.accept(m);
        }
    }

    fn next_body(&self) -> Option<Result<String, u64>> {
        if let Some(&seq) = self.spooled.front() {
            let dir = self.cfg.spool_dir.as_deref()?;
            return Some(std::fs::read_to_string(Spool::path(dir, seq)).map_err(|_| seq));
        }
        self.memory.front().cloned().map(Ok)
    }

    fn done_front(&mut self) {
        if let Some(seq) = self.spooled.pop_front() {
            if let Some(dir) = self.cfg.spool_dir.as_deref() {
                let _ = std::fs::remove_file(Spool::path(dir, seq));
            }
        } else {
            self.memory.pop_front();
        }
        self.counters.pending.fetch_sub(1, Ordering::Relaxed);
    }

    fn run(mut self) {
        let mut backoff = self.cfg.backoff_initial;
        loop {
            while let Ok(m) = self.rx.try_recv() {
                self.accept(m);
            }
            let body = match self.next_body() {
                None => {
                    if self.closing.is_some() {
                        return;
                    }
                    self.wait(None);
                    continue;
                }
                Some(Err(_unreadable)) => {
                    // A spool file someone removed or damaged: skip it.
                    self.done_front();
                    self.counters.lost.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Some(Ok(b)) => b,
            };
            match post(&self.url, body.as_bytes(), self.cfg.timeout) {
                Ok(()) => {
                    self.done_front();
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    backoff = self.cfg.backoff_initial;
                }
                Err(PostError::Rejected(status)) => {
                    self.done_front();
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut e) = self.counters.last_error.lock() {
                        *e = Some(format!("receiver refused an alert: HTTP {status}"));
                    }
                }
                Err(PostError::Retry(why)) => {
                    self.counters
                        .failed_attempts
                        .fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut e) = self.counters.last_error.lock() {
                        *e = Some(why);
                    }
                    let mut wait = backoff;
                    if let Some(deadline) = self.closing {
                        let now = Instant::now();
                        if now >= deadline {
                            return;
                        }
                        wait = wait.min(deadline - now);
                    }
                    self.wait(Some(wait));
                    backoff = (backoff * 2).min(self.cfg.backoff_max);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            HttpUrl::parse("http://127.0.0.1:2801/").unwrap(),
            HttpUrl {
                host: "127.0.0.1".into(),
                port: 2801,
                path: "/".into()
            }
        );
        assert_eq!(
            HttpUrl::parse("http://sidekick").unwrap(),
            HttpUrl {
                host: "sidekick".into(),
                port: 80,
                path: "/".into()
            }
        );
        let v6 = HttpUrl::parse("http://[::1]:8080/a/b?x=1").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.path.as_str()),
            ("[::1]", 8080, "/a/b?x=1")
        );
        for bad in [
            "https://x/",
            "ftp://x",
            "http://",
            "http://h:port/",
            "http://[::1]x/",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spool_numbers_continue_and_tmp_files_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0000000000000007.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".tmp-8"), "{").unwrap();
        let (mut s, backlog) = Spool::open(dir.path()).unwrap();
        assert_eq!(backlog, VecDeque::from([7]));
        assert_eq!(s.push("{\"a\":1}").unwrap(), 8);
        assert!(!dir.path().join(".tmp-8").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("0000000000000008.json")).unwrap(),
            "{\"a\":1}"
        );
    }
}
