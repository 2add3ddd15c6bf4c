//! The condition language: syntax tree and parser.
//!
//! Grammar (Falco's, precedence `not` > `and` > `or`):
//!
//! ```text
//! expr     := and ('or' and)*
//! and      := not ('and' not)*
//! not      := 'not' not | check
//! check    := '(' expr ')' | operand op [rhs] | MACRO
//! operand  := FIELD ['[' ARG ']'] | TRANSFORMER '(' targ (',' targ)* ')' ['[' ARG ']']
//! op       := exists | = == != < <= > >= contains icontains bcontains startswith
//!             bstartswith endswith glob iglob regex in intersects pmatch
//! rhs      := VALUE | '(' [VALUE (',' VALUE)*] ')' | LIST | 'val(' operand ')' | transformer
//!             | ('anyof' | 'allof' | 'oneof') list      (after a string operator)
//! ```
//!
//! Lists are resolved at compile time: a bare word inside `( ... )` or after a list operator that
//! names a list is replaced by the list's items.

use std::fmt;

/// A boolean expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A macro reference, by name, with its byte offset in the condition.
    Macro(String, usize),
    /// A field comparison.
    Check(Box<Check>),
}

/// Comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=` / `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// Substring.
    Contains,
    /// Case-insensitive substring.
    IContains,
    /// Byte substring (hex RHS).
    BContains,
    /// Prefix.
    StartsWith,
    /// Byte prefix (hex RHS).
    BStartsWith,
    /// Suffix.
    EndsWith,
    /// glob(7) full match.
    Glob,
    /// Case-insensitive glob.
    IGlob,
    /// Regular expression, full match.
    Regex,
    /// Membership (LHS values all in the RHS set).
    In,
    /// Non-empty intersection.
    Intersects,
    /// Path-prefix match.
    PMatch,
    /// The field has a value.
    Exists,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Whether the right-hand side is a list.
    pub fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `anyof` / `allof` / `oneof` after a string operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modifier {
    /// At least one item matches.
    AnyOf,
    /// Every item matches.
    AllOf,
    /// Exactly one item matches.
    OneOf,
}

/// Field transformers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformer {
    /// Lower case.
    ToLower,
    /// Upper case.
    ToUpper,
    /// Base64 decode.
    B64,
    /// Last path component (`""` for a trailing `/`).
    Basename,
    /// Length (characters of a string, items of a list).
    Len,
    /// `join(sep, list)`.
    Join,
    /// `concat(a, b, ...)`.
    Concat,
    /// `getopt(args, optstring)[opt]`.
    Getopt,
}

impl Transformer {
    /// Looks a transformer up by name.
    pub fn from_name(s: &str) -> Option<Transformer> {
        Some(match s {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            "join" => Transformer::Join,
            "concat" => Transformer::Concat,
            "getopt" => Transformer::Getopt,
            _ => return None,
        })
    }

    /// Name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Join => "join",
            Transformer::Concat => "concat",
            Transformer::Getopt => "getopt",
        }
    }
}

/// Something that yields values: a field, a transformer applied to operands, or a literal
/// string (only as a transformer argument).
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// `name` or `name[arg]`.
    Field {
        /// Field name (`proc.aname`, `evt.arg.flags`).
        name: String,
        /// Argument in brackets.
        arg: Option<String>,
        /// Byte offset in the condition.
        pos: usize,
    },
    /// `t(args...)` or `t(args...)[arg]`.
    Transform {
        /// Which transformer.
        t: Transformer,
        /// Arguments.
        args: Vec<Operand>,
        /// Argument in brackets after the call (`getopt(...)[t]`).
        arg: Option<String>,
        /// Byte offset in the condition.
        pos: usize,
    },
    /// A quoted string argument.
    Literal(String),
}

