//! A native evaluator for the Rego that Gatekeeper templates are written in.
//!
//! regorus's register VM spends about a microsecond on every rule or function call (it clones
//! the rule's description, resizes register windows and builds an error value for every body
//! that fails), so a template that walks four fields of two containers through three layers of
//! helper functions (`K8sPSPAllowedUsers`) costs a quarter of a millisecond per Pod. This
//! module evaluates the same modules, parsed by regorus's own parser into regorus's syntax
//! tree, with regorus's own builtins and values, in a direct backtracking evaluator:
//! variables are slots in a vector, every literal passes its solutions on to the next one
//! (continuation passing), and nothing is allocated for a body that fails.
//!
//! It is an accelerator, never the last word. A template is compiled for it only when every
//! construct is one it implements (rules, partial sets and objects, functions with several
//! definitions and `else` chains, defaults, unification and assignment with array and object
//! patterns, `not`, `some`, `some ... in`, `in`, comprehensions, references with iteration,
//! imports of `data.lib...`, builtins from regorus's table with Go's `sprintf`); `with`,
//! `every`, references to `data` outside the template's own rules (`data.inventory`) and
//! builtins that are not pure keep the whole template on regorus. At run time anything whose meaning would
//! depend on a choice this evaluator does not make — a variable read before it is bound (OPA
//! would reorder the body), conflicting rule values, an operator error, a time or step limit —
//! stops it with [`Unsupported`], and the caller evaluates the review on regorus instead. The
//! gator suites of the Gatekeeper library and of `testdata/gatekeeper` run on every evaluator.

use super::gofmt;
use regorus::Value;
use regorus::unstable::{
    ArithOp, AssignOp, BUILTINS, BinOp, BoolOp, Expr, Literal, Module, Parser, Query, Ref, Rule,
    RuleHead, Source, Span,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

/// Why a template, or one evaluation, is left to regorus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

fn unsupported<T>(why: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(why.into()))
}

type Slot = usize;
type RuleId = usize;

/// Builtins left to regorus besides the non-deterministic ones ([`super::memo`]'s list):
/// `trace` (its notes are regorus's).
const LEFT_TO_REGORUS: &[&str] = &["trace"];

/// A compiled expression.
enum Term {
    Const(Value),
    Var(Slot),
    Wild,
    Input,
    Rule(RuleId),
    Index(Box<Term>, Box<Term>),
    Array(Vec<Term>),
    Set(Vec<Term>),
    Object(Vec<(Term, Term)>),
    ArrayCompr(Box<Term>, Vec<Lit>),
    SetCompr(Box<Term>, Vec<Lit>),
    ObjectCompr(Box<Term>, Box<Term>, Vec<Lit>),
    Builtin(Box<Builtin>, Vec<Term>),
    Sprintf(Box<Term>, Box<Term>),
    Print,
    Func(RuleId, Vec<Term>),
    Cmp(BoolOp, Box<Term>, Box<Term>),
    Arith(Box<Operands>, ArithOp),
    SetOp(Box<Operands>, BinOp),
    /// `value in coll` / `key, value in coll`.
    Member(Option<Box<Term>>, Box<Term>, Box<Term>),
    /// A term with at most one value (no iteration in it): evaluated directly, without
    /// continuations.
    Det(Box<Term>),
}

/// Whether a term may have several values (it iterates: `x[_]`, `x[i]` with `i` unbound).
fn may_iterate(t: &Term) -> bool {
    match t {
        Term::Wild => true,
        Term::Const(_) | Term::Var(_) | Term::Input | Term::Rule(_) | Term::Print => false,
        Term::ArrayCompr(..) | Term::SetCompr(..) | Term::ObjectCompr(..) => false,
        Term::Det(_) => false,
        Term::Index(b, i) => {
            matches!(**i, Term::Wild | Term::Var(_)) || may_iterate(b) || may_iterate(i)
        }
        Term::Array(items) | Term::Set(items) => items.iter().any(may_iterate),
        Term::Object(fields) => fields.iter().any(|(k, v)| may_iterate(k) || may_iterate(v)),
        Term::Builtin(_, args) | Term::Func(_, args) => args.iter().any(may_iterate),
        Term::Sprintf(a, b) | Term::Cmp(_, a, b) => may_iterate(a) || may_iterate(b),
        Term::Arith(o, _) | Term::SetOp(o, _) => may_iterate(&o.lhs) || may_iterate(&o.rhs),
        Term::Member(k, v, c) => {
            k.as_deref().is_some_and(may_iterate) || may_iterate(v) || may_iterate(c)
        }
    }
}

/// Whether a term has at most one value and is evaluated directly.
fn is_single(t: &Term) -> bool {
    matches!(
        t,
        Term::Det(_) | Term::Const(_) | Term::Input | Term::Rule(_) | Term::Var(_)
    )
}

/// The values of constant terms (others skipped).
fn constants(items: Vec<Term>) -> impl Iterator<Item = Value> {
    items.into_iter().filter_map(|i| match i {
        Term::Const(v) => Some(v),
        _ => None,
    })
}

/// Folds constant collections and marks terms with one value for direct evaluation.
fn finish(t: Term) -> Term {
    match t {
        Term::Array(items) if items.iter().all(|i| matches!(i, Term::Const(_))) => {
            Term::Const(Value::from(constants(items).collect::<Vec<_>>()))
        }
        Term::Set(items) if items.iter().all(|i| matches!(i, Term::Const(_))) => {
            Term::Const(Value::from(constants(items).collect::<BTreeSet<_>>()))
        }
        Term::Object(fields)
            if fields
                .iter()
                .all(|(k, v)| matches!((k, v), (Term::Const(_), Term::Const(_)))) =>
        {
            let mut m = BTreeMap::new();
            for (k, v) in fields {
                if let (Term::Const(k), Term::Const(v)) = (k, v) {
                    m.insert(k, v);
                }
            }
            Term::Const(Value::from(m))
        }
        t @ (Term::Const(_)
        | Term::Var(_)
        | Term::Wild
        | Term::Input
        | Term::Rule(_)
        | Term::Print
        | Term::Det(_)) => t,
        t if !may_iterate(&t) => Term::Det(Box::new(t)),
        t => t,
    }
}

type BuiltinPtr = fn(&Span, &[Ref<Expr>], &[Value], bool) -> anyhow::Result<Value>;

/// A builtin with what regorus's implementation wants besides the values: the call's span and
/// argument expressions (for its messages).
struct Builtin {
    fcn: BuiltinPtr,
    span: Span,
    params: Vec<Ref<Expr>>,
}

/// The two operands of an operator, with their syntax (regorus's operator functions want it).
struct Operands {
    span: Span,
    lhs: Box<Term>,
    rhs: Box<Term>,
    lhs_expr: Ref<Expr>,
    rhs_expr: Ref<Expr>,
}

/// A compiled body literal.
enum Lit {
    Expr(Term),
    Not(Box<Lit>),
    Assign(Term, Term),
    Unify(Term, Term),
    /// `some value in coll` / `some key, value in coll`.
    SomeIn(Box<(Option<Term>, Term, Term)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Complete,
    PartialSet,
    PartialObject,
    Function(usize),
}

/// One body of a definition with the value it gives (`None`: `true`).
struct Branch {
    lits: Vec<Lit>,
    value: Option<Term>,
}

/// One definition of a rule: its head's arguments or key, and a chain of bodies (the first,
/// then its `else` bodies).
struct Def {
    slots: usize,
    args: Vec<Term>,
    key: Option<Term>,
    chain: Vec<Branch>,
}

struct RuleInfo {
    path: String,
    kind: Kind,
    defs: Vec<Def>,
    default: Option<Value>,
    /// Every body of every definition gives the same constant (`true` for `f(x) { ... }`): the
    /// first solution is the value, no conflict being possible, so the search stops there.
    one_value: bool,
}

/// Whether every body of a rule gives one and the same constant value.
fn gives_one_value(defs: &[Def]) -> bool {
    let mut seen: Option<&Value> = None;
    let t = Value::Bool(true);
    for def in defs {
        for branch in &def.chain {
            let v = match &branch.value {
                None => &t,
                Some(Term::Const(v)) => v,
                Some(_) => return false,
            };
            match seen {
                None => seen = Some(v),
                Some(s) if s == v => {}
                Some(_) => return false,
            }
        }
    }
    // `true` is a fresh value: compare by value, not by where it lives.
    seen.is_some()
}

/// A template compiled for the native evaluator.
pub(crate) struct Program {
    rules: Vec<RuleInfo>,
    entry: RuleId,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "native::Program({} rules)", self.rules.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Compiling.

/// A module's names: its package and its imports (alias → path without `data.`).
struct ModuleScope {
    package: String,
    imports: HashMap<String, String>,
}

struct Compiler<'a> {
    paths: &'a HashMap<String, RuleId>,
    kinds: &'a [Kind],
    module: &'a ModuleScope,
    slots: HashMap<String, Slot>,
    next: Slot,
}

fn dotted(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Var { span, .. } => Some(vec![span.text().to_string()]),
        Expr::RefDot { refr, field, .. } => {
            let mut v = dotted(refr)?;
            v.push(field.0.text().to_string());
            Some(v)
        }
        _ => None,
    }
}

/// A reference flattened into its root and its steps.
enum Step<'e> {
    Field(String),
    Index(&'e Ref<Expr>),
}

