//! Configuration: embedded defaults, then an optional TOML file, then environment, then flags.

use std::path::Path;
use std::time::Duration;

use perpspread_core::{FeeModel, Venue};
use perpspread_net::RestConfig;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The defaults compiled into the binary (also the documented example file).
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/default.toml");

/// A configuration problem the user can fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("invalid config {origin}: {error}")]
    Parse { origin: String, error: String },
    #[error("invalid setting {key} = {value}: {why}")]
    Invalid { key: String, value: String, why: String },
    #[error("invalid setting {key} = {value}: not a valid URL ({error})")]
    Url { key: String, value: String, error: url::ParseError },
}

/// Everything perpspread can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[venues.<name>]`: each venue's endpoints, fees and options, by venue name.
    pub venues: std::collections::BTreeMap<String, VenueConfig>,
    pub fees: FeesConfig,
    pub funding: FundingConfig,
    pub rest: RestSettings,
    pub scan: ScanConfig,
    pub monitor: MonitorConfig,
    /// API key file (`--keys`, `PERPSPREAD_KEYS_FILE`); never part of the TOML config.
    #[serde(skip)]
    pub keys_file: Option<std::path::PathBuf>,
    /// Venues to use (`--venues`); `None` = every configured venue.
    #[serde(skip)]
    pub only_venues: Option<Vec<Venue>>,
}

/// Defaults of `perpspread monitor`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    pub top: usize,
    pub sizes_usd: Vec<Decimal>,
    pub open_threshold_bp: f64,
    pub close_threshold_bp: f64,
    pub max_book_age_ms: u64,
    pub max_latency_ms: f64,
    pub update_interval_ms: u64,
    pub include_funding: bool,
    pub silence_timeout_s: u64,
}

impl MonitorConfig {
    /// Checks the monitor settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.top == 0 {
            return Err(invalid("monitor.top", 0, "watch at least one pair"));
        }
        if self.sizes_usd.is_empty() || self.sizes_usd.iter().any(|s| *s <= Decimal::ZERO) {
            return Err(invalid(
                "monitor.sizes_usd",
                format!("{:?}", self.sizes_usd),
                "give at least one positive size",
            ));
        }
        if !(self.open_threshold_bp.is_finite() && self.close_threshold_bp.is_finite()) {
            return Err(invalid("monitor.*_threshold_bp", "non-finite", "thresholds must be numbers"));
        }
        if self.close_threshold_bp > self.open_threshold_bp {
            return Err(invalid(
                "monitor.close_threshold_bp",
                self.close_threshold_bp,
                "must not exceed open_threshold_bp (close below where you open)",
            ));
        }
        if self.max_book_age_ms == 0 {
            return Err(invalid("monitor.max_book_age_ms", 0, "the guard must be positive"));
        }
        // Written so that NaN fails too.
        if !(self.max_latency_ms > 0.0 && self.max_latency_ms.is_finite()) {
            return Err(invalid("monitor.max_latency_ms", number(self.max_latency_ms), "the guard must be positive"));
        }
        if self.silence_timeout_s == 0 {
            return Err(invalid("monitor.silence_timeout_s", 0, "a stream needs time to deliver"));
        }
        Ok(())
    }
}

/// `[venues.<name>]`: endpoints, fees and the venue's own options.
#[derive(Debug, Clone, Deserialize)]
pub struct VenueConfig {
    pub rest_url: String,
    pub ws_url: String,
    /// Taker fee without API keys, bp.
    pub taker_fee_bp: f64,
    /// Levels a side a REST book fetch asks for (`scan`; clamped to what the venue serves).
    pub book_depth: usize,
    /// Anything else: the venue's own settings, checked by its adapter.
    #[serde(flatten)]
    pub options: toml::Table,
}

/// How fees are counted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeesConfig {
    pub count_exit: bool,
}

/// Funding carry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundingConfig {
    /// Holding horizon of the carry, hours (flag `--horizon`).
    pub horizon_h: f64,
    /// `monitor` re-reads every leg's funding over REST this often, minutes (and at once when a stream shows
    /// that a leg's interval changed); 0 = only at start.
    pub refresh_min: f64,
}

