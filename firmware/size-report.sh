#!/usr/bin/env bash
# Builds the Pico 2 firmware in release, checks that the RP2350 boot ROM will find its IMAGE_DEF
# block (in the first 4 KB of flash, between the block markers 0xffffded3 and 0xab123579; a
# binary without it does not start), and reports its flash and static RAM use (llvm-size):
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
objdump=${size%/*}/llvm-objdump
block=$("$objdump" -s -j .start_block "$elf" | awk '/^ 1000/ { print }')
address=$(echo "$block" | awk 'NR == 1 { print $1 }')
words=$(echo "$block" | awk '{ for (i = 2; i <= 5 && i <= NF; i++) if ($i ~ /^[0-9a-f]+$/ && length($i) == 8) print $i }')
if [ -z "$address" ] || (( 16#$address >= 0x10001000 )) ||
   [ "$(echo "$words" | head -1)" != d3deffff ] || [ "$(echo "$words" | tail -1)" != 793512ab ]; then
  echo "pico2: no IMAGE_DEF block in the first 4 KB of flash (.start_block: ${address:-missing}); the RP2350 would not boot it" >&2
  exit 1
fi
echo "pico2: IMAGE_DEF block at 0x$address ($(echo "$words" | wc -l) words), within the boot ROM's first 4 KB"
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
