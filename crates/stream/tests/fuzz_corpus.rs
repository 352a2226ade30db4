//! Regression: every committed fuzz corpus input (seeds and past crashes) goes through the fuzz entry points.

use std::path::Path;

use perpspread_stream::fuzz;

fn run(target: &str, entry: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut inputs = 0;
    for entry_path in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let bytes = std::fs::read(entry_path.unwrap().path()).unwrap();
        entry(&bytes);
        inputs += 1;
    }
    assert!(inputs > 0, "no corpus for {target}");
}

#[test]
fn okx_ws_frame_corpus() {
    run("okx_ws_frame", fuzz::okx_frames);
}

#[test]
fn binance_ws_frame_corpus() {
    run("binance_ws_frame", fuzz::binance_frames);
}

#[test]
fn bybit_ws_frame_corpus() {
    run("bybit_ws_frame", fuzz::bybit_frames);
}

#[test]
fn rest_bodies_corpus() {
    run("rest_bodies", fuzz::rest_bodies);
}

#[test]
fn capture_line_corpus() {
    run("capture_line", fuzz::capture_bytes);
}