impl FundingConfig {
    /// Checks the horizon: positive, at most a year.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.horizon_h > 0.0 && self.horizon_h <= 24.0 * 365.0) {
            return Err(invalid("funding.horizon_h", number(self.horizon_h), "between 0 and 8760 hours"));
        }
        if !(self.refresh_min >= 0.0 && self.refresh_min <= 24.0 * 60.0) {
            return Err(invalid("funding.refresh_min", number(self.refresh_min), "between 0 and 1440 minutes"));
        }
        Ok(())
    }

    /// The horizon in ms.
    pub fn horizon_ms(&self) -> u64 {
        (self.horizon_h * 3_600_000.0).round() as u64
    }

    /// How often `monitor` re-reads funding (`None`: only at start).
    pub fn refresh_every(&self) -> Option<std::time::Duration> {
        (self.refresh_min > 0.0).then(|| std::time::Duration::from_secs_f64(self.refresh_min * 60.0))
    }
}

/// REST client behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSettings {
    pub timeout_s: u64,
    pub max_attempts: u32,
}

/// Defaults of `perpspread scan`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    pub top: usize,
    #[serde(default)]
    pub size_usd: Option<Decimal>,
    #[serde(default)]
    pub size_base: Option<Decimal>,
    pub min_net_bp: f64,
    pub concurrency: usize,
}

/// Partial config as read from a user's file: every key optional.
type Table = toml::Table;

/// `line L, column C` (both from 1) of a byte offset in `text`.
fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    format!("line {line}, column {column}")
}

