//! Compiling conditions: macros substituted, lists expanded, fields resolved, right-hand sides
//! parsed for the field's type and matchers (sets, globs, regexes) built once. Evaluation
//! short-circuits; `evt.type` tests are bit tests and give each rule its event types.

use crate::condition::{self, Check, Expr, Modifier, Op, Operand, Rhs, Transformer, Value};
use crate::eval::{Ctx, V};
use crate::evinfo;
use crate::fields::{self, Field, FieldArg, FieldError, FieldRef, FieldType};
use palisade_events::EventId;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Number of event slots: syscalls below 512, process events after.
pub const EVT_SLOTS: usize = 520;
const WORDS: usize = EVT_SLOTS.div_ceil(64);

/// Slot of an event id.
#[inline]
pub fn evt_slot(id: EventId) -> usize {
    if id.0 < EventId::SYSCALL_SLOTS {
        id.0 as usize
    } else {
        (512 + id.0.saturating_sub(EventId::FIRST_PROCESS_EVENT) as usize).min(EVT_SLOTS - 1)
    }
}

/// Event types a rule can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvtSet {
    /// Every event.
    All,
    /// These slots.
    Some(Box<EvtBits>),
}

/// A set of event slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvtBits(pub [u64; WORDS]);

impl EvtBits {
    /// The empty set.
    pub fn empty() -> Self {
        EvtBits([0; WORDS])
    }
    /// Whether `slot` is in the set.
    #[inline]
    pub fn has(&self, slot: usize) -> bool {
        self.0[slot >> 6] & (1 << (slot & 63)) != 0
    }
    /// Adds a slot.
    pub fn set(&mut self, slot: usize) {
        self.0[slot >> 6] |= 1 << (slot & 63);
    }
    /// The slots in the set.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..EVT_SLOTS).filter(|&s| self.has(s))
    }
    fn union(&self, o: &EvtBits) -> EvtBits {
        let mut r = self.clone();
        for (a, b) in r.0.iter_mut().zip(o.0) {
            *a |= b;
        }
        r
    }
    fn intersect(&self, o: &EvtBits) -> EvtBits {
        let mut r = self.clone();
        for (a, b) in r.0.iter_mut().zip(o.0) {
            *a &= b;
        }
        r
    }
    fn complement(&self) -> EvtBits {
        let mut r = self.clone();
        for (i, a) in r.0.iter_mut().enumerate() {
            *a = !*a;
            let last = EVT_SLOTS - i * 64;
            if last < 64 {
                *a &= (1u64 << last) - 1;
            }
        }
        r
    }
    /// Falco names of the event types in the set, sorted.
    pub fn names(&self) -> Vec<String> {
        let t = evinfo::table();
        let mut v: Vec<String> = self
            .iter()
            .map(|s| t[s].name)
            .filter(|n| *n != "unknown")
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A compiled operand.
#[derive(Debug, Clone)]
pub enum COperand {
    /// A field.
    Field(FieldRef),
    /// A transformer.
    Transform(Transformer, Vec<COperand>, Option<String>),
    /// A literal string.
    Lit(String),
}

/// Set of strings for `in` / `intersects`.
#[derive(Debug, Clone)]
pub enum StrSet {
    /// Few items: linear scan.
    Small(Vec<Box<str>>),
    /// Many items.
    Hash(HashSet<Box<str>>),
}

impl StrSet {
    fn new(items: Vec<String>) -> StrSet {
        if items.len() <= 8 {
            StrSet::Small(items.into_iter().map(String::into_boxed_str).collect())
        } else {
            StrSet::Hash(items.into_iter().map(String::into_boxed_str).collect())
        }
    }
    #[inline]
    fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Small(v) => v.iter().any(|x| &**x == s),
            StrSet::Hash(h) => h.contains(s),
        }
    }
}

/// One path pattern of `pmatch`, by components.
#[derive(Debug, Clone)]
pub struct PathPat(Vec<PathSeg>);

#[derive(Debug, Clone)]
enum PathSeg {
    Lit(String),
    Glob(globset::GlobMatcher),
}

/// A network for address comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net(ipnet::IpNet);

impl Net {
    fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }
}

