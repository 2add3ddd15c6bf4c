//! `palisade trace`: system calls and process events from the eBPF sensor (or a capture), with
//! Tracee's filter flags of every version, as a table or JSON lines, optionally captured to a
//! file.

mod format;
mod kernel;
mod procfs;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use palisade_events::Event;
use palisade_events::capture::{CaptureHeader, CaptureReader, CaptureWriter};
use palisade_events::catalog::{EventSet, catalog};
use palisade_events::filter::{Filter, Flag, ProcessTree};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const EXAMPLES: &str = "\
Filters (Tracee syntax; every spelling since tracee-ebpf v0.6 is accepted):
  palisade trace                                  the default event set, every process
  palisade trace -t pid=new                       only processes started from now on
  palisade trace -t container=new                 only containers started from now on
  palisade trace -t container -o json             events in containers, JSON lines
  palisade trace -t '!container'                  events on the host only
  palisade trace -t 'uid>0' -t uid!=1000          ANDed across flags
  palisade trace -t comm=bash -t follow           bash and everything it starts
  palisade trace -t event=execve,open             some events
  palisade trace -t s=fs -t e!=open,openat        a set minus some events
  palisade trace -t 'openat.pathname=/tmp*'       argument filter (prefix; *suffix; *contains*)
  palisade trace -t close.fd=5 -t 'openat.retval<0'
  palisade trace --filter 'openat.args.pathname=/etc/*'          (Tracee v0.12-v0.16)
  palisade trace --scope comm=ls --events 'open*,-openat2'        (Tracee v0.17+)
  palisade trace --events 'openat.data.pathname=/etc/shadow' --events tag=net
  palisade trace --events openat.scope.processName=cat

Keys: pid/p, uid/u, mntns, pidns (= != < > <= >=), tree (= !=), comm, uts, container/c,
executable (= != with foo* / *foo / *foo*), container, !container, not-container, pid=new,
container=new, follow; event/e, set/s/tag, <event>.<arg>, <event>.args.<arg>,
<event>.data.<arg>, <event>.retval, <event>.context.<field>, <event>.scope.<field>.
Values with = are ORed (comma lists, repeated flags); other operators and different keys AND.

Capture and replay:
  palisade trace --capture run.cap -t container   write what is shown to a file as well
  palisade trace --replay run.cap -t comm=sh      read a capture back (filters apply)
  palisade trace --list                           every event with its sets and arguments

Statistics (seen, filtered, delivered, lost, truncated) go to standard error on exit (Ctrl-C, SIGTERM)
and on SIGUSR1. Live tracing needs root (or CAP_BPF and CAP_PERFMON).";

/// Output format of `palisade trace`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// A table for people: time, uts, uid, comm, pid/tid, ret, event, args.
    Table,
    /// One JSON object per line, Tracee v0.24 `trace.Event` shape (TRACE-SCHEMA.md).
    Json,
}

/// Arguments of `palisade trace`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct TraceArgs {
    /// Filter expression, Tracee <= v0.11 syntax (repeatable; ANDed).
    #[arg(short = 't', long = "trace", value_name = "EXPR")]
    pub trace: Vec<String>,
    /// Filter expression, Tracee v0.12-v0.16 spelling of --trace (repeatable).
    #[arg(long = "filter", value_name = "EXPR")]
    pub filter: Vec<String>,
    /// Process scope, Tracee v0.17+ (repeatable; ANDed).
    #[arg(long = "scope", value_name = "EXPR")]
    pub scope: Vec<String>,
    /// Events, sets/tags and event filters, Tracee v0.17+ (repeatable; additive).
    #[arg(short = 'e', long = "events", value_name = "EVENTS")]
    pub events: Vec<String>,
    /// Print every event with its sets and argument names, and exit.
    #[arg(long)]
    pub list: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = TraceFormat::Table)]
    pub output: TraceFormat,
    /// Also write the events shown to this capture file.
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
    /// Read events from a capture file instead of the kernel.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// Counters printed on exit and on SIGUSR1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counters {
    /// Events the kernel saw (or the capture held).
    seen: u64,
    /// Dropped by the kernel-side filter.
    kernel_filtered: u64,
    /// Dropped by the user-space filter.
    user_filtered: u64,
    /// Dropped by the sensor's decoder (the container filter, for cgroups the kernel could not
    /// classify): user space too.
    decoder_filtered: u64,
    /// Written out.
    delivered: u64,
    /// Lost in the kernel (ring buffer full).
    lost: u64,
    /// Delivered with a string argument cut at the sensor's limits.
    truncated: u64,
}

impl Counters {
    fn line(&self) -> String {
        format!(
            "palisade trace: seen {}, filtered {} (kernel {}, user space {}), delivered {}, lost {}, truncated {}",
            self.seen,
            self.kernel_filtered + self.user_filtered + self.decoder_filtered,
            self.kernel_filtered,
            self.user_filtered + self.decoder_filtered,
            self.delivered,
            self.lost,
            self.truncated
        )
    }
}

