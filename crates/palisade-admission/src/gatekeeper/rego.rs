//! The Rego side: compiling templates on `regorus` so that they behave as on OPA.
//!
//! Gatekeeper's templates are Rego v0 run by OPA. regorus 0.14 in v0 mode parses and evaluates
//! almost all of them the same way; where it does not, Palisade closes the gap here:
//!
//! 1. **A line ending in a reference followed by a line starting with `(`.** OPA reads two
//!    expressions (a call needs its `(` right after the name); regorus reads a call.
//!    [`normalise`] ends the first expression with `;` (no line numbers change).
//! 2. **`sprintf` with fewer arguments than verbs.** OPA formats with Go's `fmt` (`%!v(MISSING)`);
//!    regorus fails. When the format is a string literal and the arguments an array literal,
//!    [`sprintf_missing_verbs`] writes Go's marker into the format (`"%v and %%!v(MISSING)"`),
//!    which every evaluator then prints. The interpreter also has `sprintf` replaced by an
//!    extension that follows Go's `fmt` and OPA's conversion of arguments (numbers as numbers,
//!    strings raw, other values in Rego syntax), including `%!v(MISSING)`, `%!(EXTRA …)` and
//!    `%!d(string=…)`; templates with a `sprintf` that cannot be checked statically run there.
//! 3. **v0 rules with several bodies** (`p { a } { b }`, one rule per body). regorus rejects
//!    them; [`normalise`] repeats the head before every further body.
//! 4. **`not f(x.y)` where `x.y` is undefined.** OPA evaluates call arguments that are
//!    references or calls before the negation (`t = x.y; not f(t)`), so the expression is
//!    undefined; regorus evaluates them inside it (`not undefined` is true). [`normalise`]
//!    makes that rewrite in the source (a unification, which fails on an undefined value in
//!    both evaluators; the VM lets an assignment `:=` of an undefined value through). Nested calls in a negated operator expression
//!    (`not count(x.y) > 0`) are lifted the same way.
//! 5. **Builtin errors.** OPA (non-strict, as Gatekeeper runs it) makes a failing builtin call
//!    undefined; regorus raises an error by default. Engines run with
//!    `set_strict_builtin_errors(false)`, under which regorus 0.14 turns every builtin error
//!    except resource limits into undefined.
//!
//! The rewrites work on tokens (strings, raw strings and comments are never touched) and only
//! on v0 modules; Rego v1 templates (`source.version: v1`) compile as written.
//!
//! **Evaluators.** A template runs on Palisade's native evaluator ([`super::native`]) when it
//! compiles for it (every template of the Gatekeeper library's pod-security set does), with
//! regorus's parser, builtins and values, about three times cheaper per review than regorus's
//! register VM. regorus stays the reference and the fallback: templates the native evaluator
//! does not take (`with`, `every`, `data.inventory`, impure builtins) and any review it hands
//! back run on the VM where it compiles them (about three times cheaper than the tree
//! interpreter), else on the tree interpreter, as before: the VM unless the VM compiler refuses
//! the template or its `sprintf` calls need the interpreter's Go formatting. Every evaluator
//! passes every gator case of the Gatekeeper library and of `testdata/gatekeeper`.
//! `PALISADE_GATEKEEPER_ENGINE=vm` keeps every template on regorus (VM where it applies),
//! `PALISADE_GATEKEEPER_ENGINE=interpreter` on regorus's interpreter.

use super::gofmt;
use super::template::RuleResult;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Which evaluator runs a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The native evaluator ([`super::native`]) where it applies, with regorus behind it;
    /// regorus's register VM (RVM) where that applies, about three times cheaper than the tree
    /// interpreter; the interpreter for templates the VM cannot compile and for templates whose
    /// `sprintf` calls cannot be checked statically (the VM has no `sprintf` override).
    #[default]
    Auto,
    /// The tree interpreter for every template.
    Interpreter,
    /// regorus's VM where it applies (the interpreter elsewhere), never the native evaluator.
    Vm,
}

impl Backend {
    /// `PALISADE_GATEKEEPER_ENGINE=interpreter` selects [`Backend::Interpreter`], `vm`
    /// [`Backend::Vm`]; anything else (`auto`, nothing) [`Backend::Auto`].
    pub fn from_env() -> Backend {
        match std::env::var("PALISADE_GATEKEEPER_ENGINE").as_deref() {
            Ok("interpreter") => Backend::Interpreter,
            Ok("vm") => Backend::Vm,
            _ => Backend::Auto,
        }
    }
}

/// A template compiled for the register VM.
pub(crate) struct VmProgram {
    policy: regorus::CompiledPolicy,
    program: std::sync::Arc<regorus::rvm::program::Program>,
}

impl std::fmt::Debug for VmProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VmProgram")
    }
}

/// What evaluates one review: an interpreter engine or a VM, taken from a template's pool.
#[derive(Debug)]
pub(crate) enum Worker {
    Engine(Box<regorus::Engine>),
    Vm(Box<regorus::rvm::RegoVM>),
}

