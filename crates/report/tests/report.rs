//! `report` from events and from the files written for them agree; `--plot` writes PNGs.

use perpspread_report::{PositiveShareMethod, Report, ReportOptions};
use perpspread_sinks::files::{FileSink, FileSinkConfig};

use perpspread_sinks::testkit::{closed, scenario, S, START_NS};

#[test]
fn report_from_events_and_from_files_agree() {
    let s = scenario(200);
    let span = Some((START_NS, START_NS + 200 * S));
    let options = ReportOptions { span_ns: span, ..ReportOptions::default() };
    let from_events = Report::from_events(&s.events, &options);
    assert_eq!(from_events.opportunities as usize, closed(&s.events).len());
    assert_eq!(from_events.pairs, 2);
    assert_eq!(from_events.positive_share_method, PositiveShareMethod::OpportunityDurations);
    let btc = from_events.groups.iter().find(|g| g.pair == "BTC/USDT").unwrap();
    // 20 cycles × 2 sizes; each lives 4 s (open at +10 bp, closes at the first -20 bp).
    assert_eq!(btc.count, 40);
    assert!((btc.median_duration_s - 4.0).abs() < 1e-9, "{btc:?}");
    assert!((btc.peak_net_bp.p50 - 10.0).abs() < 1e-6, "{btc:?}");
    // Open 4 s of every 10 s.
    assert!((btc.positive_share - 0.4).abs() < 1e-9, "{btc:?}");
    assert!(btc.size_at_threshold_quote.p50 > 0.0);
    assert_eq!(btc.by_hour.len(), 2, "13h and 14h UTC");
    let eth = from_events.groups.iter().find(|g| g.pair == "ETH/USDT").unwrap();
    assert!((eth.positive_share - 0.2).abs() < 1e-9, "{eth:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::create(&FileSinkConfig::new(dir.path())).unwrap();
    for event in &s.events {
        sink.on_event(event).unwrap();
    }
    for snapshot in &s.snapshots {
        sink.on_snapshot(snapshot).unwrap();
    }
    let files: Vec<_> = sink.finish().unwrap().into_iter().map(|f| f.path).collect();
    let opportunity_files: Vec<_> =
        files.iter().filter(|p| p.to_string_lossy().contains("opportunities")).cloned().collect();
    let from_files = Report::from_files(&opportunity_files, &options).unwrap();
    assert_eq!(from_files, from_events);

    // With the snapshots, the positive share comes from sampled spreads: 4 of 10 samples positive.
    let with_snapshots = Report::from_files(&files, &options).unwrap();
    assert_eq!(with_snapshots.positive_share_method, PositiveShareMethod::Snapshots);
    let btc = with_snapshots.groups.iter().find(|g| g.pair == "BTC/USDT").unwrap();
    assert!((btc.positive_share - 0.4).abs() < 1e-9, "{btc:?}");

    let text = with_snapshots.render_text();
    assert!(text.contains("BTC/USDT") && text.contains("by hour of day"), "{text}");
    let json = serde_json::to_value(&with_snapshots).unwrap();
    assert_eq!(json["groups"][0]["count"], 40);
    assert!(Report::from_files(&[dir.path().join("notes.txt")], &options).is_err());
}

#[cfg(feature = "plot")]
#[test]
fn plots_are_png_files() {
    use perpspread_report::plot::{write_plots, PlotOptions};
    use perpspread_sinks::files::{OpportunityRecord, SnapshotRecord};
    let s = scenario(100);
    let records: Vec<OpportunityRecord> =
        closed(&s.events).iter().map(|e| OpportunityRecord::from_opportunity(&e.opportunity)).collect();
    let snapshots: Vec<SnapshotRecord> = s.snapshots.iter().flat_map(SnapshotRecord::rows).collect();
    let dir = tempfile::tempdir().unwrap();
    let options = PlotOptions { width: 640, height: 360, ..PlotOptions::default() };
    let written = write_plots(dir.path(), &records, Some(&snapshots), &options).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["spread-BTC_USDT.png", "spread-ETH_USDT.png", "durations.png"]);
    for path in &written {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 1000);
    }
    // Without snapshots: one point per opportunity.
    let written = write_plots(&dir.path().join("events"), &records, None, &options).unwrap();
    assert_eq!(written.len(), 3);
}
