//! The OKX order-book checksum: CRC32 (IEEE) of the top 25 levels a side, interleaved
//! `bidPx:bidSz:askPx:askSz:…` from the strings exactly as received, read as a signed 32-bit integer.

use perpspread_core::num::render_fixed;
use perpspread_core::{Level, OrderBook, Side};

/// Levels per side covered by the checksum.
pub(crate) const CHECKSUM_DEPTH: usize = 25;

/// Computes the checksum of `book`, rendering into `scratch` (reused between calls; no allocation once
/// it has grown).
pub fn book_checksum(book: &OrderBook, scratch: &mut String) -> i32 {
    scratch.clear();
    let mut bids = book.levels(Side::Bid).take(CHECKSUM_DEPTH);
    let mut asks = book.levels(Side::Ask).take(CHECKSUM_DEPTH);
    loop {
        let (bid, ask) = (bids.next(), asks.next());
        if bid.is_none() && ask.is_none() {
            break;
        }
        for level in [bid, ask].into_iter().flatten() {
            if !scratch.is_empty() {
                scratch.push(':');
            }
            // Writing into a String cannot fail.
            let _ = book.write_level(scratch, level);
        }
    }
    checksum_of(scratch)
}

/// Computes checksums like [`book_checksum`], re-rendering only the levels that changed since the last call.
///
/// Each side's top 25 `price:size` texts are kept in fixed-size slots; a level whose price, size and written
/// decimals are unchanged (on unchanged grids) reuses its text. An update usually touches a few of the 50
/// levels, so most of the work left is copying slots (fixed-size moves, no `memcpy` calls) and the CRC itself.
#[derive(Debug, Clone, Default)]
pub struct ChecksumCache {
    /// Price and size scales the texts were rendered on.
    scales: (u8, u8),
    /// Bids and asks, best first.
    sides: [Vec<LevelText>; 2],
    /// The side being rebuilt (swapped with `sides[i]`, so no allocation once grown).
    spare: Vec<LevelText>,
    /// The interleaved text of the last checksum (room for 50 full slots and separators).
    text: Vec<u8>,
}

/// Room for a `price:size` text: each number is shown as written, a 64-bit mantissa with at most 18
/// decimals (at most 20 characters: 19 digits and a point, or "0." and 18 digits), so 41 bytes suffice.
/// A longer text cannot come from the wire (only from a `Level` built by hand with more decimals shown than
/// its book's grid); if one did occur, the checksum would take the uncached path rather than fail.
const MAX_LEVEL_TEXT: usize = 41;

/// A level and its `price:size` text, left-aligned in a fixed-size buffer.
#[derive(Debug, Clone, Copy)]
struct LevelText {
    level: Level,
    len: u8,
    bytes: [u8; MAX_LEVEL_TEXT],
}

impl LevelText {
    /// Appends `level` with its text to `out`, rendered in place; `None` when the text does not fit a slot
    /// (the caller then drops the side). In place because a slot built on the stack and then moved is read
    /// back a word at a time right after its bytes were written one or two at a time, which stalls store
    /// forwarding.
    fn push_rendered(out: &mut Vec<LevelText>, book: &OrderBook, level: &Level) -> Option<()> {
        out.push(LevelText { level: *level, len: 0, bytes: [0; MAX_LEVEL_TEXT] });
        let slot = out.last_mut()?;
        slot.len = render_level(&mut slot.bytes, book, level)? as u8;
        Some(())
    }
}

/// Writes `price:size` at the start of `out`; its length, or `None` when it does not fit.
fn render_level(out: &mut [u8], book: &OrderBook, level: &Level) -> Option<usize> {
    let price = render_fixed(out, level.price, book.price_scale(), level.price_dp)?;
    *out.get_mut(price)? = b':';
    let size = render_fixed(out.get_mut(price + 1..)?, level.qty, book.qty_scale(), level.qty_dp)?;
    Some(price + 1 + size)
}