/// A comparison with its right-hand side prepared.
#[derive(Debug, Clone)]
pub enum Cmp {
    /// Has a value.
    Exists,
    /// Text equals.
    StrEq(Box<str>),
    /// Text differs.
    StrNe(Box<str>),
    /// Substring.
    Contains(Box<str>),
    /// Case-insensitive substring (needle lower-cased).
    IContains(Box<str>),
    /// Prefix.
    StartsWith(Box<str>),
    /// Suffix.
    EndsWith(Box<str>),
    /// Glob.
    Glob(Box<globset::GlobMatcher>),
    /// Regex (anchored).
    Regex(Box<regex::Regex>),
    /// Membership.
    StrIn(Box<StrSet>),
    /// Intersection.
    StrIntersects(Box<StrSet>),
    /// Path prefix.
    PMatch(Box<[PathPat]>),
    /// Byte substring.
    BContains(Box<[u8]>),
    /// Byte prefix.
    BStartsWith(Box<[u8]>),
    /// Number comparison.
    Num(Op, i64),
    /// Number membership.
    NumIn(Box<[i64]>),
    /// Boolean equality (`eq` false for `!=`).
    Bool(bool, bool),
    /// Address in one of the networks (`eq` false for `!=`).
    IpIn(Box<[Net]>, bool),
    /// Against another operand.
    Field(Op, Box<COperand>),
    /// `anyof` / `allof` / `oneof`.
    Mod(Modifier, Box<[Cmp]>),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Node {
    /// Constant.
    Const(bool),
    /// All hold.
    And(Box<[Node]>),
    /// One holds.
    Or(Box<[Node]>),
    /// Negation.
    Not(Box<Node>),
    /// The event type is in the set.
    EvtType(Box<EvtBits>),
    /// A comparison.
    Check(Box<(COperand, Cmp)>),
    /// A macro's condition, evaluated once per event whichever rules use it (slot in the
    /// per-event memo).
    Memo(u32, Box<Node>),
}

impl Node {
    /// Whether evaluating the node reads a field (not only the event type or constants).
    fn reads_fields(&self) -> bool {
        match self {
            Node::Const(_) | Node::EvtType(_) => false,
            Node::And(v) | Node::Or(v) => v.iter().any(Node::reads_fields),
            Node::Not(n) => n.reads_fields(),
            Node::Check(_) | Node::Memo(..) => true,
        }
    }
}

impl Node {
    /// Evaluates the condition for the event of `ctx`.
    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::And(v) => v.iter().all(|n| n.eval(ctx)),
            Node::Or(v) => v.iter().any(|n| n.eval(ctx)),
            Node::Not(n) => !n.eval(ctx),
            Node::EvtType(bits) => bits.has(evt_slot(ctx.ev.id)),
            Node::Memo(slot, n) => match ctx.memo_get(*slot) {
                Some(r) => r,
                None => {
                    let r = n.eval(ctx);
                    ctx.memo_set(*slot, r);
                    r
                }
            },
            Node::Check(c) => {
                let (lhs, cmp) = &**c;
                let v = eval_operand(lhs, ctx);
                match cmp {
                    Cmp::Exists => v.is_some(),
                    _ => match v {
                        Some(v) => test(cmp, &v, ctx),
                        None => false,
                    },
                }
            }
        }
    }

    /// The event types this condition can match (`All` when not restricted).
    pub fn evttypes(&self) -> EvtSet {
        match types(self) {
            None => EvtSet::All,
            Some(b) => EvtSet::Some(Box::new(b)),
        }
    }
}

fn types(n: &Node) -> Option<EvtBits> {
    match n {
        Node::Memo(_, inner) => types(inner),
        Node::EvtType(b) => Some((**b).clone()),
        Node::Const(false) => Some(EvtBits::empty()),
        Node::And(v) => v.iter().filter_map(types).reduce(|a, b| a.intersect(&b)),
        Node::Or(v) => {
            let mut acc = EvtBits::empty();
            for c in v.iter() {
                acc = acc.union(&types(c)?);
            }
            Some(acc)
        }
        Node::Not(inner) => types_not(inner),
        _ => None,
    }
}

fn types_not(n: &Node) -> Option<EvtBits> {
    match n {
        Node::Memo(_, inner) => types_not(inner),
        Node::EvtType(b) => Some(b.complement()),
        Node::Const(true) => Some(EvtBits::empty()),
        Node::Not(inner) => types(inner),
        // not (a and b) = not a or not b
        Node::And(v) => {
            let mut acc = EvtBits::empty();
            for c in v.iter() {
                acc = acc.union(&types_not(c)?);
            }
            Some(acc)
        }
        // not (a or b) = not a and not b
        Node::Or(v) => v
            .iter()
            .filter_map(types_not)
            .reduce(|a, b| a.intersect(&b)),
        _ => None,
    }
}

fn text<'v>(v: &'v V<'_>) -> Cow<'v, str> {
    match v {
        V::S(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_text()),
    }
}

