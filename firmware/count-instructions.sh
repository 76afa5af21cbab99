#!/usr/bin/env bash
# Counts instructions per inference of the board's model (model_embed::BOARD_STAGE; the lines
# say "board") under QEMU mps2-an505 (Cortex-M33) with the TCG
# `insn` plugin: int8 with the DSP kernels, int8 with the portable kernels (their peer: the
# ratio is the DSP kernels' gain) and f32 (hardware FPU), built for the M33; and int8
# built for thumbv6m, the Cortex-M0+'s instruction set (the original Pico's RP2040), with the
# Armv6-M kernels (runtime-nostd feature arm-v6m), as the Pico build has them. QEMU has no M0+
# machine with room for the model, so the M33 runs that code: the count is what an M0+ executes,
# instruction for instruction; its cycles differ (see docs/cortex-m-kernels.md).
# Each build runs 1 and 11 inferences, and (count(11) - count(1)) / 10 is one inference without
# start-up. Debian's QEMU accepts -plugin
# but ships no plugins, so this builds QEMU's insn.c from the source of the installed QEMU
# (scripts/install-qemu.sh plugin-source; gcc and libglib2.0-dev, installed here when missing).
set -euo pipefail
# A failure inside $(...) must stop the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")"
work=${MNIST_EDGE_PLUGIN_DIR:-target/qemu-plugin}
mkdir -p "$work"
plugin="$(pwd)/$work/libinsn.so"
if [ ! -f "$plugin" ]; then
  ../scripts/install-qemu.sh plugin-source "$work"
  dpkg -s libglib2.0-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libglib2.0-dev pkg-config; }
  gcc -O2 -shared -fPIC -I"$work" $(pkg-config --cflags glib-2.0) \
    "$work/insn.c" -o "$plugin" $(pkg-config --libs glib-2.0)
fi
count() {
  local variant=$1 inferences=$2 target=$3
  shift 3
  MNIST_EDGE_VARIANT=$variant MNIST_EDGE_INFERENCES=$inferences \
    cargo build -q --release -p qemu --bin inference-count --target "$target" "$@"
  local insns
  # QEMU 7 prints "insns: N", QEMU 8 on "total insns: N" (after a line per vCPU).
  insns=$(qemu-system-arm -M mps2-an505 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -plugin "$plugin",inline=on -d plugin \
    -kernel "target/$target/release/inference-count" 2>&1 >/dev/null |
    sed -n 's/^\(total \)\{0,1\}insns: //p' | tail -1)
  if ! [[ "$insns" =~ ^[0-9]+$ ]]; then
    echo "count-instructions.sh: QEMU's insn plugin gave no count for $variant x $inferences ($target) (got '${insns}')" >&2
    return 1
  fi
  echo "$insns"
}
per_inference() {
  local one eleven
  one=$(count "$1" 1 "${@:2}")
  eleven=$(count "$1" 11 "${@:2}")
  echo $(( (eleven - one) / 10 ))
}
m33=thumbv8m.main-none-eabihf
dsp=$(per_inference i8 "$m33")
portable=$(per_inference i8 "$m33" --no-default-features)
echo "board i8: $dsp instructions/inference (Cortex-M33, DSP kernels, QEMU TCG)"
echo "board i8 portable: $portable instructions/inference (Cortex-M33, portable kernels: $(awk -v a="$portable" -v b="$dsp" 'BEGIN { printf "%.2f", a / b }')x the DSP count)"
echo "board f32: $(per_inference f32 "$m33") instructions/inference (Cortex-M33, QEMU TCG)"
echo "board i8 thumbv6m: $(per_inference i8 thumbv6m-none-eabi --no-default-features --features arm-v6m) instructions/inference (Cortex-M0+ code with the Armv6-M kernels, on the M33, QEMU TCG)"
