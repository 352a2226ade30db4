//! The library half of the `perpspread` binary: its configuration model, shared with the fuzz targets.

pub mod config;

/// Entry points for the cargo-fuzz targets in `fuzz/` (and the test that replays their corpora).
#[cfg(feature = "fuzz")]
pub mod fuzz {
    /// Every configuration file format: `--config`, `sim --sim-config` and `sim --scenario`. None may panic.
    pub fn config_files(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let _ = crate::config::Config::parse(text, "fuzz input");
        let _ = perpspread_sim::SimConfig::from_toml(text);
        let _ = perpspread_sim::FaultScenario::from_toml(text);
    }
}