fn icontains(hay: &str, needle_lower: &str) -> bool {
    let h = hay.as_bytes();
    let n = needle_lower.as_bytes();
    if n.is_empty() {
        return true;
    }
    if h.len() < n.len() {
        return false;
    }
    if !hay.is_ascii() || !needle_lower.is_ascii() {
        return hay.to_lowercase().contains(needle_lower);
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn pmatch(pats: &[PathPat], path: &str) -> bool {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    pats.iter().any(|p| {
        p.0.len() <= comps.len()
            && p.0.iter().zip(&comps).all(|(seg, c)| match seg {
                PathSeg::Lit(l) => l == c,
                PathSeg::Glob(g) => g.is_match(c),
            })
    })
}

fn as_num(v: &V<'_>) -> Option<i64> {
    match v {
        V::I(i) => Some(*i),
        V::B(b) => Some(*b as i64),
        V::S(s) => parse_num(s),
        _ => None,
    }
}

fn num_cmp(op: Op, a: i64, b: i64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

fn test(cmp: &Cmp, v: &V<'_>, ctx: &Ctx<'_>) -> bool {
    match v {
        V::Any(items) => return items.iter().any(|x| test(cmp, x, ctx)),
        V::List(items) => {
            return match cmp {
                Cmp::StrIn(set) => !items.is_empty() && items.iter().all(|x| set.contains(x)),
                Cmp::StrIntersects(set) => items.iter().any(|x| set.contains(x)),
                _ => items
                    .iter()
                    .any(|x| test(cmp, &V::S(Cow::Borrowed(x.as_ref())), ctx)),
            };
        }
        _ => {}
    }
    match cmp {
        Cmp::Exists => true,
        Cmp::StrEq(s) => *text(v) == **s,
        Cmp::StrNe(s) => *text(v) != **s,
        Cmp::Contains(s) => text(v).contains(&**s),
        Cmp::IContains(s) => icontains(&text(v), s),
        Cmp::StartsWith(s) => text(v).starts_with(&**s),
        Cmp::EndsWith(s) => text(v).ends_with(&**s),
        Cmp::Glob(g) => g.is_match(&*text(v)),
        Cmp::Regex(r) => r.is_match(&text(v)),
        Cmp::StrIn(set) | Cmp::StrIntersects(set) => set.contains(&text(v)),
        Cmp::PMatch(p) => pmatch(p, &text(v)),
        Cmp::BContains(b) | Cmp::BStartsWith(b) => {
            let bytes: &[u8] = match v {
                V::Bytes(x) => x,
                V::S(s) => s.as_bytes(),
                _ => return false,
            };
            if matches!(cmp, Cmp::BStartsWith(_)) {
                bytes.starts_with(b)
            } else {
                b.is_empty() || bytes.windows(b.len()).any(|w| w == &**b)
            }
        }
        Cmp::Num(op, n) => as_num(v).is_some_and(|x| num_cmp(*op, x, *n)),
        Cmp::NumIn(set) => as_num(v).is_some_and(|x| set.contains(&x)),
        Cmp::Bool(b, eq) => match v {
            V::B(x) => (x == b) == *eq,
            _ => false,
        },
        Cmp::IpIn(nets, eq) => match v {
            V::Ip(ip) => nets.iter().any(|n| n.contains(ip)) == *eq,
            _ => false,
        },
        Cmp::Field(op, rhs) => {
            let Some(r) = eval_operand(rhs, ctx) else {
                return false;
            };
            field_cmp(*op, v, &r)
        }
        Cmp::Mod(m, cmps) => {
            let n = cmps.iter().filter(|c| test(c, v, ctx)).count();
            match m {
                Modifier::AnyOf => n > 0,
                Modifier::AllOf => !cmps.is_empty() && n == cmps.len(),
                Modifier::OneOf => n == 1,
            }
        }
    }
}

fn field_cmp(op: Op, a: &V<'_>, b: &V<'_>) -> bool {
    if let V::Any(items) = b {
        return items.iter().any(|x| field_cmp(op, a, x));
    }
    if let (V::I(x), V::I(y)) = (a, b) {
        return num_cmp(op, *x, *y);
    }
    let (x, y) = (text(a), text(b));
    match op {
        Op::Eq => x == y,
        Op::Ne => x != y,
        Op::Lt => x < y,
        Op::Le => x <= y,
        Op::Gt => x > y,
        Op::Ge => x >= y,
        Op::Contains => x.contains(&*y),
        Op::IContains => icontains(&x, &y.to_lowercase()),
        Op::StartsWith => x.starts_with(&*y),
        Op::EndsWith => x.ends_with(&*y),
        Op::In | Op::Intersects => x == y,
        _ => false,
    }
}

/// Evaluates an operand.
pub fn eval_operand<'c>(o: &COperand, ctx: &'c Ctx<'_>) -> Option<V<'c>> {
    match o {
        COperand::Field(f) => ctx.get(f),
        COperand::Lit(s) => Some(V::S(Cow::Owned(s.clone()))),
        COperand::Transform(t, args, arg) => transform(*t, args, arg.as_deref(), ctx),
    }
}

fn map_str<'c>(v: V<'c>, f: &dyn Fn(&str) -> String) -> V<'c> {
    match v {
        V::List(l) => V::List(l.into_iter().map(|s| Cow::Owned(f(&s))).collect()),
        V::Any(l) => V::Any(l.into_iter().map(|x| map_str(x, f)).collect()),
        other => V::S(Cow::Owned(f(&text(&other)))),
    }
}

fn list_of<'c>(v: V<'c>) -> Vec<Cow<'c, str>> {
    match v {
        V::List(l) => l,
        V::Any(l) => l.into_iter().map(|x| Cow::Owned(x.to_text())).collect(),
        other => vec![Cow::Owned(other.to_text())],
    }
}