impl ChecksumCache {
    /// The checksum of `book`, as [`book_checksum`] computes it.
    pub fn checksum(&mut self, book: &OrderBook) -> i32 {
        let scales = (book.price_scale(), book.qty_scale());
        if scales != self.scales {
            self.scales = scales;
            self.sides.iter_mut().for_each(Vec::clear);
        }
        for (index, side) in [Side::Bid, Side::Ask].into_iter().enumerate() {
            if render_side(&self.sides[index], &mut self.spare, book, side).is_none() {
                self.sides.iter_mut().for_each(Vec::clear);
                return book_checksum(book, &mut String::new());
            }
            std::mem::swap(&mut self.sides[index], &mut self.spare);
        }
        let text = &mut self.text;
        text.resize(2 * CHECKSUM_DEPTH * (MAX_LEVEL_TEXT + 1), 0);
        let [bids, asks] = &self.sides;
        let mut end = 0;
        for i in 0..bids.len().max(asks.len()) {
            for level in [bids.get(i), asks.get(i)].into_iter().flatten() {
                // The whole slot is copied (a fixed-size move), then the separator written after its text.
                text[end..end + MAX_LEVEL_TEXT].copy_from_slice(&level.bytes);
                end += usize::from(level.len);
                text[end] = b':';
                end += 1;
            }
        }
        crc32fast::hash(&text[..end.saturating_sub(1)]) as i32
    }
}

/// The top levels of one side with their texts, reusing `old`'s text for every level that is unchanged;
/// `None` when a text does not fit a slot. Unchanged slots are copied in runs (one `memcpy` each), not one
/// by one through the stack.
fn render_side(old: &[LevelText], out: &mut Vec<LevelText>, book: &OrderBook, side: Side) -> Option<()> {
    out.clear();
    let better = |a: i64, b: i64| if side == Side::Bid { a > b } else { a < b };
    // `old[run..next]` are unchanged levels not yet copied to `out`.
    let (mut run, mut next) = (0, 0);
    for level in book.levels(side).take(CHECKSUM_DEPTH) {
        // Old levels better than this one are gone; an equal one may be reused.
        let gone = old[next..].iter().take_while(|old| better(old.level.price, level.price)).count();
        if gone > 0 {
            out.extend_from_slice(&old[run..next]);
            next += gone;
            run = next;
        }
        if old.get(next).is_some_and(|old| old.level == *level) {
            next += 1;
        } else {
            out.extend_from_slice(&old[run..next]);
            LevelText::push_rendered(out, book, level)?;
            next += usize::from(old.get(next).is_some_and(|old| old.level.price == level.price));
            run = next;
        }
    }
    out.extend_from_slice(&old[run..next]);
    Some(())
}

