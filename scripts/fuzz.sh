#!/usr/bin/env bash
# Fuzzes runtime-nostd's parser and inference with cargo-fuzz (libFuzzer) for N seconds
# (default 600), with overflow checks and debug assertions on: on the host (x86-64, with
# AddressSanitizer) and, for a fifth of the time, built for a 32-bit target (i686, where usize
# is 32 bits; rustc has no sanitizer there). The corpus starts from the committed models: dense and conv, f32 and int8.
# Installs the pinned nightly toolchain (with the i686 target), cargo-fuzz, a C++ compiler and
# the 32-bit C/C++ libraries when missing. Fails if libFuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/../runtime-nostd"
seconds=${1:-600}
# A dated nightly and a fixed cargo-fuzz: the fuzz run must not change under a release.
nightly=nightly-2026-05-20
cargo_fuzz_version=0.13.2

sudo=$([ "$(id -u)" = 0 ] || echo sudo)
apt_install() { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"; }
# libfuzzer-sys compiles libFuzzer (C++); the 32-bit build needs the multilib C++ runtime.
command -v c++ >/dev/null || apt_install g++
compgen -G '/usr/lib/gcc/x86_64-linux-gnu/*/32/libstdc++.so' >/dev/null || apt_install g++-multilib
rustup toolchain list | grep -q "^$nightly" || rustup toolchain install "$nightly" --profile minimal
rustup target list --toolchain "$nightly" --installed | grep -q '^i686-unknown-linux-gnu$' ||
  rustup target add --toolchain "$nightly" i686-unknown-linux-gnu
cargo "+$nightly" fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version" ||
  cargo "+$nightly" install cargo-fuzz --version "$cargo_fuzz_version" --locked --force

corpus=fuzz/corpus/parse
mkdir -p "$corpus"
for model in dense1 dense-sigmoid cnn-bn; do
  for variant in f32 i8; do
    cp "../models/$model.$variant.mnef" "$corpus/seed-$model.$variant.mnef"
  done
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# libFuzzer's final statistics (-print_final_stats=1) as one line per run.
summary() {
  awk -v what="$1" '/^stat::number_of_executed_units:/ { n = $2 }
    /^stat::average_exec_per_sec:/ { rate = $2 }
    END { printf "fuzz %s: %d executions, %d per second\n", what, n, rate }' "$log"
}
host_seconds=$(( seconds * 4 / 5 ))
echo "== fuzz: x86-64 with AddressSanitizer, ${host_seconds} s"
cargo "+$nightly" fuzz run parse --debug-assertions "$corpus" -- \
  -max_total_time="$host_seconds" -rss_limit_mb=4096 -print_final_stats=1 2>&1 | tee "$log"
host_summary=$(summary "x86-64 + ASan, ${host_seconds} s")
echo "== fuzz: i686 (32-bit usize), $(( seconds - host_seconds )) s"
cargo "+$nightly" fuzz run parse --debug-assertions --target i686-unknown-linux-gnu --sanitizer none \
  "$corpus" -- \
  -max_total_time="$(( seconds - host_seconds ))" -rss_limit_mb=3072 -print_final_stats=1 2>&1 | tee "$log"
echo "$host_summary"
summary "i686, $(( seconds - host_seconds )) s"