fn transform<'c>(
    t: Transformer,
    args: &[COperand],
    arg: Option<&str>,
    ctx: &'c Ctx<'_>,
) -> Option<V<'c>> {
    use base64::Engine as _;
    match t {
        Transformer::ToLower => Some(map_str(eval_operand(&args[0], ctx)?, &|s| s.to_lowercase())),
        Transformer::ToUpper => Some(map_str(eval_operand(&args[0], ctx)?, &|s| s.to_uppercase())),
        Transformer::Basename => Some(map_str(
            eval_operand(&args[0], ctx)?,
            &|s| match s.rfind('/') {
                Some(i) => s[i + 1..].to_string(),
                None => s.to_string(),
            },
        )),
        Transformer::B64 => {
            let v = eval_operand(&args[0], ctx)?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(text(&v).trim().as_bytes())
                .ok()?;
            Some(V::S(Cow::Owned(
                String::from_utf8_lossy(&decoded).into_owned(),
            )))
        }
        Transformer::Len => Some(V::I(match eval_operand(&args[0], ctx)? {
            V::List(l) => l.len() as i64,
            V::Any(l) => l.len() as i64,
            V::Bytes(b) => b.len() as i64,
            other => text(&other).chars().count() as i64,
        })),
        Transformer::Join => {
            let sep = text(&eval_operand(&args[0], ctx)?).into_owned();
            let items = list_of(eval_operand(&args[1], ctx)?);
            Some(V::S(Cow::Owned(items.join(&sep))))
        }
        Transformer::Concat => {
            let mut out = String::new();
            for a in args {
                out.push_str(&text(&eval_operand(a, ctx)?));
            }
            Some(V::S(Cow::Owned(out)))
        }
        Transformer::Getopt => {
            let argv = list_of(eval_operand(&args[0], ctx)?);
            let optstring = text(&eval_operand(&args[1], ctx)?).into_owned();
            getopt(&argv, &optstring, arg)
        }
    }
}

/// getopt(3)-style scan of `argv` (no argv\[0\]): options and their values, or with `sel` the
/// value of that option (its letter when it takes no value; the last occurrence wins).
fn getopt<'c>(argv: &[Cow<'_, str>], optstring: &str, sel: Option<&str>) -> Option<V<'c>> {
    let spec = optstring.strip_prefix(':').unwrap_or(optstring).as_bytes();
    let takes = |c: u8| -> Option<bool> {
        let i = spec.iter().position(|&x| x == c && c != b':')?;
        Some(spec.get(i + 1) == Some(&b':'))
    };
    let sel = sel.and_then(|s| s.bytes().next());
    let mut out: Vec<String> = Vec::new();
    let mut picked: Option<String> = None;
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_bytes();
        if &*argv[i] == "--" {
            break;
        }
        if a.len() > 2 && a[0] == b'-' && a[1] == b'-' {
            i += 1;
            continue;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            match takes(c) {
                None => {
                    if sel.is_none() {
                        out.push("?".into());
                    }
                }
                Some(false) => {
                    let name = (c as char).to_string();
                    if sel == Some(c) {
                        picked = Some(name);
                    } else if sel.is_none() {
                        out.push(name);
                    }
                }
                Some(true) => {
                    let val = if j + 1 < a.len() {
                        Some(String::from_utf8_lossy(&a[j + 1..]).into_owned())
                    } else if i + 1 < argv.len() {
                        i += 1;
                        Some(argv[i].to_string())
                    } else {
                        None
                    };
                    if sel == Some(c) {
                        picked = Some(val.clone().unwrap_or_default());
                    } else if sel.is_none() {
                        out.push((c as char).to_string());
                        if let Some(v) = val {
                            out.push(v);
                        }
                    }
                    break;
                }
            }
            j += 1;
        }
        i += 1;
    }
    match sel {
        Some(_) => picked.map(|p| V::S(Cow::Owned(p))),
        None => Some(V::List(out.into_iter().map(Cow::Owned).collect())),
    }
}

