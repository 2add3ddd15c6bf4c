//! File output with size-based rotation: `alerts.log` is renamed to `alerts.log.1` (older ones
//! shift up to `.N`, the oldest beyond `keep` is removed) before a line would make it exceed the
//! size limit.

use super::OutputError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Rotation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Largest size of the live file in bytes (0 = never rotate).
    pub max_bytes: u64,
    /// Rotated files kept (`.1` ... `.keep`).
    pub keep: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: 0,
            keep: 5,
        }
    }
}

/// Appends alert lines to a file, rotating by size.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    rotation: Rotation,
    file: File,
    size: u64,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> OutputError {
    OutputError::Io {
        target: format!("{what} {}", path.display()),
        source: e,
    }
}

impl FileSink {
    /// Open (create or append to) `path`.
    pub fn open(path: &Path, rotation: Rotation) -> Result<FileSink, OutputError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, "open", e))?;
        let size = file.metadata().map_err(|e| io_err(path, "stat", e))?.len();
        Ok(FileSink {
            path: path.to_path_buf(),
            rotation,
            file,
            size,
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut s = self.path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> Result<(), OutputError> {
        let keep = self.rotation.keep;
        if keep == 0 {
            // Nothing kept: start the file over.
            self.file
                .set_len(0)
                .map_err(|e| io_err(&self.path, "truncate", e))?;
            self.size = 0;
            return Ok(());
        }
        let oldest = self.rotated(keep);
        if oldest.exists() {
            std::fs::remove_file(&oldest).map_err(|e| io_err(&oldest, "remove", e))?;
        }
        for n in (1..keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                let to = self.rotated(n + 1);
                std::fs::rename(&from, &to).map_err(|e| io_err(&from, "rename", e))?;
            }
        }
        let first = self.rotated(1);
        std::fs::rename(&self.path, &first).map_err(|e| io_err(&self.path, "rename", e))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io_err(&self.path, "open", e))?;
        self.size = 0;
        Ok(())
    }

    /// Append one line (a newline is added), rotating first if it would exceed the limit.
    pub fn write_line(&mut self, line: &str) -> Result<(), OutputError> {
        let len = line.len() as u64 + 1;
        if self.rotation.max_bytes > 0 && self.size > 0 && self.size + len > self.rotation.max_bytes
        {
            self.rotate()?;
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        // One write per line, so concurrent readers never see half a line.
        self.file
            .write_all(&buf)
            .map_err(|e| io_err(&self.path, "write", e))?;
        self.size += len;
        Ok(())
    }

    /// Flush to the OS.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.file
            .flush()
            .map_err(|e| io_err(&self.path, "flush", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_keeps_n() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.log");
        let mut s = FileSink::open(
            &p,
            Rotation {
                max_bytes: 20,
                keep: 2,
            },
        )
        .unwrap();
        for i in 0..8 {
            s.write_line(&format!("line-{i}-xxxx")).unwrap(); // 12 bytes each with newline
        }
        // 8 lines, one per file: live = 7, .1 = 6, .2 = 5, older removed.
        let read = |q: &Path| std::fs::read_to_string(q).unwrap();
        assert_eq!(read(&p), "line-7-xxxx\n");
        assert_eq!(read(&dir.path().join("alerts.log.1")), "line-6-xxxx\n");
        assert_eq!(read(&dir.path().join("alerts.log.2")), "line-5-xxxx\n");
        assert!(!dir.path().join("alerts.log.3").exists());
    }

    #[test]
    fn appends_to_existing_and_counts_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, "0123456789012345678\n").unwrap();
        let mut s = FileSink::open(
            &p,
            Rotation {
                max_bytes: 30,
                keep: 1,
            },
        )
        .unwrap();
        s.write_line("abc").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 2);
        s.write_line("0123456789").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "0123456789\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.log.1")).unwrap(),
            "0123456789012345678\nabc\n"
        );
    }

    #[test]
    fn no_rotation_without_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut s = FileSink::open(&p, Rotation::default()).unwrap();
        for _ in 0..100 {
            s.write_line("x").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap().len(), 200);
    }

    #[test]
    fn unwritable_path_is_a_clear_error() {
        let e = FileSink::open(Path::new("/nonexistent-dir/x.log"), Rotation::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent-dir/x.log"), "{e}");
    }
}
