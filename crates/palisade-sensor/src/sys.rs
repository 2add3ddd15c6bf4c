//! The few system interfaces the sensor needs that have no safe wrapper: clocks, the
//! effective uid, edge-triggered epoll on the ring buffer's fd, the ring buffer's shared memory
//! (read in batches) and the tracefs mount.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `CLOCK_BOOTTIME` in ns (the clock of `bpf_ktime_get_boot_ns` and `task->start_boottime`).
pub(crate) fn boottime_ns() -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// Wall-clock minus boot-clock, in ns: added to BPF timestamps to make them wall-clock.
pub(crate) fn boot_to_wall_offset() -> u64 {
    // Take the smallest gap of a few samples so that a preemption between the reads does not skew it.
    (0..5)
        .map(|_| {
            let b1 = clock_ns(libc::CLOCK_BOOTTIME);
            let w = clock_ns(libc::CLOCK_REALTIME);
            let b2 = clock_ns(libc::CLOCK_BOOTTIME);
            (b2 - b1, w.saturating_sub(b1 / 2 + b2 / 2))
        })
        .min_by_key(|&(gap, _)| gap)
        .map_or(0, |(_, off)| off)
}

/// Whether a tracefs is mounted where the loader looks for it (classic tracepoints need it to
/// find a tracepoint's id).
fn tracefs_mounted() -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|d| std::path::Path::new(d).join("events").is_dir())
}

/// Mounts tracefs on `/sys/kernel/tracing` when no tracefs is mounted (as systemd does at boot;
/// minimal hosts and containers may lack it). The mount stays after the sensor stops.
pub(crate) fn ensure_tracefs() -> io::Result<()> {
    if tracefs_mounted() {
        return Ok(());
    }
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    let (src, dir, fs) = (c("tracefs"), c("/sys/kernel/tracing"), c("tracefs"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dir.as_ptr(),
            fs.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // Another process may have mounted it meanwhile.
        if tracefs_mounted() {
            return Ok(());
        }
        return Err(io::Error::new(
            e.kind(),
            format!("no tracefs mounted, and mounting one on /sys/kernel/tracing failed: {e}"),
        ));
    }
    Ok(())
}

/// The effective uid.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// An epoll instance watching one fd, edge-triggered.
pub(crate) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// Watches each of `targets` for readability, edge-triggered.
    pub(crate) fn new(targets: &[RawFd]) -> io::Result<Epoll> {
        // SAFETY: plain syscall; the result is checked.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        for (i, &target) in targets.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLET) as u32,
                u64: i as u64,
            };
            // SAFETY: both fds are open and `ev` is valid for the call.
            let rc =
                unsafe { libc::epoll_ctl(fd.as_raw_fd(), libc::EPOLL_CTL_ADD, target, &mut ev) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Epoll { fd })
    }

    /// Waits up to `timeout` (rounded up to whole milliseconds, so that a wait shorter than one
    /// millisecond still sleeps instead of returning at once); true when the fd became readable.
    pub(crate) fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        let ms = timeout_ms(timeout);
        // SAFETY: `ev` is a valid buffer of one event.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), &mut ev, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(n > 0)
    }
}

/// `timeout` in whole milliseconds for `epoll_wait`, rounded up: truncating would turn the last
/// sub-millisecond of a wait into a busy loop of zero-timeout calls.
fn timeout_ms(timeout: Duration) -> i32 {
    timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
}

/// The reading side of a BPF ring buffer, mapped from the map's fd (the kernel's layout: a
/// read-write page with the consumer position, then a read-only page with the producer
/// position followed by the data pages, mapped twice in a row so that a record that wraps
/// around is contiguous).
///
/// Unlike a reader that publishes its position after every record, this one publishes it once
/// per batch (every sixteenth of the ring, and when it stops): the producers read the consumer
/// position on every reservation, and a position written for each record would move that cache
/// line between the cores for every event.
pub(crate) struct RingReader {
    consumer: *mut u8,
    producer: *mut u8,
    page: usize,
    size: usize,
    pos: u64,
    published: u64,
    /// The producer position last read.
    prod: u64,
    /// The record `peek` returned last, until consumed: time stamp, offset, length.
    head: Option<(u64, usize, usize)>,
}

const RINGBUF_BUSY: u32 = 1 << 31;
const RINGBUF_DISCARD: u32 = 1 << 30;
const RINGBUF_HDR: u64 = 8;

