//! Capture files: events written by `palisade trace --capture` and read back by `--replay` and by
//! the rules engine.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic   8 bytes  "PALCAP\0\x01"
//! hlen    u32      length of the header
//! header  hlen     JSON object (CaptureHeader)
//! record* u32 len, then `len` bytes: one Event in bincode 1 encoding
//! ```
//!
//! A record is at most [`MAX_RECORD`] bytes. A reader reports a damaged or truncated record with
//! its byte offset and stops there; everything before it has been delivered.

use crate::event::Event;
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// File magic.
pub const MAGIC: &[u8; 8] = b"PALCAP\0\x01";
/// Largest record a reader accepts.
pub const MAX_RECORD: u32 = 16 << 20;
const MAX_HEADER: u32 = 1 << 20;

/// Metadata at the start of a capture.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureHeader {
    /// Host name of the machine that captured.
    #[serde(default)]
    pub hostname: String,
    /// Kernel release (`uname -r`).
    #[serde(default)]
    pub kernel: String,
    /// When the capture started (ns since the epoch).
    #[serde(default)]
    pub started: u64,
    /// The command line that produced it.
    #[serde(default)]
    pub command: String,
}

/// Errors reading a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// Not a capture file.
    #[error("{path}: not a palisade capture file (bad magic)")]
    BadMagic {
        /// File.
        path: String,
    },
    /// A damaged header or record.
    #[error("{path}: byte {offset}: {what}")]
    Corrupt {
        /// File.
        path: String,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What is wrong.
        what: String,
    },
}

/// Writes a capture.
pub struct CaptureWriter<W: Write> {
    out: BufWriter<W>,
    buf: Vec<u8>,
    written: u64,
}

impl CaptureWriter<std::fs::File> {
    /// Create (truncate) a capture file.
    pub fn create(path: &Path, header: &CaptureHeader) -> io::Result<Self> {
        Self::new(std::fs::File::create(path)?, header)
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Start a capture on any writer.
    pub fn new(w: W, header: &CaptureHeader) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, w);
        let h = serde_json::to_vec(header).map_err(io::Error::other)?;
        out.write_all(MAGIC)?;
        out.write_all(&(h.len() as u32).to_le_bytes())?;
        out.write_all(&h)?;
        Ok(CaptureWriter {
            out,
            buf: Vec::with_capacity(256),
            written: 0,
        })
    }

    /// Append one event.
    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        self.buf.clear();
        bincode::serialize_into(&mut self.buf, ev).map_err(io::Error::other)?;
        self.out.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.out.write_all(&self.buf)?;
        self.written += 1;
        Ok(())
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flush buffered records to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and return the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// Reads a capture, event by event.
pub struct CaptureReader<R: Read> {
    input: BufReader<R>,
    path: String,
    offset: u64,
    header: CaptureHeader,
    buf: Vec<u8>,
    done: bool,
}