fn flatten(expr: &Expr) -> (&Expr, Vec<Step<'_>>) {
    let mut steps = Vec::new();
    let mut at = expr;
    loop {
        match at {
            Expr::RefDot { refr, field, .. } => {
                steps.push(Step::Field(field.0.text().to_string()));
                at = refr;
            }
            Expr::RefBrack { refr, index, .. } => {
                steps.push(Step::Index(index));
                at = refr;
            }
            _ => break,
        }
    }
    steps.reverse();
    (at, steps)
}

fn var_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Var { span, .. } => Some(span.text()),
        _ => None,
    }
}

/// Which variable names a walk over an expression collects (`_` never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// All of them.
    All,
    /// Those outside comprehensions (the enclosing body's own).
    Outer,
    /// Those inside comprehensions (what a comprehension may close over).
    InComprehensions,
}

fn names_in_expr(expr: &Expr, out: &mut BTreeSet<String>) {
    names(expr, Names::All, out)
}

fn compr_names(expr: &Expr, out: &mut BTreeSet<String>) {
    names(expr, Names::InComprehensions, out)
}

fn names(expr: &Expr, mode: Names, out: &mut BTreeSet<String>) {
    let mut sub = |e: &Expr| names(e, mode, out);
    match expr {
        Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. }
            if mode == Names::Outer => {}
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            names(term, Names::All, out);
            names_in_query(query, out);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            names(key, Names::All, out);
            names(value, Names::All, out);
            names_in_query(query, out);
        }
        Expr::Var { span, .. } if span.text() != "_" && mode != Names::InComprehensions => {
            out.insert(span.text().to_string());
        }
        Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().for_each(|i| sub(i)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
            sub(k);
            sub(v);
        }),
        Expr::Call { params, .. } => params.iter().for_each(|p| sub(p)),
        Expr::UnaryExpr { expr, .. } => sub(expr),
        Expr::RefDot { refr, .. } => sub(refr),
        Expr::RefBrack { refr, index, .. } => {
            sub(refr);
            sub(index);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            sub(lhs);
            sub(rhs);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(k) = key {
                sub(k);
            }
            sub(value);
            sub(collection);
        }
        _ => {}
    }
}

fn names_in_query(query: &Query, out: &mut BTreeSet<String>) {
    for stmt in &query.stmts {
        literal_names(&stmt.literal, Names::All, out);
    }
}

/// The variable names of a body literal: all of them (`Names::All`), or those it shares with
/// the enclosing body (`Names::Outer`: none of a negation's, none inside comprehensions).
fn literal_names(literal: &Literal, mode: Names, out: &mut BTreeSet<String>) {
    match literal {
        Literal::NotExpr { .. } if mode == Names::Outer => {}
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => names(expr, mode, out),
        Literal::SomeVars { vars, .. } => out.extend(vars.iter().map(|v| v.text().to_string())),
        Literal::SomeIn {
            key,
            value,
            collection,
            ..
        } => {
            for e in key.iter().chain([value, collection]) {
                names(e, mode, out);
            }
        }
        Literal::Every { domain, .. } => names(domain, mode, out),
    }
}

