//! A forward-only JSON reader for the venues' hot frames.
//!
//! Book frames are read once, front to back, taking only the fields the feed handlers need: no tree, no
//! allocation (strings are borrowed from the frame; only a string that contains escapes is copied), and
//! decimals parsed straight from the bytes into [`Dec64`]. What a handler skips is still validated as
//! JSON, nesting is bounded, and any input, however malformed, gives an error rather than a panic.
//!
//! Both venues send levels as arrays of decimal strings (`[["30236.1","0.5","0","3"], …]` on OKX,
//! `[["7.6110","297"], …]` on Binance); [`JsonCursor::levels`] appends them to a reusable vector.
//!
//! One file on purpose (about 600 lines without its tests): the cursor, its string and number readers and
//! its skipping validator share one position and one set of invariants (bounds, nesting, escapes), and every
//! fast path is checked against the slow one beside it.

use std::borrow::Cow;

use crate::num::{Dec64, POW10};

/// A `(price, size)` level as decoded from the wire.
pub type RawLevel = (Dec64, Dec64);

/// Nesting [`JsonCursor::skip`] rejects (`serde_json` rejects one level less deep).
pub const MAX_DEPTH: usize = 128;

/// Why a frame could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("JSON ends early")]
    Eof,
    #[error("expected {expected} at byte {at}")]
    Expected { expected: &'static str, at: usize },
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("bad number at byte {at}")]
    Number { at: usize },
}