/// Parse every filter flag into one filter.
fn build_filter(a: &TraceArgs) -> Result<Filter, palisade_events::filter::FilterError> {
    let flags = a
        .trace
        .iter()
        .map(|v| (Flag::Trace, v.as_str()))
        .chain(a.filter.iter().map(|v| (Flag::Filter, v.as_str())))
        .chain(a.scope.iter().map(|v| (Flag::Scope, v.as_str())))
        .chain(a.events.iter().map(|v| (Flag::Events, v.as_str())));
    Filter::parse(flags)
}

/// Run `palisade trace`.
pub fn run(a: &TraceArgs) -> anyhow::Result<ExitCode> {
    if a.list {
        list(a.output, &mut io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    let filter = build_filter(a)?;
    let stdout = io::stdout();
    let mut out = Output::new(a.output, BufWriter::new(stdout.lock()));
    let mut capture = match &a.capture {
        Some(path) => Some(open_capture(path)?),
        None => None,
    };
    let signals = Signals::register()?;
    let counters = match &a.replay {
        Some(path) => replay(path, &filter, &mut out, &mut capture)?,
        None => live(&filter, &mut out, &mut capture, &signals)?,
    };
    out.flush()?;
    if let Some(c) = capture {
        c.finish().context("finishing the capture")?;
    }
    eprintln!("{}", counters.line());
    Ok(ExitCode::SUCCESS)
}

fn open_capture(path: &Path) -> anyhow::Result<CaptureWriter<std::fs::File>> {
    let header = CaptureHeader {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    CaptureWriter::create(path, &header).with_context(|| format!("creating {}", path.display()))
}

/// Where events go: the table or JSON lines.
struct Output<W: Write> {
    format: TraceFormat,
    w: W,
    header_done: bool,
}

impl<W: Write> Output<W> {
    fn new(format: TraceFormat, w: W) -> Self {
        Output {
            format,
            w,
            header_done: false,
        }
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match self.format {
            TraceFormat::Table => {
                if !self.header_done {
                    writeln!(self.w, "{}", format::TABLE_HEADER)?;
                    self.header_done = true;
                }
                writeln!(self.w, "{}", format::table_row(ev))
            }
            TraceFormat::Json => {
                serde_json::to_writer(&mut self.w, &format::event_json(ev))?;
                self.w.write_all(b"\n")
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.format == TraceFormat::Table && !self.header_done {
            writeln!(self.w, "{}", format::TABLE_HEADER)?;
            self.header_done = true;
        }
        self.w.flush()
    }
}

/// One event through the tree, the filter, the output and the capture.
fn handle<W: Write>(
    ev: &Event,
    filter: &Filter,
    tree: &mut ProcessTree,
    out: &mut Output<W>,
    capture: &mut Option<CaptureWriter<std::fs::File>>,
    c: &mut Counters,
) -> anyhow::Result<()> {
    tree.observe(ev);
    if !filter.matches(ev, tree) {
        c.user_filtered += 1;
        return Ok(());
    }
    out.event(ev)?;
    if let Some(w) = capture {
        w.write(ev).context("writing the capture")?;
    }
    c.delivered += 1;
    Ok(())
}

fn replay<W: Write>(
    path: &Path,
    filter: &Filter,
    out: &mut Output<W>,
    capture: &mut Option<CaptureWriter<std::fs::File>>,
) -> anyhow::Result<Counters> {
    let reader = CaptureReader::open(path)?;
    let mut tree = ProcessTree::new();
    let mut c = Counters::default();
    for ev in reader {
        let ev = ev?;
        c.seen += 1;
        handle(&ev, filter, &mut tree, out, capture, &mut c)?;
    }
    Ok(c)
}

/// SIGINT/SIGTERM end the trace; SIGUSR1 prints statistics.
struct Signals {
    stop: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> anyhow::Result<Signals> {
        let stop = Arc::new(AtomicBool::new(false));
        let usr1 = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop))
                .context("installing a signal handler")?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&usr1))
            .context("installing a signal handler")?;
        Ok(Signals { stop, usr1 })
    }
}

/// What live tracing lacks, if anything: root, or CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN).
fn missing_privilege() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|r| r.trim().to_owned())
    };
    let euid: u32 = field("Uid:")?.split_whitespace().nth(1)?.parse().ok()?;
    let caps = u64::from_str_radix(&field("CapEff:")?, 16).ok()?;
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    if euid == 0 || caps & CAP_SYS_ADMIN != 0 || (caps & CAP_BPF != 0 && caps & CAP_PERFMON != 0) {
        return None;
    }
    let mut lacking = Vec::new();
    if caps & CAP_BPF == 0 {
        lacking.push("CAP_BPF");
    }
    if caps & CAP_PERFMON == 0 {
        lacking.push("CAP_PERFMON");
    }
    Some(format!(
        "palisade trace needs root (or CAP_BPF and CAP_PERFMON) to load its eBPF programs; running as uid {euid} without {} (try sudo, or --replay FILE)",
        lacking.join(" and ")
    ))
}

