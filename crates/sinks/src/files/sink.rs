//! [`FileSink`] writes closed opportunities and spread snapshots into hourly files; [`FileSinkHandle`] runs one
//! on its own thread behind a bounded queue so that encoding and disk writes never stall the market-data loop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use perpspread_core::engine::{EventKind, OpportunityEvent};

use super::rolling::{Rolling, WrittenFile};
use super::schema::{FlatRecord, OpportunityRecord, SnapshotRecord, OPPORTUNITY_COLUMNS, SNAPSHOT_COLUMNS};
use super::{io_error, FileError, FileFormat};
use crate::snapshot::SpreadSnapshot;

/// File output settings.
#[derive(Debug, Clone)]
pub struct FileSinkConfig {
    /// Output directory (created if missing).
    pub dir: PathBuf,
    pub format: FileFormat,
    /// Rows per Parquet row group (rows are buffered in memory until then).
    pub row_group_rows: usize,
    /// Write spread snapshots too (`spreads-*`).
    pub snapshots: bool,
}

impl FileSinkConfig {
    /// Parquet into `dir`, with snapshots.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSinkConfig { dir: dir.into(), format: FileFormat::Parquet, row_group_rows: 16_384, snapshots: true }
    }
}

/// Writes closed opportunities and spread snapshots into hourly files; see the [module docs](super).
pub struct FileSink {
    opportunities: Rolling,
    spreads: Option<Rolling>,
    finished: bool,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink").field("dir", &self.opportunities.dir).finish_non_exhaustive()
    }
}

impl FileSink {
    /// Creates the directory; files are opened with their first row.
    pub fn create(config: &FileSinkConfig) -> Result<FileSink, FileError> {
        std::fs::create_dir_all(&config.dir).map_err(io_error(&config.dir))?;
        let rolling = |prefix, columns| Rolling {
            dir: config.dir.clone(),
            prefix,
            columns,
            format: config.format,
            row_group_rows: config.row_group_rows,
            open: None,
            closed: Vec::new(),
        };
        Ok(FileSink {
            opportunities: rolling("opportunities", OPPORTUNITY_COLUMNS),
            spreads: config.snapshots.then(|| rolling("spreads", SNAPSHOT_COLUMNS)),
            finished: false,
        })
    }

    /// Writes the event's row if it is a `closed` event (others are ignored).
    pub fn on_event(&mut self, event: &OpportunityEvent) -> Result<(), FileError> {
        match OpportunityRecord::from_closed_event(event) {
            Some(record) => self.write_opportunity(&record),
            None => Ok(()),
        }
    }

    /// Writes one closed opportunity row.
    pub(crate) fn write_opportunity(&mut self, record: &OpportunityRecord) -> Result<(), FileError> {
        let ts = record.closed_ns.unwrap_or(record.last_ns);
        self.opportunities.write(ts, &record.cells())
    }

    /// Writes a snapshot's rows (ignored when snapshots are off).
    pub fn on_snapshot(&mut self, snapshot: &SpreadSnapshot) -> Result<(), FileError> {
        let Some(spreads) = self.spreads.as_mut() else {
            return Ok(());
        };
        for row in SnapshotRecord::rows(snapshot) {
            spreads.write(row.ts_ns, &row.cells())?;
        }
        Ok(())
    }

    /// Writes buffered rows of the open files (Parquet: as a row group). Files stay open.
    pub fn flush(&mut self) -> Result<(), FileError> {
        self.opportunities.flush()?;
        self.spreads.as_mut().map_or(Ok(()), Rolling::flush)
    }

    /// Closes the open files; returns every file written.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>, FileError> {
        self.close_all()
    }

    fn close_all(&mut self) -> Result<Vec<WrittenFile>, FileError> {
        self.finished = true;
        let first = self.opportunities.close();
        let second = self.spreads.as_mut().map_or(Ok(()), Rolling::close);
        first.and(second)?;
        let mut files = std::mem::take(&mut self.opportunities.closed);
        if let Some(spreads) = self.spreads.as_mut() {
            files.append(&mut spreads.closed);
        }
        Ok(files)
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if !self.finished {
            if let Err(error) = self.close_all() {
                tracing::error!("closing output files: {error}");
            }
        }
    }
}

enum Job {
    Event(Box<OpportunityEvent>),
    Snapshot(Box<SpreadSnapshot>),
    Flush,
}

/// A [`FileSink`] on its own thread behind a bounded queue: [`FileSinkHandle::on_event`] and
/// [`FileSinkHandle::on_snapshot`] never block (a full queue drops and counts).
#[derive(Debug)]
pub struct FileSinkHandle {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<Result<Vec<WrittenFile>, FileError>>>,
    dropped: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

impl FileSinkHandle {
    /// Creates the sink and starts its writer thread; `queue` is the number of pending jobs accepted.
    pub fn spawn(config: &FileSinkConfig, queue: usize) -> Result<FileSinkHandle, FileError> {
        let mut sink = FileSink::create(config)?;
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let errors = Arc::new(AtomicU64::new(0));
        let thread_errors = errors.clone();
        let thread = std::thread::Builder::new()
            .name("perpspread-files".into())
            .spawn(move || {
                for job in rx {
                    let result = match job {
                        Job::Event(event) => sink.on_event(&event),
                        Job::Snapshot(snapshot) => sink.on_snapshot(&snapshot),
                        Job::Flush => sink.flush(),
                    };
                    if let Err(error) = result {
                        if thread_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            tracing::error!("file output: {error}");
                        }
                    }
                }
                sink.finish()
            })
            .map_err(io_error(&config.dir))?;
        Ok(FileSinkHandle { tx: Some(tx), thread: Some(thread), dropped: Arc::default(), errors })
    }

    fn send(&self, job: Job) -> bool {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.try_send(job).is_ok());
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Queues an event (only `closed` events produce rows; others are not even queued).
    pub fn on_event(&self, event: &OpportunityEvent) -> bool {
        event.event != EventKind::Closed || self.send(Job::Event(Box::new(event.clone())))
    }

    /// Queues a snapshot.
    pub fn on_snapshot(&self, snapshot: &SpreadSnapshot) -> bool {
        self.send(Job::Snapshot(Box::new(snapshot.clone())))
    }

    /// Asks the writer to flush buffered rows (e.g. once a minute).
    pub fn flush(&self) -> bool {
        self.send(Job::Flush)
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Write errors so far (the first is logged).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Drains the queue, closes every file and returns them.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>, FileError> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(FileError::Io {
                path: PathBuf::from("perpspread-files"),
                source: std::io::Error::other("file writer thread panicked"),
            }),
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for FileSinkHandle {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Err(error)) => tracing::error!("closing output files: {error}"),
                Err(_) => tracing::error!("file writer thread panicked"),
                Ok(Ok(_)) => {}
            }
        }
    }
}
