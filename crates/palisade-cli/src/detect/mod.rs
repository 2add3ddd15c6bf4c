//! `palisade detect`: the eBPF sensor (or a capture) through the process/fd state and the
//! Falco-compatible rules, alerts to stdout, a file, syslog and HTTP.

pub(crate) mod load;

pub use load::{RuleArgs, load_rules};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use palisade_events::capture::CaptureReader;
use palisade_events::{Event, EventId, EventSet};
use palisade_rules::engine::RuleMatching;
use palisade_rules::output::{
    Format, HttpConfig, Metrics, MetricsServer, OutputReport, Outputs, RateLimit, Renderer,
    Rotation, SyslogFormat, SyslogSink,
};
use palisade_rules::state::{State, StateOptions};
use palisade_rules::{Engine, Priority, RuleSet};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const EXAMPLES: &str = "\
Examples:
  palisade detect                                   live, built-in rules, text alerts on stdout
  palisade detect -o json | jq .                    Falco's JSON alert schema, one object a line
  palisade detect -r /etc/falco/falco_rules.yaml -r my_rules.yaml
  palisade detect -r @default -r my_overrides.yaml  built-in rules plus your own
  palisade detect --replay events.cap               offline, from `palisade trace --capture`
  palisade detect -o json --http-url http://127.0.0.1:2801/ --spool-dir /var/spool/palisade
                                                    to Falcosidekick; alerts survive it being down
  palisade detect --output-file /var/log/palisade.json --output-file-max-size 50M -o json
  palisade detect --syslog --rate-limit 10/m --metrics-addr 127.0.0.1:9464
  palisade detect -t T1611 -T network -D 'Write below*'

Exit codes: 0 no alert, 1 alerts were raised, 2 usage, rule or sensor errors.
Statistics (events, alerts by rule and priority, drops, suppressed) go to stderr at exit
(SIGINT/SIGTERM end a live run cleanly).";

/// Alert format of stdout, the file and syslog (HTTP always carries JSON).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertFormat {
    /// `HH:MM:SS.nnnnnnnnn: Priority Output`, as Falco prints.
    Text,
    /// Falco's JSON alert object, one per line.
    Json,
}

/// Syslog message framing.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogFraming {
    /// RFC 3164 (`<PRI>Mmm dd hh:mm:ss palisade[pid]: ...`), what syslog(3) sends.
    Rfc3164,
    /// RFC 5424.
    Rfc5424,
}

/// Arguments of `palisade detect`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct DetectArgs {
    #[command(flatten)]
    rules: RuleArgs,

    /// Read events from a capture file instead of the live sensor.
    #[arg(long, value_name = "CAPTURE")]
    replay: Option<PathBuf>,

    /// Alert format on stdout, in the file and in syslog.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    output: AlertFormat,

    /// Do not write alerts to stdout (use with another output).
    #[arg(long)]
    no_stdout: bool,

    /// Also append alerts to this file.
    #[arg(long, value_name = "PATH")]
    output_file: Option<PathBuf>,

    /// Rotate the file before it grows beyond this size (bytes, or with K/M/G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "output_file")]
    output_file_max_size: Option<u64>,

    /// Rotated files kept (FILE.1 ... FILE.N).
    #[arg(long, value_name = "N", default_value_t = 5, requires = "output_file")]
    output_file_keep: u32,

    /// Also send alerts to syslog (default socket /dev/log).
    #[arg(long, value_name = "SOCKET", num_args = 0..=1, default_missing_value = "/dev/log")]
    syslog: Option<PathBuf>,

    /// Syslog message format.
    #[arg(long, value_enum, default_value = "rfc3164", requires = "syslog")]
    syslog_format: SyslogFraming,

    /// Also POST every alert (Falco JSON) to this http:// URL, with retries.
    #[arg(long, value_name = "URL")]
    http_url: Option<String>,

    /// Keep alerts for the HTTP output on disk here until delivered (survives restarts).
    #[arg(long, value_name = "DIR", requires = "http_url")]
    spool_dir: Option<PathBuf>,

    /// At most this many alerts per rule (COUNT/s|m|h[:BURST], e.g. 10/s or 100/m:20); the
    /// rest are counted as suppressed.
    #[arg(long, value_name = "RATE")]
    rate_limit: Option<RateLimit>,

    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<String>,

    /// Report every matching rule for an event (Falco's rule_matching: all), not only the first.
    #[arg(long)]
    all_matches: bool,

    /// Do not append the container and pod fields (container_id=... k8s_ns_name=...) to every
    /// alert (Falco's `append_output: [suggested_output: true]`, on by default).
    #[arg(long)]
    no_suggested_output: bool,

    /// Print the text form's time in UTC instead of local time.
    #[arg(long)]
    utc: bool,

    /// Stop a live run after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("bad size '{s}': expected bytes, or a number with K, M or G"))
}

