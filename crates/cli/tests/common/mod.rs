//! Shared by the CLI tests that run against the simulator.
#![allow(dead_code)]

use perpspread_core::Venue;
use perpspread_sim::SimHandle;

/// `--rest <venue>=<url> --ws <venue>=<url>` for every venue the simulator serves.
pub fn sim_flags(sim: &SimHandle) -> Vec<String> {
    Venue::ALL
        .into_iter()
        .filter_map(|venue| {
            let (rest, ws) = sim.endpoints(venue)?;
            Some(["--rest".to_owned(), format!("{venue}={rest}"), "--ws".to_owned(), format!("{venue}={ws}")])
        })
        .flatten()
        .collect()
}
