//! Verdict memo: a template's `violation` set, remembered by the parts of its input it can read.
//!
//! A ConstraintTemplate's verdict is a function of its Rego, its libs and its input
//! (`{review, parameters}`), as long as the Rego calls no builtin whose result depends on
//! something else (time, randomness, the network, external data) and reads no `data` but its
//! own package and the libs (not `data.inventory`). For such a template, [`input_reads`] finds,
//! from the source's tokens, every place it reads `input` through: the longest static prefix of
//! each reference (`input.review.object.spec.containers[_].image` reads
//! `review.object.spec.containers` whole; a bare `input`, or one indexed by a variable, reads all
//! of it). Two reviews whose values at those prefixes are equal get the same verdict, so the
//! verdict of the first is the verdict of the second.
//!
//! That is what makes Pods of one workload cheap: the Pods a ReplicaSet, Job or StatefulSet
//! creates differ in their names, not in the specs the pod-security templates read.
//!
//! Keys are 128-bit SipHash-1-3 values of those prefixes with keys drawn at start-up, so a
//! collision cannot be crafted from outside. Only successful evaluations are remembered (never
//! an error or a timeout). The memo holds at most [`CAPACITY`] entries per template in each of two
//! generations: when the current one is full, it becomes the old one and the oldest is dropped;
//! a hit in the old generation moves the entry back to the current one (an LRU approximation in
//! bounded memory).

use super::rego::TokenKind as K;
use super::template::RuleResult;
use siphasher::sip128::Hasher128;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Entries per generation and template.
pub const CAPACITY: usize = 1024;

/// A path below `input` (`["review", "object", "spec"]`); empty: the whole input.
pub type InputPath = Vec<String>;