impl Compiler<'_> {
    fn slot(&mut self, name: &str) -> Slot {
        if let Some(s) = self.slots.get(name) {
            return *s;
        }
        let s = self.next;
        self.next += 1;
        self.slots.insert(name.to_string(), s);
        s
    }

    /// The rule a name stands for in this module, if any (locals first).
    fn rule_named(&self, name: &str) -> Option<RuleId> {
        if self.slots.contains_key(name) {
            return None;
        }
        let local = format!("{}.{name}", self.module.package);
        if let Some(id) = self.paths.get(&local) {
            return Some(*id);
        }
        self.module
            .imports
            .get(name)
            .and_then(|p| self.paths.get(p).copied())
    }

    /// Resolves a static path (without `data.`) to a rule and the steps past it.
    fn rule_path<'e>(
        &self,
        mut path: String,
        steps: &'e [Step<'e>],
    ) -> Result<(RuleId, &'e [Step<'e>]), Unsupported> {
        if let Some(id) = self.paths.get(&path) {
            return Ok((*id, steps));
        }
        for (i, step) in steps.iter().enumerate() {
            let name = match step {
                Step::Field(f) => f.clone(),
                Step::Index(e) => match e.as_ref() {
                    Expr::String { value, .. } | Expr::RawString { value, .. } => {
                        value.as_string().map(|s| s.to_string()).unwrap_or_default()
                    }
                    _ => return unsupported(format!("dynamic reference into data.{path}")),
                },
            };
            path = format!("{path}.{name}");
            if let Some(id) = self.paths.get(&path) {
                return Ok((*id, &steps[i + 1..]));
            }
        }
        unsupported(format!(
            "reference to data.{path} (not a rule of the template)"
        ))
    }

    fn term(&mut self, expr: &Ref<Expr>) -> Result<Term, Unsupported> {
        self.term_inner(expr).map(finish)
    }

    fn term_inner(&mut self, expr: &Ref<Expr>) -> Result<Term, Unsupported> {
        Ok(match expr.as_ref() {
            Expr::String { value, .. }
            | Expr::RawString { value, .. }
            | Expr::Number { value, .. }
            | Expr::Bool { value, .. }
            | Expr::Null { value, .. } => Term::Const(value.clone()),
            Expr::Var { span, .. } => {
                let name = span.text();
                match name {
                    "_" => Term::Wild,
                    "input" => Term::Input,
                    "data" => return unsupported("a reference to data as a whole"),
                    _ => match self.rule_named(name) {
                        // A function without arguments named without `()`: its value.
                        Some(id) if self.kinds[id] == Kind::Function(0) => {
                            Term::Func(id, Vec::new())
                        }
                        Some(id) if self.is_fn(id) => {
                            return unsupported(format!("function {name} used as a value"));
                        }
                        Some(id) => Term::Rule(id),
                        None if self.module.imports.contains_key(name) => {
                            return unsupported(format!("import {name} used as a value"));
                        }
                        None => Term::Var(self.slot(name)),
                    },
                }
            }
            Expr::RefDot { .. } | Expr::RefBrack { .. } => self.reference(expr)?,
            Expr::Array { items, .. } => Term::Array(
                items
                    .iter()
                    .map(|i| self.term(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Set { items, .. } => Term::Set(
                items
                    .iter()
                    .map(|i| self.term(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Object { fields, .. } => Term::Object(
                fields
                    .iter()
                    .map(|(_, k, v)| Ok((self.term(k)?, self.term(v)?)))
                    .collect::<Result<_, Unsupported>>()?,
            ),
            Expr::ArrayCompr { term, query, .. } => {
                let lits = self.query(query)?;
                Term::ArrayCompr(Box::new(self.term(term)?), lits)
            }
            Expr::SetCompr { term, query, .. } => {
                let lits = self.query(query)?;
                Term::SetCompr(Box::new(self.term(term)?), lits)
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                let lits = self.query(query)?;
                Term::ObjectCompr(Box::new(self.term(key)?), Box::new(self.term(value)?), lits)
            }
            Expr::Call {
                span, fcn, params, ..
            } => self.call(span, fcn, params)?,
            Expr::UnaryExpr { .. } => return unsupported("unary minus on an expression"),
            Expr::BoolExpr { op, lhs, rhs, .. } => Term::Cmp(
                op.clone(),
                Box::new(self.term(lhs)?),
                Box::new(self.term(rhs)?),
            ),
            Expr::ArithExpr {
                span, op, lhs, rhs, ..
            } => Term::Arith(Box::new(self.operands(span, lhs, rhs)?), op.clone()),
            Expr::BinExpr {
                span, op, lhs, rhs, ..
            } => Term::SetOp(Box::new(self.operands(span, lhs, rhs)?), op.clone()),
            Expr::AssignExpr { .. } => return unsupported("an assignment inside an expression"),
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => Term::Member(
                key.as_ref()
                    .map(|k| self.term(k))
                    .transpose()?
                    .map(Box::new),
                Box::new(self.term(value)?),
                Box::new(self.term(collection)?),
            ),
        })
    }

    /// Whether a name in a body is a variable of it (not `input`, a rule or an import).
    fn is_local_name(&self, name: &str) -> bool {
        !matches!(name, "input" | "data")
            && self.rule_named(name).is_none()
            && !self.module.imports.contains_key(name)
    }

    fn is_fn(&self, id: RuleId) -> bool {
        matches!(self.kinds[id], Kind::Function(_))
    }

    fn operands(
        &mut self,
        span: &Span,
        lhs: &Ref<Expr>,
        rhs: &Ref<Expr>,
    ) -> Result<Operands, Unsupported> {
        Ok(Operands {
            span: span.clone(),
            lhs: Box::new(self.term(lhs)?),
            rhs: Box::new(self.term(rhs)?),
            lhs_expr: lhs.clone(),
            rhs_expr: rhs.clone(),
        })
    }

    fn reference(&mut self, expr: &Ref<Expr>) -> Result<Term, Unsupported> {
        let (root, steps) = flatten(expr);
        let root_name = var_name(root);
        let (mut term, rest): (Term, &[Step<'_>]) = match root_name {
            Some("data") => {
                let Some(Step::Field(first)) = steps.first() else {
                    return unsupported("a dynamic reference into data");
                };
                let (id, rest) = self.rule_path(first.clone(), &steps[1..])?;
                (Term::Rule(id), rest)
            }
            Some(name)
                if !self.slots.contains_key(name)
                    && self.rule_named(name).is_none()
                    && self.module.imports.contains_key(name) =>
            {
                let path = self.module.imports[name].clone();
                let (id, rest) = self.rule_path(path, &steps)?;
                (Term::Rule(id), rest)
            }
            _ => (finish(self.term_of_root(root)?), &steps[..]),
        };
        if let Term::Rule(id) = term
            && self.is_fn(id)
        {
            if self.kinds[id] != Kind::Function(0) {
                return unsupported("a function used as a value");
            }
            term = Term::Func(id, Vec::new());
        }
        for step in rest {
            let index = match step {
                Step::Field(f) => Term::Const(Value::from(f.as_str())),
                Step::Index(e) => self.term(e)?,
            };
            term = Term::Index(Box::new(term), Box::new(index));
        }
        Ok(term)
    }

    fn term_of_root(&mut self, root: &Expr) -> Result<Term, Unsupported> {
        // The root of a reference is a variable, a call, or a literal collection; rebuild a
        // `Ref` only for the cases `term` needs one for.
        match root {
            Expr::Var { span, .. } => match span.text() {
                "_" => unsupported("`_` as the root of a reference"),
                "input" => Ok(Term::Input),
                name => match self.rule_named(name) {
                    Some(id) => Ok(Term::Rule(id)),
                    None => Ok(Term::Var(self.slot(name))),
                },
            },
            Expr::Call {
                span, fcn, params, ..
            } => self.call(span, fcn, params),
            Expr::Array { items, .. } => Ok(Term::Array(
                items
                    .iter()
                    .map(|i| self.term(i))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Object { fields, .. } => Ok(Term::Object(
                fields
                    .iter()
                    .map(|(_, k, v)| Ok((self.term(k)?, self.term(v)?)))
                    .collect::<Result<_, Unsupported>>()?,
            )),
            _ => unsupported("a reference rooted in an expression"),
        }
    }

    fn call(
        &mut self,
        span: &Span,
        fcn: &Ref<Expr>,
        params: &[Ref<Expr>],
    ) -> Result<Term, Unsupported> {
        let Some(name) = dotted(fcn) else {
            return unsupported("a call of a computed function");
        };
        let args: Vec<Term> = params
            .iter()
            .map(|p| self.term(p))
            .collect::<Result<_, _>>()?;
        // A function of the template or of a lib.
        let path = if name[0] == "data" {
            Some(name[1..].join("."))
        } else if name.len() == 1 {
            let local = format!("{}.{}", self.module.package, name[0]);
            if self.paths.contains_key(&local) {
                Some(local)
            } else {
                self.module.imports.get(&name[0]).cloned()
            }
        } else {
            self.module
                .imports
                .get(&name[0])
                .map(|p| format!("{p}.{}", name[1..].join(".")))
        };
        if let Some(path) = path {
            let Some(&id) = self.paths.get(&path) else {
                return unsupported(format!(
                    "call of data.{path}, not a function of the template"
                ));
            };
            return match self.kinds[id] {
                Kind::Function(n) if n == args.len() => Ok(Term::Func(id, args)),
                Kind::Function(_) => unsupported(format!("{path} called with another arity")),
                _ => unsupported(format!("{path} is not a function")),
            };
        }
        let name = name.join(".");
        match name.as_str() {
            "sprintf" if args.len() == 2 => {
                let mut a = args.into_iter();
                let (Some(f), Some(v)) = (a.next(), a.next()) else {
                    return unsupported("sprintf");
                };
                return Ok(Term::Sprintf(Box::new(f), Box::new(v)));
            }
            "print" => return Ok(Term::Print),
            n if super::memo::is_non_deterministic(n) || LEFT_TO_REGORUS.contains(&n) => {
                return unsupported(format!("builtin {n} is not pure"));
            }
            _ => {}
        }
        let Some(&(fcn, arity)) = BUILTINS.get(name.as_str()) else {
            return unsupported(format!("builtin {name}"));
        };
        if usize::from(arity) != args.len() {
            return unsupported(format!("{name} with {} arguments", args.len()));
        }
        Ok(Term::Builtin(
            Box::new(Builtin {
                fcn,
                span: span.clone(),
                params: params.to_vec(),
            }),
            args,
        ))
    }

    fn query(&mut self, query: &Query) -> Result<Vec<Lit>, Unsupported> {
        // Variables a `not` or a comprehension shares with a later literal, and that no earlier
        // literal has bound, would make OPA reorder the body: not done here.
        let mut seen: BTreeSet<String> = self.slots.keys().cloned().collect();
        let per: Vec<BTreeSet<String>> = query
            .stmts
            .iter()
            .map(|s| {
                let mut n = BTreeSet::new();
                literal_names(&s.literal, Names::Outer, &mut n);
                n
            })
            .collect();
        let mut lits = Vec::with_capacity(query.stmts.len());
        for (i, stmt) in query.stmts.iter().enumerate() {
            if !stmt.with_mods.is_empty() {
                return unsupported("`with`");
            }
            let later: BTreeSet<&String> = per[i + 1..]
                .iter()
                .flatten()
                .filter(|n| self.is_local_name(n))
                .collect();
            let mut closed = BTreeSet::new();
            match &stmt.literal {
                Literal::NotExpr { expr, .. } => names_in_expr(expr, &mut closed),
                Literal::Expr { expr, .. } => compr_names(expr, &mut closed),
                _ => {}
            }
            if let Some(v) = closed
                .iter()
                .find(|v| later.contains(v) && !seen.contains(*v))
            {
                return unsupported(format!(
                    "variable {v} is bound after its use in a negation or comprehension"
                ));
            }
            match &stmt.literal {
                Literal::SomeVars { vars, .. } => {
                    for v in vars {
                        let name = v.text();
                        if self.slots.contains_key(name) || self.rule_named(name).is_some() {
                            return unsupported(format!("`some {name}` shadows a name"));
                        }
                        self.slot(name);
                    }
                }
                Literal::Expr { expr, .. } => lits.push(self.literal(expr)?),
                Literal::NotExpr { expr, .. } => {
                    lits.push(Lit::Not(Box::new(self.literal(expr)?)));
                }
                Literal::SomeIn {
                    key,
                    value,
                    collection,
                    ..
                } => {
                    let coll = self.term(collection)?;
                    // `some` declares the variables of its patterns afresh.
                    let mut declared = BTreeSet::new();
                    if let Some(k) = key {
                        names_in_expr(k, &mut declared);
                    }
                    names_in_expr(value, &mut declared);
                    for name in &declared {
                        if self.slots.contains_key(name.as_str()) || !self.is_local_name(name) {
                            return unsupported(format!("`some {name} in` shadows a name"));
                        }
                        self.slot(name);
                    }
                    let key = key.as_ref().map(|k| self.term(k)).transpose()?;
                    lits.push(Lit::SomeIn(Box::new((key, self.term(value)?, coll))));
                }
                Literal::Every { .. } => return unsupported("`every`"),
            }
            seen.extend(per[i].iter().cloned());
        }
        Ok(lits)
    }

    fn literal(&mut self, expr: &Ref<Expr>) -> Result<Lit, Unsupported> {
        match expr.as_ref() {
            Expr::AssignExpr { op, lhs, rhs, .. } => {
                let value = self.term(rhs)?;
                let mut names = BTreeSet::new();
                names_in_expr(lhs, &mut names);
                if *op == AssignOp::ColEq {
                    for n in &names {
                        if self.rule_named(n).is_some() {
                            return unsupported(format!("`{n} :=` shadows a rule"));
                        }
                    }
                }
                let pattern = self.term(lhs)?;
                Ok(match op {
                    AssignOp::ColEq => Lit::Assign(pattern, value),
                    AssignOp::Eq => Lit::Unify(pattern, value),
                })
            }
            _ => Ok(Lit::Expr(self.term(expr)?)),
        }
    }
}

fn package_path(module: &Module) -> Option<String> {
    let parts = dotted(&module.package.refr)?;
    Some(parts.join("."))
}

fn rule_name(head: &RuleHead) -> Option<String> {
    let refr = match head {
        RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } | RuleHead::Func { refr, .. } => {
            refr
        }
    };
    match refr.as_ref() {
        Expr::Var { span, .. } => Some(span.text().to_string()),
        Expr::RefBrack { refr, .. } => var_name(refr).map(str::to_string),
        _ => None,
    }
}

fn head_kind(head: &RuleHead) -> Result<Kind, Unsupported> {
    Ok(match head {
        RuleHead::Func { args, .. } => Kind::Function(args.len()),
        RuleHead::Set { key: Some(_), .. } => Kind::PartialSet,
        RuleHead::Set { key: None, .. } => return unsupported("a multi-part rule head"),
        RuleHead::Compr { refr, assign, .. } => match refr.as_ref() {
            Expr::Var { .. } => Kind::Complete,
            Expr::RefBrack { refr, .. } if assign.is_some() && var_name(refr).is_some() => {
                Kind::PartialObject
            }
            _ => return unsupported("a multi-part rule head"),
        },
    })
}

fn const_value(expr: &Expr) -> Option<Value> {
    match expr {
        Expr::String { value, .. }
        | Expr::RawString { value, .. }
        | Expr::Number { value, .. }
        | Expr::Bool { value, .. }
        | Expr::Null { value, .. } => Some(value.clone()),
        Expr::Array { items, .. } => Some(Value::from(
            items
                .iter()
                .map(|i| const_value(i))
                .collect::<Option<Vec<_>>>()?,
        )),
        Expr::Object { fields, .. } => {
            let mut m = BTreeMap::new();
            for (_, k, v) in fields {
                m.insert(const_value(k)?, const_value(v)?);
            }
            Some(Value::from(m))
        }
        Expr::Set { items, .. } => Some(Value::from(
            items
                .iter()
                .map(|i| const_value(i))
                .collect::<Option<BTreeSet<_>>>()?,
        )),
        _ => None,
    }
}

/// Compiles a template's modules (the sources exactly as given to regorus, template first);
/// `package` is the template's package, whose `violation` rule is the entry point.
pub(crate) fn compile(sources: &[String], v1: bool, package: &str) -> Result<Program, Unsupported> {
    let mut modules = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let source = Source::from_contents(format!("native{i}.rego"), src.clone())
            .map_err(|e| Unsupported(e.to_string()))?;
        let mut parser = Parser::new(&source).map_err(|e| Unsupported(e.to_string()))?;
        if v1 {
            parser
                .enable_rego_v1()
                .map_err(|e| Unsupported(e.to_string()))?;
        }
        modules.push(parser.parse().map_err(|e| Unsupported(e.to_string()))?);
    }
    // Pass 1: every rule's path and kind.
    let mut paths: HashMap<String, RuleId> = HashMap::new();
    let mut kinds: Vec<Kind> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut scopes = Vec::new();
    for module in &modules {
        let Some(pkg) = package_path(module) else {
            return unsupported("a package path");
        };
        let pkg = pkg.strip_prefix("data.").unwrap_or(&pkg).to_string();
        let mut imports = HashMap::new();
        for import in &module.imports {
            let Some(parts) = dotted(&import.refr) else {
                return unsupported("an import");
            };
            match parts[0].as_str() {
                "future" | "rego" => continue,
                "data" if parts.len() > 1 => {}
                _ => return unsupported(format!("import {}", parts.join("."))),
            }
            let alias = import
                .r#as
                .as_ref()
                .map(|s| s.text().to_string())
                .unwrap_or_else(|| parts[parts.len() - 1].clone());
            imports.insert(alias, parts[1..].join("."));
        }
        for rule in &module.policy {
            let (path, kind) = match rule.as_ref() {
                Rule::Spec { head, .. } => {
                    let Some(name) = rule_name(head) else {
                        return unsupported("a rule head");
                    };
                    (format!("{pkg}.{name}"), head_kind(head)?)
                }
                Rule::Default { refr, args, .. } => {
                    if !args.is_empty() {
                        return unsupported("a default function");
                    }
                    let Some(name) = var_name(refr) else {
                        return unsupported("a default rule head");
                    };
                    (format!("{pkg}.{name}"), Kind::Complete)
                }
            };
            let is_default = matches!(rule.as_ref(), Rule::Default { .. });
            match paths.get(&path) {
                Some(&id) if kinds[id] != kind => {
                    return unsupported(format!("rule {path} with heads of two kinds"));
                }
                Some(_) => {}
                None if is_default => {
                    // Its other definitions must be complete rules too (checked as they come).
                    paths.insert(path.clone(), kinds.len());
                    kinds.push(Kind::Complete);
                    names.push(path);
                }
                None => {
                    paths.insert(path.clone(), kinds.len());
                    kinds.push(kind);
                    names.push(path);
                }
            }
        }
        scopes.push(ModuleScope {
            package: pkg,
            imports,
        });
    }
    // A path that is both a rule and the prefix of another (`a.b` and `a.b.c`) is left alone.
    for p in paths.keys() {
        if paths.keys().any(|q| {
            q.len() > p.len() && q.starts_with(p.as_str()) && q.as_bytes()[p.len()] == b'.'
        }) {
            return unsupported(format!("rule {p} is also a package prefix"));
        }
    }
    let mut rules: Vec<RuleInfo> = names
        .iter()
        .zip(&kinds)
        .map(|(p, k)| RuleInfo {
            path: p.clone(),
            kind: *k,
            defs: Vec::new(),
            default: None,
            one_value: false,
        })
        .collect();
    // Pass 2: the bodies.
    for (module, scope) in modules.iter().zip(&scopes) {
        for rule in &module.policy {
            match rule.as_ref() {
                Rule::Default { refr, value, .. } => {
                    let name = var_name(refr).unwrap_or_default();
                    let id = paths[&format!("{}.{name}", scope.package)];
                    let Some(v) = const_value(value) else {
                        return unsupported("a default value that is not a constant");
                    };
                    if rules[id].default.replace(v).is_some() {
                        return unsupported("two defaults");
                    }
                }
                Rule::Spec { head, bodies, .. } => {
                    let name = rule_name(head).unwrap_or_default();
                    let id = paths[&format!("{}.{name}", scope.package)];
                    let kind = kinds[id];
                    let non_else = bodies.iter().filter(|b| !b.is_else).count();
                    if non_else > 1 && bodies.iter().any(|b| b.is_else) {
                        return unsupported("several bodies with else");
                    }
                    if matches!(kind, Kind::PartialSet | Kind::PartialObject)
                        && bodies.iter().any(|b| b.is_else)
                    {
                        return unsupported("else on a partial rule");
                    }
                    // One definition per independent body (`p { a } { b }`), each with its
                    // else chain.
                    let groups: Vec<Vec<&regorus::unstable::RuleBody>> = if bodies.is_empty() {
                        vec![Vec::new()]
                    } else if non_else > 1 {
                        bodies.iter().map(|b| vec![b]).collect()
                    } else {
                        vec![bodies.iter().collect()]
                    };
                    for group in groups {
                        let mut c = Compiler {
                            paths: &paths,
                            kinds: &kinds,
                            module: scope,
                            slots: HashMap::new(),
                            next: 0,
                        };
                        let (head_args, head_key, head_value) = match head {
                            RuleHead::Func { args, assign, .. } => {
                                let a = args
                                    .iter()
                                    .map(|a| c.term(a))
                                    .collect::<Result<Vec<_>, _>>()?;
                                (a, None, assign.as_ref().map(|a| a.value.clone()))
                            }
                            RuleHead::Set { key, .. } => (Vec::new(), key.clone(), None),
                            RuleHead::Compr { refr, assign, .. } => {
                                let key = match refr.as_ref() {
                                    Expr::RefBrack { index, .. } => Some(index.clone()),
                                    _ => None,
                                };
                                (Vec::new(), key, assign.as_ref().map(|a| a.value.clone()))
                            }
                        };
                        let mut chain = Vec::new();
                        if group.is_empty() {
                            let value = head_value.as_ref().map(|v| c.term(v)).transpose()?;
                            chain.push(Branch {
                                lits: Vec::new(),
                                value,
                            });
                        }
                        for (bi, body) in group.iter().enumerate() {
                            let lits = c.query(&body.query)?;
                            let value = if bi == 0 {
                                head_value.as_ref().map(|v| c.term(v)).transpose()?
                            } else {
                                body.assign.as_ref().map(|a| c.term(&a.value)).transpose()?
                            };
                            chain.push(Branch { lits, value });
                        }
                        let key = head_key.as_ref().map(|k| c.term(k)).transpose()?;
                        rules[id].defs.push(Def {
                            slots: c.next,
                            args: head_args,
                            key,
                            chain,
                        });
                    }
                }
            }
        }
    }
    for rule in &mut rules {
        rule.one_value =
            matches!(rule.kind, Kind::Complete | Kind::Function(_)) && gives_one_value(&rule.defs);
    }
    let entry_path = format!("{package}.violation");
    let Some(&entry) = paths.get(&entry_path) else {
        return unsupported("no violation rule");
    };
    if rules[entry].kind != Kind::PartialSet {
        return unsupported("violation is not a partial set rule");
    }
    Ok(Program { rules, entry })
}

// ---------------------------------------------------------------------------------------------
// Evaluating.

/// How an evaluation stops early (one byte, so that results stay small; the reason for a
/// [`Stop::Bail`] is kept in [`BAIL_REASON`]).
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Left to regorus.
    Bail,
    /// Enough was found (a `not`).
    Cut,
}

/// Buffers kept per thread between evaluations: rule values, call tables, environments.
type Scratch = (Vec<Option<Value>>, Vec<CallTable>, Vec<Env>);

/// Most rules whose buffers a thread keeps between evaluations.
const SCRATCH_RULES: usize = 256;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = const { std::cell::Cell::new((Vec::new(), Vec::new(), Vec::new())) };

    /// Why the last evaluation on this thread stopped with [`Stop::Bail`].
    static BAIL_REASON: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

type R = Result<(), Stop>;
type Env = Vec<Value>;

fn bail<T>(why: impl Into<String>) -> Result<T, Stop> {
    let why = why.into();
    BAIL_REASON.with(|r| *r.borrow_mut() = why);
    Err(Stop::Bail)
}

/// Longest call chain (Rego has no recursion; this only bounds a pathological module).
const MAX_DEPTH: u32 = 256;
/// Literals evaluated before the evaluation is handed to regorus (which has its own limits).
const MAX_STEPS: u64 = 20_000_000;
/// What one builtin call counts for against [`MAX_STEPS`] and the clock checks.
const BUILTIN_STEPS: u64 = 64;

struct Eval<'p> {
    p: &'p Program,
    input: Value,
    cache: Vec<Option<Value>>,
    steps: u64,
    depth: u32,
    stop_at: Instant,
    envs: Vec<Env>,
    /// Per function: the calls made so far and their values.
    calls_seen: Vec<CallTable>,
}

/// Binds a function's arguments to its head's patterns when they are all variables, `_` or
/// constants: `Some(true)` bound, `Some(false)` no match, `None` other patterns (unify them).
fn bind_args(patterns: &[Term], args: &[Value], env: &mut Env) -> Option<bool> {
    if !patterns
        .iter()
        .all(|p| matches!(p, Term::Var(_) | Term::Wild | Term::Const(_)))
    {
        return None;
    }
    for (p, v) in patterns.iter().zip(args) {
        match p {
            Term::Var(s) => match &env[*s] {
                Value::Undefined => env[*s] = v.clone(),
                bound if bound == v => {}
                _ => return Some(false),
            },
            Term::Const(c) if c != v => return Some(false),
            _ => {}
        }
    }
    Some(true)
}

/// Calls of one function kept in a list scanned in turn up to this many; past it, also indexed
/// by their arguments' fingerprint (a function called once per item of a long list would
/// otherwise scan all the calls before it at every call).
const LINEAR_CALLS: usize = 16;

/// The calls of one function made so far in an evaluation, with their values.
#[derive(Default)]
struct CallTable {
    /// The arguments (kept, so that the identity of a composite argument cannot be reused
    /// while the table lives) and the value.
    seen: Vec<(Vec<Value>, Value)>,
    /// The arguments' fingerprint to the position of the last call with it, once `seen` is
    /// longer than [`LINEAR_CALLS`]. Two argument lists with one fingerprint only cost a call
    /// made again.
    index: HashMap<u64, u32>,
}

impl CallTable {
    fn clear(&mut self) {
        self.seen.clear();
        self.index.clear();
    }

    fn indexed(&self) -> bool {
        self.seen.len() > LINEAR_CALLS
    }

    /// The value of an earlier call with the same arguments, and the arguments' fingerprint
    /// when the table is indexed.
    fn find(&self, args: &[Value]) -> (Option<Value>, Option<u64>) {
        let same_args =
            |a: &Vec<Value>| a.len() == args.len() && a.iter().zip(args).all(|(x, y)| same(x, y));
        if !self.indexed() {
            let hit = self.seen.iter().find(|(a, _)| same_args(a));
            return (hit.map(|(_, v)| v.clone()), None);
        }
        let print = fingerprint(args);
        let hit = self
            .index
            .get(&print)
            .and_then(|&at| self.seen.get(at as usize))
            .filter(|(a, _)| same_args(a));
        (hit.map(|(_, v)| v.clone()), Some(print))
    }

    fn record(&mut self, print: Option<u64>, args: Vec<Value>, value: Value) {
        let print = match print {
            Some(p) => p,
            None if self.seen.len() == LINEAR_CALLS => {
                // Indexed from now on: the calls so far first.
                for (i, (a, _)) in self.seen.iter().enumerate() {
                    self.index.insert(fingerprint(a), i as u32);
                }
                fingerprint(&args)
            }
            None => {
                self.seen.push((args, value));
                return;
            }
        };
        self.index.insert(print, self.seen.len() as u32);
        self.seen.push((args, value));
    }
}

/// A fingerprint of arguments that agrees with [`same`]: composite values by the address of
/// their shared allocation, scalars by value. Equal fingerprints do not make arguments the
/// same (they are compared), so it only needs to be cheap and well spread.
fn fingerprint(args: &[Value]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for a in args {
        match a {
            Value::Object(o) => (1u8, regorus::Rc::as_ptr(o) as *const u8 as usize).hash(&mut h),
            Value::Array(x) => (2u8, regorus::Rc::as_ptr(x) as *const u8 as usize).hash(&mut h),
            Value::Set(x) => (3u8, regorus::Rc::as_ptr(x) as *const u8 as usize).hash(&mut h),
            Value::String(x) => (4u8, &**x).hash(&mut h),
            // Equal numbers have one f64 (different ones may share it: only a collision).
            Value::Number(n) => (5u8, n.as_f64().map(f64::to_bits)).hash(&mut h),
            Value::Bool(b) => (6u8, *b).hash(&mut h),
            Value::Null => 7u8.hash(&mut h),
            Value::Undefined => 8u8.hash(&mut h),
        }
    }
    h.finish()
}

/// Identity for composite values (the same shared allocation), equality for scalars: never
/// true for two different values; false for some equal ones (then the call is made again).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => regorus::Rc::ptr_eq(x, y),
        (Value::Array(x), Value::Array(y)) => regorus::Rc::ptr_eq(x, y),
        (Value::Set(x), Value::Set(y)) => regorus::Rc::ptr_eq(x, y),
        (Value::Object(_) | Value::Array(_) | Value::Set(_), _)
        | (_, Value::Object(_) | Value::Array(_) | Value::Set(_)) => false,
        _ => a == b,
    }
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Undefined | Value::Bool(false))
}

fn compare(op: &BoolOp, l: &Value, r: &Value) -> bool {
    match op {
        BoolOp::Eq => l == r,
        BoolOp::Ne => l != r,
        BoolOp::Lt => l < r,
        BoolOp::Le => l <= r,
        BoolOp::Gt => l > r,
        BoolOp::Ge => l >= r,
    }
}

/// Objects with at most this many fields are searched by a scan (see [`lookup_ref`]).
const SCAN_FIELDS: usize = 16;

/// `base[key]` by reference.
fn lookup_ref<'a>(base: &'a Value, key: &Value) -> Option<&'a Value> {
    match base {
        Value::Object(o) => match key {
            // A small object by a string key (most lookups: a field of a Kubernetes object): a
            // scan comparing strings (lengths first) costs less than a binary search comparing
            // `Value`s.
            Value::String(k) if o.len() <= SCAN_FIELDS => o
                .iter()
                .find(|(f, _)| matches!(f, Value::String(f) if **f == **k))
                .map(|(_, v)| v),
            _ => o.get(key),
        },
        Value::Array(a) => match key {
            // (Exact: a number with a fraction is no index.)
            Value::Number(_) => key
                .as_u64()
                .ok()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| a.get(i)),
            _ => None,
        },
        Value::Set(s) => s.get(key),
        _ => None,
    }
}

