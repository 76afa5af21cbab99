#!/usr/bin/env bash
# Builds the Pico 2 firmware in release and reports its flash and static RAM use (llvm-size):
# flash = everything loaded into flash (vector table, IMAGE_DEF block, code, constants with the
# 357,648-byte int8 model, .data's initial values); static RAM = .data + .bss + .uninit (the
# stack takes the rest of the 512 KB). Fails when over budget:
#   FLASH_BUDGET (default 524288 = 512 KiB), RAM_BUDGET (default 65536 = 64 KiB), in bytes.
set -euo pipefail
cd "$(dirname "$0")"
flash_budget=${FLASH_BUDGET:-524288}
ram_budget=${RAM_BUDGET:-65536}
cargo build --release -p pico2 --target thumbv8m.main-none-eabihf
elf=target/thumbv8m.main-none-eabihf/release/pico2
size=$(find "$(rustc --print sysroot)" -name llvm-size -type f | head -1)
if [ -z "$size" ]; then
  echo "size-report.sh: llvm-size not found; run: rustup component add llvm-tools" >&2
  exit 1
fi
"$size" -A "$elf" | awk -v flash_budget="$flash_budget" -v ram_budget="$ram_budget" '
  $1 ~ /^\.(vector_table|start_block|text|rodata|bi_entries|end_block|gnu\.sgstubs)$/ { flash += $2; printf "  %-14s %8d  flash\n", $1, $2 }
  $1 == ".data" { flash += $2; ram += $2; printf "  %-14s %8d  flash + RAM\n", $1, $2 }
  $1 ~ /^\.(bss|uninit)$/ { ram += $2; printf "  %-14s %8d  RAM\n", $1, $2 }
  END {
    printf "pico2: flash %d B of %d (%.0f%%), static RAM %d B of %d (%.0f%%)\n",
      flash, flash_budget, 100 * flash / flash_budget, ram, ram_budget, 100 * ram / ram_budget
    if (flash > flash_budget || ram > ram_budget) {
      print "pico2: over budget (FLASH_BUDGET / RAM_BUDGET)"
      exit 1
    }
  }'
