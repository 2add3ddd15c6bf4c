//! A stable-toolchain fuzzer for every target of [`palisade_fuzz::targets::TARGETS`], for
//! machines where cargo-fuzz (libFuzzer, nightly-only sanitizer flags) cannot run.
//!
//! It reads seed inputs, mutates them with a small xorshift generator (byte flips, the target's
//! tokens, splices, line moves, truncation, extreme integers), and feeds each result to the
//! target. Inputs whose outcome signature (what the target returns: objects, diagnostics, error
//! kinds...) is new join the pool, a cheap substitute for coverage feedback. A panic is caught,
//! its input saved to the regressions directory as `TARGET-panic-HASH`, and the run continues;
//! an input that runs longer than the hang limit is saved as `TARGET-hang-HASH` and the process
//! exits with status 3.
//!
//! ```text
//! mutate [--target NAME] [--seconds N] [--iterations N] [--seed N] [--out DIR] [--max-flow-depth N] SEED_PATH...
//! mutate [--target NAME] --replay FILE...
//! mutate --list
//! mutate --write-capture-seeds DIR
//! ```
//! `--target` defaults to `load`.
//! `--max-flow-depth N` (or `PALISADE_FUZZ_MAX_FLOW_DEPTH=N`) skips generated inputs nested
//! deeper than N flow collections, to fuzz past a known deep-nesting problem.
//! Exit status: 0 no problem found, 1 panics found, 2 usage error, 3 hang.

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Inputs larger than this are not generated (the loader's own limits are far above it).
const MAX_LEN: usize = 64 * 1024;
/// Pool size limit; once reached, new interesting inputs replace random old ones.
const MAX_POOL: usize = 4096;
/// A single input running longer than this counts as a hang.
const HANG_LIMIT: Duration = Duration::from_secs(10);

/// xorshift64*: small, fast, deterministic for a seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn random_range(rng: &mut Rng, len: usize) -> (usize, usize) {
    if len == 0 {
        return (0, 0);
    }
    let start = rng.below(len);
    let max = (len - start).min(256);
    (start, start + 1 + rng.below(max))
}

/// Byte offsets of line starts.
fn line_starts(data: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(
        data.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    v
}

/// Applies one to four random mutations to `data`, possibly splicing from `other`; `text`
/// inputs get line and nesting mutations, binary ones integer overwrites.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], tokens: &[&[u8]], text: bool) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        let pick = rng.below(12);
        if !text && (8..=10).contains(&pick) {
            // Overwrite 1, 2, 4 or 8 bytes with a boundary integer (little-endian).
            if len > 0 {
                let vals: [u64; 8] = [
                    0,
                    1,
                    0x7f,
                    0xff,
                    0x7fff_ffff,
                    0xffff_ffff,
                    u64::MAX,
                    1 << 63,
                ];
                let v = vals[rng.below(vals.len())].to_le_bytes();
                let w = [1usize, 2, 4, 8][rng.below(4)];
                let at = rng.below(len);
                let end = (at + w).min(len);
                data[at..end].copy_from_slice(&v[..end - at]);
            }
            continue;
        }
        match pick {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                const BYTES: &[u8] = b" \n\t:-{}[],&*!|>\"'#?%@`0";
                data[i] = BYTES[rng.below(BYTES.len())];
            }
            2 | 3 => {
                let tok = tokens[rng.below(tokens.len())];
                let at = if len == 0 { 0 } else { rng.below(len + 1) };
                data.splice(at..at, tok.iter().copied());
            }
            4 if len > 0 => {
                let (a, b) = random_range(rng, len);
                data.drain(a..b);
            }
            5 if len > 0 => {
                let (a, b) = random_range(rng, len);
                let chunk = data[a..b].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            6 if !other.is_empty() => {
                let (a, b) = random_range(rng, other.len());
                let at = rng.below(len + 1);
                data.splice(at..at, other[a..b].iter().copied());
            }
            7 if len > 0 => data.truncate(rng.below(len)),
            8 => {
                // Move a line elsewhere (changes nesting and document boundaries).
                let starts = line_starts(data);
                if starts.len() > 1 {
                    let i = rng.below(starts.len() - 1);
                    let line = data[starts[i]..starts[i + 1]].to_vec();
                    data.drain(starts[i]..starts[i + 1]);
                    let starts = line_starts(data);
                    let at = starts[rng.below(starts.len())];
                    data.splice(at..at, line);
                }
            }
            9 => {
                // Indent or dedent a line by two spaces.
                let starts = line_starts(data);
                let at = starts[rng.below(starts.len())];
                if data.get(at..at + 2) == Some(b"  ") && rng.chance(2) {
                    data.drain(at..at + 2);
                } else {
                    data.splice(at..at, *b"  ");
                }
            }
            10 => {
                // Deep nesting, to probe depth limits.
                let depth = 1 + rng.below(200);
                let (open, close) = if rng.chance(2) {
                    (b'[', b']')
                } else {
                    (b'{', b'}')
                };
                let at = rng.below(len + 1);
                let mut chunk = vec![open; depth];
                chunk.extend(std::iter::repeat_n(close, depth));
                data.splice(at..at, chunk);
            }
            _ if len > 0 => {
                // Replace a number-like byte run with an extreme number.
                let i = rng.below(len);
                let n = ["0", "-1", "2147483648", "99999999999999999999", "1.5", "-0"];
                let tok = n[rng.below(n.len())].as_bytes();
                let end = (i..len).find(|&j| !data[j].is_ascii_digit()).unwrap_or(len);
                data.splice(i..end.max(i), tok.iter().copied());
            }
            _ => {}
        }
    }
    data.truncate(MAX_LEN);
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn read_seeds(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files);
    }
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter(|d| d.len() <= MAX_LEN)
        .collect()
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                collect(&e.path(), out);
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

