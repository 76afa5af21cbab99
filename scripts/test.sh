#!/usr/bin/env bash
# mnist-edge's one test command (README, "Test"). On a fresh machine it installs what it needs
# (the pinned Rust toolchain with its thumb targets), then checks formatting, lints, the no_std
# builds for the microcontroller targets, and runs every test in release mode (training in a
# debug build is tens of times slower).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain (rust-toolchain.toml)"
rustup toolchain install
cargo --version

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --release -- -D warnings

step "runtime-nostd builds for the microcontroller targets"
for target in thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf; do
  cargo build -p runtime-nostd --release --target "$target"
done

step "tests"
cargo test --workspace --release