/// `base[key]` (a set gives its element equal to `key`, as regorus's indexing does).
fn lookup(base: &Value, key: &Value) -> Value {
    lookup_ref(base, key).cloned().unwrap_or(Value::Undefined)
}

impl<'p> Eval<'p> {
    /// A cleared environment of `slots` variables (reusing freed ones).
    fn env(&mut self, slots: usize) -> Env {
        let mut e = self.envs.pop().unwrap_or_default();
        e.resize(slots, Value::Undefined);
        e
    }

    fn free(&mut self, mut env: Env) {
        env.clear();
        self.envs.push(env);
    }

    fn tick(&mut self) -> R {
        self.tick_n(1)
    }

    /// Counts `n` steps; the clock is read each time the count passes a multiple of 1,024.
    fn tick_n(&mut self, n: u64) -> R {
        let before = self.steps;
        self.steps += n;
        if self.steps > MAX_STEPS {
            return bail("step limit");
        }
        if before >> 10 != self.steps >> 10 && Instant::now() >= self.stop_at {
            return bail("time limit");
        }
        Ok(())
    }

    /// Counts a builtin call as [`BUILTIN_STEPS`] steps: one may cost far more than a step
    /// (`json.marshal` of a large value), and the time limit must not wait for 1,024 of them.
    fn tick_builtin(&mut self) -> R {
        self.tick_n(BUILTIN_STEPS)
    }