/// CRC32 (IEEE) of a checksum string, as OKX's signed 32-bit integer.
pub(crate) fn checksum_of(text: &str) -> i32 {
    crc32fast::hash(text.as_bytes()) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::Dec64;

    fn d(s: &str) -> Dec64 {
        Dec64::parse(s).unwrap()
    }

    #[test]
    fn documented_vectors() {
        assert_eq!(checksum_of("3366.1:7:3366.8:9:3366:6:3368:8"), -1881014294);
        assert_eq!(checksum_of("3366.1:7:3366.8:9:3368:8:3372:8"), 831078360);
    }

    #[test]
    fn interleaves_and_continues_the_longer_side() {
        let mut book = OrderBook::new(1, 0, 400);
        book.load_snapshot([(d("3366.1"), d("7")), (d("3366"), d("6"))], [(d("3366.8"), d("9")), (d("3368"), d("8"))])
            .unwrap();
        let mut scratch = String::new();
        assert_eq!(book_checksum(&book, &mut scratch), -1881014294);
        assert_eq!(scratch, "3366.1:7:3366.8:9:3366:6:3368:8");
        book.set(Side::Bid, d("3366"), d("0")).unwrap();
        book_checksum(&book, &mut scratch);
        assert_eq!(scratch, "3366.1:7:3366.8:9:3368:8");
    }

    proptest::proptest! {
        /// The cached checksum equals the reference rendering after any sequence of updates, including
        /// updates that widen the book's grids and sides deeper than the checksum's 25 levels.
        #[test]
        fn cache_matches_reference(updates in proptest::collection::vec(
            (proptest::bool::ANY, 970u32..1010, 0u32..4, 0u8..3), 1..300)) {
            let mut book = OrderBook::new(0, 0, 400);
            let mut cache = ChecksumCache::default();
            let mut scratch = String::new();
            for (i, (is_bid, price, qty, decimals)) in updates.into_iter().enumerate() {
                let (side, price) = if is_bid { (Side::Bid, price) } else { (Side::Ask, price + 40) };
                // Sizes are sometimes written with extra decimals ("2.00"), which widens the size grid.
                let qty = Dec64::new(i64::from(qty) * 10i64.pow(u32::from(decimals)), decimals);
                book.set(side, Dec64::new(i64::from(price), 0), qty).unwrap();
                if i % 3 == 0 {
                    proptest::prop_assert_eq!(cache.checksum(&book), book_checksum(&book, &mut scratch));
                }
            }
            proptest::prop_assert_eq!(cache.checksum(&book), book_checksum(&book, &mut scratch));
        }
    }

    #[test]
    fn the_longest_level_texts_fit_a_slot() {
        // The largest and smallest mantissas written with 18 decimals: "9.223372036854775807" and
        // "0.000000000000000001", 20 characters each.
        let mut book = OrderBook::new(0, 0, 400);
        let (max18, min18) = (Dec64::new(i64::MAX, 18), Dec64::new(1, 18));
        book.load_snapshot([(max18, max18)], [(max18, min18)]).unwrap();
        let mut scratch = String::new();
        let expected = book_checksum(&book, &mut scratch);
        assert_eq!(scratch.len(), 2 * MAX_LEVEL_TEXT + 1, "{scratch}");
        let mut cache = ChecksumCache::default();
        assert_eq!(cache.checksum(&book), expected);
        book.set(Side::Bid, max18, min18).unwrap();
        assert_eq!(cache.checksum(&book), book_checksum(&book, &mut scratch));
    }

    #[test]
    fn real_trx_snapshot_top25() {
        #[derive(serde::Deserialize)]
        struct Snap<'a> {
            #[serde(borrow)]
            bids: Vec<Vec<&'a str>>,
            #[serde(borrow)]
            asks: Vec<Vec<&'a str>>,
        }
        let text = include_str!("../../../fixtures/real/okx_books_snapshot_TRX-USD-220812_top25plus.json");
        let snap: Snap = serde_json::from_str(text).unwrap();
        let mut book = OrderBook::new(0, 0, 400);
        let levels = |v: &Vec<Vec<&str>>| v.iter().map(|l| (d(l[0]), d(l[1]))).collect::<Vec<_>>();
        book.load_snapshot(levels(&snap.bids), levels(&snap.asks)).unwrap();
        assert_eq!(book_checksum(&book, &mut String::new()), -1462286744);
        assert_eq!(ChecksumCache::default().checksum(&book), -1462286744);
    }

    proptest::proptest! {
        /// After any update stream, the checksum of the incrementally maintained book equals the checksum
        /// of a book rebuilt from scratch and of a naive string-keyed reference.
        #[test]
        fn incremental_equals_rebuild(
            updates in proptest::collection::vec((proptest::bool::ANY, 1u32..200, 0u32..5, 0u8..3), 0..400)
        ) {
            use std::collections::BTreeMap;
            let mut book = OrderBook::new(1, 0, 400);
            // Reference: price (in tenths) → (price text, size text), per side.
            let mut reference: [BTreeMap<u32, (String, String)>; 2] = [BTreeMap::new(), BTreeMap::new()];
            for (is_bid, tenths, qty, style) in updates {
                // Bids below 100.0, asks above, so the book never crosses; decimals vary as venues write them.
                let value = if is_bid { 1000 - tenths } else { 1000 + tenths };
                let price = match style {
                    0 => format!("{}.{}", value / 10, value % 10),
                    1 if value % 10 == 0 => format!("{}", value / 10),
                    _ => format!("{}.{}0", value / 10, value % 10),
                };
                let side = if is_bid { Side::Bid } else { Side::Ask };
                book.set(side, d(&price), d(&qty.to_string())).unwrap();
                let map = &mut reference[usize::from(!is_bid)];
                if qty == 0 { map.remove(&value); } else { map.insert(value, (price, qty.to_string())); }
            }
            let mut scratch = String::new();
            let incremental = book_checksum(&book, &mut scratch);
            let levels = |side| book.levels(side).map(|l| (book.price_of(l), book.qty_of(l))).collect::<Vec<_>>();
            let mut rebuilt = OrderBook::new(0, 0, 400);
            rebuilt.load_snapshot(levels(Side::Bid), levels(Side::Ask)).unwrap();
            proptest::prop_assert_eq!(book_checksum(&rebuilt, &mut String::new()), incremental);
            let bids: Vec<_> = reference[0].values().rev().take(CHECKSUM_DEPTH).collect();
            let asks: Vec<_> = reference[1].values().take(CHECKSUM_DEPTH).collect();
            let mut parts = Vec::new();
            for i in 0..bids.len().max(asks.len()) {
                for level in [bids.get(i), asks.get(i)].into_iter().flatten() {
                    parts.push(format!("{}:{}", level.0, level.1));
                }
            }
            proptest::prop_assert_eq!(checksum_of(&parts.join(":")), incremental);
        }
    }
}
