//! Syslog output: one datagram per alert to a local unix socket (`/dev/log`), in RFC 3164 form
//! (what glibc's `syslog(3)` sends) or RFC 5424.

use super::OutputError;
use crate::alert::Priority;
use jiff::tz::TimeZone;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Message framing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyslogFormat {
    /// `<PRI>Mmm dd hh:mm:ss palisade[pid]: message` (local time, as glibc sends).
    #[default]
    Rfc3164,
    /// `<PRI>1 2026-01-02T03:04:05.678901Z host palisade pid - - message`.
    Rfc5424,
}

/// The syslog facility `user` (1), which `syslog(3)` uses when none is set, as Falco does.
pub const FACILITY_USER: u8 = 1;

/// Sends alerts to a syslog socket.
#[derive(Debug)]
pub struct SyslogSink {
    socket: UnixDatagram,
    path: PathBuf,
    format: SyslogFormat,
    facility: u8,
    hostname: String,
    tz: TimeZone,
    pid: u32,
}

impl SyslogSink {
    /// A sink sending to `path` (usually `/dev/log`).
    pub fn new(
        path: &Path,
        format: SyslogFormat,
        hostname: &str,
    ) -> Result<SyslogSink, OutputError> {
        let socket = UnixDatagram::unbound().map_err(|e| OutputError::Io {
            target: "syslog socket".into(),
            source: e,
        })?;
        // A syslog daemon that stops reading must not stall detection: a full queue drops
        // the message (counted as an output error) instead of blocking.
        socket.set_nonblocking(true).map_err(|e| OutputError::Io {
            target: "syslog socket".into(),
            source: e,
        })?;
        if !path.exists() {
            return Err(OutputError::Config(format!(
                "syslog socket {} does not exist (is a syslog daemon running?)",
                path.display()
            )));
        }
        Ok(SyslogSink {
            socket,
            path: path.to_path_buf(),
            format,
            facility: FACILITY_USER,
            hostname: if hostname.is_empty() {
                "-".into()
            } else {
                hostname.into()
            },
            tz: TimeZone::try_system().unwrap_or(TimeZone::UTC),
            pid: std::process::id(),
        })
    }

    /// Use this time zone for RFC 3164 timestamps (tests).
    pub fn with_time_zone(mut self, tz: TimeZone) -> SyslogSink {
        self.tz = tz;
        self
    }

    /// The datagram for one message.
    pub fn frame(&self, priority: Priority, time_ns: u64, message: &str) -> String {
        let pri = self.facility as u32 * 8 + priority.level() as u32;
        let ts = jiff::Timestamp::from_nanosecond(time_ns as i128)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        match self.format {
            SyslogFormat::Rfc3164 => {
                let dt = self.tz.to_datetime(ts);
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!(
                    "<{pri}>{} {:>2} {:02}:{:02}:{:02} palisade[{}]: {message}",
                    MONTHS[(dt.month() - 1) as usize],
                    dt.day(),
                    dt.hour(),
                    dt.minute(),
                    dt.second(),
                    self.pid
                )
            }
            SyslogFormat::Rfc5424 => {
                let dt = TimeZone::UTC.to_datetime(ts);
                format!(
                    "<{pri}>1 {:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {} palisade {} - - {message}",
                    dt.year(),
                    dt.month(),
                    dt.day(),
                    dt.hour(),
                    dt.minute(),
                    dt.second(),
                    (time_ns % 1_000_000_000) / 1000,
                    self.hostname,
                    self.pid
                )
            }
        }
    }

    /// Send one message; fails (without blocking) when the receiver's queue is full.
    pub fn send(
        &mut self,
        priority: Priority,
        time_ns: u64,
        message: &str,
    ) -> Result<(), OutputError> {
        let frame = self.frame(priority, time_ns, message);
        self.socket
            .send_to(frame.as_bytes(), &self.path)
            .map(|_| ())
            .map_err(|e| OutputError::Io {
                target: format!("syslog {}", self.path.display()),
                source: e,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_764_990_245_123_456_789; // 2025-12-06T03:04:05.123456789Z

    #[test]
    fn frames_both_forms_and_delivers() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log");
        let rx = UnixDatagram::bind(&sock).unwrap();
        let mut s = SyslogSink::new(&sock, SyslogFormat::Rfc3164, "node-1")
            .unwrap()
            .with_time_zone(TimeZone::UTC);
        s.send(Priority::Warning, T, "05:06:07.1: Warning hello")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        let pid = std::process::id();
        assert_eq!(
            got,
            format!("<12>Dec  6 03:04:05 palisade[{pid}]: 05:06:07.1: Warning hello")
        );

        let mut s5 = SyslogSink::new(&sock, SyslogFormat::Rfc5424, "node-1").unwrap();
        s5.send(Priority::Critical, T, "{\"rule\":\"x\"}").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(
            got,
            format!(
                "<10>1 2025-12-06T03:04:05.123456Z node-1 palisade {pid} - - {{\"rule\":\"x\"}}"
            )
        );
    }

    #[test]
    fn a_receiver_that_stops_reading_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log");
        let _rx = UnixDatagram::bind(&sock).unwrap();
        let mut s = SyslogSink::new(&sock, SyslogFormat::Rfc5424, "h").unwrap();
        let big = "x".repeat(4000);
        let mut failed = 0;
        for _ in 0..10_000 {
            if s.send(Priority::Notice, T, &big).is_err() {
                failed += 1;
            }
        }
        assert!(failed > 0, "a full queue must fail the send, not block it");
    }

    #[test]
    fn missing_socket_is_a_clear_error() {
        let e = SyslogSink::new(Path::new("/nonexistent/log"), SyslogFormat::Rfc3164, "h")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/log"), "{e}");
    }
}