/// Most instructions one VM evaluation may run; the time limit is the real bound.
const VM_MAX_INSTRUCTIONS: usize = 500_000_000;

/// A template compiled into a prepared engine.
#[derive(Debug)]
pub(crate) struct CompiledRego {
    /// Prepared engine (policies added, analysed); cloned per concurrent review.
    pub engine: regorus::Engine,
    /// The VM program, when the template runs on the VM.
    vm: Option<VmProgram>,
    /// The main module's package, without `data.`.
    pub package: String,
    /// `data.<package>.violation`.
    rule: String,
    /// The template compiled for the native evaluator, or why it is not.
    native: Result<super::native::Program, super::native::Unsupported>,
    /// Reviews the native evaluator handed back to regorus, and the last reason.
    fallbacks: std::sync::atomic::AtomicU64,
    last_fallback: std::sync::Mutex<Option<String>>,
}

impl CompiledRego {
    /// True when the template runs on the VM.
    pub fn uses_vm(&self) -> bool {
        self.vm.is_some()
    }

    /// Reviews the native evaluator handed to regorus so far, and the last reason why.
    pub fn native_fallbacks(&self) -> (u64, Option<String>) {
        (
            self.fallbacks.load(std::sync::atomic::Ordering::Relaxed),
            self.last_fallback
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }

    /// Why the native evaluator does not run this template (`None`: it does).
    pub fn native_refusal(&self) -> Option<&str> {
        self.native.as_ref().err().map(|u| u.0.as_str())
    }

    /// Evaluates `violation` on the native evaluator; `None` when the template or this review
    /// is left to regorus (see [`super::native`]).
    pub fn eval_native(
        &self,
        review: &regorus::Value,
        parameters: &regorus::Value,
        deadline: Option<std::time::Instant>,
    ) -> Option<regorus::Value> {
        let program = self.native.as_ref().ok()?;
        let now = std::time::Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return None; // regorus's path reports the missed deadline
        }
        let limit = now + EVAL_TIME_LIMIT;
        let stop_at = deadline.map_or(limit, |d| d.min(limit));
        match program.eval(input_value(review, parameters), stop_at) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fallbacks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                *self.last_fallback.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.0);
                None
            }
        }
    }

    /// A new worker, with `data` (the inventory) loaded when given.
    pub fn worker(&self, data: Option<&regorus::Value>) -> Result<Worker, String> {
        match &self.vm {
            Some(vm) => {
                let mut machine = regorus::rvm::RegoVM::new_with_policy(vm.policy.clone());
                machine.load_program(vm.program.clone());
                machine.set_max_instructions(VM_MAX_INSTRUCTIONS);
                machine.set_execution_timer_config(Some(timer_config(EVAL_TIME_LIMIT)));
                if let Some(d) = data {
                    machine
                        .set_data(d.clone())
                        .map_err(|e| format!("loading data.inventory: {e}"))?;
                }
                Ok(Worker::Vm(Box::new(machine)))
            }
            None => {
                let mut engine = self.engine.clone();
                if let Some(d) = data {
                    engine
                        .add_data(d.clone())
                        .map_err(|e| format!("loading data.inventory: {e}"))?;
                }
                Ok(Worker::Engine(Box::new(engine)))
            }
        }
    }

    /// Evaluates `violation` with `input = {review, parameters}`, stopping at `deadline` (and
    /// after [`EVAL_TIME_LIMIT`] in any case).
    pub fn eval(
        &self,
        worker: &mut Worker,
        review: &regorus::Value,
        parameters: &regorus::Value,
        deadline: Option<std::time::Instant>,
    ) -> Result<regorus::Value, String> {
        let limit = match deadline {
            None => EVAL_TIME_LIMIT,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(
                        "not evaluated: its time had run out (the review's deadline, or the \
                         evaluation time limit used up before it was handed to regorus)"
                            .into(),
                    );
                }
                left.min(EVAL_TIME_LIMIT)
            }
        };
        let input = input_value(review, parameters);
        match worker {
            Worker::Engine(engine) => {
                engine.set_execution_timer_config(timer_config(limit));
                engine.set_input(input);
                engine
                    .eval_rule(self.rule.clone())
                    .map_err(|e| e.to_string())
            }
            Worker::Vm(vm) => {
                vm.set_execution_timer_config(Some(timer_config(limit)));
                vm.set_input(input);
                vm.execute().map_err(|e| e.to_string())
            }
        }
    }
}

/// Gatekeeper's input: `{"review": ..., "parameters": ...}`.
fn input_value(review: &regorus::Value, parameters: &regorus::Value) -> regorus::Value {
    static KEYS: std::sync::OnceLock<(regorus::Value, regorus::Value)> = std::sync::OnceLock::new();
    let (r, p) = KEYS.get_or_init(|| {
        (
            regorus::Value::from("review"),
            regorus::Value::from("parameters"),
        )
    });
    let mut input = BTreeMap::new();
    input.insert(r.clone(), review.clone());
    input.insert(p.clone(), parameters.clone());
    regorus::Value::from(input)
}