impl Operand {
    /// Byte offset in the condition.
    pub fn pos(&self) -> usize {
        match self {
            Operand::Field { pos, .. } | Operand::Transform { pos, .. } => *pos,
            Operand::Literal(_) => 0,
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { name, arg, .. } => {
                f.write_str(name)?;
                if let Some(a) = arg {
                    write!(f, "[{a}]")?;
                }
                Ok(())
            }
            Operand::Transform { t, args, arg, .. } => {
                write!(f, "{}(", t.as_str())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")?;
                if let Some(a) = arg {
                    write!(f, "[{a}]")?;
                }
                Ok(())
            }
            Operand::Literal(s) => write!(f, "{s:?}"),
        }
    }
}

/// A value as written on the right-hand side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// The text (quotes removed, escapes resolved).
    pub text: String,
    /// Whether it was quoted (a quoted word is never a list name).
    pub quoted: bool,
    /// Byte offset.
    pub pos: usize,
}

/// Right-hand side of a check.
#[derive(Clone, Debug, PartialEq)]
pub enum Rhs {
    /// Nothing (`exists`).
    None,
    /// One value.
    Value(Value),
    /// A parenthesised list (possibly naming lists among its items).
    List(Vec<Value>),
    /// A bare list name (`in shell_binaries`).
    ListName(String, usize),
    /// A field (`val(proc.pname)`) or a transformer.
    Operand(Operand),
}

/// A field comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Left-hand side.
    pub lhs: Operand,
    /// Operator.
    pub op: Op,
    /// `anyof`/`allof`/`oneof`.
    pub modifier: Option<Modifier>,
    /// Right-hand side.
    pub rhs: Rhs,
    /// Byte offset of the check.
    pub pos: usize,
}

/// A syntax error at a byte offset of the condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {pos} of the condition")]
pub struct ParseError {
    /// Byte offset.
    pub pos: usize,
    /// What is wrong.
    pub message: String,
}

/// Nesting limit of parentheses and `not` (Falco allows 1000; real rules nest a few levels, and
/// the limit keeps the recursive parser, compiler and evaluator far from the stack's end).
const MAX_DEPTH: usize = 200;

/// Parses a condition.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.eof() {
        return Err(p.err("empty condition"));
    }
    let e = p.or()?;
    p.ws();
    if !p.eof() {
        return Err(p.err(&format!("unexpected '{}'", p.rest_snippet())));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x08 | 0x0c)
}

/// Characters that end a bare string.
fn ends_bare(c: u8) -> bool {
    is_ws(c) || matches!(c, b'(' | b')' | b',' | b'=' | b'"' | b'\'')
}

