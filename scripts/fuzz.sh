#!/usr/bin/env bash
# Fuzzes runtime-nostd's parser and inference with cargo-fuzz (libFuzzer) for N seconds
# (default 600), starting from the committed seed corpus of real model files. Installs the
# nightly toolchain and cargo-fuzz on first use. Fails if libFuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/../runtime-nostd"
seconds=${1:-600}
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked
mkdir -p fuzz/corpus/parse
cargo +nightly fuzz run parse fuzz/corpus/parse fuzz/seeds/parse -- \
  -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1