impl CaptureReader<std::fs::File> {
    /// Open a capture file.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|source| CaptureError::Io {
            path: name.clone(),
            source,
        })?;
        Self::new(f, &name)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Read a capture from any reader; `name` is used in error messages.
    pub fn new(r: R, name: &str) -> Result<Self, CaptureError> {
        let mut input = BufReader::with_capacity(1 << 20, r);
        let path = name.to_string();
        let io = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        let mut magic = [0u8; 8];
        if let Err(e) = input.read_exact(&mut magic) {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                CaptureError::BadMagic { path: path.clone() }
            } else {
                io(e)
            });
        }
        if &magic != MAGIC {
            return Err(CaptureError::BadMagic { path });
        }
        let corrupt = |what: String| CaptureError::Corrupt {
            path: path.clone(),
            offset: 8,
            what,
        };
        let mut len = [0u8; 4];
        input
            .read_exact(&mut len)
            .map_err(|e| corrupt(format!("header length: {e}")))?;
        let hlen = u32::from_le_bytes(len);
        if hlen > MAX_HEADER {
            return Err(corrupt(format!(
                "header of {hlen} bytes is larger than {MAX_HEADER}"
            )));
        }
        let mut h = vec![0u8; hlen as usize];
        input
            .read_exact(&mut h)
            .map_err(|e| corrupt(format!("header: {e}")))?;
        let header: CaptureHeader =
            serde_json::from_slice(&h).map_err(|e| corrupt(format!("header: {e}")))?;
        Ok(CaptureReader {
            input,
            path,
            offset: 12 + hlen as u64,
            header,
            buf: Vec::new(),
            done: false,
        })
    }

    /// The capture's header.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// The next event, `None` at a clean end of file.
    pub fn next_event(&mut self) -> Option<Result<Event, CaptureError>> {
        if self.done {
            return None;
        }
        let at = self.offset;
        let corrupt = |what: String| CaptureError::Corrupt {
            path: self.path.clone(),
            offset: at,
            what,
        };
        match self.input.fill_buf() {
            Ok([]) => {
                self.done = true;
                return None;
            }
            Ok(_) => {}
            Err(source) => {
                self.done = true;
                return Some(Err(CaptureError::Io {
                    path: self.path.clone(),
                    source,
                }));
            }
        }
        let mut len = [0u8; 4];
        if let Err(e) = self.input.read_exact(&mut len) {
            self.done = true;
            return Some(Err(corrupt(format!("truncated record length: {e}"))));
        }
        let n = u32::from_le_bytes(len);
        if n > MAX_RECORD {
            self.done = true;
            return Some(Err(corrupt(format!(
                "record of {n} bytes is larger than {MAX_RECORD}"
            ))));
        }
        self.buf.resize(n as usize, 0);
        if let Err(e) = self.input.read_exact(&mut self.buf) {
            self.done = true;
            return Some(Err(corrupt(format!("truncated record: {e}"))));
        }
        self.offset += 4 + n as u64;
        match bincode::deserialize::<Event>(&self.buf) {
            Ok(ev) => Some(Ok(ev)),
            Err(e) => {
                self.done = true;
                Some(Err(corrupt(format!("undecodable record: {e}"))))
            }
        }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<Event, CaptureError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::EventId;
    use crate::event::{ArgValue, SockAddr};

    fn ev(i: u64) -> Event {
        Event {
            ts: i,
            id: EventId(42),
            cpu: 1,
            pid: 1,
            tid: 1,
            ppid: 0,
            host_pid: 10,
            host_tid: 10,
            host_ppid: 1,
            uid: 1000,
            gid: 1000,
            comm: "curl".into(),
            uts: "box".into(),
            mntns: 1,
            pidns: 2,
            cgroup_id: 3,
            container_id: "c".repeat(64),
            ret: 0,
            args: vec![
                ArgValue::Int(3),
                ArgValue::Sock(SockAddr::Inet {
                    addr: [10, 0, 0, 1].into(),
                    port: 443,
                }),
            ],
        }
    }

    #[test]
    fn round_trip() {
        let header = CaptureHeader {
            hostname: "box".into(),
            ..Default::default()
        };
        let mut w = CaptureWriter::new(Vec::new(), &header).unwrap();
        for i in 0..100 {
            w.write(&ev(i)).unwrap();
        }
        let bytes = w.finish().unwrap();
        let r = CaptureReader::new(&bytes[..], "mem").unwrap();
        assert_eq!(r.header().hostname, "box");
        let got: Vec<Event> = r.map(Result::unwrap).collect();
        assert_eq!(got.len(), 100);
        assert_eq!(got[57], ev(57));
    }

    #[test]
    fn damage_is_reported_with_offset_after_good_records() {
        let mut w = CaptureWriter::new(Vec::new(), &CaptureHeader::default()).unwrap();
        w.write(&ev(1)).unwrap();
        w.write(&ev(2)).unwrap();
        let mut bytes = w.finish().unwrap();
        bytes.truncate(bytes.len() - 3);
        let mut r = CaptureReader::new(&bytes[..], "cap").unwrap();
        assert!(r.next().unwrap().is_ok());
        let err = r.next().unwrap().unwrap_err().to_string();
        assert!(
            err.starts_with("cap: byte ") && err.contains("truncated"),
            "{err}"
        );
        assert!(r.next().is_none());
        assert!(matches!(
            CaptureReader::new(&b"garbage!!"[..], "x"),
            Err(CaptureError::BadMagic { .. })
        ));
    }
}
