//! Conformance against PodSecurity's own fixtures (local verification; the fixtures are not
//! part of this repository).
//!
//! `PSA_TESTDATA=<dir>` names a copy of `k8s.io/pod-security-admission/test/testdata`, laid out
//! as `<level>/v1.<N>/{pass,fail}/<checkid><n>.yaml`. Every `pass` pod must be allowed at that
//! level and version; every `fail` pod must be denied, with the check named by the file among
//! the failed checks and PSA's expected error substring in the message. Without `PSA_TESTDATA`
//! the runner reports that it was skipped (see `scripts/conformance-pss`).

use palisade_model::{Inventory, LoadOptions, pod_template};
use palisade_posture::pss::{Level, Policy, PssCheck, PssOptions, Version, evaluate, message};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The substring PSA's fixture runner expects in the error of a failing pod, per check.
fn expected_substring(c: PssCheck) -> &'static str {
    match c {
        PssCheck::AppArmorProfile => "forbidden AppArmor profile",
        PssCheck::CapabilitiesBaseline => "capabilities",
        PssCheck::CapabilitiesRestricted => "unrestricted capabilities",
        PssCheck::HostNamespaces => "host namespaces",
        PssCheck::HostPathVolumes => "hostPath",
        PssCheck::HostPorts => "hostPort",
        PssCheck::HostProbesAndHostLifecycle => "probe or lifecycle host",
        PssCheck::ProcMount | PssCheck::ProcMountRestricted => "procMount",
        PssCheck::RestrictedVolumes => "restricted volume types",
        PssCheck::SeLinuxOptions => "seLinuxOptions",
        PssCheck::SeccompProfileBaseline | PssCheck::SeccompProfileRestricted => "seccompProfile",
        PssCheck::Sysctls => "forbidden sysctl",
        PssCheck::WindowsHostProcess => "hostProcess",
        other => other.id(),
    }
}

fn check_from_file(stem: &str) -> Option<PssCheck> {
    let base = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    PssCheck::ALL
        .into_iter()
        .find(|c| c.id().eq_ignore_ascii_case(base))
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn main() -> ExitCode {
    // At the restricted level a baseline check's fixture fails the restricted check that
    // replaces it (restrictedVolumes for hostPathVolumes, ...), which is accepted.
    let Some(root) = std::env::var_os("PSA_TESTDATA") else {
        println!("pss_conformance: skipped (set PSA_TESTDATA to PodSecurity's test/testdata)");
        return ExitCode::SUCCESS;
    };
    let root = PathBuf::from(root);
    let opts = PssOptions::default();
    let verbose = std::env::var_os("PSA_VERBOSE").is_some();
    let (mut total, mut agree, mut only_named) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for level_dir in sorted_entries(&root) {
        let Some(level) = level_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| Level::parse(n).ok())
        else {
            continue;
        };
        for version_dir in sorted_entries(&level_dir) {
            let Some(version) = version_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| Version::parse(n).ok())
            else {
                continue;
            };
            let policy = Policy::new(level, version);
            for expect_pass in [true, false] {
                let dir = version_dir.join(if expect_pass { "pass" } else { "fail" });
                for file in sorted_entries(&dir) {
                    if file.extension().and_then(|e| e.to_str()) != Some("yaml") {
                        continue;
                    }
                    total += 1;
                    let shown = file
                        .strip_prefix(&root)
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    let text = match std::fs::read_to_string(&file) {
                        Ok(t) => t,
                        Err(e) => {
                            failures.push(format!("{shown}: {e}"));
                            continue;
                        }
                    };
                    let mut inv = Inventory::new();
                    inv.add_text(&shown, &text, &LoadOptions::default());
                    let Some(t) = inv.objects.first().and_then(pod_template) else {
                        failures.push(format!("{shown}: no pod found"));
                        continue;
                    };
                    let results = evaluate(&t, policy, &opts);
                    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    let problem = if expect_pass {
                        (!results.is_empty())
                            .then(|| format!("expected allowed, got {}", message(policy, &results)))
                    } else if results.is_empty() {
                        Some("expected denied, got allowed".to_owned())
                    } else {
                        let msg = message(policy, &results);
                        match check_from_file(stem) {
                            None => Some(format!(
                                "cannot tell the check from the file name; got {msg}"
                            )),
                            Some(c)
                                if !results
                                    .iter()
                                    .any(|r| r.check == c || r.check.overrides() == Some(c)) =>
                            {
                                Some(format!("expected check {c} to fail, got {msg}"))
                            }
                            Some(c) if !msg.contains(expected_substring(c)) => Some(format!(
                                "expected {:?} in the message, got {msg}",
                                expected_substring(c)
                            )),
                            Some(_) => {
                                if results.len() == 1 {
                                    only_named += 1;
                                } else if verbose {
                                    println!("MULTI {shown}: {msg}");
                                }
                                None
                            }
                        }
                    };
                    match problem {
                        None => agree += 1,
                        Some(p) => failures.push(format!("{shown}: {p}")),
                    }
                }
            }
        }
    }
    for f in &failures {
        println!("DISAGREE {f}");
    }
    println!(
        "pss_conformance: {agree}/{total} fixtures agree with PodSecurity ({only_named} fail fixtures failed only the named check)"
    );
    if total == 0 {
        println!(
            "pss_conformance: no fixtures found under {}",
            root.display()
        );
        return ExitCode::FAILURE;
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
