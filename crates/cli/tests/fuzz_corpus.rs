//! Regression: every committed `config_file` fuzz input (seeds and past crashes) goes through the fuzz entry
//! point, and the seeds that are meant to be valid still parse.

use std::path::Path;

#[test]
fn config_file_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config_file");
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        perpspread::fuzz::config_files(&std::fs::read(entry.unwrap().path()).unwrap());
        inputs += 1;
    }
    assert!(inputs >= 4, "seeds missing in {}", dir.display());
    let seed = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    perpspread::config::Config::parse(&seed("default.toml"), "default.toml").unwrap();
    let user = perpspread::config::Config::parse(&seed("user_overrides.toml"), "user_overrides.toml").unwrap();
    assert_eq!(user.monitor.top, 5);
    perpspread_sim::SimConfig::from_toml(&seed("sim_config.toml")).unwrap();
    perpspread_sim::FaultScenario::from_toml(&seed("fault_scenario.toml")).unwrap();
}
