//! The fuzz target's property without libFuzzer: the seeds of
//! `fuzz/seeds/admission_review` and deterministic mutations of them (byte flips, truncations,
//! splices, type swaps) go through both endpoints; nothing panics, and every accepted body gets
//! a well-formed review echoing its uid.

use palisade_admission::{Admission, Endpoint, ServerConfig};
use serde_json::Value;

fn admission() -> Admission {
    let cfg = ServerConfig::from_yaml(
        "t.yaml",
        "podSecurity:\n  defaults: {enforce: baseline, warn: restricted, audit: restricted}\n  exemptions: {usernames: [admin], runtimeClasses: [kata]}\nmutation: {enabled: true, nonRootImages: [\"app*\"]}\n",
    )
    .unwrap();
    Admission::from_config(&cfg).unwrap().0
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/admission_review"
    );
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(out.len() >= 10);
    out
}

fn check(adm: &Admission, body: &[u8]) -> bool {
    let mut accepted = false;
    for ep in [Endpoint::Validate, Endpoint::Mutate] {
        if let Ok(out) = adm.handle(ep, body) {
            let v: Value = serde_json::from_slice(&out).expect("response is JSON");
            assert!(v["response"]["uid"].is_string());
            assert!(v["response"]["allowed"].is_boolean());
            accepted = true;
        }
    }
    accepted
}

/// Replaces the value at a random JSON path with values of other types.
fn swap_types(v: &mut Value, rng: &mut u64, depth: usize) {
    let r = next(rng);
    let replacements = [
        Value::Null,
        Value::Bool(true),
        Value::from(-1),
        Value::from(1e300),
        Value::String("".into()),
        Value::String("\u{0}x".into()),
        Value::Array(vec![]),
        serde_json::json!({"": []}),
    ];
    match v {
        Value::Object(m) if !m.is_empty() && depth < 12 => {
            let k = m.keys().nth((r as usize) % m.len()).unwrap().clone();
            if r.is_multiple_of(5) {
                m[&k] = replacements[(r as usize / 5) % replacements.len()].clone();
            } else {
                swap_types(&mut m[&k], rng, depth + 1);
            }
        }
        Value::Array(a) if !a.is_empty() && depth < 12 => {
            let i = (r as usize) % a.len();
            swap_types(&mut a[i], rng, depth + 1);
        }
        _ => *v = replacements[(r as usize) % replacements.len()].clone(),
    }
}

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn seeds_and_mutations_never_panic() {
    let adm = admission();
    let seeds = seeds();
    for s in &seeds {
        assert!(
            check(&adm, s),
            "seed rejected: {}",
            String::from_utf8_lossy(s)
        );
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut accepted = 0;
    for i in 0..3000 {
        let seed = &seeds[i % seeds.len()];
        let body = match next(&mut rng) % 4 {
            0 => {
                let mut b = seed.clone();
                for _ in 0..1 + next(&mut rng) % 8 {
                    let p = (next(&mut rng) as usize) % b.len();
                    b[p] = next(&mut rng) as u8;
                }
                b
            }
            1 => seed[..(next(&mut rng) as usize) % seed.len()].to_vec(),
            2 => {
                let other = &seeds[(next(&mut rng) as usize) % seeds.len()];
                let cut = (next(&mut rng) as usize) % seed.len();
                let from = (next(&mut rng) as usize) % other.len();
                [&seed[..cut], &other[from..]].concat()
            }
            _ => {
                let mut v: Value = serde_json::from_slice(seed).unwrap();
                for _ in 0..1 + next(&mut rng) % 3 {
                    swap_types(&mut v, &mut rng, 0);
                }
                serde_json::to_vec(&v).unwrap()
            }
        };
        accepted += usize::from(check(&adm, &body));
    }
    // the structural mutations keep a good share of the inputs valid reviews
    assert!(accepted > 50, "{accepted}");
}