    fn is_pattern(t: &Term, env: &Env) -> bool {
        match t {
            Term::Wild => true,
            Term::Var(s) => matches!(env[*s], Value::Undefined),
            Term::Array(items) => items.iter().any(|i| Self::is_pattern(i, env)),
            Term::Object(fields) => fields.iter().any(|(_, v)| Self::is_pattern(v, env)),
            Term::Set(items) => items.iter().any(|i| Self::is_pattern(i, env)),
            Term::Det(inner) => Self::is_pattern(inner, env),
            _ => false,
        }
    }

    /// Evaluates a term, passing each of its values to `k`.
    fn eval(
        &mut self,
        t: &'p Term,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env, Value) -> R,
    ) -> R {
        match t {
            Term::Det(inner) => match self.value(inner, env)? {
                Value::Undefined => Ok(()),
                v => k(self, env, v),
            },
            Term::Const(v) => k(self, env, v.clone()),
            Term::Input => {
                let v = self.input.clone();
                k(self, env, v)
            }
            Term::Var(s) => match &env[*s] {
                Value::Undefined => bail("a variable read before it is bound"),
                v => {
                    let v = v.clone();
                    k(self, env, v)
                }
            },
            Term::Wild => bail("`_` as a value"),
            Term::Rule(id) => match self.rule_value(*id)? {
                Value::Undefined => Ok(()),
                v => k(self, env, v),
            },
            Term::Index(base, idx) => {
                self.eval(base, env, &mut |s, env, b| s.index(b, idx, env, k))
            }
            Term::Array(items) => self.collect(items, 0, Vec::new(), env, &mut |s, env, vals| {
                k(s, env, Value::from(vals))
            }),
            Term::Set(items) => self.collect(items, 0, Vec::new(), env, &mut |s, env, vals| {
                k(
                    s,
                    env,
                    Value::from(vals.into_iter().collect::<BTreeSet<_>>()),
                )
            }),
            Term::Object(fields) => self.object(fields, 0, BTreeMap::new(), env, k),
            Term::ArrayCompr(term, body) => {
                let out = self.comprehension(term, body, env)?;
                k(self, env, Value::from(out))
            }
            Term::SetCompr(term, body) => {
                let out = self.comprehension(term, body, env)?;
                k(
                    self,
                    env,
                    Value::from(out.into_iter().collect::<BTreeSet<_>>()),
                )
            }
            Term::ObjectCompr(key, value, body) => {
                let mut out: BTreeMap<Value, Value> = BTreeMap::new();
                self.body(body, 0, env, &mut |s, env| {
                    s.eval(key, env, &mut |s, env, kv| {
                        s.eval(value, env, &mut |_, _, vv| match out.get(&kv) {
                            Some(old) if *old != vv => {
                                bail("an object comprehension with a key twice")
                            }
                            _ => {
                                out.insert(kv.clone(), vv);
                                Ok(())
                            }
                        })
                    })
                })?;
                k(self, env, Value::from(out))
            }
            Term::Builtin(b, args) => {
                self.collect(args, 0, Vec::new(), env, &mut |s, env, vals| {
                    s.tick_builtin()?;
                    match (b.fcn)(&b.span, &b.params, &vals, false) {
                        Ok(Value::Undefined) | Err(_) => Ok(()),
                        Ok(v) => k(s, env, v),
                    }
                })
            }
            Term::Sprintf(f, a) => self.eval(f, env, &mut |s, env, fv| {
                s.eval(a, env, &mut |s, env, av| match gofmt::sprintf(&fv, &av) {
                    Value::Undefined => Ok(()),
                    v => k(s, env, v),
                })
            }),
            Term::Print => k(self, env, Value::Bool(true)),
            Term::Member(key, value, coll) => self.eval(coll, env, &mut |s, env, cv| {
                s.eval(value, env, &mut |s, env, vv| match key {
                    None => {
                        let b = match &cv {
                            Value::Array(a) => a.iter().any(|x| *x == vv),
                            Value::Object(o) => o.values().any(|x| *x == vv),
                            Value::Set(set) => set.contains(&vv),
                            _ => false,
                        };
                        k(s, env, Value::Bool(b))
                    }
                    Some(key) => s.eval(key, env, &mut |s, env, kv| {
                        let b = match &cv {
                            Value::Array(_) | Value::Object(_) => lookup(&cv, &kv) == vv,
                            _ => false,
                        };
                        k(s, env, Value::Bool(b))
                    }),
                })
            }),
            Term::Func(id, args) => {
                self.collect(args, 0, Vec::new(), env, &mut |s, env, vals| match s
                    .call(*id, vals)?
                {
                    Value::Undefined => Ok(()),
                    v => k(s, env, v),
                })
            }
            Term::Cmp(op, l, r) => self.eval(l, env, &mut |s, env, lv| {
                s.eval(r, env, &mut |s, env, rv| {
                    k(s, env, Value::Bool(compare(op, &lv, &rv)))
                })
            }),
            Term::Arith(o, op) => self.eval(&o.lhs, env, &mut |s, env, lv| {
                s.eval(&o.rhs, env, &mut |s, env, rv| {
                    let sets = matches!(lv, Value::Set(_)) || matches!(rv, Value::Set(_));
                    let r = if *op == ArithOp::Sub && sets {
                        regorus::unstable::sets::difference(
                            &o.lhs_expr,
                            &o.rhs_expr,
                            lv.clone(),
                            rv,
                        )
                    } else {
                        regorus::unstable::numbers::arithmetic_operation(
                            &o.span,
                            op,
                            &o.lhs_expr,
                            &o.rhs_expr,
                            lv.clone(),
                            rv,
                            false,
                        )
                    };
                    match r {
                        Ok(Value::Undefined) => Ok(()),
                        Ok(v) => k(s, env, v),
                        Err(e) => bail(format!("operator: {e}")),
                    }
                })
            }),
            Term::SetOp(o, op) => self.eval(&o.lhs, env, &mut |s, env, lv| {
                s.eval(&o.rhs, env, &mut |s, env, rv| {
                    let r = match op {
                        BinOp::Union => {
                            regorus::unstable::sets::union(&o.lhs_expr, &o.rhs_expr, lv.clone(), rv)
                        }
                        BinOp::Intersection => regorus::unstable::sets::intersection(
                            &o.lhs_expr,
                            &o.rhs_expr,
                            lv.clone(),
                            rv,
                        ),
                    };
                    match r {
                        Ok(Value::Undefined) => Ok(()),
                        Ok(v) => k(s, env, v),
                        Err(e) => bail(format!("operator: {e}")),
                    }
                })
            }),
        }
    }

