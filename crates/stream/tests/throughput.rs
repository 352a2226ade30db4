//! The in-memory pass behind `perpspread bench` runs the real path: every record reaches the feeds, the
//! capture's instrument lists give the pairs, and the engine evaluates them.

use perpspread_stream::InMemoryCapture;

#[test]
fn a_generated_capture_passes_through_books_and_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl");
    let options = perpspread_sim::CaptureOptions {
        messages: 3_000,
        instruments: 3,
        seed: 7,
        tick_ms: 10,
        book_ticker: true,
        ..Default::default()
    };
    let stats = perpspread_sim::generate_capture(&path, &options).unwrap();
    let capture = InMemoryCapture::load(&path).unwrap();
    assert_eq!(capture.records.len() as u64, stats.records);
    assert_eq!(capture.bytes, capture.records.iter().map(|r| r.data.len()).sum::<usize>());

    let pairs = capture.pairs();
    assert_eq!(pairs.len(), 3, "{pairs:?}");
    let mut timed = 0;
    let pass = capture.pass(&pairs, Some(&mut |_| timed += 1));
    assert_eq!(pass.frames, capture.records.len() as u64, "every record is a frame");
    assert_eq!(timed, pass.book_messages, "one latency sample per book message");
    // Every incremental update and the Binance snapshots are book messages; `@bookTicker` events (about 30 %
    // of the records) and the instrument lists are not.
    let tickers = capture.records.iter().filter(|r| r.data.contains("@bookTicker")).count() as u64;
    assert!(tickers > pass.frames / 5, "{tickers} of {pass:?}");
    assert!(pass.book_messages >= stats.book_updates, "{pass:?} vs {stats:?}");
    assert!(pass.book_messages <= pass.frames - tickers, "{pass:?}");
    assert!(pass.rate() > 0.0 && pass.rate() < pass.frame_rate());
    // Once both legs are live, every book message of a pair's instrument evaluates the pair.
    assert!(pass.evaluations > pass.book_messages * 9 / 10, "{pass:?}");
    assert_eq!(capture.pass(&[], None).evaluations, 0);

    let twice = capture.repeated(2);
    assert_eq!(twice.records.len(), 2 * capture.records.len());
    assert_eq!(twice.bytes, 2 * capture.bytes);
    let (_, again) = capture.median_rate(&pairs, 3);
    assert_eq!((again.frames, again.book_messages), (pass.frames, pass.book_messages), "passes are deterministic");
}
