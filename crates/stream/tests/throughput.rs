//! The in-memory pass behind `perpspread bench` runs the real path: every record reaches the feeds, the
//! capture's instrument lists give the pairs, and the engine evaluates them.

use perpspread_stream::InMemoryCapture;

#[test]
fn a_generated_capture_passes_through_books_and_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl");
    let options =
        perpspread_sim::CaptureOptions { messages: 3_000, instruments: 3, seed: 7, tick_ms: 10, book_ticker: true };
    let stats = perpspread_sim::generate_capture(&path, &options).unwrap();
    let capture = InMemoryCapture::load(&path).unwrap();
    assert_eq!(capture.records.len() as u64, stats.records);
    assert_eq!(capture.bytes, capture.records.iter().map(|r| r.data.len()).sum::<usize>());

    let pairs = capture.pairs();
    assert_eq!(pairs.len(), 3, "{pairs:?}");
    let mut timed = 0;
    let pass = capture.pass(&pairs, Some(&mut |_| timed += 1));
    assert_eq!(timed, capture.records.len(), "one latency sample per record");
    // Every incremental update and snapshot is a book message the feeds accepted.
    assert!(pass.messages >= stats.book_updates, "{pass:?} vs {stats:?}");
    assert!(pass.messages <= capture.records.len() as u64);
    assert!(pass.rate() > 0.0);
    // Once both legs are live, every book update of a pair's instrument evaluates the pair.
    assert!(pass.evaluations > pass.messages / 2, "{pass:?}");
    assert_eq!(capture.pass(&[], None).evaluations, 0);

    let twice = capture.repeated(2);
    assert_eq!(twice.records.len(), 2 * capture.records.len());
    assert_eq!(twice.bytes, 2 * capture.bytes);
    let (_, messages) = capture.median_rate(&pairs, 3);
    assert_eq!(messages, pass.messages, "passes are independent and deterministic");
}
