#!/usr/bin/env bash
# mnist-edge's one test command (README, "Test"). On a fresh machine it installs what it needs
# (the pinned Rust toolchain with its thumb targets; a project-local Python .venv with onnx and
# onnxruntime, whose wheel carries the library the `ort` crate loads; QEMU's x86-64 user-mode
# emulator, to run ONNX Runtime as an AVX2-only CPU would; Mesa's lavapipe, a Vulkan driver on
# the CPU, for the trainer's GPU path; SDL2 for the simulator;
# qemu-system-arm and defmt-print for the QEMU check; Node.js and the pinned rp2040js for the
# board emulator; Chromium for the web page), then checks formatting, lints, import cycles between source files, the no_std
# builds for the microcontroller targets, and runs every test in release mode (training in a debug
# build is tens of times slower).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%T)"; }

all_checks() {
  step "toolchain (rust-toolchain.toml)"
  rustup toolchain install
  cargo --version

  # Every build of the root workspace with the trainer's GPU backend: one feature set, so burn is
  # built once for the tests and the binaries (the Vulkan check runs these).
  gpu=(--features trainer/vulkan)

  step "python environment for the ONNX checks, and QEMU's x86-64 emulator (ONNX Runtime on an AVX2-only CPU)"
  scripts/python-env.sh
  scripts/install-qemu.sh user-x86

  # Clippy lints the project's own crates while they are compiled for the builds and tests:
  # `linted cargo ...` runs clippy-driver as cargo's workspace wrapper, as `cargo clippy` does,
  # but with code generation. A separate `cargo clippy` would compile every dependency a second
  # time, in check mode (8 minutes of the run here). Every target `cargo clippy --all-targets`
  # lints is built below: binaries, examples and benchmarks, then the tests.
  clippy_driver=$(rustup which clippy-driver)
  linted() {
    RUSTC_WORKSPACE_WRAPPER=$clippy_driver \
      CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__ "$@"
  }

  step "format, and no import cycle between source files (scripts/import-cycles.py)"
  cargo fmt --all -- --check
  cargo fmt --manifest-path runtime-nostd/fuzz/Cargo.toml -- --check
  python3 scripts/import-cycles.py

  step "runtime-nostd builds for the microcontroller targets"
  for target in thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf; do
    cargo build -p runtime-nostd --release --target "$target"
  done
  # The DSP kernels (inline assembly): Armv7E-M has the extension in its baseline; the bare
  # Armv8-M Mainline target does not, the Cortex-M33 does (as firmware/.cargo/config.toml says).
  cargo clippy -p runtime-nostd --release --target thumbv7em-none-eabihf --features arm-dsp -- -D warnings
  RUSTFLAGS="-C target-cpu=cortex-m33" cargo clippy -p runtime-nostd --release \
    --target thumbv8m.main-none-eabihf --features arm-dsp -- -D warnings
  # The Armv6-M kernels (inline assembly in Thumb-1 instructions), as the Pico build has them.
  cargo clippy -p runtime-nostd --release --target thumbv6m-none-eabi --features arm-v6m -- -D warnings

  step "the trainer's GPU path on a software Vulkan device (lavapipe), against flex: started in the background"
  # It spends its time in lavapipe's LLVM compiling kernels, mostly on one core, so it starts as
  # early as it can: once the trainer is built, with the rest of the build and the tests
  # beside it. Its output comes at the end. The same features as every build below, so nothing is
  # built twice: --workspace, and an example, whose dev-dependencies (criterion's ciborium
  # features, under all of cubecl) the later builds have too.
  linted cargo build --workspace --release --bin trainer --example layer_times "${gpu[@]}"
  # Installed here, in the foreground: apt in the background could meet the steps' own apt runs
  # at dpkg's lock.
  scripts/install-vulkan.sh
  vulkan_log=$(mktemp)
  VULKAN_CHECK_TRAINER=$PWD/target/release/trainer scripts/vulkan-check.sh > "$vulkan_log" 2>&1 &
  vulkan_check=$!
  trap 'kill "$vulkan_check" 2>/dev/null || true' EXIT
  # The rest of the command yields the cores to it. Mostly one thread (LLVM compiling kernels), it
  # then ends while the builds and tests go on, and they have both cores for their last steps. At
  # the same priority it reached its last step 15 minutes later, and the other steps ended later
  # than whole runs with the priority (68.7 minutes against 66.9 and 66.6: README, "Test"). Which kernels
  # autotuning picks no longer moves the figures it compares: the quick trainings end on measured
  # batch-norm statistics.
  renice -n 10 -p "$BASHPID" >/dev/null

  step "the workspace's binaries, examples and benchmarks (release; linted)"
  linted cargo build --workspace --release --bins --examples --benches "${gpu[@]}"

  step "tests (linted)"
  linted cargo test --workspace --release "${gpu[@]}"

  step "the trainer's CPU kernels again on an emulated AVX2-only CPU (scripts/avx2-cpu.sh)"
  # gemm and flex pick AVX-512 or AVX2 kernels by CPUID at run time: the run above took this
  # machine's; QEMU as a Haswell takes the other on an AVX-512 machine (the same on an AVX2 one).
  # --workspace keeps the build above (a lone -p trainer build unifies burn's features otherwise).
  # A filter that matches nothing passes silently: the run must count the kernels' tests.
  local kernels
  kernels=$(CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$PWD/scripts/avx2-cpu.sh" \
    linted cargo test --workspace --release "${gpu[@]}" --lib flex_kernels:: 2>&1) || {
    echo "$kernels"
    echo "test.sh: the trainer's kernels failed on the emulated AVX2-only CPU (above)" >&2
    return 1
  }
  echo "$kernels"
  echo "$kernels" | grep -Eq '^test result: ok\. [1-9][0-9]* passed' || {
    echo "test.sh: no test of trainer::flex_kernels ran on the emulated AVX2-only CPU (the filter above matches none: was the module renamed?)" >&2
    return 1
  }

  step "runtime-nostd's tests built for a 32-bit target (i686: usize is 32 bits)"
  # Installs the 32-bit C runtime the i686 test binaries link against when missing.
  compgen -G '/usr/lib/gcc/x86_64-linux-gnu/*/32/libgcc.a' >/dev/null || {
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo apt-get install -y -qq gcc-multilib
  }
  linted cargo test -p runtime-nostd --release --target i686-unknown-linux-gnu

  step "the flat models on all 10,000 test digits (f32 and int8 vs the reference), and host_check as users type it"
  # Same binary as `cargo run -p cross-check --release --bin flat_check`, built above with the
  # workspace's features (a lone -p build could rebuild burn with other ones).
  target/release/flat_check
  # The quick check users type (dev build, runtime-nostd alone, the committed files).
  cargo run -p runtime-nostd --example host_check

  step "firmware: app, simulator and uf2 host tests, board builds (Pico 2, Pico) with boot and size checks, UF2 files, the QEMU check, the Pico and Pico 2 emulators"
  # Run from firmware/ so its .cargo/config.toml (linker scripts) applies. The board crates
  # build one at a time: pico-restouch (embassy-rp) and qemu (cortex-m) pick different
  # critical-section implementations.
  scripts/install-sdl2.sh
  (
    cd firmware
    cargo fmt --all -- --check
    cargo clippy -p qemu --release --target thumbv8m.main-none-eabihf -- -D warnings
    cargo clippy -p qemu --release --target thumbv6m-none-eabi --no-default-features --features arm-v6m -- -D warnings
    linted cargo test -p app -p model-embed -p simulator -p uf2 -p web --release --all-targets
    cargo build -p app --release --target thumbv6m-none-eabi
    # The board binary is linted for both boards as the size report builds them (clippy as the
    # compiler of the workspace's crates): embassy-rp is compiled once per board, in release,
    # not a second time in check mode.
    linted ./size-report.sh
    ./run-qemu.sh
    ./emulate-board.sh
    # The Pico 2 build in the rp2350-emu emulator (its own profile: the emulator at full speed
    # without whole-program LTO).
    linted cargo test -p pico2-emulator --profile emulator --all-targets
    ./emulate-pico2.sh
  )

  step "the web page: the board's app in WebAssembly, in headless Chromium (scripts/test-web.sh)"
  scripts/test-web.sh
  # The module as the browser gets it, linted for its own target.
  (cd firmware && cargo clippy -p web --release --target wasm32-unknown-unknown -- -D warnings)

  step "fuzz smoke run of the flat-format parser (60 s; nightly + cargo-fuzz)"
  scripts/fuzz.sh 60

  step "the trainer's GPU path on a software Vulkan device (scripts/vulkan-check.sh, started above)"
  local status=0
  wait "$vulkan_check" || status=$?
  cat "$vulkan_log"
  rm -f "$vulkan_log"
  [ "$status" = 0 ] || { echo "scripts/vulkan-check.sh failed (exit $status)" >&2; return "$status"; }
}

# Keep a log so the closing line can count every cargo test result of the run.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
all_checks 2>&1 | tee "$log"
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "\ntests: %d passed, %d failed\n", passed, failed }' "$log"