impl RingReader {
    /// Maps the ring buffer of `fd`, whose data area is `size` bytes (a power of two, a
    /// multiple of the page size: the map's `max_entries`).
    pub(crate) fn new(fd: RawFd, size: usize) -> io::Result<RingReader> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).map_err(|_| io::Error::other("page size"))?;
        if !size.is_power_of_two() || size < page {
            return Err(io::Error::other(format!("ring buffer size {size}")));
        }
        // SAFETY: a new shared mapping of the map's first page; the kernel checks fd and size.
        let consumer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if consumer == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above: the producer page and the data pages mapped twice, read-only.
        let producer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page + 2 * size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                page as libc::off_t,
            )
        };
        if producer == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            // SAFETY: `consumer` is the mapping made above, of `page` bytes.
            unsafe { libc::munmap(consumer, page) };
            return Err(e);
        }
        let mut r = RingReader {
            consumer: consumer.cast(),
            producer: producer.cast(),
            page,
            size,
            pos: 0,
            published: 0,
            prod: 0,
            head: None,
        };
        r.pos = r.consumer_pos().load(std::sync::atomic::Ordering::Acquire);
        r.published = r.pos;
        Ok(r)
    }

    fn consumer_pos(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: the first word of the consumer page, page-aligned, valid while mapped; the
        // kernel only reads it.
        unsafe { &*(self.consumer as *const std::sync::atomic::AtomicU64) }
    }

    fn producer_pos(&self) -> u64 {
        // SAFETY: the first word of the producer page, page-aligned, valid while mapped.
        let p = unsafe { &*(self.producer as *const std::sync::atomic::AtomicU64) };
        p.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The oldest committed record not yet consumed, with the time stamp of its header (the
    /// first 8 bytes of every record); `None` when the ring is empty or that record is still
    /// being written. Discarded records are skipped. The same record is returned until
    /// [`RingReader::advance`].
    pub(crate) fn peek(&mut self) -> Option<(u64, &[u8])> {
        if let Some((ts, off, len)) = self.head {
            // SAFETY: as below, for the record found by an earlier call and not yet consumed.
            let rec =
                unsafe { std::slice::from_raw_parts(self.producer.add(self.page + off + 8), len) };
            return Some((ts, rec));
        }
        let mask = (self.size - 1) as u64;
        loop {
            if self.pos >= self.prod {
                self.prod = self.producer_pos();
                if self.pos >= self.prod {
                    return None;
                }
            }
            let off = (self.pos & mask) as usize;
            // SAFETY: off + 8 <= size, inside the first copy of the data pages; the header is
            // 8-aligned (records are) and written by the kernel with a release xchg.
            let hdr = unsafe {
                let p = self.producer.add(self.page + off) as *const std::sync::atomic::AtomicU32;
                (*p).load(std::sync::atomic::Ordering::Acquire)
            };
            if hdr & RINGBUF_BUSY != 0 {
                return None;
            }
            let len = (hdr & !(RINGBUF_BUSY | RINGBUF_DISCARD)) as usize;
            if len > self.size {
                // Never written by the kernel; stop rather than read out of the mapping.
                return None;
            }
            if hdr & RINGBUF_DISCARD != 0 {
                self.step(len);
                continue;
            }
            // SAFETY: the record's bytes follow its header; off + 8 + len < 2 * size, inside
            // the double mapping, and the kernel does not reuse them before the consumer
            // position passes them.
            let rec =
                unsafe { std::slice::from_raw_parts(self.producer.add(self.page + off + 8), len) };
            let ts = rec
                .get(..8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
            self.head = Some((ts, off, len));
            return Some((ts, rec));
        }
    }

    /// Consumes the record [`RingReader::peek`] returned last.
    pub(crate) fn advance(&mut self) {
        if let Some((_, _, len)) = self.head.take() {
            self.step(len);
        }
    }

    fn step(&mut self, len: usize) {
        self.pos += (RINGBUF_HDR + len as u64).next_multiple_of(8);
        if self.pos - self.published >= (self.size / 16) as u64 {
            self.publish();
        }
    }

    /// Publishes the consumer position (the space before it goes back to the producers).
    pub(crate) fn publish(&mut self) {
        if self.published != self.pos {
            self.consumer_pos()
                .store(self.pos, std::sync::atomic::Ordering::Release);
            self.published = self.pos;
        }
    }
}

impl Drop for RingReader {
    fn drop(&mut self) {
        // SAFETY: the two mappings made in `new`, with their sizes.
        unsafe {
            libc::munmap(self.consumer.cast(), self.page);
            libc::munmap(self.producer.cast(), self.page + 2 * self.size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_consistent() {
        let off = boot_to_wall_offset();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let converted = boottime_ns() + off;
        // The conversion lands within a second of the wall clock (it is exact up to the reads).
        assert!(
            converted.abs_diff(wall) < 1_000_000_000,
            "{converted} vs {wall}"
        );
    }

    #[test]
    fn epoll_timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(timeout_ms(Duration::ZERO), 0);
        assert_eq!(timeout_ms(Duration::from_micros(1)), 1);
        assert_eq!(timeout_ms(Duration::from_micros(999)), 1);
        assert_eq!(timeout_ms(Duration::from_millis(20)), 20);
        assert_eq!(timeout_ms(Duration::from_micros(4_001)), 5);
        assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), i32::MAX);
    }
}