impl<'a> Parser<'a> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.i += 1;
        }
    }

    fn err(&self, m: &str) -> ParseError {
        ParseError {
            pos: self.i,
            message: m.to_string(),
        }
    }

    fn rest_snippet(&self) -> String {
        self.text[self.i..].chars().take(30).collect()
    }

    /// Whether the keyword `kw` is at the cursor, followed by a non-identifier character.
    fn at_kw(&self, kw: &str) -> bool {
        let k = kw.as_bytes();
        self.s[self.i..].starts_with(k)
            && self
                .s
                .get(self.i + k.len())
                .is_none_or(|&c| !is_ident_char(c) && c != b'.')
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.i += kw.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("condition nested too deeply"));
        }
        let mut v = vec![self.and()?];
        loop {
            self.ws();
            if self.eat_kw("or") {
                self.ws();
                v.push(self.and()?);
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if v.len() == 1 {
            v.pop().expect("one")
        } else {
            Expr::Or(v)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.not()?];
        loop {
            self.ws();
            if self.eat_kw("and") {
                self.ws();
                v.push(self.not()?);
            } else {
                break;
            }
        }
        Ok(if v.len() == 1 {
            v.pop().expect("one")
        } else {
            Expr::And(v)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        if self.at_kw("not") {
            self.i += 3;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.err("condition nested too deeply"));
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.check()
    }

    fn check(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        let start = self.i;
        match self.peek() {
            None => Err(self.err("unexpected end of condition, expected a check")),
            Some(b'(') => {
                self.i += 1;
                let e = self.or()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err("expected ')'"));
                }
                self.i += 1;
                Ok(e)
            }
            Some(c) if is_ident_start(c) => {
                let word = self.word_with_dots();
                if word.contains('.')
                    || (self.peek() == Some(b'(') && Transformer::from_name(&word).is_some())
                {
                    self.i = start;
                    let lhs = self.operand()?;
                    self.condition(lhs, start)
                } else if matches!(word.as_str(), "and" | "or") {
                    self.i = start;
                    Err(self.err(&format!("unexpected '{word}', expected a check")))
                } else {
                    Ok(Expr::Macro(word, start))
                }
            }
            Some(_) => Err(self.err(&format!(
                "unexpected '{}', expected a field, macro or '('",
                self.rest_snippet()
            ))),
        }
    }

    /// `[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*` — field names may have digits after dots.
    fn word_with_dots(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if is_ident_char(c)
                || (c == b'.' && self.s.get(self.i + 1).is_some_and(|&d| is_ident_char(d)))
            {
                self.i += 1;
            } else {
                break;
            }
        }
        self.text[start..self.i].to_string()
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        self.ws();
        let start = self.i;
        match self.peek() {
            Some(c) if is_ident_start(c) => {}
            Some(b'"') | Some(b'\'') => {
                let v = self.quoted()?;
                return Ok(Operand::Literal(v));
            }
            _ => return Err(self.err("expected a field name")),
        }
        let word = self.word_with_dots();
        if self.peek() == Some(b'(') {
            let Some(t) = Transformer::from_name(&word) else {
                self.i = start;
                return Err(self.err(&format!("unknown transformer '{word}'")));
            };
            self.i += 1;
            let mut args = Vec::new();
            loop {
                self.ws();
                if self.peek() == Some(b')') && args.is_empty() {
                    break;
                }
                args.push(self.operand()?);
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => break,
                    _ => return Err(self.err("expected ',' or ')' in transformer arguments")),
                }
            }
            self.i += 1;
            let arg = self.field_arg()?;
            return Ok(Operand::Transform {
                t,
                args,
                arg,
                pos: start,
            });
        }
        if !word.contains('.') {
            self.i = start;
            return Err(self.err(&format!(
                "'{word}' is not a field name (fields look like class.name)"
            )));
        }
        let arg = self.field_arg()?;
        Ok(Operand::Field {
            name: word,
            arg,
            pos: start,
        })
    }

    fn field_arg(&mut self) -> Result<Option<String>, ParseError> {
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        self.i += 1;
        let a = if matches!(self.peek(), Some(b'"') | Some(b'\'')) {
            self.quoted()?
        } else {
            let st = self.i;
            while let Some(c) = self.peek() {
                if c == b']' || is_ws(c) || c == b'[' || c == b'"' || c == b'\'' {
                    break;
                }
                self.i += 1;
            }
            self.text[st..self.i].to_string()
        };
        if self.peek() != Some(b']') {
            return Err(self.err("expected ']' after the field argument"));
        }
        self.i += 1;
        Ok(Some(a))
    }

    fn operator(&mut self) -> Result<Op, ParseError> {
        let sym: &[(&str, Op)] = &[
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        for (s, op) in sym {
            if self.s[self.i..].starts_with(s.as_bytes()) {
                self.i += s.len();
                return Ok(*op);
            }
        }
        let words: &[(&str, Op)] = &[
            ("contains", Op::Contains),
            ("icontains", Op::IContains),
            ("bcontains", Op::BContains),
            ("startswith", Op::StartsWith),
            ("bstartswith", Op::BStartsWith),
            ("endswith", Op::EndsWith),
            ("glob", Op::Glob),
            ("iglob", Op::IGlob),
            ("regex", Op::Regex),
            ("intersects", Op::Intersects),
            ("in", Op::In),
            ("pmatch", Op::PMatch),
            ("exists", Op::Exists),
        ];
        for (w, op) in words {
            if self.at_kw(w) {
                self.i += w.len();
                return Ok(*op);
            }
        }
        Err(self.err(&format!(
            "expected an operator after the field, found '{}'",
            self.rest_snippet()
        )))
    }

    fn condition(&mut self, lhs: Operand, start: usize) -> Result<Expr, ParseError> {
        self.ws();
        let op = self.operator()?;
        let mut modifier = None;
        let rhs = match op {
            Op::Exists => Rhs::None,
            _ if op.is_list_op() => {
                self.ws();
                self.list_or_operand()?
            }
            _ => {
                self.ws();
                let is_str_op = !matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
                let m = if is_str_op {
                    if self.eat_kw("anyof") {
                        Some(Modifier::AnyOf)
                    } else if self.eat_kw("allof") {
                        Some(Modifier::AllOf)
                    } else if self.eat_kw("oneof") {
                        Some(Modifier::OneOf)
                    } else {
                        None
                    }
                } else {
                    None
                };
                if m.is_some() {
                    modifier = m;
                    self.ws();
                    self.list_or_operand()?
                } else {
                    self.value_or_operand()?
                }
            }
        };
        Ok(Expr::Check(Box::new(Check {
            lhs,
            op,
            modifier,
            rhs,
            pos: start,
        })))
    }

    /// `val(field)` or a transformer call, if one is at the cursor.
    fn try_rhs_operand(&mut self) -> Result<Option<Operand>, ParseError> {
        let start = self.i;
        if !self.peek().is_some_and(is_ident_start) {
            return Ok(None);
        }
        let word = self.word_with_dots();
        if self.peek() == Some(b'(') {
            if word == "val" {
                self.i += 1;
                let o = self.operand()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err("expected ')' after val(field"));
                }
                self.i += 1;
                return Ok(Some(o));
            }
            if Transformer::from_name(&word).is_some() {
                self.i = start;
                return Ok(Some(self.operand()?));
            }
        }
        self.i = start;
        Ok(None)
    }

    fn value_or_operand(&mut self) -> Result<Rhs, ParseError> {
        if let Some(o) = self.try_rhs_operand()? {
            return Ok(Rhs::Operand(o));
        }
        Ok(Rhs::Value(self.value()?))
    }

    fn list_or_operand(&mut self) -> Result<Rhs, ParseError> {
        if self.peek() == Some(b'(') {
            self.i += 1;
            let mut items = Vec::new();
            loop {
                self.ws();
                if self.peek() == Some(b')') {
                    self.i += 1;
                    break;
                }
                items.push(self.value()?);
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ')' in the list")),
                }
            }
            return Ok(Rhs::List(items));
        }
        if let Some(o) = self.try_rhs_operand()? {
            return Ok(Rhs::Operand(o));
        }
        let start = self.i;
        if self.peek().is_some_and(is_ident_start) {
            let w = self.word_with_dots();
            if !w.contains('.') {
                return Ok(Rhs::ListName(w, start));
            }
            self.i = start;
        }
        Err(self.err("expected a list '(...)' or a list name"))
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let pos = self.i;
        match self.peek() {
            Some(b'"') | Some(b'\'') => Ok(Value {
                text: self.quoted()?,
                quoted: true,
                pos,
            }),
            Some(c) if !ends_bare(c) => {
                while self.peek().is_some_and(|c| !ends_bare(c)) {
                    self.i += 1;
                }
                Ok(Value {
                    text: self.text[pos..self.i].to_string(),
                    quoted: false,
                    pos,
                })
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let q = self.peek().expect("quote");
        let start = self.i;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.i = start;
                    return Err(self.err("unterminated quoted string"));
                }
                Some(b'\\') => {
                    let n = self.s.get(self.i + 1).copied();
                    match n {
                        Some(c) if c == q || c == b'\\' => {
                            out.push(c);
                            self.i += 2;
                        }
                        _ => {
                            out.push(b'\\');
                            self.i += 1;
                        }
                    }
                }
                Some(c) if c == q => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Parses an operand (a field with its argument, or a transformer call) at the start of `text`
/// and returns it with the number of bytes it took (for output templates).
pub fn parse_operand_prefix(text: &str) -> Result<(Operand, usize), ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    let o = p.operand()?;
    Ok((o, p.i))
}