    /// A reference to the value of a plain path — input, a bound variable, a constant or a
    /// computed rule, then constant keys — without copying anything; `None` for any other term
    /// (`Some(None)`: the path is undefined).
    fn path<'a>(&'a self, t: &'a Term, env: &'a Env) -> Option<Option<&'a Value>> {
        match t {
            Term::Const(v) => Some(Some(v)),
            Term::Input => Some(Some(&self.input)),
            Term::Var(s) => match &env[*s] {
                Value::Undefined => None,
                v => Some(Some(v)),
            },
            Term::Rule(id) => self.cache[*id].as_ref().map(Some),
            Term::Det(inner) => self.path(inner, env),
            Term::Index(base, idx) => {
                let key = match &**idx {
                    Term::Const(k) => k,
                    Term::Var(s) if !matches!(env[*s], Value::Undefined) => &env[*s],
                    _ => return None,
                };
                let b = self.path(base, env)?;
                Some(b.and_then(|b| lookup_ref(b, key)))
            }
            _ => None,
        }
    }

    /// Whether a single-valued term is defined and not `false`.
    fn truthy_value(&mut self, t: &'p Term, env: &mut Env) -> Result<bool, Stop> {
        if let Some(v) = self.path(t, env) {
            return Ok(v.is_some_and(truthy));
        }
        if let Term::Det(inner) = t
            && let Term::Cmp(op, l, r) = &**inner
            && let (Some(l), Some(r)) = (self.path(l, env), self.path(r, env))
        {
            return Ok(match (l, r) {
                (Some(l), Some(r)) => compare(op, l, r),
                _ => false,
            });
        }
        Ok(truthy(&self.value(t, env)?))
    }

    /// The values of `term` over the solutions of `body`, in order.
    fn comprehension(
        &mut self,
        term: &'p Term,
        body: &'p [Lit],
        env: &mut Env,
    ) -> Result<Vec<Value>, Stop> {
        let mut out = Vec::new();
        self.body(body, 0, env, &mut |s, env| {
            s.eval(term, env, &mut |_, _, v| {
                out.push(v);
                Ok(())
            })
        })?;
        Ok(out)
    }

    /// The value of a term without iteration (`Undefined` when it has none).
    fn value(&mut self, t: &'p Term, env: &mut Env) -> Result<Value, Stop> {
        if let Some(v) = self.path(t, env) {
            return Ok(v.cloned().unwrap_or(Value::Undefined));
        }
        Ok(match t {
            Term::Const(v) => v.clone(),
            Term::Input => self.input.clone(),
            Term::Var(s) => match &env[*s] {
                Value::Undefined => return bail("a variable read before it is bound"),
                v => v.clone(),
            },
            Term::Det(inner) => self.value(inner, env)?,
            Term::Rule(id) => self.rule_value(*id)?,
            Term::Index(base, idx) => {
                let b = self.value(base, env)?;
                if matches!(b, Value::Undefined) {
                    return Ok(Value::Undefined);
                }
                match self.value(idx, env)? {
                    Value::Undefined => Value::Undefined,
                    key => lookup(&b, &key),
                }
            }
            Term::Builtin(b, args) => {
                let Some(vals) = self.values(args, env)? else {
                    return Ok(Value::Undefined);
                };
                self.tick_builtin()?;
                (b.fcn)(&b.span, &b.params, &vals, false).unwrap_or(Value::Undefined)
            }
            Term::Func(id, args) => {
                let Some(vals) = self.values(args, env)? else {
                    return Ok(Value::Undefined);
                };
                self.call(*id, vals)?
            }
            Term::Sprintf(f, a) => {
                let f = self.value(f, env)?;
                let a = self.value(a, env)?;
                gofmt::sprintf(&f, &a)
            }
            Term::Cmp(op, l, r) => {
                if let (Some(l), Some(r)) = (self.path(l, env), self.path(r, env)) {
                    return Ok(match (l, r) {
                        (Some(l), Some(r)) => Value::Bool(compare(op, l, r)),
                        _ => Value::Undefined,
                    });
                }
                let l = self.value(l, env)?;
                if matches!(l, Value::Undefined) {
                    return Ok(Value::Undefined);
                }
                let r = self.value(r, env)?;
                if matches!(r, Value::Undefined) {
                    return Ok(Value::Undefined);
                }
                Value::Bool(compare(op, &l, &r))
            }
            // The rest (collections, comprehensions, operators) through the general path.
            _ => {
                let mut out = Value::Undefined;
                self.eval(t, env, &mut |_, _, v| {
                    out = v;
                    Ok(())
                })?;
                out
            }
        })
    }

    /// The values of arguments without iteration; `None` when one is undefined.
    fn values(&mut self, args: &'p [Term], env: &mut Env) -> Result<Option<Vec<Value>>, Stop> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            match self.value(a, env)? {
                Value::Undefined => return Ok(None),
                v => vals.push(v),
            }
        }
        Ok(Some(vals))
    }

    /// Evaluates terms in turn, passing every combination of their values to `k`.
    fn collect(
        &mut self,
        items: &'p [Term],
        i: usize,
        acc: Vec<Value>,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env, Vec<Value>) -> R,
    ) -> R {
        if i == items.len() {
            return k(self, env, acc);
        }
        if i + 1 == items.len() {
            // The last one: no copy of the values so far per solution of the others.
            let mut acc = Some(acc);
            return self.eval(&items[i], env, &mut |s, env, v| {
                let mut a = match acc.take() {
                    Some(a) => a,
                    None => bail("unreachable")?,
                };
                a.push(v);
                let r = k(s, env, a.clone());
                a.pop();
                acc = Some(a);
                r
            });
        }
        self.eval(&items[i], env, &mut |s, env, v| {
            let mut a = acc.clone();
            a.push(v);
            s.collect(items, i + 1, a, env, k)
        })
    }

    fn object(
        &mut self,
        fields: &'p [(Term, Term)],
        i: usize,
        acc: BTreeMap<Value, Value>,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env, Value) -> R,
    ) -> R {
        if i == fields.len() {
            return k(self, env, Value::from(acc));
        }
        let (kt, vt) = &fields[i];
        self.eval(kt, env, &mut |s, env, kv| {
            s.eval(vt, env, &mut |s, env, vv| {
                let mut a = acc.clone();
                a.insert(kv.clone(), vv);
                s.object(fields, i + 1, a, env, k)
            })
        })
    }

    /// `base[idx]`: iterates when `idx` is an unbound variable or `_`.
    fn index(
        &mut self,
        base: Value,
        idx: &'p Term,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env, Value) -> R,
    ) -> R {
        let slot = match idx {
            Term::Wild => None,
            Term::Var(s) if matches!(env[*s], Value::Undefined) => Some(*s),
            _ => {
                return self.eval(idx, env, &mut |s, env, key| match lookup(&base, &key) {
                    Value::Undefined => Ok(()),
                    v => k(s, env, v),
                });
            }
        };
        let mut each = |s: &mut Self, env: &mut Env, key: Value, v: Value| -> R {
            match slot {
                None => k(s, env, v),
                Some(slot) => {
                    env[slot] = key;
                    let r = k(s, env, v);
                    env[slot] = Value::Undefined;
                    r
                }
            }
        };
        match &base {
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    each(self, env, Value::from(i), v.clone())?;
                }
            }
            Value::Object(o) => {
                for (key, v) in o.iter_sorted() {
                    each(self, env, key.clone(), v.clone())?;
                }
            }
            Value::Set(set) => {
                for v in set.iter_sorted() {
                    each(self, env, v.clone(), v.clone())?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Unifies a pattern with a value.
    fn unify(
        &mut self,
        p: &'p Term,
        v: Value,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env) -> R,
    ) -> R {
        match p {
            Term::Det(inner) if Self::is_pattern(inner, env) => self.unify(inner, v, env, k),
            Term::Wild => k(self, env),
            Term::Var(s) => match &env[*s] {
                Value::Undefined => {
                    env[*s] = v;
                    let r = k(self, env);
                    env[*s] = Value::Undefined;
                    r
                }
                bound if *bound == v => k(self, env),
                _ => Ok(()),
            },
            Term::Array(items) if Self::is_pattern(p, env) => match &v {
                Value::Array(a) if a.len() == items.len() => self.unify_items(items, &v, 0, env, k),
                _ => Ok(()),
            },
            Term::Object(fields) if Self::is_pattern(p, env) => match &v {
                Value::Object(o) if o.len() == fields.len() => {
                    self.unify_fields(fields, &v, 0, env, k)
                }
                _ => Ok(()),
            },
            Term::Set(_) if Self::is_pattern(p, env) => bail("a set pattern"),
            _ => {
                if let Some(pv) = self.path(p, env) {
                    return if pv.is_some_and(|pv| *pv == v) {
                        k(self, env)
                    } else {
                        Ok(())
                    };
                }
                self.eval(p, env, &mut |s, env, pv| {
                    if pv == v { k(s, env) } else { Ok(()) }
                })
            }
        }
    }

    fn unify_items(
        &mut self,
        items: &'p [Term],
        values: &Value,
        i: usize,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env) -> R,
    ) -> R {
        let Value::Array(array) = values else {
            return Ok(());
        };
        match (items.get(i), array.get(i)) {
            (Some(t), Some(v)) => {
                let v = v.clone();
                self.unify(t, v, env, &mut |s, env| {
                    s.unify_items(items, values, i + 1, env, k)
                })
            }
            _ => k(self, env),
        }
    }

    fn unify_fields(
        &mut self,
        fields: &'p [(Term, Term)],
        obj: &Value,
        i: usize,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env) -> R,
    ) -> R {
        let Some((kt, vt)) = fields.get(i) else {
            return k(self, env);
        };
        if Self::is_pattern(kt, env) {
            return bail("a variable as an object pattern's key");
        }
        self.eval(kt, env, &mut |s, env, key| match lookup(obj, &key) {
            Value::Undefined => Ok(()),
            v => s.unify(vt, v, env, &mut |s, env| {
                s.unify_fields(fields, obj, i + 1, env, k)
            }),
        })
    }

    /// Evaluates a body from literal `i`, calling `k` once per solution.
    fn body(
        &mut self,
        lits: &'p [Lit],
        i: usize,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env) -> R,
    ) -> R {
        let Some(lit) = lits.get(i) else {
            return k(self, env);
        };
        self.tick()?;
        self.literal(lit, env, &mut |s, env| s.body(lits, i + 1, env, k))
    }

    fn literal(
        &mut self,
        lit: &'p Lit,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env) -> R,
    ) -> R {
        match lit {
            Lit::Not(inner) => {
                if self.exists(inner, env)? {
                    Ok(())
                } else {
                    k(self, env)
                }
            }
            Lit::Assign(p, t) | Lit::Unify(p, t)
                if matches!(p, Term::Var(s) if matches!(env[*s], Value::Undefined))
                    && is_single(t) =>
            {
                // `x := <one value>`: no continuation for the value.
                let Term::Var(slot) = p else { return Ok(()) };
                match self.value(t, env)? {
                    Value::Undefined => Ok(()),
                    v => {
                        env[*slot] = v;
                        let r = k(self, env);
                        env[*slot] = Value::Undefined;
                        r
                    }
                }
            }
            Lit::Expr(t) if is_single(t) => {
                if self.truthy_value(t, env)? {
                    k(self, env)
                } else {
                    Ok(())
                }
            }
            Lit::Expr(t) => self.eval(t, env, &mut |s, env, v| {
                if truthy(&v) { k(s, env) } else { Ok(()) }
            }),
            Lit::Assign(p, t) => self.eval(t, env, &mut |s, env, v| s.unify(p, v, env, k)),
            Lit::SomeIn(some) => {
                let (key, value, coll) = &**some;
                self.eval(coll, env, &mut |s, env, cv| {
                    let pairs: Vec<(Value, Value)> = match &cv {
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (Value::from(i), v.clone()))
                            .collect(),
                        Value::Object(o) => o
                            .iter_sorted()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        Value::Set(set) => {
                            set.iter_sorted().map(|v| (v.clone(), v.clone())).collect()
                        }
                        _ => Vec::new(),
                    };
                    for (kv, vv) in pairs {
                        match key {
                            None => s.unify(value, vv, env, k)?,
                            Some(key) => s.unify(key, kv, env, &mut |s, env| {
                                s.unify(value, vv.clone(), env, k)
                            })?,
                        }
                    }
                    Ok(())
                })
            }
            Lit::Unify(a, b) => {
                let (pa, pb) = (Self::is_pattern(a, env), Self::is_pattern(b, env));
                if pa && pb {
                    return bail("unification of two patterns");
                }
                let (pattern, other) = if pb { (b, a) } else { (a, b) };
                self.eval(other, env, &mut |s, env, v| s.unify(pattern, v, env, k))
            }
        }
    }

    /// Whether a literal has a solution (for `not`).
    fn exists(&mut self, lit: &'p Lit, env: &mut Env) -> Result<bool, Stop> {
        match self.literal(lit, env, &mut |_, _| Err(Stop::Cut)) {
            Ok(()) => Ok(false),
            Err(Stop::Cut) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The values of a definition's chain: the first body with a solution gives them.
    fn chain(
        &mut self,
        def: &'p Def,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env, Option<&'p Term>) -> R,
    ) -> R {
        for branch in &def.chain {
            let mut found = false;
            self.body(&branch.lits, 0, env, &mut |s, env| {
                found = true;
                k(s, env, branch.value.as_ref())
            })?;
            if found {
                break;
            }
        }
        Ok(())
    }

    /// A complete rule's or function's value from its definitions: they must agree.
    fn single_value(&mut self, id: RuleId, args: &[Value]) -> Result<Value, Stop> {
        let rule: &'p RuleInfo = &self.p.rules[id];
        let mut result = Value::Undefined;
        for def in &rule.defs {
            let mut env = self.env(def.slots);
            let direct = bind_args(&def.args, args, &mut env);
            if direct == Some(false) {
                self.free(env);
                continue;
            }
            let mut each = |s: &mut Self, env: &mut Env| {
                s.chain(def, env, &mut |s, env, value| {
                    let mut take = |v: Value| {
                        if matches!(result, Value::Undefined) {
                            result = v;
                            if rule.one_value {
                                return Err(Stop::Cut); // nothing after this can change it
                            }
                            Ok(())
                        } else if result == v {
                            Ok(())
                        } else {
                            bail(format!("{} has conflicting values", rule.path))
                        }
                    };
                    match value {
                        None => take(Value::Bool(true)),
                        Some(t) => s.eval(t, env, &mut |_, _, v| take(v)),
                    }
                })
            };
            let r = if direct == Some(true) {
                each(self, &mut env)
            } else {
                self.unify_args(&def.args, args, 0, &mut env, &mut each)
            };
            self.free(env);
            match r {
                Err(Stop::Cut) if rule.one_value => break,
                r => r?,
            }
        }
        Ok(result)
    }

    fn unify_args(
        &mut self,
        patterns: &'p [Term],
        args: &[Value],
        i: usize,
        env: &mut Env,
        k: &mut dyn FnMut(&mut Self, &mut Env) -> R,
    ) -> R {
        match (patterns.get(i), args.get(i)) {
            (Some(p), Some(v)) => self.unify(p, v.clone(), env, &mut |s, env| {
                s.unify_args(patterns, args, i + 1, env, k)
            }),
            _ => k(self, env),
        }
    }

    fn call(&mut self, id: RuleId, args: Vec<Value>) -> Result<Value, Stop> {
        // Functions are pure within one evaluation: a call repeated with the same arguments
        // (the same composite values by identity, equal scalars) has the same value.
        let (hit, print) = self.calls_seen[id].find(&args);
        if let Some(hit) = hit {
            return Ok(hit);
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return bail("call depth");
        }
        let r = self.single_value(id, &args)?;
        self.depth -= 1;
        self.calls_seen[id].record(print, args, r.clone());
        Ok(r)
    }

    /// The whole value of a rule (computed once per evaluation).
    fn rule_value(&mut self, id: RuleId) -> Result<Value, Stop> {
        if let Some(v) = &self.cache[id] {
            return Ok(v.clone());
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return bail("call depth");
        }
        let rule: &'p RuleInfo = &self.p.rules[id];
        let value = match rule.kind {
            Kind::Function(_) => return bail("a function as a value"),
            Kind::Complete => match self.single_value(id, &[])? {
                Value::Undefined => rule.default.clone().unwrap_or(Value::Undefined),
                v => v,
            },
            Kind::PartialSet => {
                let mut out = BTreeSet::new();
                for def in &rule.defs {
                    let mut env: Env = vec![Value::Undefined; def.slots];
                    let Some(key) = &def.key else { continue };
                    self.chain(def, &mut env, &mut |s, env, _| {
                        s.eval(key, env, &mut |_, _, v| {
                            out.insert(v);
                            Ok(())
                        })
                    })?;
                }
                Value::from(out)
            }
            Kind::PartialObject => {
                let mut out: BTreeMap<Value, Value> = BTreeMap::new();
                for def in &rule.defs {
                    let mut env: Env = vec![Value::Undefined; def.slots];
                    let Some(key) = &def.key else { continue };
                    self.chain(def, &mut env, &mut |s, env, value| {
                        let Some(value) = value else {
                            return bail("a partial object rule without a value");
                        };
                        s.eval(key, env, &mut |s, env, kv| {
                            s.eval(value, env, &mut |_, _, vv| match out.get(&kv) {
                                Some(old) if *old != vv => {
                                    bail(format!("{} has conflicting values", rule.path))
                                }
                                _ => {
                                    out.insert(kv.clone(), vv);
                                    Ok(())
                                }
                            })
                        })
                    })?;
                }
                Value::from(out)
            }
        };
        self.depth -= 1;
        self.cache[id] = Some(value.clone());
        Ok(value)
    }
}

