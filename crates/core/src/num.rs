//! Fixed-point decimals parsed straight from the exchanges' decimal strings, never through `f64`.
//!
//! A [`Dec64`] is an `i64` mantissa plus the number of decimals the venue *wrote*: `"41007.0"` is
//! `Dec64 { mantissa: 410070, decimals: 1 }`. Keeping the written decimals lets a book re-render a level
//! exactly as received (the OKX checksum needs that) while comparing values on an integer grid.

use std::fmt;

/// Powers of ten that fit in an `i64`.
pub const POW10: [i64; 19] = {
    let mut table = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Most decimals any price or size may carry (`10^18` is the largest power of ten in an `i64`).
pub const MAX_DECIMALS: u8 = 18;

/// Why a decimal string could not be turned into a fixed-point number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    #[error("empty number")]
    Empty,
    #[error("not a plain decimal number: {0:?}")]
    Invalid(String),
    #[error("number out of range: {0:?}")]
    Overflow(String),
    #[error("{value} cannot be expressed with {scale} decimals")]
    TooPrecise { value: String, scale: u8 },
}

/// An exact decimal: `mantissa × 10^-decimals`, with `decimals` as written by the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dec64 {
    pub mantissa: i64,
    pub decimals: u8,
}

impl Dec64 {
    /// The value zero (written `"0"`).
    pub const ZERO: Dec64 = Dec64 { mantissa: 0, decimals: 0 };

    /// Builds a decimal from its parts.
    pub const fn new(mantissa: i64, decimals: u8) -> Self {
        Dec64 { mantissa, decimals }
    }

    /// Parses a plain decimal string (`"-12.340"`, `"7"`, `".5"` is rejected) without any allocation.
    pub fn parse(text: &str) -> Result<Dec64, NumError> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`Dec64::parse`] on bytes (anything but ASCII digits, one `.` and a leading `-` is rejected).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Dec64, NumError> {
        let text = || String::from_utf8_lossy(bytes).into_owned();
        let (negative, digits) = match bytes.first() {
            None => return Err(NumError::Empty),
            Some(b'-') => (true, &bytes[1..]),
            Some(_) => (false, bytes),
        };
        if digits.is_empty() || digits[0] == b'.' || digits[digits.len() - 1] == b'.' {
            return Err(NumError::Invalid(text()));
        }
        let mut mantissa: i64 = 0;
        let mut point = None;
        // Up to 18 digits cannot overflow an i64; longer numbers take the checked path.
        let short = digits.len() <= 18;
        for (i, &byte) in digits.iter().enumerate() {
            let digit = byte.wrapping_sub(b'0');
            if digit < 10 {
                mantissa = if short {
                    mantissa * 10 + i64::from(digit)
                } else {
                    mantissa
                        .checked_mul(10)
                        .and_then(|m| m.checked_add(i64::from(digit)))
                        .ok_or_else(|| NumError::Overflow(text()))?
                };
            } else if byte == b'.' && point.is_none() {
                point = Some(i);
            } else {
                return Err(NumError::Invalid(text()));
            }
        }
        let decimals = point.map_or(0, |i| digits.len() - i - 1);
        if decimals > usize::from(MAX_DECIMALS) {
            return Err(NumError::Overflow(text()));
        }
        Ok(Dec64 { mantissa: if negative { -mantissa } else { mantissa }, decimals: decimals as u8 })
    }

    /// The value as an integer count of `10^-scale` units, if it is exactly representable.
    pub fn at_scale(self, scale: u8) -> Result<i64, NumError> {
        rescale(self.mantissa, self.decimals, scale).ok_or_else(|| {
            if self.decimals > scale {
                NumError::TooPrecise { value: self.to_string(), scale }
            } else {
                NumError::Overflow(self.to_string())
            }
        })
    }

    /// Whether the value is zero.
    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// Lossy conversion for display and ratios.
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / POW10[usize::from(self.decimals)] as f64
    }

    /// Exact conversion to `rust_decimal` for configuration and reporting arithmetic.
    pub fn to_decimal(self) -> rust_decimal::Decimal {
        rust_decimal::Decimal::new(self.mantissa, u32::from(self.decimals))
    }

    /// The smallest number of decimals that still represents the value exactly.
    pub fn significant_decimals(self) -> u8 {
        let mut decimals = self.decimals;
        let mut mantissa = self.mantissa;
        while decimals > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            decimals -= 1;
        }
        decimals
    }
}