fn timer_config(limit: std::time::Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig {
        limit,
        check_interval: std::num::NonZeroU32::MIN.saturating_add(255),
    }
}

/// Longest one template may run for one review; past it the evaluation fails with an error
/// (reported in [`super::ReviewOutcome::errors`]) instead of holding a worker. Gatekeeper's
/// webhook itself times out after 3 s by default.
pub const EVAL_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A new engine set up as Gatekeeper's OPA behaves: v0 (unless `v1`), non-strict builtin
/// errors, Go-compatible `sprintf`; evaluations are bounded by [`EVAL_TIME_LIMIT`].
pub fn new_engine(v1: bool) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_execution_timer_config(timer_config(EVAL_TIME_LIMIT));
    engine.set_rego_v0(!v1);
    engine.set_strict_builtin_errors(false);
    engine.set_gather_prints(true);
    // Cannot fail on a fresh engine: the name is not registered yet.
    let _ = engine.add_extension("sprintf".into(), 2, Box::new(gofmt::sprintf_extension));
    engine
}

/// Compiles a template's Rego and libs; checks Gatekeeper's rules on packages.
pub(crate) fn compile(
    rego: &str,
    libs: &[String],
    v1: bool,
    backend: Backend,
) -> Result<CompiledRego, String> {
    let mut engine = new_engine(v1);
    let mut sprintf_static = true;
    let mut prepare = |src: &str| {
        let src = if v1 { src.to_string() } else { normalise(src) };
        let (src, all_static) = sprintf_missing_verbs(&src);
        sprintf_static &= all_static;
        src
    };
    let src = prepare(rego);
    let lib_sources: Vec<String> = libs.iter().map(|l| prepare(l)).collect();
    let mut all_sources = vec![src.clone()];
    all_sources.extend(lib_sources.iter().cloned());
    let package = engine
        .add_policy("template.rego".into(), src)
        .map_err(|e| e.to_string())?;
    let package = package
        .strip_prefix("data.")
        .unwrap_or(&package)
        .to_string();
    if package == "lib" || package.starts_with("lib.") {
        return Err(format!(
            "the template's package {package} must not be under lib (reserved for libs)"
        ));
    }
    for (i, src) in lib_sources.into_iter().enumerate() {
        let pkg = engine
            .add_policy(format!("lib{i}.rego"), src)
            .map_err(|e| format!("libs[{i}]: {e}"))?;
        if !pkg.starts_with("data.lib.") {
            return Err(format!(
                "libs[{i}]: package {} must be under lib (package lib.<name>)",
                pkg.strip_prefix("data.").unwrap_or(&pkg)
            ));
        }
    }
    let rule = format!("data.{package}.violation");
    let declared = engine
        .has_declared_rule_rooted_at("template.rego", "violation")
        .map_err(|e| e.to_string())?;
    if !declared {
        return Err(format!(
            "package {package} has no violation rule (violation[{{\"msg\": msg}}] {{ ... }})"
        ));
    }
    // Prepare (analyse and schedule) once, so clones start ready.
    engine.set_input(regorus::Value::new_object());
    engine.eval_rule(rule.clone()).map_err(|e| e.to_string())?;
    let vm = (backend != Backend::Interpreter && sprintf_static)
        .then(|| vm_program(&engine, &rule))
        .flatten();
    let native = match backend {
        Backend::Auto => super::native::compile(&all_sources, v1, &package),
        _ => Err(super::native::Unsupported(
            "PALISADE_GATEKEEPER_ENGINE selects regorus".into(),
        )),
    };
    Ok(CompiledRego {
        engine,
        vm,
        package,
        rule,
        native,
        fallbacks: std::sync::atomic::AtomicU64::new(0),
        last_fallback: std::sync::Mutex::new(None),
    })
}

/// Compiles the prepared engine's policy for the VM; `None` when the VM compiler refuses it.
fn vm_program(engine: &regorus::Engine, rule: &str) -> Option<VmProgram> {
    let entry: regorus::Rc<str> = rule.into();
    let policy = engine.clone().compile_with_entrypoint(&entry).ok()?;
    let program =
        regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &[rule]).ok()?;
    Some(VmProgram { policy, program })
}

/// The elements of a `violation` set as (message, details).
pub(crate) fn violations(value: &regorus::Value) -> Result<Vec<RuleResult>, String> {
    let items: Vec<&regorus::Value> = match value {
        regorus::Value::Undefined | regorus::Value::Null => return Ok(Vec::new()),
        regorus::Value::Set(s) => s.iter().collect(),
        regorus::Value::Array(a) => a.iter().collect(),
        other => return Err(format!("violation is not a set: {other}")),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let msg = &item["msg"];
        let message = match msg {
            regorus::Value::String(s) => s.to_string(),
            regorus::Value::Undefined => {
                return Err(format!("violation without msg: {item}"));
            }
            other => return Err(format!("violation msg is not a string: {other}")),
        };
        let details = match &item["details"] {
            regorus::Value::Undefined => Json::Null,
            d => serde_json::to_value(d).unwrap_or(Json::Null),
        };
        out.push(RuleResult { message, details });
    }
    Ok(out)
}

