//! A report from captures: each recording (a file, or the parts of a rotated one) is replayed through the
//! same feeds, books and engine as live, collecting closed opportunities, book health and the funding
//! settled inside it.

use std::path::PathBuf;

use perpspread_capture::CaptureError;
use perpspread_core::engine::{EngineConfig, EventKind};
use perpspread_core::feed::Feed;
use perpspread_core::Venue;
use perpspread_sinks::files::OpportunityRecord;
use perpspread_stream::{replay_with, ReplayOptions};

use crate::health::HealthCollector;
use crate::latency::LatencyProbe;
use crate::report::{Report, ReportOptions};
use crate::settled::SettledFunding;
use crate::timeline::{TimelineCollector, Timelines};

/// Errors of a report from captures.
#[derive(Debug, thiserror::Error)]
pub enum ReplayReportError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("{0}: the capture is empty (no record to replay)")]
    Empty(PathBuf),
}

/// A report from captures, the closed opportunities it was built from (for charts) and what the reader
/// should be told about the input (damaged or cut captures, missing instrument lists).
#[derive(Debug)]
pub struct CaptureReport {
    pub report: Report,
    pub records: Vec<OpportunityRecord>,
    pub warnings: Vec<String>,
    /// What happened over time, for charts (with `options.timelines`).
    pub timelines: Option<Timelines>,
}

/// Replays every recording among `captures` (parts of one rotated recording are replayed as one) with the
/// engine configured by `engine`, and reports on all of them together.
pub fn report_from_captures(
    captures: &[PathBuf],
    engine: &EngineConfig,
    options: &ReportOptions,
) -> Result<CaptureReport, ReplayReportError> {
    let mut health = HealthCollector::default();
    // Only what was asked for is collected during the replay.
    let mut latency =
        (!options.latencies_ms.is_empty()).then(|| LatencyProbe::new(&options.latencies_ms, engine.open_bp));
    let mut timelines = options.timelines.then(TimelineCollector::default);
    let mut realised = Vec::new();
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut pipelines = Vec::new();
    for parts in perpspread_capture::group_parts(captures) {
        let capture = &parts[0];
        let mut settled = SettledFunding::new();
        let replay_options = ReplayOptions { engine: Some(engine.clone()), ..ReplayOptions::default() };
        let (replayed, pipeline) = replay_with(&parts, &replay_options, |step| {
            let (feed, events) = (step.pipeline.feed(step.venue), step.pipeline.last_events());
            health.on_events(step.venue, feed, events);
            settled.on_events(step.venue, feed, events);
            if let Some(latency) = latency.as_mut() {
                latency.on_step(step);
            }
            if let Some(timelines) = timelines.as_mut() {
                timelines.on_step(step);
            }
        })?;
        if let Some(latency) = latency.as_mut() {
            latency.end_capture();
        }
        if replayed.is_empty() {
            return Err(ReplayReportError::Empty(capture.clone()));
        }
        match &replayed.error {
            Some(error) if replayed.cut_short => warnings.push(error.to_string()),
            // The statistics still cover what was readable; say that the rest is missing.
            Some(error) => {
                warnings.push(format!("{} is damaged, reported up to the damage: {error}", capture.display()))
            }
            None => {}
        }
        if replayed.pairs.is_none() {
            warnings.push(format!("{} holds no instrument lists of two venues: no opportunities", capture.display()));
        }
        realised.extend(settled.realised(&replayed.pair_list));
        records.extend(
            replayed
                .opportunities
                .unwrap_or_default()
                .iter()
                .filter(|e| e.event == EventKind::Closed)
                .filter_map(OpportunityRecord::from_closed_event),
        );
        pipelines.push(pipeline);
    }
    let feeds: Vec<&dyn Feed> = pipelines.iter().flat_map(|p| Venue::ALL.map(|v| p.feed(v))).collect();
    let mut report = Report::from_records(&records, None, options)
        .with_book_health(health.finish(&feeds))
        .with_realised_funding(realised);
    if let Some(latency) = latency {
        report.capture_at_latency = latency.finish();
    }
    let timelines = timelines.map(TimelineCollector::finish);
    Ok(CaptureReport { report, records, warnings, timelines })
}