/// Events the state needs to stay current, whatever the rules use.
const STATE_EVENTS: &[&str] = &[
    "execve",
    "execveat",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "socket",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "dup",
    "dup2",
    "dup3",
    "chdir",
    "fchdir",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setsid",
    "setpgid",
    "capset",
    "memfd_create",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
];

/// The event ids a live run asks the sensor for: the state's, the rules' and the process
/// events. `None` when a rule matches every event type (then the sensor's default set).
fn wanted_events(rules: &RuleSet) -> Option<BTreeSet<EventId>> {
    let mut set: BTreeSet<EventId> = [
        EventId::SCHED_PROCESS_FORK,
        EventId::SCHED_PROCESS_EXEC,
        EventId::SCHED_PROCESS_EXIT,
    ]
    .into_iter()
    .collect();
    set.extend(STATE_EVENTS.iter().filter_map(|n| EventId::from_name(n)));
    for r in rules.rules().iter().filter(|r| r.enabled && !r.skipped) {
        match &r.event_types {
            None => return None,
            Some(types) => {
                for t in types {
                    let id = match t.as_str() {
                        "procexit" => Some(EventId::SCHED_PROCESS_EXIT),
                        name => EventId::from_name(name),
                    };
                    set.extend(id);
                }
            }
        }
    }
    Some(set)
}

/// Host name for alerts: the capture's, else the kernel's.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn build_outputs(a: &DetectArgs, metrics: Arc<Metrics>) -> anyhow::Result<Outputs> {
    let format = match a.output {
        AlertFormat::Text => Format::Text,
        AlertFormat::Json => Format::Json,
    };
    let renderer = if a.utc {
        Renderer::utc()
    } else {
        Renderer::local()
    };
    let mut out = Outputs::new(format, renderer, metrics);
    if !a.no_stdout {
        out.add_stdout();
    }
    if let Some(p) = &a.output_file {
        out.add_file(
            p,
            Rotation {
                max_bytes: a.output_file_max_size.unwrap_or(0),
                keep: a.output_file_keep,
            },
        )?;
    }
    if let Some(sock) = &a.syslog {
        let framing = match a.syslog_format {
            SyslogFraming::Rfc3164 => SyslogFormat::Rfc3164,
            SyslogFraming::Rfc5424 => SyslogFormat::Rfc5424,
        };
        out.add_syslog(SyslogSink::new(sock, framing, &hostname())?);
    }
    if let Some(url) = &a.http_url {
        let mut cfg = HttpConfig::new(url);
        cfg.spool_dir = a.spool_dir.clone();
        out.add_http(cfg)?;
    }
    if out.is_empty() {
        bail!("no output left: --no-stdout needs --output-file, --syslog or --http-url");
    }
    if let Some(r) = a.rate_limit {
        out.set_rate_limit(r);
    }
    Ok(out)
}

/// What one run saw, for the statistics.
#[derive(Default)]
struct RunStats {
    events: u64,
    dropped: u64,
    /// Sensor counters: seen, delivered, delivered with a string argument cut.
    seen: Option<(u64, u64, u64)>,
    seeded: Option<usize>,
    capture_error: Option<String>,
}

fn print_stats(rules: &Engine, run: &RunStats, report: &OutputReport, elapsed: Duration) {
    let mut e = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        e,
        "palisade detect: {} events in {:.1}s, {} alerts, {} suppressed, {} dropped by the sensor",
        run.events,
        elapsed.as_secs_f64(),
        report.sent(),
        report.suppressed_total(),
        run.dropped
    );
    if let Some(n) = run.seeded {
        let _ = writeln!(e, "  state seeded with {n} processes from /proc");
    }
    if let Some((seen, delivered, truncated)) = run.seen {
        let _ = writeln!(
            e,
            "  sensor: {seen} seen, {delivered} delivered, {truncated} with a string argument cut"
        );
    }
    let _ = writeln!(
        e,
        "  rules: {} active of {} loaded",
        rules.rules().active_count(),
        rules.rules().rules().len()
    );
    for p in Priority::ALL {
        if let Some(n) = report.by_priority.get(&p) {
            let _ = writeln!(e, "  {:<13} {n}", p.as_str());
        }
    }
    for (rule, n) in &report.by_rule {
        let _ = writeln!(e, "  {n:>8}  {rule}");
    }
    for (rule, n) in &report.suppressed {
        let _ = writeln!(e, "  {n:>8}  {rule} (suppressed by --rate-limit)");
    }
    for (out, (n, last)) in &report.errors {
        let _ = writeln!(e, "  output {out}: {n} failed writes (last: {last})");
    }
    if let Some(h) = &report.http {
        let _ = writeln!(
            e,
            "  http: {} delivered, {} refused, {} failed attempts, {} left in the spool, {} lost{}",
            h.delivered,
            h.rejected,
            h.failed_attempts,
            h.spooled,
            h.lost,
            h.last_error
                .as_deref()
                .map(|m| format!(" (last error: {m})"))
                .unwrap_or_default()
        );
    }
    if let Some(c) = &run.capture_error {
        let _ = writeln!(e, "  capture: {c}");
    }
    eprint!("{e}");
}