fn live<W: Write>(
    filter: &Filter,
    out: &mut Output<W>,
    capture: &mut Option<CaptureWriter<std::fs::File>>,
    signals: &Signals,
) -> anyhow::Result<Counters> {
    if let Some(msg) = missing_privilege() {
        bail!(msg);
    }
    let mut tree = procfs::snapshot(Path::new("/proc"));
    let cfg = palisade_sensor::SensorConfig {
        filter: kernel::kernel_filter(filter.kernel_plan()),
        ring_bytes: 0,
    };
    let mut sensor = palisade_sensor::Sensor::start(cfg).context("starting the eBPF sensor")?;
    // Which hook the system calls are on, and what the start-up probe found the kernel allows.
    let entries = match sensor.entry_calls() {
        Some(calls) => format!(" (entries on the {} calls' own tracepoints)", calls.len()),
        None => String::new(),
    };
    eprintln!(
        "palisade trace: system calls hooked with {}{entries}; kernel probe: {}",
        sensor.hook(),
        sensor
            .hooks_allowed()
            .map_or_else(|| "not run".to_string(), |s| s.to_string())
    );
    let mut c = Counters::default();
    // Ready: tests and scripts wait for this line before acting.
    eprintln!("palisade trace: tracing {} events", filter.events.len());
    loop {
        let stop = signals.stop.load(Ordering::Relaxed);
        let mut failure = None;
        sensor.poll_ref(
            if stop {
                Duration::ZERO
            } else {
                Duration::from_millis(100)
            },
            &mut |ev| {
                if failure.is_none()
                    && let Err(e) = handle(ev, filter, &mut tree, out, capture, &mut c)
                {
                    failure = Some(e);
                }
            },
        )?;
        if let Some(e) = failure {
            return Err(e);
        }
        out.w.flush()?;
        let s = sensor.stats();
        c.seen = s.seen;
        c.kernel_filtered = s.filtered - s.user_filtered;
        c.decoder_filtered = s.user_filtered;
        c.lost = s.lost;
        c.truncated = s.truncated;
        if signals.usr1.swap(false, Ordering::Relaxed) {
            eprintln!("{}", c.line());
        }
        if stop {
            return Ok(c);
        }
    }
}

/// `--list`: every event with its sets and arguments.
fn list(format: TraceFormat, w: &mut impl Write) -> anyhow::Result<()> {
    match format {
        TraceFormat::Json => {
            let items: Vec<serde_json::Value> = catalog()
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "name": d.name,
                        "id": d.id.0,
                        "sets": d.set_list().map(EventSet::name).collect::<Vec<_>>(),
                        "args": d.args.iter().map(|a| serde_json::json!({"name": a.name, "type": format::arg_type(a.kind)})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *w, &items)?;
            writeln!(w)?;
        }
        TraceFormat::Table => {
            writeln!(w, "{:<24} {:<5} {:<44} ARGS", "EVENT", "ID", "SETS")?;
            for d in catalog() {
                let sets: Vec<&str> = d.set_list().map(EventSet::name).collect();
                let args: Vec<String> = d
                    .args
                    .iter()
                    .map(|a| format!("{} {}", format::arg_type(a.kind), a.name))
                    .collect();
                writeln!(
                    w,
                    "{:<24} {:<5} {:<44} {}",
                    d.name,
                    d.id.0,
                    sets.join(","),
                    args.join(", ")
                )?;
            }
            writeln!(w)?;
            writeln!(w, "Sets:")?;
            for s in EventSet::ALL {
                let n = catalog().iter().filter(|d| d.in_set(s)).count();
                writeln!(w, "  {:<14} {n} events", s.name())?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shows_every_event_with_sets_and_args() {
        let mut buf = Vec::new();
        list(TraceFormat::Table, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let openat = text.lines().find(|l| l.starts_with("openat ")).unwrap();
        assert!(
            openat.contains("fs") && openat.contains("const char* pathname"),
            "{openat}"
        );
        assert!(text.lines().count() > catalog().len());
        let mut buf = Vec::new();
        list(TraceFormat::Json, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v.as_array().unwrap().len(), catalog().len());
        let connect = v
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "connect")
            .unwrap();
        assert_eq!(connect["args"][1]["name"], "addr");
    }

    #[test]
    fn counters_line() {
        let c = Counters {
            seen: 10,
            kernel_filtered: 3,
            user_filtered: 1,
            decoder_filtered: 1,
            delivered: 5,
            lost: 0,
            truncated: 1,
        };
        assert_eq!(
            c.line(),
            "palisade trace: seen 10, filtered 5 (kernel 3, user space 2), delivered 5, lost 0, truncated 1"
        );
    }
}
