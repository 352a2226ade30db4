//! Tests of `wire`.

use super::*;
use proptest::prelude::*;

fn levels(text: &str) -> Result<Vec<RawLevel>, JsonError> {
    let mut out = Vec::new();
    let mut cursor = JsonCursor::new(text);
    cursor.levels(&mut out)?;
    cursor.end()?;
    Ok(out)
}

#[test]
fn decodes_levels_without_copying_strings() {
    let decoded = levels(r#" [ ["30236.1","0.5","0","3"] , ["30236","7"] ] "#).unwrap();
    assert_eq!(decoded, vec![(Dec64::new(302361, 1), Dec64::new(5, 1)), (Dec64::new(30236, 0), Dec64::new(7, 0))]);
    assert_eq!(levels("[]").unwrap(), vec![]);
    // Extra elements of any kind are skipped: short strings by the one-word test, the rest in full.
    let extras = r#"[["1","2","0","3"],["1","2","a\"b",{"x":[1]},null,"a long string past one word"]]"#;
    assert_eq!(levels(extras).unwrap(), vec![(Dec64::new(1, 0), Dec64::new(2, 0)); 2]);
    for bad in [r#"[["1","2","0]]"#, "[[\"1\",\"2\",\"0\u{1}\"]]", r#"[["1","2","\x"]]"#, r#"[["1","2",]]"#] {
        assert!(levels(bad).is_err(), "{bad}");
    }
    for bad in [r#"[["1"]]"#, r#"[[1, 2]]"#, r#"[["x","1"]]"#, r#"{"a":1}"#, r#"[["1","2"]"#, r#"[["1","2"]] x"#] {
        assert!(levels(bad).is_err(), "{bad}");
    }
}

#[test]
fn reads_members_in_order_and_skips_the_rest() {
    let text = r#"{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"x":[1,-2.5e3,true,null,{"y":"\u00e9\n"}],"seq":-42,"n":null}"#;
    let mut seen = Vec::new();
    let mut cursor = JsonCursor::new(text);
    cursor
        .object(|c, key| {
            match key {
                "arg" => c.object(|c, key| {
                    seen.push(format!("{key}={}", c.string()?));
                    Ok(())
                })?,
                "seq" => seen.push(format!("seq={}", c.i64()?)),
                "n" => seen.push(format!("n={:?}", c.opt_i64()?)),
                _ => seen.push(format!("{key}:{}", c.raw()?)),
            }
            Ok(())
        })
        .unwrap();
    cursor.end().unwrap();
    assert_eq!(
        seen,
        ["channel=books", "instId=BTC-USDT-SWAP", r#"x:[1,-2.5e3,true,null,{"y":"\u00e9\n"}]"#, "seq=-42", "n=None"]
    );
}

#[test]
fn unescapes_strings() {
    let mut cursor = JsonCursor::new(r#""a\"b\\c\/\u00e9\ud83d\ude00\t""#);
    assert_eq!(cursor.string().unwrap(), "a\"b\\c/é😀\t");
    for bad in [r#""\x""#, r#""\ud83d""#, r#""\u12""#, "\"a\u{1}\"", r#""abc"#] {
        assert!(JsonCursor::new(bad).string().is_err(), "{bad}");
    }
}

#[test]
fn bounds_nesting() {
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert_eq!(JsonCursor::new(&deep).skip(), Err(JsonError::TooDeep));
    let ok = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
    assert_eq!(JsonCursor::new(&ok).skip(), Ok(()));
}

/// Whether `serde_json` accepts `text` as one JSON value (numbers too large for `f64` aside).
fn serde_accepts(text: &str) -> Option<bool> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().contains("number out of range") => None,
        Err(_) => Some(false),
    }
}

fn cursor_accepts(text: &str) -> bool {
    let mut cursor = JsonCursor::new(text);
    cursor.skip().and_then(|()| cursor.end()).is_ok()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        ".*".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(".*", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any JSON value `serde_json` writes is skipped whole, compact or pretty-printed.
    #[test]
    fn skips_any_json_value(value in json_value()) {
        for text in [serde_json::to_string(&value).unwrap(), serde_json::to_string_pretty(&value).unwrap()] {
            let mut cursor = JsonCursor::new(&text);
            prop_assert_eq!(cursor.raw().unwrap(), text.trim());
            prop_assert!(cursor.end().is_ok());
        }
    }

    /// Decimal strings read exactly as `Dec64::parse` reads them, and integers as `str::parse`.
    #[test]
    fn numbers_agree_with_the_reference_parsers(text in r"-?[0-9]{0,22}(\.[0-9]{0,22})?\.?x?") {
        // Unpadded, the word-at-a-time path has too few bytes to load; padded, it is taken when it can be.
        for quoted in [format!("\"{text}\""), format!("\"{text}\",\"0\"]]}}")] {
            let mut cursor = JsonCursor::new(&quoted);
            let read = cursor.decimal().ok();
            prop_assert_eq!(read, Dec64::parse(&text).ok(), "{}", quoted);
            if read.is_some() {
                prop_assert_eq!(cursor.position(), text.len() + 2, "{}", quoted);
            }
        }
        let digits = text.strip_prefix('-').unwrap_or(&text);
        let json_integer = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let mut cursor = JsonCursor::new(&text);
        let read = cursor.i64().ok().filter(|_| cursor.end().is_ok());
        prop_assert_eq!(read, text.parse::<i64>().ok().filter(|_| json_integer), "{}", text);
    }

    /// Decimals of up to nine digits a part (the word-at-a-time path's edges) read as `Dec64::parse` reads them.
    #[test]
    fn short_decimals_agree_with_the_reference_parser(text in r"-?[0-9]{0,9}(\.[0-9]{0,9})?") {
        let quoted = format!("\"{text}\",\"0\",\"1\"]]}}");
        let mut cursor = JsonCursor::new(&quoted);
        prop_assert_eq!(cursor.decimal().ok(), Dec64::parse(&text).ok(), "{}", quoted);
    }

    /// Strings round-trip through `serde_json`'s escaping, borrowed or into a reused buffer.
    #[test]
    fn strings_round_trip(text in ".*", stale in ".*") {
        let encoded = serde_json::to_string(&text).unwrap();
        prop_assert_eq!(JsonCursor::new(&encoded).string().unwrap(), text.as_str());
        let mut out = stale;
        let mut cursor = JsonCursor::new(&encoded);
        cursor.string_into(&mut out).unwrap();
        prop_assert_eq!(&out, &text);
        prop_assert!(cursor.end().is_ok());
    }

    /// Digit runs read a word at a time agree with reading them byte by byte.
    #[test]
    fn digit_runs_agree_with_a_bytewise_read(text in "[0-9]{0,9}[\"., x-]?.{0,8}") {
        let bytes = text.as_bytes();
        let count = bytes.iter().take(8).take_while(|b| b.is_ascii_digit()).count();
        let expected = (bytes.len() >= 8).then(|| (text[..count].parse::<u64>().unwrap_or(0), count));
        prop_assert_eq!(digit_run(bytes, 0), expected, "{}", text);
    }

    /// The eight-bytes-at-a-time run scan stops where a byte-by-byte scan does.
    #[test]
    fn plain_runs_end_where_a_bytewise_scan_ends(
        bytes in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), any::<u8>()], 0..40),
        from in any::<proptest::sample::Index>(),
    ) {
        let from = from.index(bytes.len() + 1);
        let naive = bytes[from..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map_or(bytes.len(), |i| from + i);
        prop_assert_eq!(plain_run_end(&bytes, from), naive);
    }

    /// A valid text with one byte deleted, replaced or inserted is accepted exactly when `serde_json`
    /// accepts it.
    #[test]
    fn validates_mutations_like_serde_json(
        value in json_value(),
        at in any::<proptest::sample::Index>(),
        edit in 0u8..3,
        byte in proptest::sample::select(br#"[]{}",:0123456789.eE+-
trul"#.to_vec()),
    ) {
        let mut bytes = serde_json::to_string(&value).unwrap().into_bytes();
        let at = at.index(bytes.len() + 1);
        match edit {
            0 if at < bytes.len() => { bytes.remove(at); }
            1 if at < bytes.len() => bytes[at] = byte,
            _ => bytes.insert(at, byte),
        }
        if let Ok(text) = String::from_utf8(bytes) {
            if let Some(accepted) = serde_accepts(&text) {
                prop_assert_eq!(cursor_accepts(&text), accepted, "{}", text);
            }
        }
    }

    /// On JSON-like noise the cursor accepts exactly what `serde_json` accepts, and never panics.
    #[test]
    fn validates_like_serde_json(text in r#"[\[\]{}",:0-9a-z\\ .eE+-]{0,24}"#) {
        if let Some(accepted) = serde_accepts(&text) {
            prop_assert_eq!(cursor_accepts(&text), accepted, "{}", text);
        }
    }
}
