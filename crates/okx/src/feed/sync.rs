//! Keeping one instrument's book right: snapshots, the `seqId` chain, checksums, and bridging buffered
//! updates onto a REST snapshot.

use perpspread_core::feed::{BookState, FeedEvent, HasBook, ResyncReason, TrackedBook};
use perpspread_core::wire::RawLevel;
use perpspread_core::OrderBook;

use crate::checksum::ChecksumCache;

use super::frames::BookHeader;

/// Most updates buffered per instrument while waiting for a snapshot.
const MAX_BUFFERED: usize = 5_000;

/// Book-keeping for one instrument.
#[derive(Debug, Clone)]
pub(super) struct InstrumentBook {
    pub(super) tracked: TrackedBook,
    pub(super) last_seq: Option<i64>,
    pub(super) checksum: ChecksumCache,
    pub(super) seed: Seed,
    /// Updates received while waiting for a snapshot, in arrival order.
    pub(super) buffer: std::collections::VecDeque<Buffered>,
}

impl HasBook for InstrumentBook {
    fn tracked(&self) -> &TrackedBook {
        &self.tracked
    }
}

/// Where a book stands in seeding from REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seed {
    /// Waiting for a snapshot; the first update buffered arrived at `first_ns` (receive clock).
    Waiting { first_ns: Option<u64>, requested: bool },
    /// Loaded from a REST snapshot at `seq`, taken at `ts_ms`: the next update must bridge it.
    Bridging { seq: i64, ts_ms: Option<u64> },
}

/// An update kept until its snapshot arrives.
#[derive(Debug, Clone)]
pub(super) struct Buffered {
    pub(super) header: BookHeader,
    pub(super) bids: Vec<RawLevel>,
    pub(super) asks: Vec<RawLevel>,
    pub(super) recv: perpspread_core::feed::RecvTime,
}

/// Records the outcome of a book message: a `BookUpdated`, nothing, or a broken book.
pub(super) fn finish(
    book: &mut InstrumentBook,
    slot: u32,
    outcome: Result<bool, ResyncReason>,
    header: BookHeader,
    recv: perpspread_core::feed::RecvTime,
    ws_snapshots: Option<bool>,
    events: &mut Vec<FeedEvent>,
) {
    let outcome = outcome.and_then(|applied| {
        if applied {
            verify(book, header)?;
        }
        Ok(applied)
    });
    match outcome {
        Ok(true) => {
            book.tracked.stats.updates_applied += 1;
            book.tracked.exchange_ms = header.ts_ms;
            book.tracked.recv = recv;
            events.push(FeedEvent::BookUpdated { slot });
        }
        Ok(false) => {}
        Err(ResyncReason::SnapshotTooOld) => {
            // The REST snapshot predates the buffered updates: fetch another one (the updates are kept).
            let buffered = std::mem::take(&mut book.buffer);
            book.tracked.invalidate(ResyncReason::SnapshotTooOld);
            book.last_seq = None;
            book.buffer = buffered;
            book.seed = Seed::Waiting { first_ns: Some(recv.mono_ns), requested: true };
            events.push(FeedEvent::SnapshotNeeded { slot });
        }
        Err(reason) => break_book(book, slot, reason, ws_snapshots, events),
    }
}

/// Invalidates a book and asks for its repair: a resubscription (a new WebSocket snapshot), plus a REST
/// snapshot when the venue is known to send no WebSocket snapshots (the live layer then skips the
/// resubscription).
pub(super) fn break_book(
    book: &mut InstrumentBook,
    slot: u32,
    reason: ResyncReason,
    ws_snapshots: Option<bool>,
    events: &mut Vec<FeedEvent>,
) {
    book.tracked.invalidate(reason);
    book.last_seq = None;
    book.buffer.clear();
    let over_rest = ws_snapshots == Some(false);
    book.seed = Seed::Waiting { first_ns: None, requested: over_rest };
    events.push(FeedEvent::Resync { slot, reason });
    if over_rest {
        events.push(FeedEvent::SnapshotNeeded { slot });
    }
}

