#!/usr/bin/env bash
# Profile-guided release build of the `perpspread` binary (optional; `cargo build --release` is the default).
# Builds an instrumented binary, trains it on the `bench` workloads (the simulator's liquid and stress mixes
# and the real recordings in fixtures/real), merges the profile and rebuilds with it. The result is
# target/pgo/optimized/release/perpspread. Needs `rustup component add llvm-tools` (for llvm-profdata).
set -euo pipefail
cd "$(dirname "$0")/.."

profdata="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    echo "error: llvm-profdata not found; install it with: rustup component add llvm-tools" >&2
    exit 2
fi
dir="$PWD/target/pgo"
rm -rf "$dir/data" "$dir/merged.profdata"
mkdir -p "$dir/data"

echo "1/3 instrumented build"
RUSTFLAGS="-Cprofile-generate=$dir/data" cargo build --release --quiet -p perpspread --target-dir "$dir/instrumented"

echo "2/3 training on the bench workloads"
trained="$dir/instrumented/release/perpspread"
"$trained" bench --messages 200000 --runs 1 --real fixtures/real --real-loops 50 > /dev/null
"$trained" bench --messages 100000 --runs 1 --tick-ms 100 > /dev/null
"$profdata" merge -o "$dir/merged.profdata" "$dir/data"

echo "3/3 optimized build"
RUSTFLAGS="-Cprofile-use=$dir/merged.profdata" cargo build --release --quiet -p perpspread --target-dir "$dir/optimized"
echo "done: $dir/optimized/release/perpspread"
