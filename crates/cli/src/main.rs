//! `perpspread`: cross-exchange executable spreads on perpetual swaps (OKX v5, Binance USDⓈ-M, Bybit v5 linear).

mod commands;
mod funding_refresh;
mod outputs;
mod tui;
mod venues;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use perpspread::config::{self, Config, ConfigError};

/// Cross-exchange executable spreads on perpetual swaps (OKX v5, Binance USDⓈ-M, Bybit v5 linear).
#[derive(Debug, Parser)]
#[command(name = "perpspread", version, about, long_about = None)]
struct Cli {
    /// TOML config file overriding the embedded defaults (see config/default.toml).
    #[arg(long, global = true, env = "PERPSPREAD_CONFIG")]
    config: Option<PathBuf>,
    /// Venues to use, e.g. `okx,binance` (default: every venue configured in `[venues.<name>]`).
    #[arg(long, global = true, value_delimiter = ',')]
    venues: Vec<perpspread_core::Venue>,
    /// A venue's REST base URL, as `<venue>=<url>` (e.g. a simulator's `okx=http://127.0.0.1:PORT`); repeatable.
    #[arg(long, global = true, value_parser = parse_endpoint)]
    rest: Vec<(perpspread_core::Venue, String)>,
    /// A venue's WebSocket URL, as `<venue>=<url>`; repeatable.
    #[arg(long, global = true, value_parser = parse_endpoint)]
    ws: Vec<(perpspread_core::Venue, String)>,
    /// TOML file with API keys (`[okx] api_key, secret, passphrase`, `[binance]`/`[bybit] api_key, secret`) used only to
    /// read the account's real fee rates; env PERPSPREAD_<VENUE>_API_{KEY,SECRET}[,_PASSPHRASE] also work.
    #[arg(long, global = true, env = "PERPSPREAD_KEYS_FILE")]
    keys: Option<PathBuf>,
    /// More logs on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: live executable spreads and opportunities (dashboard on a terminal, JSON lines otherwise).
    Monitor(commands::monitor::Args),
    /// Run the built-in exchange simulator with dislocations and watch it with `monitor` (no exchange access needed).
    Demo(commands::demo::Args),
    /// Run the local exchange simulator (OKX v5, Binance USDⓈ-M and Bybit v5 wire protocols), or generate a capture.
    Sim(commands::sim::Args),
    /// Statistics of opportunities from captures (replayed through the engine) or --out-dir files.
    Report(commands::report::Args),
    /// Follow the merged opportunity stream published to Redis by one or many `monitor --redis` shards.
    Tail(commands::tail::Args),
    /// Measure throughput, per-message latency and memory of the books + engine path.
    Bench(commands::bench::Args),
    /// List the paired instrument universe (both venue symbols, multipliers, tick and lot sizes).
    Instruments(commands::instruments::Args),
    /// One-shot REST scan of executable spreads, sorted by net bp.
    Scan(commands::scan::Args),
    /// One-shot ranking of cross-venue funding trades by carry over a holding horizon, net of the round trip.
    Funding(commands::funding::Args),
    /// Stream live books (verified, resynced) and record every frame to a capture file.
    Record(commands::record::Args),
    /// Replay a capture through the parsers, books and integrity checks; report every book.
    Replay(commands::replay::Args),
    /// Convert history you already own (Tardis.dev exchange-native replays) into a capture for replay/report.
    Import(commands::import::Args),
}

/// An error the user caused and can fix (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UserError(pub String);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("{}", short_usage());
            return ExitCode::from(2);
        }
        Err(error) if error.use_stderr() => {
            let subcommand = std::env::args_os()
                .skip(1)
                .filter_map(|arg| arg.into_string().ok())
                .find(|arg| Cli::command().find_subcommand(arg).is_some());
            eprintln!("{}", one_line(&error.render().to_string(), subcommand.as_deref()));
            return ExitCode::from(2);
        }
        Err(help_or_version) => {
            let _ = help_or_version.print();
            return ExitCode::SUCCESS;
        }
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // Output cut short by the reader (`perpspread instruments --json | head`) is not a failure.
        Err(error) if error.chain().any(is_broken_pipe) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", single_line(&format!("{error:#}")));
            if error.is::<UserError>() || error.is::<ConfigError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// What `perpspread` without a command prints: the usage, the commands, where the help is.
fn short_usage() -> String {
    let command = Cli::command();
    let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
    format!(
        "{}\ncommands: {}\nthe main job: perpspread monitor (see perpspread --help)",
        command.clone().render_usage().to_string().trim(),
        names.join(", ")
    )
}

/// An error message on one line: parser messages that span lines (TOML's, with a source excerpt and a
/// caret under the fault) keep their text lines, joined by "; ", and drop the excerpt.
fn single_line(message: &str) -> String {
    let excerpt = |line: &str| line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ').starts_with('|');
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|line| !line.is_empty() && !excerpt(line)).collect();
    lines.join("; ")
}

fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Clap's multi-line flag error as one line: what is wrong and where the help is
/// (`error: unexpected argument '--bogus' found (see perpspread monitor --help)`).
fn one_line(rendered: &str, subcommand: Option<&str>) -> String {
    // Everything before the usage line (missing argument names and tips follow the first line).
    let what = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let command = match subcommand {
        Some(subcommand) => format!("perpspread {subcommand}"),
        None => "perpspread".to_owned(),
    };
    format!("{what} (see {command} --help)")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sim(args) => return commands::sim::run(args).await,
        Command::Bench(args) => return commands::bench::run(args).await,
        Command::Tail(args) => return commands::tail::run(args).await,
        Command::Import(args) => return commands::import::run(args).await,
        _ => {}
    }
    let endpoint_flag = !cli.rest.is_empty() || !cli.ws.is_empty();
    if matches!(cli.command, Command::Demo(_)) && endpoint_flag {
        return Err(UserError(
            "demo always watches its built-in simulator: drop --rest/--ws (or run `perpspread sim` and point \
             `monitor` at it)"
                .into(),
        )
        .into());
    }
    let config = load_config(&cli)?;
    match cli.command {
        Command::Monitor(args) => commands::monitor::run(&config, args).await,
        Command::Instruments(args) => commands::instruments::run(&config, args).await,
        Command::Scan(args) => commands::scan::run(&config, args).await,
        Command::Funding(args) => commands::funding::run(&config, args).await,
        Command::Record(args) => commands::record::run(&config, args).await,
        Command::Demo(args) => commands::demo::run(config, args).await,
        Command::Replay(args) => commands::replay::run(&config, args).await,
        Command::Report(args) => commands::report::run(&config, args).await,
        Command::Sim(_) | Command::Bench(_) | Command::Tail(_) | Command::Import(_) => unreachable!("handled above"),
    }
}

fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    // Flags override the environment: checked once they are applied.
    let mut config = Config::read(cli.config.as_deref())?;
    for (venue, url) in &cli.rest {
        config.venue_mut(*venue)?.rest_url = url.clone();
    }
    for (venue, url) in &cli.ws {
        config.venue_mut(*venue)?.ws_url = url.clone();
    }
    config.keys_file = cli.keys.clone();
    config.only_venues = (!cli.venues.is_empty()).then(|| cli.venues.clone());
    config.validate()?;
    Ok(config)
}

/// `<venue>=<url>`.
fn parse_endpoint(text: &str) -> Result<(perpspread_core::Venue, String), String> {
    let (venue, url) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected <venue>=<url>"))?;
    Ok((venue.parse()?, url.to_owned()))
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: logs redirected to a file stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}