/// Converts JSON to an engine value without a round trip through text.
pub fn to_value(json: &Json) -> regorus::Value {
    match json {
        Json::Null => regorus::Value::Null,
        Json::Bool(b) => regorus::Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                regorus::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                regorus::Value::from(u)
            } else {
                regorus::Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => regorus::Value::from(s.as_str()),
        Json::Array(a) => regorus::Value::from(a.iter().map(to_value).collect::<Vec<_>>()),
        Json::Object(o) => regorus::Value::from(
            o.iter()
                .map(|(k, v)| (regorus::Value::from(k.as_str()), to_value(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// Converts a tree parsed from JSON ([`crate::object::parse_node`]) to an engine value, the
/// value [`to_value`] gives for the JSON the tree came from ([`crate::object::node_to_json`])
/// without building that JSON: quoted scalars are strings, plain ones `null`, booleans or
/// numbers (an integer as `i64`, else `u64`, else `f64`).
pub fn node_value(node: &palisade_model::Node) -> regorus::Value {
    use palisade_model::Value as N;
    match &node.value {
        N::Scalar(s) if !s.plain => regorus::Value::from(&*s.text),
        N::Scalar(s) => plain_scalar_value(&s.text),
        N::Seq(items) => regorus::Value::from(items.iter().map(node_value).collect::<Vec<_>>()),
        N::Map(entries) => regorus::Value::from(
            entries
                .iter()
                .map(|e| (regorus::Value::from(&*e.key), node_value(&e.value)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// A plain scalar of a JSON tree as [`to_value`] reads the `serde_json` value `node_to_json`
/// makes of it.
fn plain_scalar_value(text: &str) -> regorus::Value {
    match text {
        "null" => regorus::Value::Null,
        "true" => regorus::Value::Bool(true),
        "false" => regorus::Value::Bool(false),
        t => {
            if let Ok(i) = t.parse::<i64>() {
                regorus::Value::from(i)
            } else if let Ok(u) = t.parse::<u64>() {
                regorus::Value::from(u)
            } else {
                match t.parse::<f64>() {
                    Ok(f) if f.is_finite() => regorus::Value::from(f),
                    _ => regorus::Value::from(t),
                }
            }
        }
    }
}

/// `input.review`: the request, plus `namespaceObject` when the namespace is known and the
/// request does not carry one.
pub(crate) fn review_value(
    request: &Json,
    namespace: Option<super::constraint::NamespaceObject<'_>>,
) -> regorus::Value {
    let mut v = to_value(request);
    if let (Some(ns), regorus::Value::Object(_)) = (namespace, &v)
        && v["namespaceObject"] == regorus::Value::Undefined
        && let Ok(map) = v.as_object_mut()
    {
        map.insert(regorus::Value::from("namespaceObject"), ns.value());
    }
    v
}

/// [`review_value`] for a parsed AdmissionReview, built from its model tree.
pub(crate) fn review_value_of(
    review: &crate::review::AdmissionReview,
    namespace: Option<super::constraint::NamespaceObject<'_>>,
) -> regorus::Value {
    let mut map: BTreeMap<regorus::Value, regorus::Value> = review
        .request_fields()
        .map(|(k, v)| (regorus::Value::from(k), node_value(v)))
        .collect();
    if let Some(ns) = namespace {
        map.entry(regorus::Value::from("namespaceObject"))
            .or_insert_with(|| ns.value());
    }
    regorus::Value::from(map)
}

// ---------------------------------------------------------------------------------------------
// Source normalisation (v0 modules).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tk {
    Ident,
    Number,
    Str,
    Comment,
    Space,
    Newline,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: Tk,
    start: usize,
    end: usize,
}

fn lex(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = match c {
            b'\n' => {
                i += 1;
                Tk::Newline
            }
            b' ' | b'\t' | b'\r' => {
                while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r') {
                    i += 1;
                }
                Tk::Space
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                Tk::Comment
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                Tk::Str
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                Tk::Str
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                Tk::Ident
            }
            c if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                Tk::Number
            }
            _ => {
                // (`get`: the byte after a one-byte punctuation may begin a multi-byte char.)
                let two = src.get(i..i + 2).unwrap_or("");
                i += if matches!(two, ":=" | "==" | "!=" | "<=" | ">=") {
                    2
                } else {
                    // One character (UTF-8 aware).
                    src[i..].chars().next().map_or(1, char::len_utf8)
                };
                Tk::Punct
            }
        };
        out.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    out
}

const KEYWORDS: &[&str] = &[
    "not", "some", "with", "else", "import", "package", "default", "in", "if", "contains", "every",
    "as", "true", "false", "null",
];

/// The kind of a source token.
pub(crate) use Tk as TokenKind;

/// Whether `word` is a Rego keyword (`not`, `some`, `with`, `else`, `if`, `in`...).
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// The tokens of a Rego source, spaces, newlines and comments included: (kind, text).
pub(crate) fn all_tokens(src: &str) -> Vec<(Tk, &str)> {
    lex(src).iter().map(|t| (t.kind, text(src, t))).collect()
}

fn significant(t: &Tok) -> bool {
    !matches!(t.kind, Tk::Space | Tk::Newline | Tk::Comment)
}

fn text<'a>(src: &'a str, t: &Tok) -> &'a str {
    &src[t.start..t.end]
}

/// Applies (position, insertion) edits.
fn apply(src: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    if edits.is_empty() {
        return src.to_string();
    }
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for (start, end, ins) in edits {
        if start < at {
            continue; // overlapping edit: keep the first
        }
        out.push_str(&src[at..start]);
        out.push_str(&ins);
        at = end;
    }
    out.push_str(&src[at..]);
    out
}

/// `sprintf("%v and %v", [x])` → `sprintf("%v and %%!v(MISSING)", [x])`: Go's output for a verb
/// without argument, written into a literal format so that regorus's own `sprintf` (used by
/// the VM) prints it too. Returns the source and whether every `sprintf` call has a literal
/// format and a literal array with no more elements than verbs (otherwise only the
/// interpreter, with its Go-compatible `sprintf`, gets every case right).
pub fn sprintf_missing_verbs(src: &str) -> (String, bool) {
    let toks = lex(src);
    let sig: Vec<Tok> = toks.iter().copied().filter(significant).collect();
    let mut edits = Vec::new();
    let mut all_static = true;
    for (i, t) in sig.iter().enumerate() {
        if t.kind != Tk::Ident || text(src, t) != "sprintf" {
            continue;
        }
        if i > 0 && text(src, &sig[i - 1]) == "." {
            continue;
        }
        let Some(open) = sig
            .get(i + 1)
            .filter(|o| text(src, o) == "(")
            .map(|_| i + 1)
        else {
            continue;
        };
        let args = split_args(src, &sig, open);
        let checked = match args.as_slice() {
            [(fa, fb), (aa, ab)] if fb - fa == 1 => {
                let fmt = &sig[*fa];
                let fmt_text = text(src, fmt);
                let arr = &sig[*aa..*ab];
                let is_array = text(src, &arr[0]) == "["
                    && close_of(src, arr, 0) == Some(arr.len() - 1)
                    && !arr.iter().any(|t| text(src, t) == "|");
                if fmt.kind == Tk::Str && fmt_text.starts_with('"') && is_array {
                    let elements = split_args(src, arr, 0).len();
                    let (verbs, rewritten) = fill_missing(fmt_text, elements);
                    match verbs {
                        Some(v) if v >= elements => {
                            if v > elements {
                                edits.push((fmt.start, fmt.end, rewritten));
                            }
                            true
                        }
                        _ => false,
                    }
                } else {
                    false
                }
            }
            _ => false,
        };
        all_static &= checked;
    }
    (apply(src, edits), all_static)
}

/// Counts the verbs of a quoted format and replaces those past `have` arguments with Go's
/// `%!<verb>(MISSING)` (written `%%!<verb>(MISSING)`). `None` when the format uses `*` widths.
fn fill_missing(quoted: &str, have: usize) -> (Option<usize>, String) {
    let mut out = String::with_capacity(quoted.len() + 16);
    let mut chars = quoted.chars().peekable();
    let mut verbs = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::from("%");
        while let Some(&f) = chars.peek() {
            if matches!(f, '+' | '-' | '#' | '0' | ' ' | '.') || f.is_ascii_digit() {
                spec.push(f);
                chars.next();
            } else {
                break;
            }
        }
        match chars.next() {
            Some('%') if spec == "%" => out.push_str("%%"),
            Some('*') => return (None, String::new()),
            Some('"') | None => {
                // `%` at the end of the format.
                out.push_str(&spec);
                out.push('"');
            }
            Some(verb) => {
                if verbs >= have {
                    out.push_str(&format!("%%!{verb}(MISSING)"));
                } else {
                    out.push_str(&spec);
                    out.push(verb);
                }
                verbs += 1;
            }
        }
    }
    (Some(verbs), out)
}

/// Rewrites a v0 module where regorus would read it differently from OPA (see the module
/// documentation): multi-body rules, newline-then-`(`, and call arguments of negated
/// expressions.
pub fn normalise(src: &str) -> String {
    let s = split_multi_body_rules(src);
    let s = separate_paren_lines(&s);
    lift_negated_call_args(&s)
}

/// `p { a } { b }` → `p { a }` + `p { b }`.
fn split_multi_body_rules(src: &str) -> String {
    let toks = lex(src);
    let mut edits = Vec::new();
    let mut depth = 0i32;
    let mut line_start = true;
    let mut rule_start: Option<usize> = None;
    let mut first_body: Option<usize> = None;
    let mut prev_sig: Option<usize> = None; // index into toks
    let mut last_body_close: Option<usize> = None; // index of `}` closing a depth-0 body
    let mut body_open_stack: Vec<bool> = Vec::new(); // per open bracket: is a depth-0 body brace
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tk::Newline => {
                if depth == 0 {
                    line_start = true;
                }
                continue;
            }
            Tk::Space | Tk::Comment => continue,
            _ => {}
        }
        let tx = text(src, t);
        if depth == 0 && line_start && tx != "{" && tx != "else" {
            rule_start = Some(t.start);
            first_body = None;
            last_body_close = None;
        }
        line_start = false;
        match tx {
            "{" | "[" | "(" => {
                let mut is_body = false;
                if depth == 0 && tx == "{" {
                    let prev = prev_sig.map(|p| text(src, &toks[p]));
                    let value_brace = matches!(prev, Some("=" | ":="));
                    if !value_brace {
                        is_body = true;
                        let chained = prev == Some("}") && last_body_close == prev_sig;
                        match (chained, rule_start, first_body) {
                            (true, Some(rs), Some(fb)) => {
                                let head = head_text(src, &toks, rs, fb);
                                edits.push((t.start, t.start, format!("\n{head} ")));
                            }
                            _ => first_body = first_body.or(Some(t.start)),
                        }
                    }
                }
                body_open_stack.push(is_body);
                depth += 1;
            }
            "}" | "]" | ")" => {
                let was_body = body_open_stack.pop().unwrap_or(false);
                depth = (depth - 1).max(0);
                if depth == 0 && was_body {
                    last_body_close = Some(i);
                }
            }
            _ => {}
        }
        prev_sig = Some(i);
    }
    apply(src, edits)
}

/// The head text between `start` and `end`, comments dropped and on one line.
fn head_text(src: &str, toks: &[Tok], start: usize, end: usize) -> String {
    let mut s = String::new();
    for t in toks.iter().filter(|t| t.start >= start && t.end <= end) {
        match t.kind {
            Tk::Comment => {}
            Tk::Newline | Tk::Space => {
                if !s.ends_with(' ') {
                    s.push(' ');
                }
            }
            _ => s.push_str(text(src, t)),
        }
    }
    s.trim().to_string()
}

/// `x.y` ⏎ `(a) ...` inside a body → `x.y;` ⏎ `(a) ...`.
fn separate_paren_lines(src: &str) -> String {
    let toks = lex(src);
    let mut edits = Vec::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut prev_sig: Option<&Tok> = None;
    let mut newline_since_prev = false;
    for t in &toks {
        match t.kind {
            Tk::Newline => {
                newline_since_prev = true;
                continue;
            }
            Tk::Space | Tk::Comment => continue,
            _ => {}
        }
        let tx = text(src, t);
        if tx == "("
            && newline_since_prev
            && stack.last() == Some(&"{")
            && let Some(p) = prev_sig
        {
            let ptx = text(src, p);
            let ends_term = match p.kind {
                Tk::Ident => !KEYWORDS.contains(&ptx) || matches!(ptx, "true" | "false" | "null"),
                Tk::Number | Tk::Str => true,
                Tk::Punct => matches!(ptx, "]" | ")"),
                _ => false,
            };
            if ends_term {
                edits.push((p.end, p.end, ";".to_string()));
            }
        }
        match tx {
            "{" | "[" | "(" => stack.push(tx),
            "}" | "]" | ")" => {
                stack.pop();
            }
            _ => {}
        }
        prev_sig = Some(t);
        newline_since_prev = false;
    }
    apply(src, edits)
}

/// `not f(a.b, g(c))` → `__palisade_0 = a.b; __palisade_1 = g(c); not f(__palisade_0, __palisade_1)`
/// (unification, which fails on an undefined value in both of regorus's evaluators).
fn lift_negated_call_args(src: &str) -> String {
    let toks = lex(src);
    let sig: Vec<Tok> = toks.iter().copied().filter(significant).collect();
    // Newline positions matter for where an expression ends.
    let mut edits = Vec::new();
    let mut counter = 0usize;
    for (i, t) in sig.iter().enumerate() {
        if t.kind != Tk::Ident || text(src, t) != "not" {
            continue;
        }
        // `not` must start an expression.
        let starts_expr = i == 0
            || matches!(text(src, &sig[i - 1]), "{" | ";" | "|")
            || has_newline_between(src, sig[i - 1].end, t.start);
        if !starts_expr {
            continue;
        }
        let Some(end) = expr_end(src, &sig, i + 1) else {
            continue;
        };
        let expr = &sig[i + 1..end];
        if expr.is_empty() || expr.iter().any(|t| text(src, t) == "with") {
            continue;
        }
        let mut lifts: Vec<(usize, usize)> = Vec::new(); // byte ranges to lift
        if let Some(open) = call_open(src, expr, 0)
            && close_of(src, expr, open) == Some(expr.len() - 1)
        {
            // The whole expression is one call: lift reference and call arguments.
            for (a, b) in split_args(src, expr, open) {
                let arg = &expr[a..b];
                if is_liftable_ref(src, arg) || is_whole_call(src, arg) {
                    lifts.push((arg[0].start, arg[arg.len() - 1].end));
                }
            }
        }
        if lifts.is_empty() && !is_whole_call(src, expr) {
            // An operator expression: lift calls at its top level.
            let mut j = 0;
            while j < expr.len() {
                if let Some(open) = call_open(src, expr, j)
                    && let Some(close) = close_of(src, expr, open)
                {
                    lifts.push((expr[j].start, expr[close].end));
                    j = close + 1;
                    continue;
                }
                match text(src, &expr[j]) {
                    "(" | "[" | "{" => j = close_of(src, expr, j).map_or(expr.len(), |c| c + 1),
                    _ => j += 1,
                }
            }
        }
        if lifts.is_empty() {
            continue;
        }
        let mut prefix = String::new();
        for (a, b) in lifts {
            let var = format!("__palisade_{counter}");
            counter += 1;
            prefix.push_str(&format!("{var} = {}; ", &src[a..b]));
            edits.push((a, b, var));
        }
        edits.push((t.start, t.start, prefix));
    }
    apply(src, edits)
}

fn has_newline_between(src: &str, a: usize, b: usize) -> bool {
    src[a..b].contains('\n')
}

/// Index (in `sig`) one past the last token of the expression starting at `from`.
fn expr_end(src: &str, sig: &[Tok], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut j = from;
    while j < sig.len() {
        let tx = text(src, &sig[j]);
        if j > from && depth == 0 && has_newline_between(src, sig[j - 1].end, sig[j].start) {
            // A newline at depth 0 ends the expression unless the previous token continues it.
            let prev = text(src, &sig[j - 1]);
            if !matches!(
                prev,
                "," | "+"
                    | "-"
                    | "*"
                    | "/"
                    | "=="
                    | "!="
                    | "<"
                    | ">"
                    | "<="
                    | ">="
                    | "&"
                    | "|"
                    | "."
                    | ":="
                    | "="
            ) {
                return Some(j);
            }
        }
        match tx {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                if depth == 0 {
                    return Some(j);
                }
                depth -= 1;
            }
            ";" if depth == 0 => return Some(j),
            _ => {}
        }
        j += 1;
    }
    Some(j)
}

/// When a call starts at `at` (`name(.name)*(` with `(` right after the name), the index of
/// its `(`.
fn call_open(src: &str, toks: &[Tok], at: usize) -> Option<usize> {
    let first = toks.get(at)?;
    if first.kind != Tk::Ident || KEYWORDS.contains(&text(src, first)) {
        return None;
    }
    let mut j = at + 1;
    while j + 1 < toks.len()
        && text(src, &toks[j]) == "."
        && toks[j + 1].kind == Tk::Ident
        && toks[j].start == toks[j - 1].end
    {
        j += 2;
    }
    let open = toks.get(j)?;
    (text(src, open) == "(" && open.start == toks[j - 1].end).then_some(j)
}

/// Index of the bracket closing the one at `open`.
fn close_of(src: &str, toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match text(src, t) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// Argument token ranges of the call whose `(` is at `open`.
fn split_args(src: &str, toks: &[Tok], open: usize) -> Vec<(usize, usize)> {
    let Some(close) = close_of(src, toks, open) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = open + 1;
    for (j, tok) in toks.iter().enumerate().take(close).skip(open + 1) {
        match text(src, tok) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            "," if depth == 0 => {
                if j > start {
                    out.push((start, j));
                }
                start = j + 1;
            }
            _ => {}
        }
    }
    if close > start {
        out.push((start, close));
    }
    out
}

/// `a.b`, `a.b.c`, `a["k"]`, `a[0].b`: a reference with at least one constant step. Variable
/// indexes are left alone (lifting `x[_]` out of a negation would change its meaning).
fn is_liftable_ref(src: &str, toks: &[Tok]) -> bool {
    let Some(first) = toks.first() else {
        return false;
    };
    if first.kind != Tk::Ident || KEYWORDS.contains(&text(src, first)) || text(src, first) == "_" {
        return false;
    }
    let mut j = 1;
    let mut steps = 0;
    while j < toks.len() {
        match text(src, &toks[j]) {
            "." if toks.get(j + 1).is_some_and(|t| t.kind == Tk::Ident) => j += 2,
            "[" if toks
                .get(j + 1)
                .is_some_and(|t| matches!(t.kind, Tk::Str | Tk::Number))
                && toks.get(j + 2).is_some_and(|t| text(src, t) == "]") =>
            {
                j += 3
            }
            _ => return false,
        }
        steps += 1;
    }
    steps > 0
}

/// The tokens are exactly one call `f(...)`.
fn is_whole_call(src: &str, toks: &[Tok]) -> bool {
    call_open(src, toks, 0).is_some_and(|open| close_of(src, toks, open) == Some(toks.len() - 1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn punctuation_before_a_multibyte_character_is_one_token() {
        // Found by the memo_reads fuzz target: a two-byte check sliced inside the character.
        let src = "violation[{\u{78c}: m}] { m := 1 }";
        let toks = super::all_tokens(src);
        assert!(toks.iter().any(|t| t.1 == "{"));
        assert!(toks.iter().any(|t| t.1 == ":="));
        assert_eq!(toks.iter().map(|t| t.1).collect::<String>(), src);
        assert_eq!(super::normalise(src), src);
    }

    use super::*;

    #[test]
    fn node_values_are_the_values_of_their_json() {
        let texts = [
            r#"{"b": 1, "a": [true, false, null, -3, 2.5, 4.0, 1e300, -1e-300, 18446744073709551615, 9223372036854775807, -9223372036854775808, 123456789012345678901234], "s": "x\u00e9\n", "o": {}}"#,
            r#"{"k": 1, "j": {"x": "1", "t": "true", "n": "null"}, "k": {"y": [1, "2", [[]]]}}"#,
            r#"[]"#,
            r#""plain string""#,
            r#"-0.0"#,
            r#"0"#,
            r#"null"#,
        ];
        for t in texts {
            let node = crate::object::parse_node(t.as_bytes()).unwrap();
            let want = to_value(&crate::object::node_to_json(&node));
            let got = node_value(&node);
            assert_eq!(got, want, "{t}");
            // Same numeric representation, not only equal numbers.
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap(),
                "{t}"
            );
        }
    }

    #[test]
    fn multi_body_rules_get_their_head_repeated() {
        let src = "package p\nviolation[{\"msg\": m}] {\n  input.a\n  m := \"a\"\n} {\n  input.b\n  m := \"b\"\n}\n";
        let out = normalise(src);
        assert!(out.contains("} \nviolation[{\"msg\": m}] {"), "{out}");
        // A rule whose value is an object is not a multi-body rule.
        let src = "package p\nx = {\"a\": 1}\ny { true }\n";
        assert_eq!(normalise(src), src);
        // else chains are left alone.
        let src = "package p\nx = 1 { input.a } else = 2 { input.b }\n";
        assert_eq!(normalise(src), src);
    }

    #[test]
    fn newline_then_paren_is_two_expressions() {
        let src = "package p\nr {\n  input.a\n  (input.b - 1) >= 0\n}\n";
        assert_eq!(
            normalise(src),
            "package p\nr {\n  input.a;\n  (input.b - 1) >= 0\n}\n"
        );
        // Inside parentheses and after operators nothing changes.
        let src = "package p\nr {\n  x := f(input.a,\n  (input.b))\n  y := 1 +\n  (2)\n}\n";
        assert_eq!(normalise(src), src);
    }

    #[test]
    fn sprintf_formats_get_go_missing_markers() {
        let (out, all) = sprintf_missing_verbs("x := sprintf(\"%v and %5d, 100%%\", [a])\n");
        assert_eq!(out, "x := sprintf(\"%v and %%!d(MISSING), 100%%\", [a])\n");
        assert!(all);
        let (out, all) = sprintf_missing_verbs("x := sprintf(\"%v\", [a, b])\n");
        assert_eq!(out, "x := sprintf(\"%v\", [a, b])\n");
        assert!(!all, "extra arguments need Go's EXTRA output");
        assert!(!sprintf_missing_verbs("x := sprintf(f, [a])\n").1);
        assert!(!sprintf_missing_verbs("x := sprintf(\"%v\", args)\n").1);
        assert!(sprintf_missing_verbs("x := sprintf(\"%v %v\", [f(a, b), [1, 2]])\n").1);
    }

    #[test]
    fn negated_call_arguments_are_lifted() {
        let src = "package p\nr { not f(1, p.ranges) }\n";
        assert_eq!(
            normalise(src),
            "package p\nr { __palisade_0 = p.ranges; not f(1, __palisade_0) }\n"
        );
        let src = "package p\nr {\n  not count(input.x) > 0\n}\n";
        assert_eq!(
            normalise(src),
            "package p\nr {\n  __palisade_0 = count(input.x); not __palisade_0 > 0\n}\n"
        );
        // Plain variables, wildcard indexes, operators on references: unchanged.
        for src in [
            "package p\nr { not f(x) }\n",
            "package p\nr { not f(x[_]) }\n",
            "package p\nr { not input.a == input.b }\n",
            "package p\nr { not input.a }\n",
            "package p\nr { x := \"not f(a.b)\" }\n",
        ] {
            assert_eq!(normalise(src), src);
        }
    }
}