/// The input prefixes a template's Rego can read, or `None` when its verdict may depend on more
/// than its input (a non-deterministic builtin, `data` outside its package and the libs).
///
/// Two common shapes are followed one step further, since the Gatekeeper library's templates
/// use them on `input.review` and `input`:
/// - a whole reference passed to a function of the template or its libs
///   (`is_update(input.review)`) reads what the function reads of that parameter in every
///   definition of that name (`review.operation`); a parameter used in any other way than
///   through static references is read whole;
/// - `object.get(input, "parameters", {})` (a literal key or a literal path) reads that key.
pub fn input_reads(sources: &[&str], package: &str) -> Option<Vec<InputPath>> {
    let lexed: Vec<Vec<Token<'_>>> = sources.iter().map(|s| tokens(s)).collect();
    let mut functions: HashMap<String, Vec<Vec<InputPath>>> = HashMap::new();
    for toks in &lexed {
        collect_functions(toks, &mut functions);
    }
    let mut reads: Vec<InputPath> = Vec::new();
    for toks in &lexed {
        let word = |i: usize| toks.get(i).map(|t| t.text);
        // Open brackets: for `(`, the called name (when it is a call) and the argument index.
        let mut open: Vec<(char, Option<usize>, usize)> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let Token { kind, text, .. } = toks[i];
            match text {
                "(" => {
                    let callee = (i > 0 && toks[i - 1].kind == K::Ident).then(|| i - 1);
                    open.push(('(', callee, 0));
                }
                "[" | "{" => open.push((text.chars().next().unwrap_or('['), None, 0)),
                ")" | "]" | "}" => {
                    open.pop();
                }
                "," => {
                    if let Some(top) = open.last_mut() {
                        top.2 += 1;
                    }
                }
                _ => {}
            }
            if kind != K::Ident {
                i += 1;
                continue;
            }
            if NON_DETERMINISTIC.contains(&text) {
                return None;
            }
            // A member name after `.` (`x.input`) is not the root document.
            if i > 0 && toks[i - 1].text == "." {
                i += 1;
                continue;
            }
            match text {
                "data" => {
                    let ok = word(i + 1) == Some(".")
                        && (word(i + 2) == Some("lib")
                            || package_at(toks, i + 2, package).is_some());
                    if !ok {
                        return None;
                    }
                }
                "input" => {
                    let (path, next) = static_path(toks, i + 1);
                    // A whole argument of a call?
                    let whole_arg = i > 0
                        && matches!(toks[i - 1].text, "(" | ",")
                        && matches!(word(next), Some("," | ")"));
                    let callee = open.last().and_then(|&(c, callee, arg)| {
                        (c == '(' && whole_arg).then_some((callee?, arg))
                    });
                    match callee {
                        Some((f, arg)) => {
                            reads.extend(call_reads(toks, f, arg, next, &path, &functions))
                        }
                        None => reads.push(path),
                    }
                    i = next;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
    // A prefix of another read covers it.
    reads.sort();
    reads.dedup();
    let all = reads.clone();
    reads.retain(|p| {
        !all.iter()
            .any(|q| q.len() < p.len() && p.starts_with(q.as_slice()))
    });
    Some(reads)
}

/// A significant token: its kind, its text, and how many brackets are open before it.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: K,
    text: &'a str,
    depth: usize,
}

fn tokens(src: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    for (kind, text) in super::rego::all_tokens(src) {
        match kind {
            K::Newline | K::Space | K::Comment => {}
            _ => {
                out.push(Token { kind, text, depth });
                match text {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
        }
    }
    out
}

/// What each parameter of each function defined in `toks` reads, added to `functions` (by name,
/// by parameter index; an empty path: the whole parameter).
///
/// Every `name(` outside brackets and not after `.` is taken for a definition (functions are
/// defined only at the top level; a call taken for one only adds reads). A definition is taken
/// to run to the first top-level `}` followed by a name that is not a keyword: Rego has no
/// juxtaposition, so that name begins another statement (an `else`, `if` or `with` after the
/// brace continues the rule). A rule without braces runs on to the next such place, a superset
/// of its real extent, so no use of a parameter is missed whatever the layout.
fn collect_functions(toks: &[Token<'_>], functions: &mut HashMap<String, Vec<Vec<InputPath>>>) {
    for i in 0..toks.len() {
        let head = toks[i].depth == 0
            && toks[i].kind == K::Ident
            && toks.get(i + 1).is_some_and(|t| t.text == "(")
            && !(i > 0 && toks[i - 1].text == ".");
        if !head {
            continue;
        }
        let name = toks[i].text;
        // The parameters: plain names (any other pattern reads its argument whole).
        let mut params: Vec<Option<&str>> = Vec::new();
        let mut j = i + 2;
        let mut depth = 0usize;
        while j < toks.len() {
            let t = toks[j];
            let ends_param =
                depth == 0 && matches!(toks.get(j + 1).map(|n| n.text), Some("," | ")"));
            match t.text {
                "(" | "[" | "{" => depth += 1,
                ")" if depth == 0 => break,
                ")" | "]" | "}" => {
                    depth = depth.saturating_sub(1);
                    if ends_param {
                        params.push(None);
                    }
                }
                "," if depth == 0 => {}
                _ if ends_param => params.push((t.kind == K::Ident).then_some(t.text)),
                _ => {}
            }
            j += 1;
        }
        let start = (j + 1).min(toks.len());
        let end = (start + 1..toks.len())
            .find(|&k| {
                toks[k].depth == 0
                    && toks[k].kind == K::Ident
                    && toks[k - 1].text == "}"
                    && !super::rego::is_keyword(toks[k].text)
            })
            .unwrap_or(toks.len());
        let body = &toks[start..end];
        let entry = functions.entry(name.to_string()).or_default();
        if entry.len() < params.len() {
            entry.resize(params.len(), Vec::new());
        }
        for (k, p) in params.iter().enumerate() {
            let reads = match p {
                None => vec![Vec::new()],
                Some("_") => Vec::new(),
                Some(p) => param_reads(body, p),
            };
            entry[k].extend(reads);
        }
    }
}

/// The static paths through which `body` reads `param` (an empty path: the parameter whole).
fn param_reads(body: &[Token<'_>], param: &str) -> Vec<InputPath> {
    let mut out = Vec::new();
    for (i, t) in body.iter().enumerate() {
        if t.kind == K::Ident && t.text == param && !(i > 0 && body[i - 1].text == ".") {
            out.push(static_path(body, i + 1).0);
        }
    }
    out
}

/// The reads of a whole-argument reference `path` passed as argument `arg` to the call whose
/// name is at `f` (`next`: the token after the argument).
fn call_reads(
    toks: &[Token<'_>],
    f: usize,
    arg: usize,
    next: usize,
    path: &InputPath,
    functions: &HashMap<String, Vec<Vec<InputPath>>>,
) -> Vec<InputPath> {
    let name = toks[f].text;
    let whole = vec![path.clone()];
    // object.get(ref, "key", default) / object.get(ref, ["a", "b"], default)
    if name == "get"
        && f >= 2
        && toks[f - 1].text == "."
        && toks[f - 2].text == "object"
        && arg == 0
    {
        let lit = |i: usize| {
            toks.get(i)
                .filter(|t| t.kind == K::Str)
                .and_then(|t| plain_string(t.text))
        };
        let mut key = Vec::new();
        let mut j = next + 1;
        if let Some(k) = lit(j) {
            key.push(k);
            j += 1;
        } else if toks.get(j).is_some_and(|t| t.text == "[") {
            j += 1;
            while let Some(k) = lit(j) {
                key.push(k);
                j += 1;
                if toks.get(j).is_some_and(|t| t.text == ",") {
                    j += 1;
                } else {
                    break;
                }
            }
            if toks.get(j).is_none_or(|t| t.text != "]") {
                return whole;
            }
            j += 1;
        } else {
            return whole;
        }
        if key.is_empty() || toks.get(j).is_none_or(|t| t.text != ",") {
            return whole;
        }
        let mut p = path.clone();
        p.extend(key);
        return vec![p];
    }
    let is_call = toks.get(f + 1).is_some_and(|t| t.text == "(");
    match functions.get(name).and_then(|params| params.get(arg)) {
        Some(reads) if is_call => reads
            .iter()
            .map(|r| {
                let mut p = path.clone();
                p.extend(r.iter().cloned());
                p
            })
            .collect(),
        _ => whole,
    }
}

/// Whether a builtin (`time.now_ns`, `http.send`...) gives results that are not a function of
/// its arguments: one of the dotted parts of its name is in [`NON_DETERMINISTIC`].
pub(crate) fn is_non_deterministic(builtin: &str) -> bool {
    builtin
        .split('.')
        .any(|part| NON_DETERMINISTIC.contains(&part))
}

/// Builtins and namespaces whose results are not a function of their arguments.
const NON_DETERMINISTIC: &[&str] = &[
    "now_ns",
    "rand",
    "uuid",
    "http",
    "lookup_ip_addr",
    "opa",
    "external_data",
    // `io.jwt.decode_verify` checks `exp`/`nbf` against the clock when no time is given.
    "decode_verify",
];

/// When the tokens from `at` spell `package` (`a.b.c`), the index after it.
fn package_at(toks: &[Token<'_>], at: usize, package: &str) -> Option<usize> {
    let mut i = at;
    for (k, part) in package.split('.').enumerate() {
        if k > 0 {
            if toks.get(i).map(|t| t.text) != Some(".") {
                return None;
            }
            i += 1;
        }
        if toks.get(i).map(|t| t.text) != Some(part) {
            return None;
        }
        i += 1;
    }
    Some(i)
}

/// The static path after a reference's root (`.name` and `["name"]` steps) and the index after
/// it.
fn static_path(toks: &[Token<'_>], mut i: usize) -> (InputPath, usize) {
    let text = |i: usize| toks.get(i).map(|t| t.text);
    let mut path = Vec::new();
    loop {
        if text(i) == Some(".") && toks.get(i + 1).is_some_and(|t| t.kind == K::Ident) {
            path.push(toks[i + 1].text.to_string());
            i += 2;
            continue;
        }
        if text(i) == Some("[")
            && text(i + 2) == Some("]")
            && toks[i + 1].kind == K::Str
            && let Some(name) = plain_string(toks[i + 1].text)
        {
            path.push(name);
            i += 3;
            continue;
        }
        break;
    }
    (path, i)
}

/// The value of a double-quoted string literal without escapes (else `None`: the caller then
/// reads the whole prefix before it, which is always sound).
fn plain_string(lit: &str) -> Option<String> {
    let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then(|| inner.to_string())
}

/// The verdicts of one template, by input key.
#[derive(Debug)]
pub(crate) struct Memo {
    reads: Vec<InputPath>,
    generations: Mutex<(Gen, Gen)>,
    enabled: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    /// The hashes of the parameters seen (each Constraint's, kept alive so that its identity
    /// stays its own), found by identity.
    parameters: Mutex<Vec<(regorus::Value, u128)>>,
    /// Lookups and hits in the current probe window, and reviews left to run without the memo.
    window_lookups: AtomicU64,
    window_hits: AtomicU64,
    bypass_left: AtomicU64,
}

/// Lookups in one probe window: when none of them hit, the memo is bypassed for
/// [`BYPASS_REVIEWS`] reviews (it would cost its hashing and bookkeeping for nothing: a template
/// that reads the Pod's name, Pods that are all new), then probed again.
pub const PROBE_WINDOW: u64 = 256;
/// Reviews evaluated without the memo after a probe window without a hit.
pub const BYPASS_REVIEWS: u64 = 4096;

/// Most parameter hashes a memo keeps (one per Constraint of its template).
const PARAMETER_HASHES: usize = 64;

type Gen = HashMap<u128, Arc<Vec<RuleResult>>>;

/// The hashes of one review's read prefixes, shared by the templates that read the same ones.
#[derive(Debug, Default)]
pub(crate) struct ReadHashes {
    done: std::cell::RefCell<HashMap<InputPath, u128>>,
}

impl ReadHashes {
    fn get(&self, review: &regorus::Value, path: &InputPath) -> u128 {
        if let Some(h) = self.done.borrow().get(path) {
            return *h;
        }
        let mut h = hasher();
        h.write_usize(path.len());
        for step in path {
            h.write(step.as_bytes());
            h.write_u8(0xff);
        }
        let value = match path.split_first() {
            // The whole input: the review here, the parameters in the key.
            None => review,
            Some((root, rest)) => {
                let mut v = if root == "review" {
                    review
                } else {
                    &regorus::Value::Undefined
                };
                for step in rest {
                    v = &v[step.as_str()];
                }
                v
            }
        };
        write_value(&mut h, value);
        let out = h.finish128().as_u128();
        self.done.borrow_mut().insert(path.clone(), out);
        out
    }
}

/// A SipHash-1-3 (128-bit) hasher with this process's keys, drawn at start-up.
fn hasher() -> siphasher::sip128::SipHasher13 {
    static KEYS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    let (k0, k1) = *KEYS.get_or_init(|| {
        let rs = std::hash::RandomState::new();
        (rs.hash_one(1u8), rs.hash_one(2u8))
    });
    siphasher::sip128::SipHasher13::new_with_keys(k0, k1)
}

fn value_hash(v: &regorus::Value) -> u128 {
    let mut h = hasher();
    write_value(&mut h, v);
    h.finish128().as_u128()
}

impl Memo {
    /// A memo for a template that reads `reads` (from [`input_reads`]).
    pub fn new(reads: Vec<InputPath>) -> Memo {
        Memo {
            reads,
            generations: Mutex::new((HashMap::new(), HashMap::new())),
            enabled: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            parameters: Mutex::new(Vec::new()),
            window_lookups: AtomicU64::new(0),
            window_hits: AtomicU64::new(0),
            bypass_left: AtomicU64::new(0),
        }
    }

    /// Whether this review should go through the memo: not while a bypass runs (see
    /// [`PROBE_WINDOW`]). Counts the bypassed review.
    pub fn worth_it(&self) -> bool {
        let left = self.bypass_left.load(Ordering::Relaxed);
        if left == 0 {
            return true;
        }
        // Approximate under concurrency, which is all it needs to be.
        self.bypass_left.store(left - 1, Ordering::Relaxed);
        false
    }

    /// Records a lookup in the probe window; a window without a hit starts a bypass.
    fn probe(&self, hit: bool) {
        if hit {
            self.window_hits.fetch_add(1, Ordering::Relaxed);
        }
        if self.window_lookups.fetch_add(1, Ordering::Relaxed) + 1 >= PROBE_WINDOW {
            let hits = self.window_hits.swap(0, Ordering::Relaxed);
            self.window_lookups.store(0, Ordering::Relaxed);
            if hits == 0 {
                self.bypass_left.store(BYPASS_REVIEWS, Ordering::Relaxed);
            }
        }
    }

    /// The hash of a Constraint's parameters, computed once per Constraint.
    fn parameters_hash(&self, parameters: &regorus::Value) -> u128 {
        let same = |v: &regorus::Value| match (v, parameters) {
            (regorus::Value::Object(a), regorus::Value::Object(b)) => regorus::Rc::ptr_eq(a, b),
            _ => false,
        };
        let mut known = self.parameters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, h)) = known.iter().find(|(v, _)| same(v)) {
            return *h;
        }
        let h = value_hash(parameters);
        if known.len() < PARAMETER_HASHES && matches!(parameters, regorus::Value::Object(_)) {
            known.push((parameters.clone(), h));
        }
        h
    }

    /// Whether verdicts are looked up and remembered.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns the memo on or off; turning it off forgets what it holds.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
            g.0.clear();
            g.1.clear();
        }
    }

    /// The prefixes the template reads.
    pub fn reads(&self) -> &[InputPath] {
        &self.reads
    }

    /// The key of an input: a keyed 128-bit hash of the parameters and of the values at the
    /// read prefixes (absent values included, distinct from `null`). The hashes of the review's
    /// prefixes are kept in `hashes` for the other templates of the same review.
    pub fn key(
        &self,
        review: &regorus::Value,
        parameters: &regorus::Value,
        hashes: &ReadHashes,
    ) -> u128 {
        let mut h = hasher();
        h.write_u128(self.parameters_hash(parameters));
        for path in &self.reads {
            match path.split_first() {
                Some((root, _)) if root == "parameters" => continue, // in the parameters' hash
                _ => h.write_u128(hashes.get(review, path)),
            }
        }
        h.finish128().as_u128()
    }

    /// The remembered verdict for `key`, if any.
    pub fn get(&self, key: u128) -> Option<Arc<Vec<RuleResult>>> {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        let found = match g.0.get(&key) {
            Some(v) => Some(v.clone()),
            None => g.1.remove(&key).inspect(|v| {
                insert(&mut g, key, v.clone());
            }),
        };
        drop(g);
        match &found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        self.probe(found.is_some());
        found
    }

    /// Remembers the verdict for `key`.
    pub fn put(&self, key: u128, verdict: Arc<Vec<RuleResult>>) {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        insert(&mut g, key, verdict);
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

fn insert(g: &mut (Gen, Gen), key: u128, verdict: Arc<Vec<RuleResult>>) {
    if g.0.len() >= CAPACITY {
        g.1 = std::mem::take(&mut g.0);
    }
    g.0.insert(key, verdict);
}

/// Writes a value to the hasher: a tag per kind, lengths before contents, object entries in
/// key order, numbers exactly (integers as integers, so `1` and `1.0` hash alike; other numbers
/// by their bits; integers too large for 128 bits by their decimal text). Two values with the
/// same encoding are equal.
fn write_value(h: &mut siphasher::sip128::SipHasher13, v: &regorus::Value) {
    use regorus::Value as V;
    match v {
        V::Undefined => h.write_u8(0),
        V::Null => h.write_u8(1),
        V::Bool(b) => {
            h.write_u8(2);
            h.write_u8(u8::from(*b));
        }
        V::Number(n) => {
            if let Some(i) = n.as_i128() {
                h.write_u8(3);
                h.write_i128(i);
            } else if n.is_integer() {
                h.write_u8(4);
                let text = v.to_string();
                h.write_usize(text.len());
                h.write(text.as_bytes());
            } else {
                h.write_u8(5);
                h.write_u64(n.as_f64().unwrap_or(f64::NAN).to_bits());
            }
        }
        V::String(s) => {
            h.write_u8(6);
            h.write_usize(s.len());
            h.write(s.as_bytes());
        }
        V::Array(a) => {
            h.write_u8(7);
            h.write_usize(a.len());
            for x in a.iter() {
                write_value(h, x);
            }
        }
        V::Set(set) => {
            h.write_u8(8);
            h.write_usize(set.len());
            for x in set.iter_sorted() {
                write_value(h, x);
            }
        }
        V::Object(o) => {
            h.write_u8(9);
            h.write_usize(o.len());
            for (k, x) in o.iter_sorted() {
                write_value(h, k);
                write_value(h, x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(src: &str) -> Option<Vec<String>> {
        input_reads(&[src], "k8stest").map(|r| r.iter().map(|p| p.join(".")).collect())
    }

    #[test]
    fn static_references_are_read_up_to_their_first_dynamic_step() {
        let src = r#"package k8stest
import data.lib.core
violation[{"msg": msg}] {
  c := input.review.object.spec.containers[_]
  not c.securityContext.runAsNonRoot
  input.review["kind"].kind == "Pod"
  x := input.parameters.allowed
  msg := sprintf("%v in %v", [c.name, data.k8stest.other])
}"#;
        assert_eq!(
            reads(src).unwrap(),
            vec![
                "parameters.allowed",
                "review.kind.kind",
                "review.object.spec.containers"
            ]
        );
    }

    #[test]
    fn a_bare_or_variably_indexed_input_reads_the_whole_prefix() {
        let bare = "package k8stest\nviolation[{\"msg\": m}] { m := sprintf(\"%v\", [input]) }";
        assert_eq!(reads(bare).unwrap(), vec![""]);
        let var = "package k8stest\nviolation[{\"msg\": k}] { input.review.object[k] }";
        assert_eq!(reads(var).unwrap(), vec!["review.object"]);
        let import = "package k8stest\nimport input.review.object as o\nviolation[{\"msg\": o.metadata.name}] { true }";
        assert_eq!(reads(import).unwrap(), vec!["review.object"]);
        // A prefix covers the longer paths below it.
        let both = "package k8stest\nviolation[{\"msg\": \"x\"}] { input.review.object.spec.a; input.review.object }";
        assert_eq!(reads(both).unwrap(), vec!["review.object"]);
    }

    #[test]
    fn a_source_that_begins_with_a_bracket_is_read() {
        // Found by the memo_reads fuzz target: `(` as the first token.
        assert_eq!(reads("(input.review.x)").unwrap(), vec!["review.x"]);
    }

    #[test]
    fn strings_comments_and_member_names_are_not_references() {
        let src = "package k8stest\n# input.review.object.metadata\nviolation[{\"msg\": \"input.review\"}] { input.review.object.spec.x.input }";
        assert_eq!(reads(src).unwrap(), vec!["review.object.spec.x.input"]);
    }

    #[test]
    fn templates_that_read_more_than_their_input_are_not_memoised() {
        for src in [
            "package k8stest\nviolation[{\"msg\": \"x\"}] { data.inventory.namespace[_] }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { data[\"inventory\"] }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { time.now_ns() > 0 }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { http.send({}) }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { rand.intn(\"a\", 2) == 1 }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { external_data({}) }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { [ok, _, _] := io.jwt.decode_verify(input.parameters.t, {}); ok }",
            "package k8stest\nviolation[{\"msg\": \"x\"}] { data.other.rule }",
        ] {
            assert_eq!(reads(src), None, "{src}");
        }
    }

    fn obj(json: &str) -> regorus::Value {
        super::super::rego::to_value(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn keys_differ_exactly_where_the_read_values_differ() {
        let m = Memo::new(vec![
            vec!["review".into(), "object".into(), "spec".into()],
            vec!["parameters".into()],
        ]);
        let p = obj(r#"{"a": 1}"#);
        let a = obj(r#"{"object": {"metadata": {"name": "a"}, "spec": {"x": 1}}}"#);
        let b = obj(r#"{"object": {"metadata": {"name": "b"}, "spec": {"x": 1}}}"#);
        let c = obj(r#"{"object": {"metadata": {"name": "a"}, "spec": {"x": "1"}}}"#);
        let null = obj(r#"{"object": {"spec": null}}"#);
        let absent = obj(r#"{"object": {}}"#);
        let key = |r: &regorus::Value, p: &regorus::Value| m.key(r, p, &ReadHashes::default());
        assert_eq!(key(&a, &p), key(&b, &p), "the name is not read");
        assert_ne!(key(&a, &p), key(&c, &p), "1 and \"1\"");
        assert_ne!(key(&a, &p), key(&a, &obj(r#"{"a": 2}"#)), "parameters");
        assert_ne!(key(&null, &p), key(&absent, &p), "null and absent");
        // The hashes of one review are shared: a second template reading the same prefix
        // finds it (a review's hashes are never used for another review).
        let shared = ReadHashes::default();
        let k1 = m.key(&a, &p, &shared);
        assert_eq!(shared.done.borrow().len(), 1);
        assert_eq!(m.key(&a, &p, &shared), k1);
    }

    #[test]
    fn the_memo_is_bounded_and_keeps_what_is_used() {
        let m = Memo::new(vec![vec![]]);
        let v = Arc::new(Vec::new());
        m.put(1, v.clone());
        for k in 2..(CAPACITY as u128 + 2) {
            m.put(k, v.clone());
        }
        // Key 1 is in the old generation now; a hit brings it back.
        assert!(m.get(1).is_some());
        for k in 10_000..(10_000 + CAPACITY as u128) {
            m.put(k, v.clone());
        }
        assert!(m.get(1).is_some(), "used keys survive");
        assert!(m.get(2).is_none(), "unused ones go");
        let g = m.generations.lock().unwrap();
        assert!(g.0.len() <= CAPACITY && g.1.len() <= CAPACITY);
        drop(g);
        assert_eq!(m.counts(), (2, 1));
    }

    #[test]
    fn a_memo_that_never_hits_is_bypassed_for_a_while_then_probed_again() {
        let m = Memo::new(vec![vec![]]);
        // One hit in a window keeps it on.
        m.put(7, Arc::new(Vec::new()));
        assert!(m.get(7).is_some());
        for k in 1..PROBE_WINDOW {
            assert!(m.worth_it());
            assert!(m.get(1_000 + u128::from(k)).is_none());
        }
        assert!(m.worth_it(), "a window with a hit does not bypass");
        // A whole window of misses starts a bypass of BYPASS_REVIEWS reviews.
        for k in 0..PROBE_WINDOW {
            assert!(m.worth_it());
            assert!(m.get(5_000 + u128::from(k)).is_none());
        }
        let bypassed = (0..2 * BYPASS_REVIEWS)
            .take_while(|_| !m.worth_it())
            .count();
        assert_eq!(bypassed as u64, BYPASS_REVIEWS);
        // Probing again: what it remembers is still there.
        assert!(m.get(7).is_some());
        assert_eq!(m.counts().0, 2);
    }
}
