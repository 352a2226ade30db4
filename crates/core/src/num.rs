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
pub(crate) const MAX_DECIMALS: u8 = 18;

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
    pub(crate) fn parse_bytes(bytes: &[u8]) -> Result<Dec64, NumError> {
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

    /// The smallest number of decimals that still represents the value exactly.
    #[cfg(test)]
    pub(crate) fn significant_decimals(self) -> u8 {
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
pub(crate) fn rescale(value: i64, from: u8, to: u8) -> Option<i64> {
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
pub(crate) struct FixedText {
    buf: [u8; MAX_FIXED_TEXT],
    len: u8,
}

/// The longest text [`render_fixed`] writes: a sign, 19 integer digits, a point and 18 decimals.
const MAX_FIXED_TEXT: usize = 40;

impl FixedText {
    /// Renders `value × 10^-scale` with exactly `shown` decimals, as [`write_fixed`] does.
    pub(crate) fn new(value: i64, scale: u8, shown: u8) -> Self {
        let mut text = FixedText { buf: [0; MAX_FIXED_TEXT], len: 0 };
        // The buffer holds the longest text, so rendering cannot fail.
        text.len = render_fixed(&mut text.buf, value, scale, shown).unwrap_or(0) as u8;
        text
    }

    /// The ASCII text.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The text as a string slice.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, '.' and '-' are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Writes `value × 10^-scale` with exactly `shown` decimals at the start of `out` and returns its length;
/// `None` (nothing written) when `out` is too short. Writing in place, with the length known first, spares
/// callers a copy: a text built byte by byte and then moved a word at a time stalls store forwarding.
///
/// Decimals below `scale` that are not shown are dropped (they are zeros where this is used: a level
/// re-rendered as the venue wrote it); decimals shown beyond `scale` are zeros.
#[inline]
pub fn render_fixed(out: &mut [u8], value: i64, scale: u8, shown: u8) -> Option<usize> {
    let (scale, shown) = (usize::from(scale.min(MAX_DECIMALS)), usize::from(shown.min(MAX_DECIMALS)));
    // The mantissa at the shown decimals that `scale` holds, plus zeros for any beyond it.
    let from_value = shown.min(scale);
    let padding = shown - from_value;
    let mut mantissa = drop_decimals(value.unsigned_abs(), scale - from_value);
    let all_digits = mantissa.checked_ilog10().map_or(1, |log| log as usize + 1);
    let integer_digits = all_digits.saturating_sub(from_value).max(1);
    let negative = value < 0 && mantissa > 0;
    let len = usize::from(negative) + integer_digits + usize::from(shown > 0) + shown;
    let text = out.get_mut(..len)?;
    // Right to left: padding zeros, the fraction's digits, the point, the integer's digits, the sign.
    let mut at = len - padding;
    if padding > 0 {
        text[at..].fill(b'0');
    }
    for _ in 0..from_value / 2 {
        at -= 2;
        text[at..at + 2].copy_from_slice(digit_pair(mantissa % 100));
        mantissa /= 100;
    }
    if from_value % 2 == 1 {
        at -= 1;
        text[at] = b'0' + (mantissa % 10) as u8;
        mantissa /= 10;
    }
    if shown > 0 {
        at -= 1;
        text[at] = b'.';
    }
    while mantissa >= 100 {
        at -= 2;
        text[at..at + 2].copy_from_slice(digit_pair(mantissa % 100));
        mantissa /= 100;
    }
    if mantissa >= 10 {
        text[at - 2..at].copy_from_slice(digit_pair(mantissa));
    } else {
        text[at - 1] = b'0' + mantissa as u8;
    }
    if negative {
        text[0] = b'-';
    }
    Some(len)
}

/// `magnitude / 10^places`, without a hardware division when the dropped digits are zeros (the usual
/// case): the quotient is then `(magnitude >> places) × (5^places)⁻¹ mod 2^64`, checked by multiplying back.
#[inline]
fn drop_decimals(magnitude: u64, places: usize) -> u64 {
    if places == 0 {
        return magnitude;
    }
    let (divisor, inverse) = (POW10[places] as u64, INVERSE_POW5[places]);
    let quotient = (magnitude >> places).wrapping_mul(inverse);
    // Bounded so that multiplying back cannot wrap: then equality means the division was exact.
    if quotient <= MAX_QUOTIENT[places] && quotient * divisor == magnitude {
        quotient
    } else {
        magnitude / divisor
    }
}

/// Multiplicative inverses of `5^k` modulo 2^64 (k ≤ 18), by Newton's iteration.
const INVERSE_POW5: [u64; 19] = {
    let mut inverses = [1u64; 19];
    let mut k = 1;
    while k < 19 {
        let five_k = 5u64.pow(k as u32);
        // Each step doubles the correct low bits: 3 (an odd number is its own inverse mod 8) → 6 → … → 96.
        let mut inverse = five_k;
        let mut step = 0;
        while step < 5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(five_k.wrapping_mul(inverse)));
            step += 1;
        }
        inverses[k] = inverse;
        k += 1;
    }
    inverses
};

/// `u64::MAX / 10^k` (k ≤ 18).
const MAX_QUOTIENT: [u64; 19] = {
    let mut quotients = [u64::MAX; 19];
    let mut k = 1;
    while k < 19 {
        quotients[k] = u64::MAX / 10u64.pow(k as u32);
        k += 1;
    }
    quotients
};

/// The two ASCII digits of `pair` (< 100).
#[inline]
fn digit_pair(pair: u64) -> &'static [u8] {
    let at = pair as usize * 2;
    &DIGIT_PAIRS[at..at + 2]
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

/// `value` rounded to 12 significant digits: a computed price or amount then prints as `64799.3`, not as
/// `64799.30000000001` (the rounding of the last binary digit of a product or quotient). For output only.
pub fn shown_f64(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    format!("{value:.11e}").parse().unwrap_or(value)
}

/// Serde `serialize_with` for an `f64` written as [`shown_f64`] gives it.
pub fn serialize_shown<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(shown_f64(*value))
}

/// [`serialize_shown`] for an optional value.
pub fn serialize_shown_opt<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_some(&shown_f64(*value)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_numbers_drop_the_last_binary_digit_noise() {
        let depth = 12988479.0 * 0.001;
        assert_eq!(depth.to_string(), "12988.479000000001");
        for (noisy, shown) in [(64799.30000000001, "64799.3"), (depth, "12988.479"), (1.0832000000000002, "1.0832")] {
            assert_eq!(shown_f64(noisy).to_string(), shown);
        }
        assert_eq!(shown_f64(1.23456789e-5 * 3.0), 3.70370367e-5, "small prices keep their digits");
        assert_eq!(shown_f64(29.413897989637988), 29.4138979896);
        assert!(shown_f64(f64::NAN).is_nan());
        assert_eq!(serde_json::to_string(&Shown(64799.30000000001)).unwrap(), "64799.3");
    }

    #[derive(serde::Serialize)]
    struct Shown(#[serde(serialize_with = "serialize_shown")] f64);

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
            // Into a buffer: the same text, or nothing when it does not fit.
            let mut out = [b'x'; MAX_FIXED_TEXT];
            let room = expected.len() - usize::from(value % 7 == 0);
            match render_fixed(&mut out[..room], value, scale, shown) {
                Some(len) => proptest::prop_assert_eq!(&out[..len], expected.as_bytes()),
                None => proptest::prop_assert!(room < expected.len() && out.iter().all(|&b| b == b'x')),
            }
        }

        /// Dropping decimals by the inverse of 5^k agrees with division, whether or not the digits are zeros.
        #[test]
        fn drops_decimals_like_division(magnitude in any::<u64>(), places in 0usize..=18, exact in any::<bool>()) {
            let divisor = POW10[places] as u64;
            let magnitude = if exact { magnitude / divisor * divisor } else { magnitude };
            proptest::prop_assert_eq!(drop_decimals(magnitude, places), magnitude / divisor);
        }
    }
    use proptest::prelude::any;
}
