//! ConstraintTemplates: parsing, compiling once, and evaluating with a pool of engines.

use super::memo::{self, Memo};
use super::rego::{self, Backend, CompiledRego, Worker};
use super::{Inventory, diag};
use palisade_model::{DiagCode, Diagnostic, Node};
use serde_json::Value as Json;
use std::sync::Mutex;

/// The only target Gatekeeper's admission templates use.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// Most engines kept ready per template and inventory (one per concurrent review).
const POOL_LIMIT: usize = 64;

/// Whether verdicts are memoised: yes, unless `PALISADE_GATEKEEPER_MEMO=off`.
fn memo_enabled() -> bool {
    std::env::var("PALISADE_GATEKEEPER_MEMO").map_or(true, |v| v != "off")
}

/// Deepest nesting of array, set and object literals (and comprehensions) a template's Rego may
/// have. regorus parses each `[`/`{` literal first as a comprehension and again as a plain
/// literal, so parse time doubles or more with every level (found by fuzzing: 16 levels took
/// most of a minute). Real templates nest a few levels.
pub(crate) const MAX_LITERAL_DEPTH: usize = 10;

/// The deepest nesting of `[` and `{` openers in Rego source that start a literal or a body
/// (not a `[` right after a name, `]`, `)`, `}` or string, which indexes a value), outside
/// strings and comments.
pub(crate) fn literal_depth(src: &str) -> usize {
    let b = src.as_bytes();
    let (mut i, mut depth, mut max) = (0, 0usize, 0usize);
    // For every open bracket: whether it was counted.
    let mut open: Vec<bool> = Vec::new();
    let mut prev = b' ';
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                prev = b' ';
                continue;
            }
            b'"' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    if c == b'"' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                prev = b'"';
                continue;
            }
            b'[' | b'{' => {
                let index = c == b'['
                    && (prev.is_ascii_alphanumeric()
                        || matches!(prev, b'_' | b']' | b')' | b'}' | b'"'));
                open.push(!index);
                if !index {
                    depth += 1;
                    max = max.max(depth);
                }
            }
            b']' | b'}' => depth -= usize::from(open.pop() == Some(true)),
            _ => {}
        }
        prev = c;
        i += 1;
    }
    max
}

/// A compiled ConstraintTemplate.
#[derive(Debug)]
pub struct Template {
    /// `metadata.name`.
    pub name: String,
    /// The Constraint kind it defines (`spec.crd.spec.names.kind`).
    pub kind: String,
    /// File it was loaded from.
    pub file: String,
    /// Line of the template in its file.
    pub line: u32,
    /// The parameters schema (`spec.crd.spec.validation.openAPIV3Schema`), when given.
    pub schema: Option<Json>,
    /// The Rego package of the template's main module (`data.<package>.violation` is queried).
    pub package: String,
    /// Whether the Rego reads `data.inventory` (only then is the inventory loaded into engines).
    pub uses_inventory: bool,
    compiled: CompiledRego,
    pool: Mutex<Vec<(u64, Worker)>>,
    /// Verdicts by the input the Rego reads, when its verdict depends on nothing else.
    memo: Option<Memo>,
}

/// One element of the `violation` set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleResult {
    pub message: String,
    pub details: Json,
}

fn str_at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    node.at(path).and_then(Node::as_str)
}