/// Interprets a list item or a textual value as Falco's textual list substitution would: an
/// item written with quotes (`'"(systemd)"'`) stands for its unquoted text.
pub fn unquote_item(item: &str) -> String {
    let b = item.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let mut p = Parser {
            s: b,
            text: item,
            i: 0,
            depth: 0,
        };
        if let Ok(s) = p.quoted()
            && p.eof()
        {
            return s;
        }
    }
    item.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(e: &Expr) -> String {
        match e {
            Expr::And(v) => format!("and({})", v.iter().map(strip).collect::<Vec<_>>().join(",")),
            Expr::Or(v) => format!("or({})", v.iter().map(strip).collect::<Vec<_>>().join(",")),
            Expr::Not(e) => format!("not({})", strip(e)),
            Expr::Macro(m, _) => m.clone(),
            Expr::Check(c) => {
                let rhs = match &c.rhs {
                    Rhs::None => String::new(),
                    Rhs::Value(v) => v.text.clone(),
                    Rhs::List(v) => format!(
                        "[{}]",
                        v.iter()
                            .map(|v| v.text.clone())
                            .collect::<Vec<_>>()
                            .join("|")
                    ),
                    Rhs::ListName(n, _) => format!("@{n}"),
                    Rhs::Operand(o) => format!("val:{o}"),
                };
                let word = c.op.as_str().bytes().all(|b| b.is_ascii_alphabetic());
                let sep = if word { " " } else { "" };
                let tail = if rhs.is_empty() {
                    String::new()
                } else {
                    format!(" {rhs}")
                };
                format!("{}{sep}{}{tail}", c.lhs, c.op)
            }
        }
    }

    fn p(s: &str) -> String {
        strip(&parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(p("a or b and c"), "or(a,and(b,c))");
        assert_eq!(p("not a and b"), "and(not(a),b)");
        assert_eq!(p("not a or not b and c"), "or(not(a),and(not(b),c))");
        assert_eq!(p("(a or b) and c"), "and(or(a,b),c)");
        assert_eq!(p("not not a"), "not(not(a))");
        assert_eq!(p("not(a)"), "not(a)");
        assert_eq!(p("a and b and c or d"), "or(and(a,b,c),d)");
    }

    #[test]
    fn checks_and_values() {
        assert_eq!(p("fd.num>=0"), "fd.num>= 0");
        assert_eq!(p("proc.name=bash"), "proc.name= bash");
        assert_eq!(p("proc.name == 'my app'"), "proc.name= my app");
        assert_eq!(p("fd.name startswith /etc/"), "fd.name startswith /etc/");
        assert_eq!(
            p("proc.name in (a, \"b c\", shell_binaries)"),
            "proc.name in [a|b c|shell_binaries]"
        );
        assert_eq!(p("proc.name in ()"), "proc.name in []");
        assert_eq!(p("proc.name in shells"), "proc.name in @shells");
        assert_eq!(p("proc.pname exists"), "proc.pname exists");
        assert_eq!(p("proc.aname[2]=sshd"), "proc.aname[2]= sshd");
        assert_eq!(p("evt.arg[0] = 3"), "evt.arg[0]= 3");
        assert_eq!(
            p("container.mount.dest[/var/run/docker.sock] exists"),
            "container.mount.dest[/var/run/docker.sock] exists"
        );
        assert_eq!(
            p("proc.name = val(proc.pname)"),
            "proc.name= val:proc.pname"
        );
        assert_eq!(
            p("tolower(proc.name) = tolower(proc.pname)"),
            "tolower(proc.name)= val:tolower(proc.pname)"
        );
        assert_eq!(
            p("proc.name startswith anyof (a, b)"),
            "proc.name startswith [a|b]"
        );
        assert_eq!(p("evt.type in(open,openat)"), "evt.type in [open|openat]");
        assert_eq!(
            p("a and fd.name contains \"x\\\"y\""),
            "and(a,fd.name contains x\"y)"
        );
        assert_eq!(p("proc.name intersects (a)"), "proc.name intersects [a]");
        // Keywords need a boundary: `order` is a macro, not `or` + `der`.
        assert_eq!(p("order"), "order");
        assert_eq!(p("notice"), "notice");
    }

    #[test]
    fn transformer_args() {
        let e = parse("join(\",\", fd.types) = \"a,b\"").unwrap();
        let Expr::Check(c) = e else { panic!() };
        assert_eq!(
            c.lhs,
            Operand::Transform {
                t: Transformer::Join,
                args: vec![
                    Operand::Literal(",".into()),
                    Operand::Field {
                        name: "fd.types".into(),
                        arg: None,
                        pos: 10
                    }
                ],
                arg: None,
                pos: 0
            }
        );
    }

    #[test]
    fn errors_name_the_offset() {
        let e = parse("proc.name = bash and").unwrap_err();
        assert!(e.message.contains("expected a check"), "{e}");
        let e = parse("proc.name bash").unwrap_err();
        assert_eq!(e.pos, 10);
        assert!(e.message.contains("expected an operator"), "{e}");
        assert!(
            parse("(a or b")
                .unwrap_err()
                .message
                .contains("expected ')'")
        );
        assert!(parse("proc.name in (a, b").is_err());
        assert!(
            parse("proc.name = 'open")
                .unwrap_err()
                .message
                .contains("unterminated")
        );
        assert!(parse("").is_err());
        assert!(parse("a b").unwrap_err().message.contains("unexpected 'b'"));
        assert!(parse("foo(proc.name) = a").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing() {
        let s = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&s).unwrap_err().message.contains("too deeply"));
        let s = format!("{}a", "not ".repeat(5000));
        assert!(parse(&s).is_err());
    }

    #[test]
    fn no_input_panics() {
        let samples = [
            "evt.type in (open, openat) and not (proc.name = 'a b' or fd.name startswith /etc/)",
            "tolower(proc.aname[2]) = val(proc.pname) and join(\",\", fd.types) exists",
            "proc.name startswith anyof (\"x\\\"y\", z) or a.b[c] glob '*'",
            "é = ü and not(évt) or ((( ]]] [[[ ''' \"\"\" \\",
        ];
        for s in samples {
            for (i, _) in s.char_indices() {
                let _ = parse(&s[..i]);
                let _ = parse(&s[i..]);
                let _ = parse_operand_prefix(&s[i..]);
            }
        }
        // Every single-byte change of a valid condition either parses or fails cleanly.
        let base = "proc.name in (a, b) and fd.num >= 3 or not evt.arg[1] contains \"x\"";
        for i in 0..base.len() {
            for c in [
                b'(', b')', b'"', b'\'', b'[', b']', b',', b'=', b' ', b'!', b'\\',
            ] {
                let mut b = base.as_bytes().to_vec();
                b[i] = c;
                if let Ok(t) = std::str::from_utf8(&b) {
                    let _ = parse(t);
                }
            }
        }
    }

    #[test]
    fn unquoting_list_items() {
        assert_eq!(unquote_item("\"(systemd)\""), "(systemd)");
        assert_eq!(unquote_item("plain"), "plain");
        assert_eq!(unquote_item("'a'"), "a");
        assert_eq!(unquote_item("\"unbalanced"), "\"unbalanced");
    }
}