impl Config {
    /// Loads the embedded defaults, merges `file` over them, then the environment, and checks the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let config = Self::read(file)?;
        config.validate()?;
        Ok(config)
    }

    /// [`Config::load`] without the final check, for callers that apply command-line flags over the
    /// environment first (a bad value the flags replace is then no error); they must call
    /// [`Config::validate`].
    pub fn read(file: Option<&Path>) -> Result<Config, ConfigError> {
        let text = file
            .map(|path| {
                std::fs::read_to_string(path)
                    .map_err(|error| ConfigError::Read { path: path.display().to_string(), error })
            })
            .transpose()?;
        let origin = file.map_or("(embedded defaults)".to_owned(), |p| p.display().to_string());
        let mut config = Self::merged(text.as_deref(), &origin)?;
        config.apply_env(|key| std::env::var(key).ok());
        Ok(config)
    }

    /// Merges a config file's text over the embedded defaults and checks every setting (the environment
    /// is not read); `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config = Self::merged(Some(text), origin)?;
        config.validate()?;
        Ok(config)
    }

    fn merged(text: Option<&str>, origin: &str) -> Result<Config, ConfigError> {
        let mut table: Table = DEFAULT_CONFIG.parse().map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: "(embedded defaults)".into(),
            error: e.to_string(),
        })?;
        if let Some(text) = text {
            let syntax_error = |e: toml::de::Error| {
                let error = match e.span() {
                    Some(span) => format!("{}: {}", position(text, span.start), e.message()),
                    None => e.message().to_owned(),
                };
                ConfigError::Parse { origin: origin.to_owned(), error }
            };
            merge(&mut table, text.parse().map_err(syntax_error)?);
        }
        // Deserialized through `serde_path_to_error` so that a wrong type names its key.
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let error = match e.path().to_string().as_str() {
                "." => e.inner().message().to_owned(),
                key => format!("{key}: {}", e.inner().message()),
            };
            ConfigError::Parse { origin: origin.to_owned(), error }
        })
    }

    /// Applies `PERPSPREAD_<VENUE>_REST` / `_WS` endpoint overrides (e.g. `PERPSPREAD_OKX_REST`).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        for (name, venue) in &mut self.venues {
            let prefix = format!("PERPSPREAD_{}", name.to_ascii_uppercase());
            for (suffix, slot) in [("REST", &mut venue.rest_url), ("WS", &mut venue.ws_url)] {
                if let Some(value) = var(&format!("{prefix}_{suffix}")).filter(|v| !v.trim().is_empty()) {
                    *slot = value;
                }
            }
        }
    }

    /// Checks values a user could get wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.venues.is_empty() {
            return Err(invalid("venues", "none", "configure at least two venues"));
        }
        for (name, venue) in &self.venues {
            let key = |field: &str| format!("venues.{name}.{field}");
            let adapter = perpspread_venues::adapter(name.parse::<Venue>().map_err(|why| ConfigError::Invalid {
                key: format!("venues.{name}"),
                value: "…".into(),
                why,
            })?);
            if !(0.0..=1000.0).contains(&venue.taker_fee_bp) {
                return Err(invalid(
                    key("taker_fee_bp"),
                    number(venue.taker_fee_bp),
                    "a fee must be between 0 and 1000 bp",
                ));
            }
            check_url(key("rest_url"), &venue.rest_url, &["http", "https"], "an http:// or https:// URL")?;
            check_url(key("ws_url"), &venue.ws_url, &["ws", "wss"], "a ws:// or wss:// URL")?;
            let max = adapter.max_book_depth();
            if !(1..=max).contains(&venue.book_depth) {
                return Err(ConfigError::Invalid {
                    key: key("book_depth"),
                    value: venue.book_depth.to_string(),
                    why: format!("{name} serves 1 to {max} levels per side"),
                });
            }
            adapter.check_options(&venue.settings().options).map_err(|why| ConfigError::Invalid {
                key: format!("venues.{name}"),
                value: "…".into(),
                why: why.to_string(),
            })?;
        }
        if let Some(only) = &self.only_venues {
            if let Some(missing) = only.iter().find(|v| !self.venues.contains_key(v.as_str())) {
                return Err(invalid("--venues", missing, "not configured: add a [venues.<name>] section"));
            }
            if only.len() < 2 {
                return Err(invalid("--venues", only.len(), "a spread needs at least two venues"));
            }
        }
        if self.rest.max_attempts == 0 {
            return Err(invalid("rest.max_attempts", 0, "at least one attempt is needed"));
        }
        if self.rest.timeout_s == 0 {
            return Err(invalid("rest.timeout_s", 0, "must be at least 1 s"));
        }
        self.scan.validate()?;
        self.funding.validate()?;
        self.monitor.validate()
    }

    /// The venues to use, in [`Venue::ALL`] order, with their settings.
    pub fn enabled_venues(&self) -> Vec<(Venue, &VenueConfig)> {
        Venue::ALL
            .into_iter()
            .filter(|v| self.only_venues.as_ref().is_none_or(|only| only.contains(v)))
            .filter_map(|v| Some((v, self.venues.get(v.as_str())?)))
            .collect()
    }

    /// The settings of `venue`, to change (an error when it is not configured).
    pub fn venue_mut(&mut self, venue: Venue) -> Result<&mut VenueConfig, ConfigError> {
        self.venues.get_mut(venue.as_str()).ok_or_else(|| {
            invalid(format!("venues.{venue}"), "missing", "not configured: add a [venues.<name>] section")
        })
    }

    /// The settings of `venue`, if configured.
    pub fn venue(&self, venue: Venue) -> Option<&VenueConfig> {
        self.venues.get(venue.as_str())
    }

    /// Fee model from the venues' taker fees.
    pub fn fee_model(&self) -> FeeModel {
        let mut model = FeeModel::uniform(5.0, self.fees.count_exit);
        for (venue, settings) in self.enabled_venues() {
            model = model.with_taker_bp(venue, settings.taker_fee_bp);
        }
        model
    }

    /// REST client settings for a base URL.
    pub fn rest_config(&self, base_url: &str) -> RestConfig {
        RestConfig {
            timeout: Duration::from_secs(self.rest.timeout_s),
            max_attempts: self.rest.max_attempts,
            ..RestConfig::new(base_url)
        }
    }
}

impl VenueConfig {
    /// What the venue's adapter is given.
    pub fn settings(&self) -> perpspread_net::venue::VenueSettings {
        let options = serde_json::to_value(&self.options).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        perpspread_net::venue::VenueSettings {
            rest_url: self.rest_url.clone(),
            ws_url: self.ws_url.clone(),
            book_depth: self.book_depth,
            options,
        }
    }
}

impl ScanConfig {
    /// Checks the scan settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (self.size_usd, self.size_base) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "scan.size_usd/size_base",
                    "both",
                    "give a size in USDT or in base units, not both",
                ))
            }
            (None, None) => return Err(invalid("scan.size_usd", "none", "a trade size is required")),
            (Some(size), None) | (None, Some(size)) if size <= Decimal::ZERO => {
                return Err(invalid("scan.size", size, "the trade size must be positive"))
            }
            _ => {}
        }
        if self.top == 0 {
            return Err(invalid("scan.top", 0, "scan at least one pair"));
        }
        if self.concurrency == 0 {
            return Err(invalid("scan.concurrency", 0, "must be at least 1"));
        }
        if !self.min_net_bp.is_finite() {
            return Err(invalid("scan.min_net_bp", self.min_net_bp, "must be a finite number"));
        }
        Ok(())
    }
}

