//! What the fuzz targets exercise, shared by the libFuzzer targets (`fuzz_targets/`) and the
//! stable mutator (`src/bin/mutate.rs`). [`targets::TARGETS`] lists every target.

use palisade_model::{Inventory, LoadOptions, pod_template};
use palisade_posture::{Config, scan};

pub mod targets;
pub mod tokens;

/// Rules the `capture` target runs replayed events through.
pub const CAPTURE_RULES: &str = include_str!("../fixtures/capture-rules.yaml");
/// The ConstraintTemplate the `gatekeeper` target loads before each input and the `gator_suite`
/// target's suites name as `template.yaml`.
pub const GATEKEEPER_TEMPLATE: &str = include_str!("../fixtures/gatekeeper-template.yaml");
/// The files next to the `gator_suite` target's suite, by name.
pub const SUITE_FILES: &[(&str, &str)] = &[
    ("template.yaml", GATEKEEPER_TEMPLATE),
    (
        "constraint.yaml",
        include_str!("../fixtures/gatekeeper-constraint.yaml"),
    ),
    (
        "allowed.yaml",
        include_str!("../fixtures/suite-allowed.yaml"),
    ),
    ("denied.yaml", include_str!("../fixtures/suite-denied.yaml")),
    (
        "inventory.yaml",
        include_str!("../fixtures/suite-inventory.yaml"),
    ),
    ("review.yaml", include_str!("../fixtures/suite-review.yaml")),
    ("two.yaml", include_str!("../fixtures/suite-two.yaml")),
];

/// Deepest nesting of flow collections (`{`, `[`) in `data`, ignoring quoting. Used to skip
/// inputs that would only rediscover a known deep-nesting problem (`--max-flow-depth`).
pub fn flow_depth(data: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in data {
        match b {
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The flow-depth cap from `PALISADE_FUZZ_MAX_FLOW_DEPTH` (unset or 0: no cap).
pub fn max_flow_depth_from_env() -> usize {
    std::env::var("PALISADE_FUZZ_MAX_FLOW_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A summary of what one input produced; the stable mutator keeps inputs whose summary it has
/// not seen before, a crude stand-in for coverage feedback.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Outcome {
    /// Objects loaded.
    pub objects: usize,
    /// Objects with a pod template.
    pub pods: usize,
    /// Containers across all pod templates.
    pub containers: usize,
    /// Input diagnostics (codes), sorted and deduplicated.
    pub diagnostics: Vec<String>,
    /// Check ids that fired, sorted and deduplicated.
    pub checks: Vec<String>,
}

/// Loads `data` as a manifest stream (when it is UTF-8), walks every pod template and container,
/// and runs the posture scan with the default configuration. Any panic is a bug.
pub fn load_and_scan(data: &[u8]) -> Option<Outcome> {
    let text = std::str::from_utf8(data).ok()?;
    let mut inv = Inventory::new();
    inv.add_text("fuzz.yaml", text, &LoadOptions::default());
    let mut pods = 0;
    let mut containers = 0;
    for obj in &inv.objects {
        let _ = inv.file_of(obj);
        let _ = obj.labels();
        let Some(tpl) = pod_template(obj) else {
            continue;
        };
        pods += 1;
        let _ = tpl.labels();
        let _ = tpl.annotations().count();
        for c in tpl.containers() {
            containers += 1;
            let _ = c.security_context("privileged");
            let _ = c.field(&["securityContext", "capabilities", "add"]);
            if let Some(image) = c.node.get("image") {
                let _ = image.as_str();
            }
        }
    }
    let findings = scan(&inv, &Config::default());
    let mut diagnostics: Vec<String> = inv
        .diagnostics
        .iter()
        .map(|d| format!("{:?}", d.code))
        .collect();
    diagnostics.sort();
    diagnostics.dedup();
    let mut checks: Vec<String> = findings
        .iter()
        .map(|f| f.check.as_str().to_owned())
        .collect();
    checks.sort();
    checks.dedup();
    Some(Outcome {
        objects: inv.objects.len(),
        pods,
        containers,
        diagnostics,
        checks,
    })
}

/// Small capture files written with the real writer from a synthetic workload, as seeds for the
/// `capture` target (`mutate --write-capture-seeds fuzz/seeds/capture`): (file name, bytes).
pub fn capture_seeds() -> Vec<(String, Vec<u8>)> {
    use palisade_events::capture::{CaptureHeader, CaptureWriter};
    let mut out = Vec::new();
    for (n, seed) in [(0usize, 1u64), (3, 2), (12, 3), (40, 4)] {
        let header = CaptureHeader {
            hostname: format!("node-{seed}"),
            kernel: "6.1.0".into(),
            started: 1_700_000_000_000_000_000,
            command: "palisade trace --capture x".into(),
        };
        let mut w = CaptureWriter::new(Vec::new(), &header).expect("writing to memory");
        for ev in palisade_rules::synth::generate(n, 12, seed).events {
            w.write(&ev).expect("writing to memory");
        }
        out.push((
            format!("synth-{n}.cap"),
            w.finish().expect("writing to memory"),
        ));
    }
    out
}