/// Converts `value × 10^-from` into units of `10^-to`; `None` if not exact or out of range.
pub fn rescale(value: i64, from: u8, to: u8) -> Option<i64> {
    if to >= from {
        value.checked_mul(*POW10.get(usize::from(to - from))?)
    } else {
        let divisor = *POW10.get(usize::from(from - to))?;
        (value % divisor == 0).then(|| value / divisor)
    }
}

/// Writes `value × 10^-scale` with exactly `shown` decimals (`shown` may differ from `scale` only when
/// the digits dropped or added are zeros, as for a level re-rendered as the venue wrote it).
pub fn write_fixed<W: fmt::Write>(out: &mut W, value: i64, scale: u8, shown: u8) -> fmt::Result {
    out.write_str(FixedText::new(value, scale, shown).as_str())
}

/// `"00"`, `"01"`, … `"99"` back to back.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// The text of a fixed-point number, rendered on the stack (OKX checksums render up to 100 per update).
#[derive(Debug, Clone, Copy)]
pub struct FixedText {
    buf: [u8; 48],
    start: usize,
}

impl FixedText {
    /// Renders `value × 10^-scale` with exactly `shown` decimals, as [`write_fixed`] does.
    pub fn new(value: i64, scale: u8, shown: u8) -> Self {
        let (scale, shown) = (usize::from(scale.min(MAX_DECIMALS)), usize::from(shown.min(MAX_DECIMALS)));
        let magnitude = value.unsigned_abs();
        let unit = POW10[scale].unsigned_abs();
        // The integer part and the shown fraction each fit 64 bits (the fraction is below 10^18); digits
        // beyond `scale` are zeros added, digits dropped below `shown` are zeros.
        let (integer, fraction) = (magnitude / unit, magnitude % unit);
        let fraction = if shown >= scale {
            fraction * POW10[shown - scale].unsigned_abs()
        } else {
            fraction / POW10[scale - shown].unsigned_abs()
        };
        let mut text = FixedText { buf: [0u8; 48], start: 48 };
        text.push_digits(integer, fraction, shown);
        if value < 0 && (integer > 0 || fraction > 0) {
            text.push_byte(b'-');
        }
        text
    }

    /// Prepends `integer.fraction` with exactly `shown` fraction digits, two digits at a time.
    fn push_digits(&mut self, mut integer: u64, mut fraction: u64, shown: usize) {
        if shown > 0 {
            for _ in 0..shown / 2 {
                self.push_pair(fraction % 100);
                fraction /= 100;
            }
            if shown % 2 == 1 {
                self.push_byte(b'0' + fraction as u8);
            }
            self.push_byte(b'.');
        }
        while integer >= 100 {
            self.push_pair(integer % 100);
            integer /= 100;
        }
        if integer >= 10 {
            self.push_pair(integer);
        } else {
            self.push_byte(b'0' + integer as u8);
        }
    }

    /// Prepends the two digits of `pair` (< 100).
    fn push_pair(&mut self, pair: u64) {
        let at = pair as usize * 2;
        self.start -= 2;
        self.buf[self.start..self.start + 2].copy_from_slice(&DIGIT_PAIRS[at..at + 2]);
    }

    fn push_byte(&mut self, byte: u8) {
        self.start -= 1;
        self.buf[self.start] = byte;
    }

    /// The ASCII text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The text as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, '.' and '-' are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Display for Dec64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.mantissa, self.decimals, self.decimals)
    }
}

impl std::str::FromStr for Dec64 {
    type Err = NumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dec64::parse(s)
    }
}