/// For fuzzing: compiles `sources` (a template's Rego and libs, v0) for package `package` and,
/// when that works, evaluates it twice on `input` (JSON), checking that both runs agree.
/// Returns a short description of what happened.
#[doc(hidden)]
pub fn fuzz_check(sources: &[&str], package: &str, input: &str) -> String {
    // The template loader refuses deeper literals before any parsing (regorus's parser takes
    // exponential time on them).
    if sources
        .iter()
        .any(|s| super::template::literal_depth(s) > super::template::MAX_LITERAL_DEPTH)
    {
        return "too deep".into();
    }
    let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    let program = match compile(&sources, false, package) {
        Ok(p) => p,
        Err(e) => return format!("refused: {}", e.0.chars().take(40).collect::<String>()),
    };
    let Ok(input) = Value::from_json_str(input) else {
        return "compiled; input is not JSON".into();
    };
    let stop_at = Instant::now() + std::time::Duration::from_millis(200);
    let first = program.eval(input.clone(), stop_at);
    let second = program.eval(input, stop_at);
    match (first, second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "two evaluations of one input differ");
            "evaluated".into()
        }
        (Err(e), _) | (_, Err(e)) => {
            format!("handed back: {}", e.0.chars().take(40).collect::<String>())
        }
    }
}