/// A cursor over one JSON text.
#[derive(Debug, Clone)]
pub struct JsonCursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> JsonCursor<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        JsonCursor { text, pos: 0 }
    }

    /// Byte offset of the cursor.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Succeeds when only whitespace is left.
    pub fn end(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Err(JsonError::Eof) => Ok(()),
            _ => Err(self.expected("the end of the JSON text")),
        }
    }

    /// Visits each member of an object in order; `member` must read or skip the value of the key it is given.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &str) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.expect(b'{', "'{'")?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "':'")?;
            member(self, &key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.expected("',' or '}'")),
            }
        }
    }

    /// Visits each element of an array in order; `element` must read or skip it.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Result<(), JsonError>) -> Result<(), JsonError> {
        self.expect(b'[', "'['")?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.expected("',' or ']'")),
            }
        }
    }

    /// Reads a string, borrowed from the text unless it contains escapes.
    pub fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.expect(b'"', "a string")?;
        let start = self.pos;
        self.pos = plain_run_end(self.text.as_bytes(), start);
        match self.byte_at(self.pos)? {
            b'"' => {
                let text = self.slice(start, self.pos)?;
                self.pos += 1;
                Ok(Cow::Borrowed(text))
            }
            b'\\' => {
                let mut out = String::new();
                self.pos = start;
                self.string_rest_into(&mut out)?;
                Ok(Cow::Owned(out))
            }
            _ => Err(self.expected("no control character in a string")),
        }
    }

    /// Reads a string into `out` (replacing its contents), decoding escapes; reuses `out`'s buffer. On an
    /// error `out` holds whatever was decoded before it.
    pub fn string_into(&mut self, out: &mut String) -> Result<(), JsonError> {
        self.expect(b'"', "a string")?;
        self.string_rest_into(out)
    }

    /// [`JsonCursor::string_into`] from inside the string.
    fn string_rest_into(&mut self, out: &mut String) -> Result<(), JsonError> {
        let mut bytes = std::mem::take(out).into_bytes();
        bytes.clear();
        let read = self.unescape_rest(&mut bytes);
        // Only runs of the text that end at ASCII bytes, and encoded chars, were copied, so the check always
        // passes; it keeps this code free of `unsafe`.
        *out = String::from_utf8(bytes).map_err(|_| self.expected("UTF-8"))?;
        read
    }

    /// Reads a string holding a plain decimal number (`"30236.1"`), as [`Dec64::parse`] reads it.
    #[inline(always)]
    pub fn decimal(&mut self) -> Result<Dec64, JsonError> {
        // Inline for the common short decimal, which spares a call per number (and its register saves).
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) == Some(&b'"') {
            if let Some((value, end)) = short_decimal(bytes, self.pos + 1) {
                self.pos = end + 1;
                return Ok(value);
            }
        }
        self.long_decimal()
    }

    /// [`JsonCursor::decimal`] for anything but a short decimal right at the cursor.
    #[inline(never)]
    fn long_decimal(&mut self) -> Result<Dec64, JsonError> {
        self.expect(b'"', "a decimal string")?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        // One pass for the common case (up to 18 digits, which cannot overflow); anything else is handed to
        // `Dec64::parse_bytes`, which defines what is valid.
        let mut pos = start + usize::from(bytes.get(start) == Some(&b'-'));
        let digits_start = pos;
        let (mut mantissa, mut digits, mut point) = (0i64, 0usize, None);
        loop {
            let byte = *bytes.get(pos).ok_or(JsonError::Eof)?;
            let digit = byte.wrapping_sub(b'0');
            if digit < 10 {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(i64::from(digit));
                digits += 1;
            } else if byte == b'.' && point.is_none() {
                point = Some(pos);
            } else {
                break;
            }
            pos += 1;
        }
        let end = pos;
        let plain = bytes.get(end) == Some(&b'"')
            && digits > 0
            && digits <= 18
            && point.is_none_or(|p| p > digits_start && p + 1 < end);
        let value = if plain {
            let decimals = point.map_or(0, |p| end - p - 1) as u8;
            Dec64::new(if digits_start > start { -mantissa } else { mantissa }, decimals)
        } else {
            let len = bytes.get(start..).unwrap_or_default().iter().position(|&b| b == b'"').ok_or(JsonError::Eof)?;
            let value = Dec64::parse_bytes(&bytes[start..start + len]).map_err(|_| JsonError::Number { at: start })?;
            self.pos = start + len + 1;
            return Ok(value);
        };
        self.pos = end + 1;
        Ok(value)
    }

    /// Reads an integer number (no fraction or exponent).
    pub fn i64(&mut self) -> Result<i64, JsonError> {
        let start = self.number_start()?;
        let negative = self.text.as_bytes().get(start) == Some(&b'-');
        let magnitude = self.integer(start + usize::from(negative))?;
        let value = if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() };
        value.ok_or(JsonError::Number { at: start })
    }

    /// Reads a non-negative integer number.
    pub fn u64(&mut self) -> Result<u64, JsonError> {
        let start = self.number_start()?;
        self.integer(start)
    }

    /// Reads the digits of an integer starting at `from`, checking that the number ends there.
    fn integer(&mut self, from: usize) -> Result<u64, JsonError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut pos = from;
        let mut value: u64 = 0;
        while let Some(digit) = bytes.get(pos).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit)))
                .ok_or(JsonError::Number { at: start })?;
            pos += 1;
        }
        let digits = pos - from;
        let leading_zero = digits > 1 && bytes[from] == b'0';
        let fraction = matches!(bytes.get(pos), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || fraction {
            return Err(JsonError::Number { at: start });
        }
        self.pos = pos;
        Ok(value)
    }

    /// Reads an integer number, or `null` as `None`.
    pub fn opt_i64(&mut self) -> Result<Option<i64>, JsonError> {
        if self.null()? {
            return Ok(None);
        }
        self.i64().map(Some)
    }

    /// Consumes a `null` if one comes next.
    pub fn null(&mut self) -> Result<bool, JsonError> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Appends every `[price, size, …]` element of an array of levels to `out` (extra elements are ignored).
    pub fn levels(&mut self, out: &mut Vec<RawLevel>) -> Result<(), JsonError> {
        self.array(|cursor| {
            cursor.expect(b'[', "a [price, size] level")?;
            let price = cursor.decimal()?;
            cursor.expect(b',', "',' and a size")?;
            let qty = cursor.decimal()?;
            loop {
                match cursor.peek()? {
                    b',' => {
                        cursor.pos += 1;
                        cursor.skip_extra()?;
                    }
                    b']' => {
                        cursor.pos += 1;
                        break;
                    }
                    _ => return Err(cursor.expected("',' or ']'")),
                }
            }
            out.push((price, qty));
            Ok(())
        })
    }

    /// Skips (and validates) the next value and returns its text.
    pub fn raw(&mut self) -> Result<&'a str, JsonError> {
        self.skip_whitespace();
        let start = self.pos;
        self.skip()?;
        self.slice(start, self.pos)
    }

    /// Skips the next value, validating it.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        self.skip_nested(0)
    }

    /// Skips a level's extra element: OKX's short strings (`"0"`, `"3"`) with one word test, else any value.
    #[inline]
    fn skip_extra(&mut self) -> Result<(), JsonError> {
        let bytes = self.text.as_bytes();
        let word = bytes.get(self.pos + 1..self.pos + 9).and_then(|w| <[u8; 8]>::try_from(w).ok());
        if let (Some(b'"'), Some(word)) = (bytes.get(self.pos), word) {
            let special = special_bytes(u64::from_le_bytes(word));
            let end = self.pos + 1 + special.trailing_zeros() as usize / 8;
            if special != 0 && bytes[end] == b'"' {
                self.pos = end + 1;
                return Ok(());
            }
        }
        self.skip()
    }

    fn skip_nested(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        match self.peek()? {
            b'{' => self.object(|cursor, _| cursor.skip_nested(depth + 1)),
            b'[' => self.array(|cursor| cursor.skip_nested(depth + 1)),
            b'"' => self.skip_string(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => Err(self.expected("a JSON value")),
        }
    }

    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.expect(b'"', "a string")?;
        loop {
            self.pos = plain_run_end(self.text.as_bytes(), self.pos);
            match self.byte_at(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape()?;
                }
                _ => return Err(self.expected("no control character in a string")),
            }
        }
    }

    /// Appends the rest of a string (the cursor is inside it) to `out`, decoding escapes, and steps past
    /// the closing quote. Plain text is copied eight bytes at a time, the last word cut back to the run.
    fn unescape_rest(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let bytes = self.text.as_bytes();
        loop {
            self.copy_plain_run(out);
            match self.byte_at(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    match bytes.get(self.pos) {
                        // Escaped quotes and backslashes are most of the escapes in a capture's frames.
                        Some(&byte @ (b'"' | b'\\')) => {
                            out.push(byte);
                            self.pos += 1;
                        }
                        _ => {
                            let decoded = self.escape()?;
                            out.extend_from_slice(decoded.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                    }
                }
                _ => return Err(self.expected("no control character in a string")),
            }
        }
    }

    /// Copies plain text up to the next quote, backslash or control byte: eight bytes at a time, the last
    /// word cut back to the run.
    fn copy_plain_run(&mut self, out: &mut Vec<u8>) {
        let bytes = self.text.as_bytes();
        while let Some(word) = bytes.get(self.pos..self.pos + 8).and_then(|w| <&[u8; 8]>::try_from(w).ok()) {
            out.extend_from_slice(word);
            let special = special_bytes(u64::from_le_bytes(*word));
            if special != 0 {
                let run = special.trailing_zeros() as usize / 8;
                out.truncate(out.len() - 8 + run);
                self.pos += run;
                return;
            }
            self.pos += 8;
        }
        let run = self.pos;
        self.pos = plain_run_end(bytes, run);
        out.extend_from_slice(bytes.get(run..self.pos).unwrap_or_default());
    }

    /// Decodes the escape after a backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let byte = self.byte_at(self.pos)?;
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&high) {
                    if self.byte_at(self.pos)? != b'\\' || self.byte_at(self.pos + 1)? != b'u' {
                        return Err(self.expected("a low surrogate escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.expected("a low surrogate"));
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                char::from_u32(code).ok_or_else(|| self.expected("a valid unicode escape"))?
            }
            _ => return Err(self.expected("a valid escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit =
                char::from(self.byte_at(self.pos)?).to_digit(16).ok_or_else(|| self.expected("4 hex digits"))?;
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// Position of the next number, after whitespace.
    fn number_start(&mut self) -> Result<usize, JsonError> {
        self.peek()?;
        Ok(self.pos)
    }

    /// Reads a number as text, checking JSON's grammar: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<&'a str, JsonError> {
        let start = self.number_start()?;
        let bytes = self.text.as_bytes();
        let digits = |pos: &mut usize| {
            let first = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - first
        };
        let mut pos = start;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let integer = digits(&mut pos);
        let leading_zero = integer > 1 && bytes.get(pos - integer) == Some(&b'0');
        let mut valid = integer > 0 && !leading_zero;
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            valid &= digits(&mut pos) > 0;
        }
        if matches!(bytes.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            valid &= digits(&mut pos) > 0;
        }
        if !valid {
            self.pos = start;
            return Err(self.expected("a JSON number"));
        }
        self.pos = pos;
        self.slice(start, pos)
    }

    fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.text.as_bytes().get(self.pos..).is_some_and(|rest| rest.starts_with(word.as_bytes())) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.expected(word))
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), JsonError> {
        if self.peek()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Result<u8, JsonError> {
        // Compact JSON (what venues send) has no whitespace: one comparison decides.
        match self.text.as_bytes().get(self.pos) {
            Some(&byte) if byte > b' ' => Ok(byte),
            _ => {
                self.skip_whitespace();
                self.byte_at(self.pos)
            }
        }
    }

    fn skip_whitespace(&mut self) {
        while self.text.as_bytes().get(self.pos).is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn byte_at(&self, pos: usize) -> Result<u8, JsonError> {
        self.text.as_bytes().get(pos).copied().ok_or(JsonError::Eof)
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a str, JsonError> {
        self.text.get(start..end).ok_or(JsonError::Expected { expected: "UTF-8 boundaries", at: start })
    }

    fn expected(&self, expected: &'static str) -> JsonError {
        if self.pos >= self.text.len() {
            JsonError::Eof
        } else {
            JsonError::Expected { expected, at: self.pos }
        }
    }
}

/// Index of the first byte at or after `from` that ends a plain run inside a JSON string: a quote, a
/// backslash or a control character (`bytes.len()` if none). Eight bytes are tested at a time.
fn plain_run_end(bytes: &[u8], from: usize) -> usize {
    let mut pos = from;
    while let Some(word) = bytes.get(pos..pos + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let special = special_bytes(u64::from_le_bytes(word));
        if special != 0 {
            return pos + special.trailing_zeros() as usize / 8;
        }
        pos += 8;
    }
    let rest = bytes.get(pos..).unwrap_or_default();
    pos + rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(rest.len())
}

/// A decimal of at most 8 integer and 8 fraction digits (`-?d{1,8}(.d{1,8})?`) starting at `start` and
/// closed by a quote, read with one word load per part: the value and the quote's index. `None` sends the caller to
/// the general path (other shapes, or fewer than eight bytes left to load).
#[inline(always)]
fn short_decimal(bytes: &[u8], start: usize) -> Option<(Dec64, usize)> {
    let negative = bytes.get(start) == Some(&b'-');
    let integer_start = start + usize::from(negative);
    let (integer, integer_digits) = digit_run(bytes, integer_start)?;
    if integer_digits == 0 {
        return None;
    }
    let after = integer_start + integer_digits;
    let (mantissa, decimals, end) = match bytes.get(after)? {
        b'"' => (integer, 0, after),
        b'.' => {
            let (fraction, fraction_digits) = digit_run(bytes, after + 1)?;
            let end = after + 1 + fraction_digits;
            if fraction_digits == 0 || bytes.get(end) != Some(&b'"') {
                return None;
            }
            (integer * POW10[fraction_digits] as u64 + fraction, fraction_digits, end)
        }
        _ => return None,
    };
    // A run is at most eight digits, so at most 16 in all: the casts cannot truncate. (Eight digits need the
    // byte after them checked, which the match above and the quote test do.)
    let mantissa = mantissa as i64;
    Some((Dec64::new(if negative { -mantissa } else { mantissa }, decimals as u8), end))
}

/// The ASCII digits at the start of the eight bytes at `pos`: (their value, how many). `None` when fewer
/// than eight bytes are left.
#[inline(always)]
fn digit_run(bytes: &[u8], pos: usize) -> Option<(u64, usize)> {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    const HIGH_NIBBLES: u64 = u64::from_ne_bytes([0xF0; 8]);
    const SIXES: u64 = u64::from_ne_bytes([0x06; 8]);
    let word = u64::from_le_bytes(bytes.get(pos..pos + 8)?.try_into().ok()?);
    // A byte is a digit when it is 0x3_ and stays 0x3_ after adding 6; carries only reach bytes above the
    // first non-digit, so the lowest flagged byte is exact.
    let non_digit = ((word & HIGH_NIBBLES) ^ ZEROS) | ((word.wrapping_add(SIXES) & HIGH_NIBBLES) ^ ZEROS);
    let count = (non_digit.trailing_zeros() / 8) as usize;
    if count == 0 {
        return Some((0, 0));
    }
    // Digit values moved to the top bytes (the first digit is the lowest byte); the zeros below them are
    // leading zeros. Then pairs, quads and octets are combined with one multiply each.
    let digits = (word.wrapping_sub(ZEROS) & 0x0F0F_0F0F_0F0F_0F0F) << (8 * (8 - count));
    let pairs = (digits.wrapping_mul(10 << 8 | 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    Some((quads.wrapping_mul(10_000 << 32 | 1) >> 32, count))
}

/// Flags (high bit) the bytes of a little-endian word that end a plain run: quote, backslash, control. Only
/// the lowest flag is exact; flags above it may be spurious.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    below(word, 0x20) | below(word ^ (ONES * u64::from(b'"')), 1) | below(word ^ (ONES * u64::from(b'\\')), 1)
}

#[cfg(test)]
mod tests;