/// Number of decimals in a `rust_decimal` step such as a tick or lot size (`0.50` → 1, `5` → 0).
pub fn decimals_of(step: rust_decimal::Decimal) -> u8 {
    // `normalize` drops trailing zeros; scale never exceeds 28 and we cap at MAX_DECIMALS.
    step.normalize().scale().min(u32::from(MAX_DECIMALS)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_written() {
        assert_eq!(Dec64::parse("41007.0").unwrap(), Dec64::new(410070, 1));
        assert_eq!(Dec64::parse("0.00000901").unwrap(), Dec64::new(901, 8));
        assert_eq!(Dec64::parse("-3.5").unwrap(), Dec64::new(-35, 1));
        assert_eq!(Dec64::parse("7").unwrap(), Dec64::new(7, 0));
        assert_eq!(Dec64::parse("41007.0").unwrap().to_string(), "41007.0");
        assert_eq!(Dec64::parse("0.00000901").unwrap().to_string(), "0.00000901");
        assert_eq!(Dec64::parse("-0.5").unwrap().to_string(), "-0.5");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "-", ".5", "5.", "1e5", "1.2.3", "abc", " 1", "+1", "1,5"] {
            assert!(Dec64::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert!(matches!(Dec64::parse("99999999999999999999"), Err(NumError::Overflow(_))));
        assert!(Dec64::parse("0.0000000000000000001").is_err());
    }

    #[test]
    fn scales_exactly_or_refuses() {
        let px = Dec64::parse("30236.10").unwrap();
        assert_eq!(px.at_scale(1).unwrap(), 302361);
        assert_eq!(px.at_scale(4).unwrap(), 302361000);
        assert!(matches!(Dec64::parse("1.25").unwrap().at_scale(1), Err(NumError::TooPrecise { .. })));
        assert_eq!(px.significant_decimals(), 1);
    }

    #[test]
    fn writes_with_chosen_decimals() {
        let mut s = String::new();
        write_fixed(&mut s, 302361, 1, 2).unwrap();
        assert_eq!(s, "30236.10");
        s.clear();
        write_fixed(&mut s, 410070, 2, 1).unwrap();
        assert_eq!(s, "4100.7");
        s.clear();
        write_fixed(&mut s, 5, 3, 3).unwrap();
        assert_eq!(s, "0.005");
        for (value, scale, shown, text) in [
            (0, 0, 0, "0"),
            (0, 2, 2, "0.00"),
            (-5, 1, 1, "-0.5"),
            (-123456, 2, 2, "-1234.56"),
            (7, 0, 0, "7"),
            (i64::MAX, 0, 0, "9223372036854775807"),
            (100, 2, 0, "1"),
            (i64::MIN, 0, 0, "-9223372036854775808"),
            (i64::MAX, 0, 18, "9223372036854775807.000000000000000000"),
            (-42, 0, 18, "-42.000000000000000000"),
        ] {
            s.clear();
            write_fixed(&mut s, value, scale, shown).unwrap();
            assert_eq!(s, text);
        }
    }

    #[test]
    fn decimals_of_steps() {
        use rust_decimal::Decimal;
        assert_eq!(decimals_of("0.50".parse::<Decimal>().unwrap()), 1);
        assert_eq!(decimals_of("5".parse::<Decimal>().unwrap()), 0);
        assert_eq!(decimals_of("0.0000000001".parse::<Decimal>().unwrap()), 10);
    }

    proptest::proptest! {
        #[test]
        fn round_trips(mantissa in -10_000_000_000_000i64..10_000_000_000_000, decimals in 0u8..12) {
            let d = Dec64::new(mantissa, decimals);
            let text = d.to_string();
            let back = Dec64::parse(&text).unwrap();
            proptest::prop_assert_eq!(back.at_scale(decimals).unwrap(), mantissa);
            proptest::prop_assert_eq!(back.decimals, decimals);
        }

        /// Rendering with more or fewer shown decimals (dropping only zeros) matches Rust's own formatting.
        #[test]
        fn renders_like_std(
            value in proptest::prop_oneof![any::<i64>(), -10_000_000_000i64..10_000_000_000],
            scale in 0u8..=18,
            shown in 0u8..=18,
        ) {
            let value = if shown < scale { value / POW10[usize::from(scale - shown)] * POW10[usize::from(scale - shown)] } else { value };
            let magnitude = i128::from(value).unsigned_abs() * 10u128.pow(u32::from(shown)) / 10u128.pow(u32::from(scale));
            let digits = format!("{magnitude:0>width$}", width = usize::from(shown) + 1);
            let (int, frac) = digits.split_at(digits.len() - usize::from(shown));
            let sign = if value < 0 { "-" } else { "" };
            let expected = if shown == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
            let text = FixedText::new(value, scale, shown);
            proptest::prop_assert_eq!(text.as_str(), expected.as_str());
        }
    }
    use proptest::prelude::any;
}