impl Program {
    /// Evaluates `violation` with `input`; `Err` hands the review to regorus.
    pub(crate) fn eval(&self, input: Value, stop_at: Instant) -> Result<Value, Unsupported> {
        // The buffers of the last evaluation on this thread, emptied, so that an evaluation
        // allocates none of them afresh.
        let (mut cache, mut calls_seen, envs) = SCRATCH.with(|s| s.take());
        cache.resize(self.rules.len(), None);
        calls_seen.resize_with(self.rules.len(), CallTable::default);
        let mut e = Eval {
            p: self,
            input,
            cache,
            steps: 0,
            depth: 0,
            stop_at,
            envs,
            calls_seen,
        };
        let result = match e.rule_value(self.entry) {
            Ok(v) => Ok(v),
            Err(Stop::Bail) => Err(Unsupported(BAIL_REASON.with(|r| r.borrow().clone()))),
            Err(Stop::Cut) => Err(Unsupported("internal: cut escaped".into())),
        };
        let Eval {
            mut cache,
            mut calls_seen,
            envs,
            ..
        } = e;
        cache.clear();
        calls_seen.iter_mut().for_each(CallTable::clear);
        calls_seen.truncate(SCRATCH_RULES);
        if cache.capacity() <= SCRATCH_RULES {
            SCRATCH.with(|s| s.set((cache, calls_seen, envs)));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn a_call_table_finds_earlier_calls_before_and_after_it_is_indexed() {
        let obj = Value::from_json_str(r#"{"name": "a"}"#).unwrap();
        let twin = Value::from_json_str(r#"{"name": "a"}"#).unwrap();
        let mut t = CallTable::default();
        for i in 0..100 {
            let args = vec![s(&format!("k{i}")), obj.clone()];
            assert_eq!(t.find(&args).0, None, "call {i} is new");
            let (_, print) = t.find(&args);
            assert_eq!(
                print.is_some(),
                i > LINEAR_CALLS,
                "indexed past {LINEAR_CALLS}"
            );
            t.record(print, args, Value::from(i as u64));
            // Every call so far is found, with its own value, whether or not indexed.
            for j in [0, i / 2, i] {
                let (hit, _) = t.find(&[s(&format!("k{j}")), obj.clone()]);
                assert_eq!(hit, Some(Value::from(j as u64)), "call {j} after {i}");
            }
        }
        // An equal object in another allocation is not the same argument (its identity could
        // otherwise be reused), nor are other scalars.
        assert_eq!(t.find(&[s("k3"), twin]).0, None);
        assert_eq!(t.find(&[s("k3")]).0, None);
        assert_eq!(t.find(&[Value::from(3u64), obj.clone()]).0, None);
        t.clear();
        assert_eq!(t.find(&[s("k3"), obj]).0, None);
        assert!(!t.indexed());
    }

    #[test]
    fn a_field_is_found_by_its_key_in_small_and_large_objects() {
        for n in [0, 1, 3, SCAN_FIELDS, SCAN_FIELDS + 1, 40] {
            let fields: Vec<String> = (0..n).map(|i| format!(r#""f{i}": {i}"#)).collect();
            let text = format!(
                r#"{{{}, "1": "one", "ab": "x", "ba": "y"}}"#,
                fields.join(", ")
            );
            let text = text.replace("{, ", "{");
            let obj = Value::from_json_str(&text).unwrap();
            for i in 0..n {
                let v = lookup_ref(&obj, &s(&format!("f{i}")));
                assert_eq!(v, Some(&Value::from(i as u64)), "f{i} of {n}");
            }
            // Same length, other bytes; a prefix; a number where the key is a string.
            assert_eq!(lookup_ref(&obj, &s("ba")), Some(&s("y")));
            assert_eq!(lookup_ref(&obj, &s("ab")), Some(&s("x")));
            assert_eq!(lookup_ref(&obj, &s("a")), None);
            assert_eq!(lookup_ref(&obj, &s(&format!("f{n}"))), None);
            assert_eq!(lookup_ref(&obj, &Value::from(1u64)), None);
            assert_eq!(lookup_ref(&obj, &s("1")), Some(&s("one")));
        }
    }

    #[test]
    fn a_function_called_for_each_item_of_a_long_list_gives_each_its_value() {
        // 3,000 calls of one function, a third of them repeats: every value must be the
        // function's, memoised or not.
        let src = r#"package t
violation[{"msg": m}] {
  x := input.xs[_]
  parity(x) == "odd"
  m := sprintf("%v", [x])
}
parity(n) = "odd" { n % 2 == 1 }
parity(n) = "even" { n % 2 == 0 }
"#;
        let p = compile(&[src.to_string()], false, "t").unwrap();
        let xs: Vec<String> = (0..3000).map(|i| (i % 2000).to_string()).collect();
        let input = Value::from_json_str(&format!(r#"{{"xs": [{}]}}"#, xs.join(","))).unwrap();
        let stop = Instant::now() + std::time::Duration::from_secs(60);
        let out = p.eval(input, stop).unwrap();
        let Value::Set(set) = out else {
            panic!("a set of violations: {out:?}")
        };
        assert_eq!(set.len(), 1000, "the odd numbers below 2,000");
        let msgs: BTreeSet<String> = set
            .iter()
            .map(|v| v["msg"].as_string().unwrap().to_string())
            .collect();
        assert!(msgs.contains("1999") && msgs.contains("1") && !msgs.contains("2"));
    }
}
