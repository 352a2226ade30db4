//! `perpspread tail`: follow the merged opportunity stream in Redis (all shards) as JSON lines.

use std::io::Write;

use perpspread_sinks::{Tail, TailStart};

use crate::UserError;

/// Flags of `perpspread tail`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Redis URL, e.g. redis://127.0.0.1:6379.
    #[arg(long)]
    redis: String,
    /// Where to start: `new` (only new events), `all` (from the beginning) or a stream entry id.
    #[arg(long, default_value = "new")]
    from: TailStart,
}

/// Runs the command until Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let tail = Tail::opportunities(&args.redis, args.from).map_err(|e| UserError(e.to_string()))?;
    crate::outputs::require_redis(&args.redis).await?;
    let mut out = std::io::stdout().lock();
    tokio::select! {
        result = tail.run(|entry| writeln!(out, "{}", entry.json).and_then(|_| out.flush()).is_ok()) => {
            result.map_err(|e| UserError(format!("cannot read the opportunity stream: {e}")))?;
        }
        _ = super::shutdown_signal(None) => {}
    }
    Ok(())
}