/// A compile problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// A field the engine does not know (rules with `skip-if-unknown-filter` are skipped).
    UnknownField {
        /// Field name.
        field: String,
        /// Where (macro chain or condition offset).
        context: String,
    },
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::UnknownField { field, context } => {
                write!(f, "unknown field '{field}'{context}")
            }
            CompileError::Other(m) => f.write_str(m),
        }
    }
}

/// A macro as the compiler sees it.
#[derive(Debug)]
pub struct MacroSrc {
    /// Parsed condition, or the parse error text.
    pub expr: Result<Expr, String>,
    /// The condition text.
    pub text: String,
    /// Where it is defined (for messages).
    pub loc: String,
}

/// What conditions may refer to.
pub struct Env<'e> {
    /// Macros by name.
    pub macros: &'e HashMap<String, MacroSrc>,
    /// Lists by name (flattened, raw items).
    pub lists: &'e HashMap<String, Vec<String>>,
    /// Names of macros used (filled during compilation).
    pub used_macros: HashSet<String>,
    /// Names of lists used.
    pub used_lists: HashSet<String>,
    /// Unknown event type names met (for warnings).
    pub unknown_evttypes: Vec<String>,
    /// Fields referenced (`evt.arg.NAME` as written).
    pub used_fields: std::collections::BTreeSet<String>,
    /// Memo slot of each macro that reads fields.
    pub memo_slots: HashMap<String, u32>,
    /// Domain names compared with `fd.*ip.name` fields (resolved forward, as Falco does).
    pub dns_names: std::collections::BTreeSet<String>,
}

impl<'e> Env<'e> {
    /// An environment.
    pub fn new(
        macros: &'e HashMap<String, MacroSrc>,
        lists: &'e HashMap<String, Vec<String>>,
    ) -> Self {
        Env {
            macros,
            lists,
            used_macros: HashSet::new(),
            used_lists: HashSet::new(),
            unknown_evttypes: Vec::new(),
            used_fields: Default::default(),
            memo_slots: HashMap::new(),
            dns_names: Default::default(),
        }
    }

    /// Compiles a condition.
    pub fn compile(&mut self, text: &str) -> Result<Node, CompileError> {
        let e = condition::parse(text).map_err(|e| CompileError::Other(syntax_msg(text, &e)))?;
        let mut stack = Vec::new();
        self.node(&e, &mut stack, text)
    }

    fn node(
        &mut self,
        e: &Expr,
        stack: &mut Vec<String>,
        text: &str,
    ) -> Result<Node, CompileError> {
        Ok(match e {
            Expr::And(v) => {
                let mut out = Vec::with_capacity(v.len());
                for x in v {
                    match self.node(x, stack, text)? {
                        Node::Const(true) => {}
                        Node::And(inner) => out.extend(inner.into_vec()),
                        n => out.push(n),
                    }
                }
                if out.is_empty() {
                    Node::Const(true)
                } else if out.len() == 1 {
                    out.pop().expect("one")
                } else {
                    Node::And(out.into_boxed_slice())
                }
            }
            Expr::Or(v) => {
                let mut out = Vec::with_capacity(v.len());
                for x in v {
                    match self.node(x, stack, text)? {
                        Node::Const(false) => {}
                        Node::Or(inner) => out.extend(inner.into_vec()),
                        n => out.push(n),
                    }
                }
                if out.is_empty() {
                    Node::Const(false)
                } else if out.len() == 1 {
                    out.pop().expect("one")
                } else {
                    Node::Or(out.into_boxed_slice())
                }
            }
            Expr::Not(x) => match self.node(x, stack, text)? {
                Node::Const(b) => Node::Const(!b),
                n => Node::Not(Box::new(n)),
            },
            Expr::Macro(name, pos) => {
                let macros = self.macros;
                let Some(m) = macros.get(name) else {
                    return Err(CompileError::Other(format!(
                        "undefined macro '{name}' used in condition{}",
                        near(text, *pos)
                    )));
                };
                if stack.contains(name) {
                    stack.push(name.clone());
                    return Err(CompileError::Other(format!(
                        "macro cycle: {}",
                        stack.join(" -> ")
                    )));
                }
                self.used_macros.insert(name.clone());
                let expr = match &m.expr {
                    Ok(e) => e,
                    Err(msg) => {
                        return Err(CompileError::Other(format!(
                            "macro '{name}' ({}) does not compile: {msg}",
                            m.loc
                        )));
                    }
                };
                stack.push(name.clone());
                let r = self.node(expr, stack, &m.text).map_err(|e| match e {
                    CompileError::UnknownField { field, context } if context.is_empty() => {
                        CompileError::UnknownField {
                            field,
                            context: format!(" in macro '{name}' ({})", m.loc),
                        }
                    }
                    CompileError::Other(msg) if !msg.contains("in macro '") => {
                        CompileError::Other(format!("in macro '{name}' ({}): {msg}", m.loc))
                    }
                    other => other,
                });
                stack.pop();
                let node = r?;
                if node.reads_fields() {
                    let next = self.memo_slots.len() as u32;
                    let slot = *self.memo_slots.entry(name.clone()).or_insert(next);
                    Node::Memo(slot, Box::new(node))
                } else {
                    node
                }
            }
            Expr::Check(c) => self.check(c, text)?,
        })
    }