/// Applies the first update after a REST snapshot at `seq` taken at `ts_ms` (OKX: drop `seqId < seq`; apply
/// when `prevSeqId <= seq <= seqId`; a later start means the snapshot is too old). `Ok(true)` when the book went
/// live, `Ok(false)` when the update was already in the snapshot.
///
/// A sequence reset (`seqId < prevSeqId`, after maintenance) makes numbers from before and after it
/// incomparable, so the snapshot's time decides: a snapshot taken at or after the reset message is of the new
/// sequence (the message is in it, or the next update bridges it as usual); an older one bridges only a reset
/// whose `prevSeqId` is its own `seqId`, and is otherwise too old.
pub(super) fn bridge(
    book: &mut InstrumentBook,
    (seq, ts_ms): (i64, Option<u64>),
    bids: &[RawLevel],
    asks: &[RawLevel],
    header: BookHeader,
) -> Result<bool, ResyncReason> {
    let (Some(update_seq), Some(prev)) = (header.seq_id, header.prev_seq_id) else {
        return Err(ResyncReason::BadUpdate);
    };
    let reset = update_seq < prev;
    // Taken at the same millisecond, the numbers decide: a snapshot at or past the reset's `prevSeqId` is of the
    // old sequence.
    let after_reset = reset
        && ts_ms
            .zip(header.ts_ms)
            .is_some_and(|(snapshot, update)| snapshot > update || (snapshot == update && seq < prev));
    if reset && !after_reset {
        if prev != seq {
            return Err(ResyncReason::SnapshotTooOld);
        }
    } else if update_seq < seq {
        return Ok(false); // already in the snapshot
    } else if (reset && update_seq != seq) || (!reset && prev > seq) {
        return Err(ResyncReason::SnapshotTooOld);
    }
    // `prevSeqId <= seq <= seqId`: applying levels the snapshot may already hold sets the same sizes again.
    book.tracked.book.apply(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    go_live(book, update_seq);
    Ok(true)
}

pub(super) fn go_live(book: &mut InstrumentBook, seq: i64) {
    book.last_seq = Some(seq);
    book.tracked.sequence = u64::try_from(seq).ok();
    book.tracked.state = BookState::Live;
    book.seed = Seed::Waiting { first_ns: None, requested: false };
}

/// Keeps an update until the book's snapshot arrives (the oldest goes when the buffer is full).
pub(super) fn buffer(
    book: &mut InstrumentBook,
    header: BookHeader,
    bids: &[RawLevel],
    asks: &[RawLevel],
    recv: perpspread_core::feed::RecvTime,
) {
    if header.seq_id.zip(header.prev_seq_id).is_some_and(|(seq, prev)| seq < prev) {
        book.buffer.clear(); // a sequence reset: nothing before it can be bridged with a later snapshot
    }
    if book.buffer.len() >= MAX_BUFFERED {
        book.buffer.pop_front();
    }
    book.buffer.push_back(Buffered { header, bids: bids.to_vec(), asks: asks.to_vec(), recv });
}

pub(super) fn new_book(depth: usize) -> InstrumentBook {
    InstrumentBook {
        tracked: TrackedBook::new(OrderBook::new(0, 0, depth)),
        last_seq: None,
        checksum: ChecksumCache::default(),
        seed: Seed::Waiting { first_ns: None, requested: false },
        buffer: std::collections::VecDeque::new(),
    }
}

/// Replaces the book; `Ok(true)` when applied.
pub(super) fn load_snapshot(
    book: &mut InstrumentBook,
    bids: &[RawLevel],
    asks: &[RawLevel],
    header: BookHeader,
) -> Result<bool, ResyncReason> {
    book.tracked.book.replace(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    book.last_seq = header.seq_id;
    book.tracked.sequence = header.seq_id.and_then(|s| u64::try_from(s).ok());
    book.tracked.state = BookState::Live;
    book.seed = Seed::Waiting { first_ns: None, requested: false };
    Ok(true)
}

/// Applies an incremental update; `Ok(false)` when the book is not live (waiting for a snapshot).
pub(super) fn apply_update(
    book: &mut InstrumentBook,
    bids: &[RawLevel],
    asks: &[RawLevel],
    header: BookHeader,
) -> Result<bool, ResyncReason> {
    if book.tracked.state != BookState::Live {
        return Ok(false);
    }
    if let (Some(prev), Some(last), Some(seq)) = (header.prev_seq_id, book.last_seq, header.seq_id) {
        // In order when prevSeqId continues the chain (this also covers a seqId reset). A message at or
        // below the last applied seqId that does not continue the chain was already applied.
        if prev != last {
            if seq <= last && seq != prev {
                book.tracked.stats.duplicates += 1;
                return Ok(false);
            }
            return Err(ResyncReason::SequenceGap);
        }
    }
    book.tracked.book.apply(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    if header.seq_id.is_some() {
        book.last_seq = header.seq_id;
        book.tracked.sequence = header.seq_id.and_then(|s| u64::try_from(s).ok());
    }
    Ok(true)
}

/// Checks the checksum (when sent) and that the book is not crossed.
pub(super) fn verify(book: &mut InstrumentBook, header: BookHeader) -> Result<(), ResyncReason> {
    match header.checksum {
        Some(0) => book.tracked.stats.checksums_absent += 1,
        Some(expected) => {
            if i64::from(book.checksum.checksum(&book.tracked.book)) != expected {
                return Err(ResyncReason::ChecksumMismatch);
            }
            book.tracked.stats.checksums_verified += 1;
        }
        None => {}
    }
    if book.tracked.book.is_crossed() {
        return Err(ResyncReason::Crossed);
    }
    Ok(())
}
