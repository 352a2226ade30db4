//! Tests of `config`.

use super::*;

#[test]
fn default_universe_is_valid() {
    let config = SimConfig::default();
    config.validate().unwrap();
    assert!(config.pairs.iter().filter(|p| p.is_cross_listed()).count() >= 8);
    let pepe = config.pairs.iter().find(|p| p.base == "PEPE").unwrap();
    assert_eq!(pepe.binance.as_ref().unwrap().multiplier, 1000);
    assert_eq!(pepe.binance.as_ref().unwrap().base_asset(pepe), "1000PEPE");
}

#[test]
fn toml_scenario_round_trip() {
    let text = r#"
        seed = 7
        tick_ms = 50
        [[dislocations]]
        base = "ETH"
        buy_venue = "binance"
        size_bp = 12.5
        start_ms = 1000
        duration_ms = 2000
    "#;
    let config = SimConfig::from_toml(text).unwrap();
    assert_eq!(config.seed, 7);
    assert_eq!(config.dislocations[0].buy_venue, Venue::Binance);
    assert_eq!(config.dislocations[0].quote, "USDT");
    assert!(config.dislocations[0].active_at(1000));
    assert!(!config.dislocations[0].active_at(3000));
    assert!(SimConfig::from_toml("seed = \"x\"").is_err());
    let unknown = "[[dislocations]]\nbase = \"NOPE\"\nbuy_venue = \"okx\"\nsize_bp = 1\nstart_ms = 0\nduration_ms = 1";
    assert!(SimConfig::from_toml(unknown).is_err());
}

#[test]
fn settings_that_would_spin_flood_or_overflow_are_refused() {
    for (text, needle) in [
        ("funding_push_interval_ms = 0", "funding_push_interval_ms must be positive"),
        ("binance_ping_interval_ms = 0", "binance_ping_interval_ms"),
        ("okx_idle_timeout_ms = 0", "okx_idle_timeout_ms"),
        ("binance_weight_limit_per_min = 0", "binance_weight_limit_per_min"),
        ("volatility_bp_per_s = nan", "volatility_bp_per_s"),
        ("volatility_bp_per_s = 1e300", "volatility_bp_per_s"),
        ("pairs = []", "at least one pair"),
        ("epoch_ms = 99999999999999999", "epoch_ms"),
    ] {
        let error = SimConfig::from_toml(text).unwrap_err().to_string();
        assert!(error.contains(needle), "{text}: {error}");
    }
    let fault = "[[fault]]\nkind = \"stall\"\nvenue = \"okx\"\nduration_ms = 5\n";
    crate::FaultScenario::from_toml(fault).unwrap();
    assert!(crate::FaultScenario::from_toml(&format!("{fault}bogus = 1")).is_err());
    assert!(crate::FaultScenario::from_toml(&format!("foo = 1\n{fault}")).is_err());
}