    fn operand(&mut self, o: &Operand, text: &str) -> Result<(COperand, FieldType), CompileError> {
        match o {
            Operand::Field { name, arg, pos } => {
                let f = fields::resolve(name, arg.as_deref()).map_err(|e| match e {
                    FieldError::Unknown(n) => CompileError::UnknownField {
                        field: n,
                        context: String::new(),
                    },
                    FieldError::BadArg(m) => {
                        CompileError::Other(format!("{m}{}", near(text, *pos)))
                    }
                })?;
                let ty = f.field.info().ty;
                self.used_fields.insert(match f.field {
                    Field::EvtArg | Field::EvtRawArg => field_arg_display(&f),
                    _ => f.field.name().to_string(),
                });
                Ok((COperand::Field(f), ty))
            }
            Operand::Literal(s) => Ok((COperand::Lit(s.clone()), FieldType::Str)),
            Operand::Transform { t, args, arg, pos } => {
                let mut cargs = Vec::new();
                let mut types = Vec::new();
                for a in args {
                    let (c, ty) = self.operand(a, text)?;
                    cargs.push(c);
                    types.push(ty);
                }
                let bad = |m: &str| Err(CompileError::Other(format!("{m}{}", near(text, *pos))));
                let n = cargs.len();
                let ty = match t {
                    Transformer::ToLower
                    | Transformer::ToUpper
                    | Transformer::B64
                    | Transformer::Basename => {
                        if n != 1 {
                            return bad(&format!("{}() takes exactly one argument", t.as_str()));
                        }
                        if types[0] == FieldType::StrList {
                            FieldType::StrList
                        } else {
                            FieldType::Str
                        }
                    }
                    Transformer::Len => {
                        if n != 1 {
                            return bad("len() takes exactly one argument");
                        }
                        FieldType::Int
                    }
                    Transformer::Join => {
                        if n != 2 {
                            return bad("join() requires exactly 2 arguments: separator and list");
                        }
                        if types[1] != FieldType::StrList {
                            return bad("join() second argument must be a list");
                        }
                        FieldType::Str
                    }
                    Transformer::Concat => {
                        if n < 2 {
                            return bad("concat() requires at least 2 arguments");
                        }
                        if types.iter().any(|t| *t != FieldType::Str) {
                            return bad("concat() arguments must be strings");
                        }
                        FieldType::Str
                    }
                    Transformer::Getopt => {
                        if n != 2 {
                            return bad(
                                "getopt() requires exactly 2 arguments: args list and optstring",
                            );
                        }
                        if types[0] != FieldType::StrList {
                            return bad("getopt() first argument must be a list");
                        }
                        match arg {
                            Some(a) if a.chars().count() != 1 => {
                                return bad(
                                    "getopt() field argument must be a single option character",
                                );
                            }
                            Some(_) => FieldType::Str,
                            None => FieldType::StrList,
                        }
                    }
                };
                if arg.is_some() && *t != Transformer::Getopt {
                    return bad(&format!("{}() takes no argument in brackets", t.as_str()));
                }
                Ok((COperand::Transform(*t, cargs, arg.clone()), ty))
            }
        }
    }

    /// Compiles an operand of an output template.
    pub fn output_operand(&mut self, o: &Operand, text: &str) -> Result<COperand, CompileError> {
        self.operand(o, text).map(|(c, _)| c)
    }

    fn list_items(&mut self, rhs: &Rhs, text: &str) -> Result<Vec<String>, CompileError> {
        let mut out = Vec::new();
        match rhs {
            Rhs::List(values) => {
                for v in values {
                    self.push_value(v, &mut out);
                }
            }
            Rhs::ListName(n, pos) => match self.lists.get(n) {
                Some(items) => {
                    self.used_lists.insert(n.clone());
                    out.extend(items.iter().map(|i| condition::unquote_item(i)));
                }
                None => {
                    return Err(CompileError::Other(format!(
                        "undefined list '{n}'{}",
                        near(text, *pos)
                    )));
                }
            },
            Rhs::Value(v) => self.push_value(v, &mut out),
            _ => {}
        }
        Ok(out)
    }

    fn push_value(&mut self, v: &Value, out: &mut Vec<String>) {
        if !v.quoted
            && let Some(items) = self.lists.get(&v.text)
        {
            self.used_lists.insert(v.text.clone());
            out.extend(items.iter().map(|i| condition::unquote_item(i)));
            return;
        }
        out.push(v.text.clone());
    }

