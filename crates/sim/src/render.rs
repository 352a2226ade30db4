//! Hand-written JSON for the hot paths (book levels and deltas): exact venue formatting, no allocation
//! beyond the output buffer. Metadata responses use serde instead.

use std::fmt::Write;

use perpspread_core::Level;

use crate::model::{BookMeta, Change};

/// Orders resting on a level (the fourth element of an OKX level), derived deterministically.
pub(crate) fn order_count(price: i64, qty: i64) -> u64 {
    1 + ((price ^ qty) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 12
}

/// Writes `[["px","sz","0","n"],…]` (OKX) or `[["px","sz"],…]` (Binance) for `(price, qty)` grid pairs.
pub(crate) fn write_levels<I>(out: &mut String, meta: &BookMeta, levels: I)
where
    I: IntoIterator<Item = (i64, i64)>,
{
    let okx = meta.venue == perpspread_core::Venue::Okx;
    out.push('[');
    for (i, (price, qty)) in levels.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("[\"");
        // Writing into a String cannot fail.
        let _ = meta.write_price(out, price);
        out.push_str("\",\"");
        let _ = meta.write_qty(out, qty);
        out.push('"');
        if okx {
            let _ = write!(out, ",\"0\",\"{}\"", if qty == 0 { 0 } else { order_count(price, qty) });
        }
        out.push(']');
    }
    out.push(']');
}

/// Book levels as `(price, qty)` grid pairs.
pub(crate) fn level_pairs<'a, I>(levels: I) -> impl Iterator<Item = (i64, i64)> + 'a
where
    I: IntoIterator<Item = &'a Level> + 'a,
{
    levels.into_iter().map(|l| (l.price, l.qty))
}

/// The changes of one side as `(price, qty)` grid pairs.
pub(crate) fn change_pairs(changes: &[Change], side: perpspread_core::Side) -> impl Iterator<Item = (i64, i64)> + '_ {
    changes.iter().filter(move |c| c.side == side).map(|c| (c.price, c.qty))
}

/// Writes `value` rounded to `dp` decimals; `trim` drops trailing zeros as OKX does.
pub(crate) fn write_f64(out: &mut String, value: f64, dp: u8, trim: bool) {
    let scaled = (value * perpspread_core::num::POW10[usize::from(dp)] as f64).round() as i64;
    let mut text = String::new();
    let _ = perpspread_core::num::write_fixed(&mut text, scaled, dp, dp);
    if trim && text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        out.push_str(trimmed);
    } else {
        out.push_str(&text);
    }
}

/// `value` rounded to `dp` decimals as a string.
pub(crate) fn f64_str(value: f64, dp: u8, trim: bool) -> String {
    let mut out = String::new();
    write_f64(&mut out, value, dp, trim);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(f64_str(0.000123, 8, false), "0.00012300");
        assert_eq!(f64_str(0.000123, 8, true), "0.000123");
        assert_eq!(f64_str(65000.0, 1, true), "65000");
    }
}
