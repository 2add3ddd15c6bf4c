//! `sprintf` as OPA has it: Go's `fmt.Sprintf` over arguments converted the way OPA converts
//! them (integral numbers → `int`, other numbers → `float64`, strings → `string`, any other
//! value → its Rego text as a `string`).

use regorus::Value;
use std::fmt::Write as _;

/// One converted argument.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Int(i128),
    Float(f64),
    Str(String),
}

impl Arg {
    fn go_type(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }

    /// Go's `%v`.
    fn plain(&self) -> String {
        match self {
            Arg::Int(i) => i.to_string(),
            Arg::Float(f) => go_float_g(*f, None),
            Arg::Str(s) => s.clone(),
        }
    }
}

fn convert(v: &Value) -> Arg {
    match v {
        Value::Number(n) => {
            if n.is_integer() {
                if let Some(i) = n.as_i64() {
                    return Arg::Int(i128::from(i));
                }
                if let Some(u) = n.as_u64() {
                    return Arg::Int(i128::from(u));
                }
            }
            match n.as_f64() {
                Some(f) => Arg::Float(f),
                None => Arg::Str(n.format_decimal()),
            }
        }
        Value::String(s) => Arg::Str(s.to_string()),
        other => Arg::Str(rego_text(other)),
    }
}

/// The Rego text of a value, as OPA prints terms: `["a", 1]`, `{"k": true}`, `{1, 2}`, `set()`.
pub(crate) fn rego_text(v: &Value) -> String {
    let mut s = String::new();
    write_rego(v, &mut s);
    s
}

fn write_rego(v: &Value, s: &mut String) {
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match convert(v) {
            Arg::Int(i) => {
                let _ = write!(s, "{i}");
            }
            Arg::Float(f) => s.push_str(&go_float_g(f, None)),
            Arg::Str(_) => s.push_str(&n.format_decimal()),
        },
        Value::String(t) => s.push_str(&go_quote(t)),
        Value::Array(a) => {
            s.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_rego(x, s);
            }
            s.push(']');
        }
        Value::Set(set) => {
            if set.is_empty() {
                s.push_str("set()");
                return;
            }
            s.push('{');
            for (i, x) in set.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_rego(x, s);
            }
            s.push('}');
        }
        Value::Object(o) => {
            s.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_rego(k, s);
                s.push_str(": ");
                write_rego(x, s);
            }
            s.push('}');
        }
        Value::Undefined => s.push_str("undefined"),
    }
}