    fn check(&mut self, c: &Check, text: &str) -> Result<Node, CompileError> {
        let (lhs, ty) = self.operand(&c.lhs, text)?;
        let at = near(text, c.pos);
        // evt.type: a bit test, and what indexes the rule.
        if let COperand::Field(FieldRef {
            field: Field::EvtType,
            ..
        }) = lhs
            && matches!(c.op, Op::Eq | Op::Ne | Op::In)
            && c.modifier.is_none()
            && !matches!(c.rhs, Rhs::Operand(_))
        {
            let names = self.list_items(&c.rhs, text)?;
            let mut bits = EvtBits::empty();
            for n in &names {
                let slots = evinfo::slots_for_name(n);
                if slots.is_empty() {
                    self.unknown_evttypes.push(n.clone());
                }
                for s in slots {
                    bits.set(s);
                }
            }
            let node = Node::EvtType(Box::new(bits));
            return Ok(if c.op == Op::Ne {
                Node::Not(Box::new(node))
            } else {
                node
            });
        }
        if let COperand::Field(FieldRef {
            field: Field::FdCipName | Field::FdSipName | Field::FdLipName | Field::FdRipName,
            ..
        }) = lhs
            && !matches!(c.rhs, Rhs::Operand(_))
        {
            for n in self.list_items(&c.rhs, text)? {
                self.dns_names.insert(n);
            }
        }
        let cmp = match (&c.rhs, c.modifier) {
            (_, _) if c.op == Op::Exists => Cmp::Exists,
            (Rhs::Operand(o), None) => {
                let (rhs, _) = self.operand(o, text)?;
                if matches!(
                    c.op,
                    Op::Glob | Op::IGlob | Op::Regex | Op::PMatch | Op::BContains | Op::BStartsWith
                ) {
                    return Err(CompileError::Other(format!(
                        "operator '{}' does not take a field on the right-hand side{at}",
                        c.op
                    )));
                }
                Cmp::Field(c.op, Box::new(rhs))
            }
            (Rhs::Operand(_), Some(_)) => {
                return Err(CompileError::Other(format!(
                    "anyof/allof/oneof need a list of values{at}"
                )));
            }
            (rhs, Some(m)) => {
                let items = self.list_items(rhs, text)?;
                let mut cmps = Vec::new();
                for i in &items {
                    cmps.push(scalar_cmp(c.op, ty, i, &at)?);
                }
                Cmp::Mod(m, cmps.into_boxed_slice())
            }
            (rhs, None) if c.op.is_list_op() => {
                let items = self.list_items(rhs, text)?;
                list_cmp(c.op, ty, items, &at)?
            }
            (Rhs::Value(v), None) => scalar_cmp(c.op, ty, &v.text, &at)?,
            (Rhs::List(_) | Rhs::ListName(..), None) => {
                return Err(CompileError::Other(format!(
                    "operator '{}' takes one value, not a list{at}",
                    c.op
                )));
            }
            (Rhs::None, None) => {
                return Err(CompileError::Other(format!(
                    "operator '{}' needs a value{at}",
                    c.op
                )));
            }
        };
        Ok(Node::Check(Box::new((lhs, cmp))))
    }
}

/// `" (near '...')"` for an offset of the condition text.
fn near(text: &str, pos: usize) -> String {
    if text.is_empty() || pos >= text.len() {
        return String::new();
    }
    let snippet: String = text[pos..].chars().take(40).collect();
    format!(" (near '{}')", snippet.replace('\n', " ").trim_end())
}

fn syntax_msg(text: &str, e: &condition::ParseError) -> String {
    format!(
        "condition syntax error: {} at offset {}{}",
        e.message,
        e.pos,
        near(text, e.pos)
    )
}

fn parse_num(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, d) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = d.strip_prefix("0x").or_else(|| d.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else {
        d.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_net(s: &str) -> Option<Net> {
    if let Ok(n) = s.parse::<ipnet::IpNet>() {
        return Some(Net(n.trunc()));
    }
    s.parse::<IpAddr>()
        .ok()
        .map(|ip| Net(ipnet::IpNet::from(ip)))
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn glob(pat: &str, case_insensitive: bool) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pat)
        .case_insensitive(case_insensitive)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid glob '{pat}': {e}"))
}

fn numeric(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Int | FieldType::Port | FieldType::AbsTime | FieldType::RelTime
    )
}

