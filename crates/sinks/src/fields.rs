//! The flat field encoding shared by Redis stream entries and the JSON lines schema.
//!
//! The JSON lines perpspread prints (`serde_json` of [`OpportunityEvent`], of [`SpreadSnapshot`]) are the
//! schema. A Redis stream entry carries the same top-level keys, in the same order, each with a string
//! value:
//!
//! * a JSON string is stored as its text, without quotes (`pair` → `BTC/USDT`, `size_base` → `0.1`);
//! * a number or boolean is stored as its JSON text (`net_bp` → `3.25`);
//! * an object or array is stored as its compact JSON text (`size_target` → `{"unit":"quote","amount":"1000"}`);
//! * `null` is stored as the empty string.
//!
//! [`to_json_line`] reverses the encoding (used by `perpspread tail`): every value is parsed as JSON unless
//! its key is one of [`STRING_FIELDS`] (string fields whose text may look like a number, e.g. decimal
//! sizes), and the empty string becomes `null`.
//!
//! [`OpportunityEvent`]: perpspread_core::engine::OpportunityEvent
//! [`SpreadSnapshot`]: crate::snapshot::SpreadSnapshot

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// Keys whose JSON value is always a string (never parsed back as a number).
pub(crate) const STRING_FIELDS: &[&str] = &[
    "event",
    "pair",
    "direction",
    "buy_venue",
    "sell_venue",
    "buy_symbol",
    "sell_symbol",
    "size_base",
    "max_size_base",
];

/// Why a value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FieldsError {
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A value's JSON line and its flat fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The JSON line (same as the `--json` output), without a trailing newline.
    pub json: String,
    /// `(key, value)` in the JSON's key order.
    pub fields: Vec<(String, String)>,
}

/// Serializes `value` (which must serialize as a JSON object) into its JSON line and flat fields.
pub fn encode<T: Serialize>(value: &T) -> Result<Encoded, FieldsError> {
    let json = serde_json::to_string(value)?;
    let fields = flatten_json(&json)?;
    Ok(Encoded { json, fields })
}

/// Splits a JSON object into flat `(key, string value)` pairs, keeping key order.
pub(crate) fn flatten_json(json: &str) -> Result<Vec<(String, String)>, FieldsError> {
    let Ordered(entries) =
        serde_json::from_str::<Ordered>(json).map_err(|_| FieldsError::NotAnObject(truncate(json)))?;
    Ok(entries
        .into_iter()
        .map(|(key, raw)| {
            let text = raw.get();
            let value = if text == "null" {
                String::new()
            } else if text.starts_with('"') {
                serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_owned())
            } else {
                text.to_owned()
            };
            (key, value)
        })
        .collect())
}

/// Rebuilds the JSON line from flat fields (the inverse of [`flatten_json`]).
pub(crate) fn to_json_line<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    let mut out = String::with_capacity(64 * fields.len() + 2);
    out.push('{');
    for (index, (key, value)) in fields.iter().enumerate() {
        let (key, value) = (key.as_ref(), value.as_ref());
        if index > 0 {
            out.push(',');
        }
        push_json_string(&mut out, key);
        out.push(':');
        if value.is_empty() {
            out.push_str("null");
        } else if !STRING_FIELDS.contains(&key) && is_json_non_string(value) {
            out.push_str(value);
        } else {
            push_json_string(&mut out, value);
        }
    }
    out.push('}');
    out
}

fn is_json_non_string(text: &str) -> bool {
    let first = text.as_bytes()[0];
    // Only numbers, booleans, objects and arrays are taken as JSON; anything else is a plain string.
    let plausible = matches!(first, b'-' | b'0'..=b'9' | b'{' | b'[' | b't' | b'f');
    plausible && serde_json::from_str::<&RawValue>(text).is_ok()
}

fn push_json_string(out: &mut String, text: &str) {
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

/// A JSON object's entries in document order.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push((key, value));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_and_types() {
        let json = r#"{"event":"opened","id":7,"pair":"BTC/USDT","size_base":"0.10","net_bp":-1.5,"closed_ns":null,"size_target":{"unit":"quote","amount":"1000"},"close_reason":"guard_stale","buy_symbol":"1000PEPEUSDT","ok":true,"note":"a \"quoted\" text"}"#;
        let fields = flatten_json(json).unwrap();
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "event",
                "id",
                "pair",
                "size_base",
                "net_bp",
                "closed_ns",
                "size_target",
                "close_reason",
                "buy_symbol",
                "ok",
                "note"
            ]
        );
        assert_eq!(fields[2].1, "BTC/USDT");
        assert_eq!(fields[3].1, "0.10");
        assert_eq!(fields[5].1, "");
        assert_eq!(fields[6].1, r#"{"unit":"quote","amount":"1000"}"#);
        assert_eq!(fields[10].1, r#"a "quoted" text"#);
        let back = to_json_line(&fields);
        assert_eq!(back, json);
    }

    #[test]
    fn rejects_non_objects() {
        assert!(matches!(flatten_json("[1,2]"), Err(FieldsError::NotAnObject(_))));
        assert!(flatten_json("{").is_err());
    }
}