/// Go's `strconv.Quote` for the characters that occur in practice.
fn go_quote(t: &str) -> String {
    let mut s = String::with_capacity(t.len() + 2);
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            '\u{7}' => s.push_str("\\a"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            '\u{b}' => s.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(s, "\\x{:02x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Go's `%g` (shortest when `prec` is `None`), as `strconv.FormatFloat(f, 'g', prec, 64)`.
fn go_float_g(f: f64, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Digits and exponent of the (shortest or rounded) decimal form.
    let sci = match prec {
        None => format!("{f:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, f),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // strconv: the shortest form switches to an exponent at 1e+06, a given precision at
    // 10^precision.
    let eprec = prec.map_or(6, |p| p.max(1) as i32);
    if exp < -4 || exp >= eprec {
        let mut mant = mant.to_string();
        if prec.is_some() && mant.contains('.') {
            mant = mant.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        match prec {
            None => format!("{f}"),
            Some(p) => {
                let decimals = (p as i32 - 1 - exp).max(0) as usize;
                let s = format!("{f:.decimals$}");
                if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                }
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
}

fn pad(s: String, width: Option<usize>, flags: Flags, numeric: bool) -> String {
    let Some(w) = width else {
        return s;
    };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if flags.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if flags.zero && numeric {
        let (sign, digits) = match s.strip_prefix(['-', '+']) {
            Some(rest) => (&s[..1], rest),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else if flags.zero {
        format!("{}{s}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, arg: &Arg) -> String {
    format!("%!{verb}({}={})", arg.go_type(), arg.plain())
}

fn sign(neg: bool, flags: Flags) -> &'static str {
    if neg {
        "-"
    } else if flags.plus {
        "+"
    } else if flags.space {
        " "
    } else {
        ""
    }
}

fn format_int(i: i128, verb: char, flags: Flags, prec: Option<usize>) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let digits = match verb {
        'v' | 'd' => a.to_string(),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        'o' => format!("{a:o}"),
        'O' => format!("{a:o}"),
        'b' => format!("{a:b}"),
        'c' => return Some(char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string()),
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            return Some(format!("'{c}'"));
        }
        _ => return None,
    };
    let digits = match prec {
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    };
    let prefix = match (verb, flags.sharp) {
        ('x', true) => "0x",
        ('X', true) => "0X",
        ('o', true) => "0",
        ('O', _) => "0o",
        _ => "",
    };
    Some(format!("{}{prefix}{digits}", sign(neg, flags)))
}

fn format_float(f: f64, verb: char, flags: Flags, prec: Option<usize>) -> Option<String> {
    let body = match verb {
        'v' | 'g' | 'G' => {
            let s = go_float_g(f.abs(), prec);
            if verb == 'G' { s.to_uppercase() } else { s }
        }
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), f.abs()),
        'e' | 'E' => {
            let s = format!("{:.*e}", prec.unwrap_or(6), f.abs());
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
            if verb == 'E' { s.to_uppercase() } else { s }
        }
        _ => return None,
    };
    let neg = f.is_sign_negative() && f != 0.0;
    Some(format!("{}{body}", sign(neg, flags)))
}

fn format_str(s: &str, verb: char, prec: Option<usize>) -> Option<String> {
    let s: String = match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'v' | 's' => Some(s),
        'q' => Some(go_quote(&s)),
        'x' => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
        'X' => Some(s.bytes().map(|b| format!("{b:02X}")).collect()),
        _ => None,
    }
}

/// Go's `fmt.Sprintf(format, args...)`.
fn go_sprintf(format: &str, args: &[Arg]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = Flags::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => flags.plus = true,
                '-' => flags.minus = true,
                '#' => flags.sharp = true,
                '0' => flags.zero = true,
                ' ' => flags.space = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            chars.next();
        }
        let mut prec = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            prec = Some(p);
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next_arg += 1;
        let (formatted, numeric) = match arg {
            Arg::Int(i) => (format_int(*i, verb, flags, prec), true),
            Arg::Float(f) => (format_float(*f, verb, flags, prec), true),
            Arg::Str(s) => (format_str(s, verb, prec), false),
        };
        match formatted {
            Some(s) => out.push_str(&pad(s, width, flags, numeric)),
            None => out.push_str(&bad_verb(verb, arg)),
        }
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next_arg..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", a.go_type(), a.plain());
        }
        out.push(')');
    }
    out
}

/// `sprintf(format, values)`: undefined (as a non-strict builtin error) unless `format` is a
/// string and `values` an array.
pub(crate) fn sprintf(format: &Value, values: &Value) -> Value {
    let (Value::String(format), Value::Array(values)) = (format, values) else {
        return Value::Undefined;
    };
    let args: Vec<Arg> = values.iter().map(convert).collect();
    Value::from(go_sprintf(format, &args))
}

/// The engine extension replacing the builtin `sprintf`.
pub(crate) fn sprintf_extension(args: Vec<Value>) -> anyhow::Result<Value> {
    match args.as_slice() {
        [format, values] => Ok(sprintf(format, values)),
        _ => Ok(Value::Undefined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(f: &str, args: &str) -> String {
        let v = sprintf(&Value::from(f), &Value::from_json_str(args).unwrap());
        v.as_string().unwrap().to_string()
    }

    #[test]
    fn go_verbs_and_opa_argument_conversion() {
        assert_eq!(fmt("%v and %v", "[1]"), "1 and %!v(MISSING)");
        assert_eq!(fmt("%v", "[1, 2]"), "1%!(EXTRA int=2)");
        assert_eq!(fmt("%d", "[\"a\"]"), "%!d(string=a)");
        assert_eq!(fmt("%s is %v", "[\"x\", [\"a\", 1]]"), "x is [\"a\", 1]");
        assert_eq!(
            fmt("%v", "[{\"b\": true, \"a\": null}]"),
            "{\"a\": null, \"b\": true}"
        );
        assert_eq!(fmt("%v", "[1.5]"), "1.5");
        assert_eq!(fmt("%v", "[100.0]"), "100");
        assert_eq!(
            fmt("%.2f|%5d|%-3s|%03d", "[3.14159, 42, \"a\", 7]"),
            "3.14|   42|a  |007"
        );
        assert_eq!(fmt("%q %x %%", "[\"a\\\"b\", 255]"), "\"a\\\"b\" ff %");
        assert_eq!(fmt("%v", "[0.00001]"), "1e-05");
        assert_eq!(fmt("100%", "[]"), "100%!(NOVERB)");
        assert_eq!(
            sprintf(&Value::from(1), &Value::new_array()),
            Value::Undefined
        );
    }
}
