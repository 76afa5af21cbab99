#!/usr/bin/env bash
# Builds the `qemu` firmware for the Cortex-M33 and runs it on QEMU's mps2-an505: the 64 golden
# test digits and ten synthetic finger strokes through preprocessing and the int8 model, every
# output compared bit for bit with the host runtime-nostd. Then the kernel check (bin
# `kernel-check`): the DSP kernels (M33) and the Armv6-M kernels (thumbv6m, the Pico's M0+) against
# the portable ones on random shapes, bit for bit (a new seed each run, printed;
# KERNEL_CHECK_SEED=<seed> repeats one).
# Installs qemu-system-arm (Debian, by scripts/install-qemu.sh) and defmt-print (crates.io) when
# missing. Exits with the firmware's status (0 = all bit-exact) and
# prints, last:  qemu: <matched>/<total> bit-exact, accuracy <a>, <n> instructions/inference
# (n: int8 cnn-bn, from count-instructions.sh; a failed count fails the script).
set -euo pipefail
cd "$(dirname "$0")"
../scripts/install-qemu.sh system-arm
command -v defmt-print >/dev/null || cargo install defmt-print --locked
cargo build --release -p qemu --target thumbv8m.main-none-eabihf
elf=target/thumbv8m.main-none-eabihf/release/qemu
size=$(find "$(rustc --print sysroot)" -name llvm-size -type f | head -1)
[ -n "$size" ] && "$size" "$elf"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
timeout 300 qemu-system-arm -M mps2-an505 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$elf" | defmt-print -e "$elf" | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -o 'qemu: .*' "$log" | tail -1 | sed 's/ (.*//')
# The kernel check twice: the DSP forms built for the M33, and the Armv6-M forms built for the
# Cortex-M0+'s instruction set (thumbv6m), which the M33 runs instruction for instruction.
check_kernels() { # target [cargo feature arguments]
  local target=$1
  cargo build --release -p qemu --bin kernel-check --target "$target" "${@:2}"
  local kernels=target/$target/release/kernel-check kernel_status
  set +e
  timeout 300 qemu-system-arm -M mps2-an505 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$kernels" | defmt-print -e "$kernels"
  kernel_status=${PIPESTATUS[0]}
  set -e
  if [ "$kernel_status" != 0 ]; then
    echo "run-qemu.sh: the $target kernels differ from the portable ones (kernel-check exit $kernel_status, above)" >&2
    exit 1
  fi
}
check_kernels thumbv8m.main-none-eabihf
check_kernels thumbv6m-none-eabi --no-default-features --features arm-v6m
# Instructions per int8 inference, from QEMU's TCG insn plugin (count-instructions.sh builds it
# from Debian's QEMU source package). The figure is part of the check: no count, no pass.
if ! counts=$(./count-instructions.sh); then
  echo "run-qemu.sh: the instruction count failed (count-instructions.sh above says why)" >&2
  exit 1
fi
echo "$counts"
insns=$(echo "$counts" | sed -n 's/^board i8: \([0-9]*\).*/\1/p')
echo "${summary:-qemu: no result}, ${insns} instructions/inference"
# The int8 count has a budget, as flash and RAM do (size-report.sh): a change that loses the
# DSP kernels' gain fails here (cnn-mcu: 1.68 M with them, 4.30 M with the portable kernels).
# Counts are deterministic (QEMU executes, it does not time).
budget=${INSTRUCTION_BUDGET:-2000000}
if (( insns > budget )); then
  echo "run-qemu.sh: ${insns} int8 instructions/inference is over the budget of ${budget} (INSTRUCTION_BUDGET)" >&2
  exit 1
fi
exit "$status"
