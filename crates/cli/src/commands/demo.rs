//! `perpspread demo`: the simulator in-process, with dislocations, watched by `monitor`.

use crate::commands::monitor;
use crate::commands::sim::dislocation_schedule;
use crate::config::Config;
use crate::UserError;

/// Flags of `perpspread demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Stop after this many seconds (default: until Ctrl-C / `q`).
    #[arg(long, value_parser = crate::commands::at_least_one)]
    duration_s: Option<u64>,
    /// JSON lines instead of the dashboard.
    #[arg(long)]
    json: bool,
    /// Also record every received frame to this capture file (then try `replay` or `report --plot` on it).
    #[arg(long)]
    record: Option<std::path::PathBuf>,
    #[command(flatten)]
    outputs: crate::outputs::OutputArgs,
}

/// Runs the command.
pub async fn run(mut config: Config, args: Args) -> anyhow::Result<()> {
    let mut sim_config = perpspread_sim::SimConfig { seed: args.seed, ..Default::default() };
    sim_config.dislocations = dislocation_schedule(&sim_config, 500, 6_000, 30.0);
    let sim = perpspread_sim::start(sim_config).await.map_err(|e| UserError(e.to_string()))?;
    tracing::info!("demo: simulator at {}", super::sim::endpoint_flags(&sim));
    super::sim::point_at(&mut config, &sim);
    let args = monitor::Args {
        symbols: Vec::new(),
        top: None,
        all: true,
        json: args.json,
        record: args.record,
        include_funding: false,
        horizon: None,
        duration_s: args.duration_s,
        shard: None,
        outputs: args.outputs,
    };
    let result = monitor::run(&config, args).await;
    sim.shutdown().await;
    result
}
