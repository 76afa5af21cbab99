#!/usr/bin/env bash
# Runs an x86-64 Linux program as it runs on a CPU with AVX2 and FMA but no AVX-512 and no VNNI
# (QEMU's user-mode emulator as a Haswell), whatever CPU this machine has: libraries that pick
# their kernels by CPUID at run time (ONNX Runtime's MLAS, gemm, tract) then take their AVX2
# paths. QEMU's TCG implements no AVX-512, so nothing faster can leak in.
#
#   scripts/avx2-cpu.sh PROGRAM [ARGS...]
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=scripts/avx2-cpu.sh cargo test ...
#
# The emulator comes from scripts/install-qemu.sh user-x86.
set -euo pipefail
# Haswell less the system features that user-mode TCG does not emulate (QEMU would warn about
# each at every start; programs do not use them).
cpu=Haswell,-pcid,-x2apic,-tsc-deadline,-hle,-invpcid,-rtm
qemu=$(command -v qemu-x86_64 || command -v qemu-x86_64-static) || {
  echo "avx2-cpu.sh: no qemu-x86_64 or qemu-x86_64-static on PATH; run scripts/install-qemu.sh user-x86" >&2
  exit 127
}
[ $# -ge 1 ] || { echo "usage: avx2-cpu.sh PROGRAM [ARGS...]" >&2; exit 2; }
exec "$qemu" -cpu "$cpu" "$@"