fn scalar_cmp(op: Op, ty: FieldType, val: &str, at: &str) -> Result<Cmp, CompileError> {
    let err = |m: String| Err(CompileError::Other(format!("{m}{at}")));
    let num = |v: &str| -> Result<i64, CompileError> {
        parse_num(v).ok_or_else(|| {
            CompileError::Other(format!("'{v}' is not a number, as the field needs{at}"))
        })
    };
    Ok(match op {
        Op::Eq | Op::Ne => match ty {
            _ if numeric(ty) => Cmp::Num(op, num(val)?),
            FieldType::Bool => match parse_bool(val) {
                Some(b) => Cmp::Bool(b, op == Op::Eq),
                None => return err(format!("'{val}' is not a boolean (true or false)")),
            },
            FieldType::Ip => match parse_net(val) {
                Some(n) => Cmp::IpIn(Box::new([n]), op == Op::Eq),
                None => return err(format!("'{val}' is not an IP address or network")),
            },
            _ => {
                if op == Op::Eq {
                    Cmp::StrEq(val.into())
                } else {
                    Cmp::StrNe(val.into())
                }
            }
        },
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            if matches!(ty, FieldType::Bool | FieldType::Ip | FieldType::StrList) {
                return err(format!("operator '{op}' needs a numeric field"));
            }
            Cmp::Num(op, num(val)?)
        }
        Op::Contains => Cmp::Contains(val.into()),
        Op::IContains => Cmp::IContains(val.to_lowercase().into()),
        Op::StartsWith => Cmp::StartsWith(val.into()),
        Op::EndsWith => Cmp::EndsWith(val.into()),
        Op::Glob | Op::IGlob => match glob(val, op == Op::IGlob) {
            Ok(g) => Cmp::Glob(Box::new(g)),
            Err(e) => return err(e),
        },
        Op::Regex => match regex::Regex::new(&format!("^(?:{val})$")) {
            Ok(r) => Cmp::Regex(Box::new(r)),
            Err(e) => {
                let why = e.to_string();
                let why = why
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                return err(format!("invalid regex '{val}': {why}"));
            }
        },
        Op::BContains | Op::BStartsWith => match parse_hex(val) {
            Some(b) if op == Op::BContains => Cmp::BContains(b.into()),
            Some(b) => Cmp::BStartsWith(b.into()),
            None => return err(format!("'{val}' is not a hex byte string")),
        },
        Op::In | Op::Intersects | Op::PMatch => list_cmp(op, ty, vec![val.to_string()], at)?,
        Op::Exists => Cmp::Exists,
    })
}

fn list_cmp(op: Op, ty: FieldType, items: Vec<String>, at: &str) -> Result<Cmp, CompileError> {
    Ok(match op {
        Op::PMatch => {
            let mut pats = Vec::new();
            for p in &items {
                let mut segs = Vec::new();
                for c in p.split('/').filter(|c| !c.is_empty()) {
                    if c.contains(['*', '?', '[']) {
                        segs.push(PathSeg::Glob(
                            glob(c, false).map_err(|e| CompileError::Other(format!("{e}{at}")))?,
                        ));
                    } else {
                        segs.push(PathSeg::Lit(c.to_string()));
                    }
                }
                pats.push(PathPat(segs));
            }
            Cmp::PMatch(pats.into_boxed_slice())
        }
        _ if numeric(ty) => {
            let mut v = Vec::new();
            for i in &items {
                v.push(parse_num(i).ok_or_else(|| {
                    CompileError::Other(format!("'{i}' is not a number, as the field needs{at}"))
                })?);
            }
            Cmp::NumIn(v.into_boxed_slice())
        }
        _ if ty == FieldType::Ip => {
            let mut v = Vec::new();
            for i in &items {
                v.push(parse_net(i).ok_or_else(|| {
                    CompileError::Other(format!("'{i}' is not an IP address or network{at}"))
                })?);
            }
            Cmp::IpIn(v.into_boxed_slice(), true)
        }
        _ => {
            let set = Box::new(StrSet::new(items));
            if op == Op::Intersects {
                Cmp::StrIntersects(set)
            } else {
                Cmp::StrIn(set)
            }
        }
    })
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// Index into the rule infos.
    pub(crate) info: usize,
    /// Whether it is evaluated.
    pub(crate) active: bool,
    /// Event types it can match.
    pub(crate) evttypes: EvtSet,
    /// Condition.
    pub(crate) cond: Node,
    /// Output template.
    pub(crate) output: crate::format::Template,
}

/// Field references used by a field argument, for the unsupported-field report.
pub fn field_arg_display(f: &FieldRef) -> String {
    match &f.arg {
        FieldArg::None => f.field.name().to_string(),
        FieldArg::Index(i) => format!("{}[{i}]", f.field.name()),
        FieldArg::Key(k) if matches!(f.field, Field::EvtArg | Field::EvtRawArg) => {
            format!("{}.{k}", f.field.name())
        }
        FieldArg::Key(k) => format!("{}[{k}]", f.field.name()),
    }
}
