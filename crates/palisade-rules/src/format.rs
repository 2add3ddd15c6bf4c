//! Output templates: `%field`, `%field[arg]`, `%(field)` and `%transformer(field)` substituted
//! with the event's values (`<NA>` when missing), and the typed `output_fields` of Falco's JSON.

use crate::compile::{COperand, CompileError, Env, eval_operand};
use crate::condition::{self, Operand};
use crate::eval::{Ctx, V, time_of_day};
use crate::fields::{Field, FieldRef};
use std::collections::BTreeMap;

/// A compiled output template.
#[derive(Debug, Clone, Default)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Field { key: String, op: COperand },
}

impl Template {
    /// Compiles a template; unknown fields are errors.
    pub fn compile(text: &str, env: &mut Env<'_>) -> Result<Template, CompileError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(r) = after.strip_prefix('%') {
                lit.push('%');
                rest = r;
                continue;
            }
            let (inner, consumed, paren) = if let Some(r) = after.strip_prefix('(') {
                match r.find(')') {
                    // `%(field)`; a transformer inside has its own parentheses.
                    Some(_) => match condition::parse_operand_prefix(r) {
                        Ok((o, n)) if r[n..].trim_start().starts_with(')') => {
                            let close = n + r[n..].find(')').expect("checked");
                            (Some(o), close + 2, true)
                        }
                        _ => (None, 0, true),
                    },
                    None => (None, 0, true),
                }
            } else {
                match condition::parse_operand_prefix(after) {
                    Ok((o, n)) => (Some(o), n, false),
                    Err(_) => (None, 0, false),
                }
            };
            let _ = paren;
            let Some(o) = inner else {
                lit.push('%');
                rest = after;
                continue;
            };
            rest = &after[consumed..];
            // Legacy `%container.info`: no longer expanded by Falco.
            if matches!(&o, Operand::Field { name, arg: None, .. } if name == "container.info") {
                continue;
            }
            let key = o.to_string();
            let op = env.output_operand(&o, text)?;
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Field { key, op });
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// Renders the message and the output fields (plus `evt.time`).
    pub fn render(&self, ctx: &Ctx<'_>) -> (String, BTreeMap<String, serde_json::Value>) {
        let mut out = String::new();
        let mut fields = BTreeMap::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Field { key, op } => {
                    let v = eval_operand(op, ctx);
                    let is_evt_time = matches!(
                        op,
                        COperand::Field(FieldRef {
                            field: Field::EvtTime,
                            ..
                        })
                    );
                    match &v {
                        Some(V::I(ns)) if is_evt_time => out.push_str(&time_of_day(*ns as u64)),
                        Some(v) => out.push_str(&v.to_text()),
                        None => out.push_str("<NA>"),
                    }
                    fields.insert(
                        key.clone(),
                        v.map_or(serde_json::Value::Null, |v| v.to_json()),
                    );
                }
            }
        }
        fields.insert("evt.time".to_string(), serde_json::Value::from(ctx.ev.ts));
        (out, fields)
    }
}
