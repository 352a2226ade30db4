//! `perpspread import`: history people already own (Tardis.dev exchange-native replays) into a capture that
//! `replay` and `report` read.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use perpspread_capture::Rotation;
use perpspread_core::Venue;
use perpspread_stream::import::{import_tardis, ImportError, ImportOptions};

use crate::UserError;

/// Flags of `perpspread import`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A Tardis.dev exchange-native replay of one venue (NDJSON `{"localTimestamp", "message"}` as
    /// tardis-machine's `/replay` serves it, plain or `.gz`): `okx=FILE` (or `okex-swap=FILE`),
    /// `binance=FILE` (`binance-futures`), `bybit=FILE`. Repeat for more venues: they are merged by time.
    #[arg(long = "tardis", value_parser = venue_file, required = true)]
    tardis: Vec<(Venue, PathBuf)>,
    /// A venue's instrument list, `venue=FILE`: the body of its instruments endpoint saved to a file (OKX
    /// `/api/v5/public/instruments?instType=SWAP`, Binance `/fapi/v1/exchangeInfo`, Bybit
    /// `/v5/market/instruments-info?category=linear&limit=1000`). Without them the books replay but the
    /// engine has no pairs (contract values, tick and lot sizes are needed).
    #[arg(long = "instruments", value_parser = venue_file)]
    instruments: Vec<(Venue, PathBuf)>,
    /// The capture to write (`.jsonl`, or `.jsonl.zst` compressed); an existing file is never overwritten.
    #[arg(long)]
    out: PathBuf,
    /// Start a new capture part every this many MB (before compression).
    #[arg(long, value_parser = super::at_least_one)]
    rotate_mb: Option<u64>,
}

/// `venue=FILE`, the venue by name or by its Tardis.dev exchange id.
fn venue_file(text: &str) -> Result<(Venue, PathBuf), String> {
    let (name, path) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected <venue>=<file>"))?;
    let venue = name.parse::<Venue>().ok().or_else(|| {
        perpspread_venues::all().find(|adapter| adapter.tardis_exchange() == name).map(|adapter| adapter.venue())
    });
    let venue = venue.ok_or_else(|| {
        let known: Vec<String> =
            perpspread_venues::all().map(|a| format!("{} ({})", a.venue(), a.tardis_exchange())).collect();
        format!("unknown venue {name:?} (known: {})", known.join(", "))
    })?;
    if path.is_empty() {
        return Err(format!("{text:?}: no file after '='"));
    }
    Ok((venue, PathBuf::from(path)))
}

/// Runs the command.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    for (_, path) in args.tardis.iter().chain(&args.instruments) {
        super::require_file(path, "input")?;
    }
    let total: u64 = args.tardis.iter().filter_map(|(_, p)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    let options = ImportOptions {
        tardis: args.tardis,
        instruments: args.instruments,
        out: args.out,
        rotation: Rotation { max_bytes: args.rotate_mb.map(|mb| mb.saturating_mul(1 << 20)), max_age: None },
    };
    let stats = tokio::task::spawn_blocking(move || {
        let mut progress = Progress::new(total);
        let stats = import_tardis(&options, &mut |read| progress.show(read));
        progress.done();
        stats.map(|stats| (stats, options.out))
    })
    .await?;
    let (stats, out) = stats.map_err(|error| match error {
        ImportError::Capture(_) | ImportError::Io { .. } => anyhow::Error::from(error),
        other => UserError(other.to_string()).into(),
    })?;
    let per_venue: Vec<String> =
        Venue::ALL.iter().filter(|v| stats.records[**v] > 0).map(|v| format!("{v} {}", stats.records[*v])).collect();
    let span = stats.span_ns.map_or(0.0, |(first, last)| (last - first) as f64 / 1e9);
    eprintln!(
        "imported {} records ({}) spanning {span:.1} s, {} disconnect marker{} passed over, into {}",
        Venue::ALL.iter().map(|v| stats.records[*v]).sum::<u64>(),
        per_venue.join(", "),
        stats.disconnects,
        if stats.disconnects == 1 { "" } else { "s" },
        stats.parts.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    eprintln!("next: perpspread replay {0}   or   perpspread report {0}", out.display());
    Ok(())
}

/// A progress line on a terminal's stderr (nothing when stderr is not a terminal).
struct Progress {
    total: u64,
    started: Instant,
    shown: Option<Instant>,
    on_terminal: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress { total, started: Instant::now(), shown: None, on_terminal: std::io::stderr().is_terminal() }
    }

    fn show(&mut self, read: u64) {
        if !self.on_terminal || self.shown.is_some_and(|at| at.elapsed() < Duration::from_millis(250)) {
            return;
        }
        self.shown = Some(Instant::now());
        let mb = |bytes: u64| bytes as f64 / 1e6;
        let share = if self.total == 0 { 100.0 } else { read as f64 / self.total as f64 * 100.0 };
        let rate = mb(read) / self.started.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(
            std::io::stderr(),
            "\rimporting: {:.1} of {:.1} MB read ({share:.0} %), {rate:.1} MB/s   ",
            mb(read),
            mb(self.total)
        );
    }

    fn done(&self) {
        if self.on_terminal && self.shown.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}