/// Run `palisade detect`.
pub fn run(a: &DetectArgs) -> anyhow::Result<ExitCode> {
    let loaded = load_rules(&a.rules)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let metrics = Metrics::new();
    let _server = match &a.metrics_addr {
        Some(addr) => {
            let srv = MetricsServer::start(addr, metrics.clone())?;
            eprintln!(
                "palisade detect: metrics on http://{}/metrics",
                srv.local_addr()
            );
            Some(srv)
        }
        None => None,
    };
    let mut engine = Engine::new(loaded.ruleset);
    if a.all_matches {
        engine.set_rule_matching(RuleMatching::All);
    }
    engine.set_suggested_output(!a.no_suggested_output);
    let mut outputs = build_outputs(a, metrics.clone())?;
    let started = Instant::now();
    let run = match &a.replay {
        Some(path) => replay(path, &mut engine, &mut outputs)?,
        None => live(a, &mut engine, &mut outputs)?,
    };
    let report = outputs.close();
    print_stats(&engine, &run, &report, started.elapsed());
    if run.capture_error.is_some() {
        return Ok(ExitCode::from(2));
    }
    Ok(if report.sent() + report.suppressed_total() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn handle(ev: &Event, state: &mut State, engine: &mut Engine, outputs: &mut Outputs) {
    state.apply(ev);
    engine.process(ev, state, &mut |alert| {
        outputs.emit(&alert);
    });
    state.finish(ev);
}

fn replay(path: &Path, engine: &mut Engine, outputs: &mut Outputs) -> anyhow::Result<RunStats> {
    let mut reader = CaptureReader::open(path)?;
    let host = reader.header().hostname.clone();
    engine.set_hostname(if host.is_empty() { hostname() } else { host });
    // Nothing of the running host is read: the capture is the truth.
    let mut state = State::new(StateOptions::isolated());
    let mut run = RunStats::default();
    while let Some(ev) = reader.next_event() {
        match ev {
            Ok(ev) => {
                run.events += 1;
                handle(&ev, &mut state, engine, outputs);
            }
            Err(e) => {
                run.capture_error = Some(e.to_string());
                break;
            }
        }
    }
    outputs.metrics().add_events(run.events);
    if let Some(e) = &run.capture_error {
        eprintln!("palisade: error: {e} (events before it were evaluated)");
    }
    Ok(run)
}

fn live(a: &DetectArgs, engine: &mut Engine, outputs: &mut Outputs) -> anyhow::Result<RunStats> {
    use palisade_sensor::{KernelFilter, Sensor, SensorConfig};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let mut run = RunStats::default();
    let mut state = State::new(StateOptions::live());
    let seeded = state
        .seed_from_proc(Path::new("/proc"))
        .context("seeding the process table from /proc")?;
    run.seeded = Some(seeded.processes);
    let mut filter = KernelFilter {
        events: wanted_events(engine.rules()).unwrap_or_default(),
        ..KernelFilter::default()
    };
    if filter.events.is_empty() {
        filter.events = palisade_events::catalog::catalog()
            .iter()
            .filter(|d| d.in_set(EventSet::Default))
            .map(|d| d.id)
            .collect();
    }
    // Our own activity (writing alerts, reading /proc) is not watched.
    filter.not_pids.insert(std::process::id());
    // `fd.sip.name = kubernetes.default.svc.cluster.local` and the like: resolved now and every
    // minute, as Falco's DNS manager does.
    engine.set_dns_resolution(Some(Duration::from_secs(60)));
    let mut sensor = Sensor::start(SensorConfig {
        filter,
        ring_bytes: 0,
    })
    .context("starting the eBPF sensor (palisade detect needs root)")?;
    eprintln!(
        "palisade detect: watching ({} rules active); Ctrl-C to stop",
        engine.rules().active_count()
    );
    let deadline = a
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let metrics = outputs.metrics().clone();
    while !stop.load(Ordering::Relaxed) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let mut n = 0u64;
        sensor.poll_ref(Duration::from_millis(100), &mut |ev| {
            n += 1;
            handle(ev, &mut state, engine, outputs);
        })?;
        run.events += n;
        metrics.add_events(n);
        let st = sensor.stats();
        metrics.set_dropped(st.lost);
        run.dropped = st.lost;
        run.seen = Some((st.seen, st.delivered, st.truncated));
    }
    Ok(run)
}
