//! Reading venue REST bodies: the one error type of every venue crate's body parsers ([`BodyError`]) and the
//! field readers they share (decimal numbers, positive sizes, millisecond timestamps), so each venue's
//! parser says only what its documentation says.

use rust_decimal::Decimal;

/// Why a venue response body (or one entry of it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not the JSON shape documented for the endpoint.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The venue answered with an error code instead of data.
    #[error("API error {code}: {message}")]
    Api { code: String, message: String },
    /// A field holds something other than what the endpoint documents.
    #[error("{field} {value:?} {problem}")]
    Field { field: &'static str, value: String, problem: &'static str },
    /// The response holds nothing for the request (e.g. an unknown symbol).
    #[error("{0}")]
    Missing(&'static str),
    /// The levels cannot form a book (empty side, crossed, off the instrument's grid).
    #[error("book: {0}")]
    Book(String),
    /// An entry the venue lists but perpspread cannot use, and why (a contract that is not trading, not a
    /// perpetual, of an unknown kind, …).
    #[error("{0}")]
    Unusable(String),
    /// An error in one entry of a list, named by its key (a symbol).
    #[error("{key}: {error}")]
    In { key: String, error: Box<BodyError> },
}

impl From<serde_json::Error> for BodyError {
    fn from(error: serde_json::Error) -> Self {
        BodyError::Json(error.to_string())
    }
}

impl BodyError {
    /// A field error.
    pub fn field(field: &'static str, value: &str, problem: &'static str) -> Self {
        BodyError::Field { field, value: value.to_owned(), problem }
    }

    /// The same error, said of the entry `key` of a list.
    pub fn within(self, key: &str) -> Self {
        BodyError::In { key: key.to_owned(), error: Box::new(self) }
    }
}

/// Deserializes a whole body.
pub fn decode<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, BodyError> {
    Ok(serde_json::from_slice(body)?)
}

/// A decimal number field.
pub fn decimal(field: &'static str, text: &str) -> Result<Decimal, BodyError> {
    text.parse().map_err(|_| BodyError::field(field, text, "is not a decimal number"))
}

/// A decimal field that is absent when empty.
pub fn optional_decimal(field: &'static str, text: &str) -> Result<Option<Decimal>, BodyError> {
    if text.is_empty() {
        Ok(None)
    } else {
        decimal(field, text).map(Some)
    }
}

/// A strictly positive decimal field (contract value, tick, lot).
pub fn positive_decimal(field: &'static str, text: &str) -> Result<Decimal, BodyError> {
    let value = decimal(field, text)?;
    if value > Decimal::ZERO {
        Ok(value)
    } else {
        Err(BodyError::field(field, text, "must be positive"))
    }
}

/// A Unix-millisecond timestamp field; absent when empty.
pub fn millis(field: &'static str, text: &str) -> Result<Option<u64>, BodyError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| BodyError::field(field, text, "is not a timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_say_what_is_wrong() {
        assert_eq!(decimal("tickSz", "0.1").unwrap(), Decimal::new(1, 1));
        assert_eq!(decimal("tickSz", "x").unwrap_err().to_string(), r#"tickSz "x" is not a decimal number"#);
        assert_eq!(positive_decimal("lotSz", "0").unwrap_err().to_string(), r#"lotSz "0" must be positive"#);
        assert_eq!(optional_decimal("cap", "").unwrap(), None);
        assert_eq!(millis("ts", "").unwrap(), None);
        assert_eq!(millis("ts", "1700000000000").unwrap(), Some(1_700_000_000_000));
        assert!(matches!(millis("ts", "-1"), Err(BodyError::Field { field: "ts", .. })));
        assert_eq!(
            decimal("rate", "?").unwrap_err().within("BTCUSDT").to_string(),
            r#"BTCUSDT: rate "?" is not a decimal number"#
        );
        let json = decode::<Vec<u8>>(b"{").unwrap_err();
        assert!(matches!(json, BodyError::Json(_)) && json.to_string().starts_with("malformed JSON"), "{json}");
    }
}