impl Template {
    /// Parses and compiles a ConstraintTemplate document.
    pub(crate) fn parse(
        file: &str,
        root: &Node,
        backend: Backend,
    ) -> Result<Template, Vec<Diagnostic>> {
        let err = |node: &Node, field: &str, code: DiagCode, msg: String| {
            vec![diag(file, Some(node.pos), Some(field), code, msg)]
        };
        let name = match str_at(root, &["metadata", "name"]) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => {
                return Err(err(
                    root,
                    "metadata.name",
                    DiagCode::MissingField,
                    "ConstraintTemplate without metadata.name; skipped".into(),
                ));
            }
        };
        let what = format!("ConstraintTemplate {name}");
        let kind = match root.at(&["spec", "crd", "spec", "names", "kind"]) {
            Some(n) => match n.as_string_value() {
                Some(k) if !k.is_empty() => k.to_string(),
                _ => {
                    return Err(err(
                        n,
                        "spec.crd.spec.names.kind",
                        DiagCode::InvalidField,
                        format!("{what}: kind must be a non-empty string; skipped"),
                    ));
                }
            },
            None => {
                return Err(err(
                    root,
                    "spec.crd.spec.names.kind",
                    DiagCode::MissingField,
                    format!("{what}: spec.crd.spec.names.kind is required; skipped"),
                ));
            }
        };
        let schema = match root.at(&["spec", "crd", "spec", "validation", "openAPIV3Schema"]) {
            Some(n) if n.is_map() => Some(n.to_json()),
            Some(n) if n.is_null() => None,
            Some(n) => {
                return Err(err(
                    n,
                    "spec.crd.spec.validation.openAPIV3Schema",
                    DiagCode::InvalidField,
                    format!("{what}: openAPIV3Schema must be a mapping; skipped"),
                ));
            }
            None => None,
        };
        let Some(targets) = root.at(&["spec", "targets"]).filter(|t| t.is_seq()) else {
            return Err(err(
                root,
                "spec.targets",
                DiagCode::MissingField,
                format!("{what}: spec.targets (a list) is required; skipped"),
            ));
        };
        let Some(target) = targets
            .items()
            .iter()
            .find(|t| str_at(t, &["target"]) == Some(ADMISSION_TARGET))
        else {
            return Err(err(
                targets,
                "spec.targets",
                DiagCode::InvalidField,
                format!("{what}: no target {ADMISSION_TARGET}; skipped"),
            ));
        };
        let source = rego_source(file, &what, target)?;
        let depth = std::iter::once(&source.rego)
            .chain(source.libs.iter())
            .map(|s| literal_depth(s))
            .max()
            .unwrap_or(0);
        if depth > MAX_LITERAL_DEPTH {
            return Err(err(
                source.node,
                source.field,
                DiagCode::InvalidField,
                format!(
                    "{what}: Rego nests array/set/object literals {depth} deep (at most {MAX_LITERAL_DEPTH}); skipped"
                ),
            ));
        }
        let compiled =
            rego::compile(&source.rego, &source.libs, source.v1, backend).map_err(|e| {
                err(
                    source.node,
                    source.field,
                    DiagCode::InvalidField,
                    format!("{what}: Rego does not compile: {e}"),
                )
            })?;
        let uses_inventory = std::iter::once(&source.rego)
            .chain(source.libs.iter())
            .any(|s| s.contains("data.inventory"));
        let sources: Vec<&str> = std::iter::once(source.rego.as_str())
            .chain(source.libs.iter().map(String::as_str))
            .collect();
        let memo = (memo_enabled() && !uses_inventory)
            .then(|| memo::input_reads(&sources, &compiled.package))
            .flatten()
            .map(Memo::new);
        Ok(Template {
            name,
            kind,
            file: file.to_string(),
            line: root.pos.line,
            schema,
            package: compiled.package.clone(),
            uses_inventory,
            compiled,
            pool: Mutex::new(Vec::new()),
            memo,
        })
    }

    /// Evaluates `violation` for one review and one set of parameters, stopping at `deadline`
    /// (or answers from the memo; `hashes`: the review's, shared by its templates).
    pub(crate) fn evaluate(
        &self,
        review: &regorus::Value,
        parameters: &regorus::Value,
        inventory: Option<&Inventory>,
        deadline: Option<std::time::Instant>,
        hashes: &memo::ReadHashes,
    ) -> Result<Vec<RuleResult>, String> {
        let Some(memo) = self.memo.as_ref().filter(|m| m.enabled() && m.worth_it()) else {
            return self.run(review, parameters, inventory, deadline);
        };
        let key = memo.key(review, parameters, hashes);
        if let Some(v) = memo.get(key) {
            return Ok(v.as_ref().clone());
        }
        let results = self.run(review, parameters, inventory, deadline)?;
        memo.put(key, std::sync::Arc::new(results.clone()));
        Ok(results)
    }

    /// The input prefixes whose values decide this template's verdict (see [`memo`]), when
    /// its verdicts are memoised: `["review", "object", "spec", "containers"]`...
    pub fn memo_reads(&self) -> Option<Vec<String>> {
        self.memo
            .as_ref()
            .map(|m| m.reads().iter().map(|p| p.join(".")).collect())
    }

    /// Whether the template's verdicts can be memoised (see [`memo`]).
    pub fn is_memoised(&self) -> bool {
        self.memo.is_some()
    }

    /// Turns the verdict memo on (the default, unless `PALISADE_GATEKEEPER_MEMO=off`) or off.
    pub fn set_memo(&self, on: bool) {
        if let Some(m) = &self.memo {
            m.set_enabled(on);
        }
    }

    /// Reviews answered from the memo and evaluated, so far.
    pub fn memo_counts(&self) -> (u64, u64) {
        self.memo.as_ref().map_or((0, 0), Memo::counts)
    }

    /// Evaluates the Rego.
    fn run(
        &self,
        review: &regorus::Value,
        parameters: &regorus::Value,
        inventory: Option<&Inventory>,
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<RuleResult>, String> {
        let inventory = inventory.filter(|_| self.uses_inventory);
        // One time budget for the evaluation: a review the native evaluator hands back (on its
        // time limit, say) leaves regorus what remains, not a fresh EVAL_TIME_LIMIT.
        let deadline =
            Some(deadline.unwrap_or_else(|| std::time::Instant::now() + rego::EVAL_TIME_LIMIT));
        if inventory.is_none()
            && let Some(value) = self.compiled.eval_native(review, parameters, deadline)
        {
            return rego::violations(&value);
        }
        let id = inventory.map_or(0, |i| i.id);
        let mut worker = self.checkout(id, inventory)?;
        let result = self
            .compiled
            .eval(&mut worker, review, parameters, deadline);
        self.checkin(id, worker);
        let value = result?;
        rego::violations(&value)
    }

    /// Why the template does not run on the native evaluator (`None`: it does).
    pub fn native_refusal(&self) -> Option<&str> {
        self.compiled.native_refusal()
    }

    /// Reviews the native evaluator handed to regorus so far, and the last reason why.
    pub fn native_fallbacks(&self) -> (u64, Option<String>) {
        self.compiled.native_fallbacks()
    }

    /// Whether the template runs on regorus's VM (else on its interpreter).
    pub fn uses_vm(&self) -> bool {
        self.compiled.uses_vm()
    }

    fn checkout(&self, id: u64, inventory: Option<&Inventory>) -> Result<Worker, String> {
        {
            let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = pool.iter().rposition(|(pid, _)| *pid == id) {
                return Ok(pool.swap_remove(i).1);
            }
        }
        self.compiled.worker(inventory.map(|i| &i.value))
    }

    fn checkin(&self, id: u64, worker: Worker) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        // Workers prepared for an older inventory are of no further use.
        if pool.first().is_some_and(|(pid, _)| *pid != id) {
            pool.retain(|(pid, _)| *pid == id);
        }
        if pool.len() < POOL_LIMIT {
            pool.push((id, worker));
        }
    }
}

