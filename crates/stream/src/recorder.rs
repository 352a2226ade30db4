//! Shared capture recorder: REST responses (via [`ResponseObserver`]) and WebSocket frames go into one
//! capture file in receive order.

use std::path::Path;
use std::sync::{Arc, Mutex};

use perpspread_capture::{CaptureError, CaptureWriter, RecordRef, Rotation, Src};
use perpspread_core::Venue;
use perpspread_net::rest::ResponseObserver;

/// A capture writer shared between tasks. Writes are buffered; [`Recorder::flush`] pushes them to the
/// file (the live loop calls it every second and on shutdown).
///
/// A recording that cannot be written (a full disk) fails once: one error is logged, the writer is dropped
/// (nothing floods the log), and [`Recorder::failure`] / [`Recorder::failed`] tell whoever must act — `record`
/// stops with exit 1, `monitor --record` raises an alarm.
#[derive(Clone)]
pub struct Recorder {
    writer: Arc<Mutex<Option<CaptureWriter>>>,
    failure: Arc<Mutex<Option<String>>>,
    failed: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    /// Creates the capture file.
    pub fn create(path: &Path, rotation: Rotation) -> Result<Self, CaptureError> {
        Ok(Recorder {
            writer: Arc::new(Mutex::new(Some(CaptureWriter::create(path, rotation)?))),
            failure: Arc::default(),
            failed: Arc::default(),
        })
    }

    /// Appends one record. Never fatal to market data: a failure stops the recording (see the type's docs).
    pub fn write(&self, venue: Venue, src: Src, url: Option<&str>, data: &str, ts_ns: u64) {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = guard.as_mut() {
            let record = RecordRef { ts_ns, venue: venue.as_str(), src, url, data };
            if let Err(error) = writer.write(record) {
                self.fail(&mut guard, error);
            }
        }
    }

    /// Pushes buffered records to disk.
    pub fn flush(&self) {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Err(error)) = guard.as_mut().map(CaptureWriter::flush) {
            self.fail(&mut guard, error);
        }
    }

    /// Why the recording stopped, once it failed.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Completes when the recording fails (at once if it already has).
    pub async fn failed(&self) {
        loop {
            let notified = self.failed.notified();
            if self.failure().is_some() {
                return;
            }
            notified.await;
        }
    }

    fn fail(&self, writer: &mut Option<CaptureWriter>, error: CaptureError) {
        let records = writer.as_ref().map_or(0, CaptureWriter::records);
        let message = format!("recording failed after {records} records: {error}");
        tracing::error!("{message}; nothing more is recorded");
        // Dropping the writer closes what can be closed; later writes are no-ops.
        *writer = None;
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
        self.failed.notify_waiters();
    }

    /// Closes the file cleanly; later writes are ignored. Returns the records written.
    pub fn finish(&self) -> Result<u64, CaptureError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        match guard.take() {
            Some(writer) => {
                let records = writer.records();
                writer.finish()?;
                Ok(records)
            }
            None => Ok(0),
        }
    }
}

impl ResponseObserver for Recorder {
    fn observe(&self, venue: Venue, path_and_query: &str, body: &[u8], received_unix_ns: u64) {
        let text = String::from_utf8_lossy(body);
        self.write(venue, Src::Rest, Some(path_and_query), &text, received_unix_ns);
    }
}