fn invalid(key: impl Into<String>, value: impl std::fmt::Display, why: &str) -> ConfigError {
    ConfigError::Invalid { key: key.into(), value: value.to_string(), why: why.to_owned() }
}

/// A number as shown in an error: huge or tiny magnitudes in exponent form, not hundreds of digits.
fn number(value: f64) -> String {
    if value != 0.0 && !(1e-6..1e15).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// Checks that `url` parses, has one of `schemes` and names a host.
fn check_url(key: String, url: &str, schemes: &[&str], what: &str) -> Result<(), ConfigError> {
    let shown = perpspread_net::redact_url(url);
    let parsed =
        url::Url::parse(url).map_err(|error| ConfigError::Url { key: key.clone(), value: shown.to_string(), error })?;
    if !schemes.contains(&parsed.scheme()) || parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(key, shown, what));
    }
    Ok(())
}

/// Recursively overlays `over` onto `base`.
fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(over_table)) => merge(base_table, over_table),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn embedded_defaults_are_valid() {
        let config = Config::load(None).unwrap();
        assert_eq!(config.scan.top, 20);
        assert_eq!(config.venue(Venue::Okx).unwrap().taker_fee_bp, 5.0);
        assert_eq!(config.enabled_venues().len(), config.venues.len());
        assert!(config.venues.len() >= 2);
        assert_eq!(config.fee_model().total_bp(perpspread_core::Venue::Okx, perpspread_core::Venue::Binance), 20.0);
    }

    #[test]
    fn file_overrides_then_env() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[venues.okx]\ntaker_fee_bp = 2.0\n[scan]\ntop = 3").unwrap();
        let mut config = Config::load(Some(file.path())).unwrap();
        assert_eq!(config.venue(Venue::Okx).unwrap().taker_fee_bp, 2.0);
        assert_eq!(config.venue(Venue::Binance).unwrap().taker_fee_bp, 5.0);
        assert_eq!(config.fee_model().taker_bp(Venue::Okx), 2.0);
        assert_eq!(config.scan.top, 3);
        config.apply_env(|k| (k == "PERPSPREAD_OKX_REST").then(|| "http://127.0.0.1:1".to_owned()));
        assert_eq!(config.venue(Venue::Okx).unwrap().rest_url, "http://127.0.0.1:1");
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[venues.okx]\ntaker_fee_bps = 2.0").unwrap();
        let err = Config::load(Some(file.path())).unwrap_err().to_string();
        assert!(err.contains("venues.okx") && err.contains("taker_fee_bps"), "{err}");
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[venues.okx]\ntaker_fee_bp = -1.0").unwrap();
        let err = Config::load(Some(file.path())).unwrap_err().to_string();
        assert!(err.contains("venues.okx.taker_fee_bp"), "{err}");
        for (text, key) in [
            ("[venues.binance]\ndepth_speed = \"@0ms\"", "depth_speed"),
            ("[venues.okx]\nbook_channel = \"books50\"", "book_channel"),
            ("[venues.okx]\nbook_depth = 1000", "venues.okx.book_depth"),
            ("[venues.kraken]\nrest_url = \"https://x\"", "venues.kraken"),
        ] {
            let err = Config::parse(text, "f.toml").unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let err = Config::load(Some(Path::new("/nonexistent/x.toml"))).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[scan\n").unwrap();
        assert!(Config::load(Some(file.path())).is_err());
    }

    #[test]
    fn wrong_types_name_their_key() {
        let err = Config::parse("[venues.okx]\ntaker_fee_bp = \"five\"", "f.toml").unwrap_err().to_string();
        assert!(err.contains("f.toml: venues.okx") && err.contains("invalid type: string \"five\""), "{err}");
        let err = Config::parse("[monitor]\nsizes_usd = [1000, \"x\"]", "f.toml").unwrap_err().to_string();
        assert!(err.contains("monitor.sizes_usd[1]: "), "{err}");
        let err = Config::parse("[monitr]\ntop = 3", "f.toml").unwrap_err().to_string();
        assert!(err.contains("f.toml: monitr: unknown field `monitr`"), "{err}");
    }
}