struct RegoSource<'a> {
    rego: String,
    libs: Vec<String>,
    v1: bool,
    node: &'a Node,
    field: &'static str,
}

/// The Rego of a target: legacy `rego` + `libs` win over `code[engine=Rego].source`, as in
/// Gatekeeper. CEL (`K8sNativeValidation`) code is not run; templates carrying both engines run
/// their Rego, as `gator verify --enable-k8s-native-validation=false` does.
fn rego_source<'a>(
    file: &str,
    what: &str,
    target: &'a Node,
) -> Result<RegoSource<'a>, Vec<Diagnostic>> {
    let libs_of = |node: Option<&Node>, field: &str| -> Result<Vec<String>, Vec<Diagnostic>> {
        let Some(libs) = node.filter(|n| !n.is_null()) else {
            return Ok(Vec::new());
        };
        if !libs.is_seq() {
            return Err(vec![diag(
                file,
                Some(libs.pos),
                Some(field),
                DiagCode::InvalidField,
                format!("{what}: libs must be a list of Rego modules; skipped"),
            )]);
        }
        libs.items()
            .iter()
            .map(|l| {
                l.as_str().map(str::to_string).ok_or_else(|| {
                    vec![diag(
                        file,
                        Some(l.pos),
                        Some(field),
                        DiagCode::InvalidField,
                        format!("{what}: each lib must be a string; skipped"),
                    )]
                })
            })
            .collect()
    };
    if let Some(rego) = target.get("rego").filter(|n| !n.is_null()) {
        let Some(text) = rego.as_str() else {
            return Err(vec![diag(
                file,
                Some(rego.pos),
                Some("spec.targets[].rego"),
                DiagCode::InvalidField,
                format!("{what}: rego must be a string; skipped"),
            )]);
        };
        return Ok(RegoSource {
            rego: text.to_string(),
            libs: libs_of(target.get("libs"), "spec.targets[].libs")?,
            v1: false,
            node: rego,
            field: "spec.targets[].rego",
        });
    }
    if let Some(code) = target.get("code").filter(|c| c.is_seq()) {
        for c in code.items() {
            if str_at(c, &["engine"]) != Some("Rego") {
                continue;
            }
            let Some(rego) = c.at(&["source", "rego"]).filter(|n| n.as_str().is_some()) else {
                return Err(vec![diag(
                    file,
                    Some(c.pos),
                    Some("spec.targets[].code[].source.rego"),
                    DiagCode::MissingField,
                    format!("{what}: code entry for engine Rego has no source.rego; skipped"),
                )]);
            };
            let v1 = str_at(c, &["source", "version"]) == Some("v1");
            return Ok(RegoSource {
                rego: rego.as_str().unwrap_or_default().to_string(),
                libs: libs_of(
                    c.at(&["source", "libs"]),
                    "spec.targets[].code[].source.libs",
                )?,
                v1,
                node: rego,
                field: "spec.targets[].code[].source.rego",
            });
        }
    }
    Err(vec![diag(
        file,
        Some(target.pos),
        Some("spec.targets[].rego"),
        DiagCode::MissingField,
        format!(
            "{what}: the {ADMISSION_TARGET} target has no Rego (rego, or code with engine Rego); CEL-only templates are not supported; skipped"
        ),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_depth_counts_literals_not_indexes_strings_or_comments() {
        assert_eq!(literal_depth("x := input.a[b[c[d]]]"), 0);
        assert_eq!(
            literal_depth("violation[{\"msg\": m}] { m := [[1], {2}] }"),
            3
        );
        assert_eq!(literal_depth("s := \"[[[[\" # {{{{\nt := `{[{[`"), 0);
        assert_eq!(literal_depth("a := [\n[\n[1]]]"), 3);
        // unbalanced input does not underflow
        assert_eq!(literal_depth("]]}} [["), 2);
    }

    fn template_with(expr: &str) -> String {
        [
            "apiVersion: templates.gatekeeper.sh/v1",
            "kind: ConstraintTemplate",
            "metadata: {name: deep}",
            "spec:",
            "  crd: {spec: {names: {kind: Deep}}}",
            "  targets:",
            "  - target: admission.k8s.gatekeeper.sh",
            "    rego: |",
            "      package deep",
            "      violation[{\"msg\": \"x\"}] {",
            &format!("        x := {expr}"),
            "        count(x) > 5",
            "      }",
            "",
        ]
        .join("\n")
    }

    /// Found by fuzzing (`fuzz/seeds/gatekeeper` mutated): array literals nested 190 deep in a
    /// template's Rego never finished loading (each level doubled regorus's parse time). They are
    /// refused with a diagnostic naming the field; a few levels still load.
    #[test]
    fn deeply_nested_rego_literals_are_refused_not_parsed() {
        let deep = format!("{}1{}", "[".repeat(190), "]".repeat(190));
        let (set, diags) =
            crate::gatekeeper::PolicySet::from_texts([("t.yaml", template_with(&deep).as_str())]);
        assert!(set.templates().is_empty());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].field.as_deref(), Some("spec.targets[].rego"));
        assert!(
            diags[0].message.contains("nests array/set/object literals"),
            "{}",
            diags[0].message
        );
        assert_eq!(diags[0].file, "t.yaml");

        let braces = format!("{}1{}", "{".repeat(40), "}".repeat(40));
        let (set, diags) =
            crate::gatekeeper::PolicySet::from_texts([("t.yaml", template_with(&braces).as_str())]);
        assert!(set.templates().is_empty() && diags.len() == 1, "{diags:?}");

        let (set, diags) = crate::gatekeeper::PolicySet::from_texts([(
            "t.yaml",
            template_with("[[1], [2, [3]]]").as_str(),
        )]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(set.templates().len(), 1);
    }
}