struct Args {
    target: &'static palisade_fuzz::targets::Target,
    seconds: Option<u64>,
    iterations: Option<u64>,
    seed: u64,
    out: PathBuf,
    replay: bool,
    max_flow_depth: usize,
    paths: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: &palisade_fuzz::targets::TARGETS[0],
        seconds: None,
        iterations: None,
        seed: 0,
        out: PathBuf::from("fuzz/regressions"),
        replay: false,
        max_flow_depth: palisade_fuzz::max_flow_depth_from_env(),
        paths: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => a.seconds = Some(num("--seconds")?),
            "--iterations" => a.iterations = Some(num("--iterations")?),
            "--seed" => a.seed = num("--seed")?,
            "--out" => {
                a.out = it
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--out needs a directory")?
            }
            "--replay" => a.replay = true,
            "--target" => {
                let name = it.next().ok_or("--target needs a name")?;
                a.target = palisade_fuzz::targets::find(&name).ok_or_else(|| {
                    format!("unknown target {name:?} (mutate --list shows the targets)")
                })?;
            }
            "--list" => {
                for t in palisade_fuzz::targets::TARGETS {
                    println!("{:<18} {}", t.name, t.about);
                }
                std::process::exit(0);
            }
            "--write-capture-seeds" => {
                let dir =
                    PathBuf::from(it.next().ok_or("--write-capture-seeds needs a directory")?);
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                for (name, bytes) in palisade_fuzz::capture_seeds() {
                    let p = dir.join(name);
                    std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
                    println!("wrote {}", p.display());
                }
                std::process::exit(0);
            }
            "--max-flow-depth" => a.max_flow_depth = num("--max-flow-depth")? as usize,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => a.paths.push(PathBuf::from(arg)),
        }
    }
    if a.paths.is_empty() {
        return Err("no seed paths given".into());
    }
    if a.seed == 0 {
        a.seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "mutate: {e}\nusage: mutate [--target NAME] [--seconds N] [--iterations N] [--seed N] [--out DIR] [--max-flow-depth N] SEED_PATH...\n       mutate [--target NAME] --replay FILE...\n       mutate --list\n       mutate --write-capture-seeds DIR"
            );
            std::process::exit(2);
        }
    };

    // Panics are expected data here: record the message instead of printing each one.
    let last_panic: Arc<Mutex<String>> = Arc::default();
    {
        let last_panic = Arc::clone(&last_panic);
        panic::set_hook(Box::new(move |info| {
            if let Ok(mut m) = last_panic.lock() {
                *m = info.to_string();
            }
        }));
    }

    let target = args.target;
    let run = target.run;
    let ext = target.ext;
    if args.replay {
        let mut failed = 0;
        for p in &args.paths {
            let data = std::fs::read(p).unwrap_or_default();
            match panic::catch_unwind(|| run(&data)) {
                Ok(_) => println!("ok     {}", p.display()),
                Err(_) => {
                    failed += 1;
                    let msg = last_panic.lock().map(|m| m.clone()).unwrap_or_default();
                    println!("PANIC  {}: {msg}", p.display());
                }
            }
        }
        std::process::exit(i32::from(failed > 0));
    }

    let mut pool = read_seeds(&args.paths);
    if pool.is_empty() {
        eprintln!("mutate: no readable seed files under the given paths");
        std::process::exit(2);
    }
    let mut rng = Rng::new(args.seed);
    let mut seen = HashSet::new();
    for s in &pool {
        if let Ok(Some(o)) = panic::catch_unwind(|| run(s)) {
            seen.insert(o);
        }
    }
    println!(
        "mutate: target {}, seed {}, {} seed inputs, {} distinct outcomes; running for {}",
        target.name,
        args.seed,
        pool.len(),
        seen.len(),
        match (args.seconds, args.iterations) {
            (Some(s), _) => format!("{s} s"),
            (None, Some(n)) => format!("{n} iterations"),
            (None, None) => "60 s".into(),
        }
    );
    let deadline = Instant::now() + Duration::from_secs(args.seconds.unwrap_or(60));
    let max_iter = args.iterations.unwrap_or(u64::MAX);

    // Watchdog: the main thread stores the start time of the current input (ms since start)
    // and the input itself; a stuck input is written out before the process is stopped.
    let started = Instant::now();
    let current_start = Arc::new(AtomicU64::new(u64::MAX));
    let current_input: Arc<Mutex<Vec<u8>>> = Arc::default();
    {
        let current_start = Arc::clone(&current_start);
        let current_input = Arc::clone(&current_input);
        let out = args.out.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let s = current_start.load(Ordering::Relaxed);
                let now = started.elapsed().as_millis() as u64;
                if s != u64::MAX && now.saturating_sub(s) > HANG_LIMIT.as_millis() as u64 {
                    let data = current_input.lock().map(|d| d.clone()).unwrap_or_default();
                    let _ = std::fs::create_dir_all(&out);
                    let path = out.join(format!("{}-hang-{:016x}.{ext}", target.name, fnv(&data)));
                    let _ = std::fs::write(&path, &data);
                    eprintln!(
                        "mutate: input ran over {HANG_LIMIT:?}; saved {}",
                        path.display()
                    );
                    std::process::exit(3);
                }
            }
        });
    }

    let mut iterations = 0u64;
    let mut panics = 0u64;
    let mut crash_hashes = HashSet::new();
    let mut slowest = Duration::ZERO;
    let mut skipped = 0u64;
    while iterations < max_iter && Instant::now() < deadline {
        let a = rng.below(pool.len());
        let b = rng.below(pool.len());
        let mut data = pool[a].clone();
        mutate(&mut rng, &mut data, &pool[b], target.tokens, target.text);
        if args.max_flow_depth > 0 && palisade_fuzz::flow_depth(&data) > args.max_flow_depth {
            skipped += 1;
            continue;
        }
        if let Ok(mut cur) = current_input.lock() {
            cur.clone_from(&data);
        }
        let t0 = Instant::now();
        current_start.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let result = panic::catch_unwind(AssertUnwindSafe(|| run(&data)));
        current_start.store(u64::MAX, Ordering::Relaxed);
        slowest = slowest.max(t0.elapsed());
        iterations += 1;
        match result {
            Ok(Some(outcome)) => {
                if seen.insert(outcome) {
                    if pool.len() < MAX_POOL {
                        pool.push(data);
                    } else {
                        let i = rng.below(pool.len());
                        pool[i] = data;
                    }
                }
            }
            Ok(None) => {}
            Err(_) => {
                let msg = last_panic.lock().map(|m| m.clone()).unwrap_or_default();
                // One file per distinct panic location, so a run does not flood the directory.
                let site = msg.lines().next().unwrap_or("").to_owned();
                if crash_hashes.insert(fnv(site.as_bytes())) {
                    panics += 1;
                    let _ = std::fs::create_dir_all(&args.out);
                    let path =
                        args.out
                            .join(format!("{}-panic-{:016x}.{ext}", target.name, fnv(&data)));
                    let _ = std::fs::write(&path, &data);
                    println!("mutate: PANIC ({msg}); input saved to {}", path.display());
                }
            }
        }
    }
    println!(
        "mutate: {iterations} inputs in {:.1} s ({:.0}/s), pool {} inputs, {} distinct outcomes, slowest input {:.1} ms, {skipped} skipped (flow depth), {panics} distinct panic(s)",
        started.elapsed().as_secs_f64(),
        iterations as f64 / started.elapsed().as_secs_f64().max(1e-9),
        pool.len(),
        seen.len(),
        slowest.as_secs_f64() * 1e3,
    );
    std::process::exit(i32::from(panics > 0));
}
