#!/usr/bin/env bash
# Builds the board firmware in release for the Pico 2 (RP2350, the product) and the original
# Pico (RP2040, `rp2040` feature), checks that each boot ROM will start it, and reports flash and
# static RAM use (llvm-size). Fails when a check fails or a build is over budget.
#
# Boot checks: the RP2350 needs its IMAGE_DEF block in the first 4 KB of flash, between the
# markers 0xffffded3 and 0xab123579; the RP2040 needs the 256-byte boot2 block at 0x10000000.
# Flash = everything loaded into flash (boot block, vector table, code, constants with the
# 357,648-byte int8 model, .data's initial values); static RAM = .data + .bss + .uninit (the
# stack takes the rest of the SRAM). The Pico 2 build copies the model to SRAM at boot (pico-restouch
# feature `model-in-ram`): that copy is reported on its own line and is not part of the static
# RAM the budget counts.
# Budgets, in bytes: FLASH_BUDGET (default 524288 = 512 KiB), RAM_BUDGET (default 65536 = 64 KiB),
# and on each chip, static RAM plus the model copy must leave STACK_RESERVE (default 32768) of
# its SRAM for the stack.
set -euo pipefail
cd "$(dirname "$0")"
. ./boards.sh
flash_budget=${FLASH_BUDGET:-524288}
ram_budget=${RAM_BUDGET:-65536}
stack_reserve=${STACK_RESERVE:-32768}
size=$(find "$(rustc --print sysroot)" -name llvm-size -type f | head -1)
if [ -z "$size" ]; then
  echo "size-report.sh: llvm-size not found; run: rustup component add llvm-tools" >&2
  exit 1
fi
objdump=${size%/*}/llvm-objdump

# The 32-bit words of an ELF section, in order, and its address (first line).
section_words() {
  "$objdump" -s -j "$2" "$1" 2>/dev/null | awk '/^ [0-9a-f]+ / {
    if (!seen++) print $1
    for (i = 2; i <= 5 && i <= NF; i++) if ($i ~ /^[0-9a-f]+$/ && length($i) == 8) print $i
  }'
}

check_rp2350_boot_block() {
  local words address
  words=$(section_words "$1" .start_block)
  address=$(echo "$words" | head -1)
  if [ -z "$address" ] || (( 16#$address >= 0x10001000 )) ||
     [ "$(echo "$words" | sed -n 2p)" != d3deffff ] || [ "$(echo "$words" | tail -1)" != 793512ab ]; then
    echo "rp2350: no IMAGE_DEF block in the first 4 KB of flash (.start_block at ${address:-nowhere}); the boot ROM would not start it" >&2
    return 1
  fi
  echo "rp2350: IMAGE_DEF block at 0x$address, within the boot ROM's first 4 KB"
}

check_rp2040_boot_block() {
  local words
  words=$(section_words "$1" .boot2)
  if [ "$(echo "$words" | head -1)" != 10000000 ] || [ "$(echo "$words" | sed 1d | wc -l)" != 64 ]; then
    echo "rp2040: no 256-byte boot2 block at 0x10000000; the boot ROM would not start it" >&2
    return 1
  fi
  echo "rp2040: 256-byte boot2 block at 0x10000000"
}

# Bytes of the model's copy in SRAM (the pico-restouch static MODEL_IN_RAM), 0 without one.
model_copy_bytes() {
  local hex
  hex=$("${size%/*}/llvm-nm" -S -C "$1" | awk '/MODEL_IN_RAM/ { print $2; exit }')
  echo $(( 16#${hex:-0} ))
}

# report CHIP ELF SRAM_BYTES
report() {
  "$size" -A "$2" | awk -v chip="$1" -v flash_budget="$flash_budget" -v ram_budget="$ram_budget" \
    -v model_copy="$(model_copy_bytes "$2")" -v sram="$3" -v stack_reserve="$stack_reserve" '
    $1 ~ /^\.(boot2|vector_table|start_block|text|rodata|bi_entries|end_block|gnu\.sgstubs)$/ { flash += $2; printf "  %-14s %8d  flash\n", $1, $2 }
    $1 == ".data" { flash += $2; ram += $2; printf "  %-14s %8d  flash + RAM\n", $1, $2 }
    $1 ~ /^\.(bss|uninit)$/ { ram += $2; printf "  %-14s %8d  RAM\n", $1, $2 }
    END {
      ram -= model_copy
      printf "%s: flash %d B of %d (%.0f%%), static RAM %d B of %d (%.0f%%)\n", chip,
        flash, flash_budget, 100 * flash / flash_budget, ram, ram_budget, 100 * ram / ram_budget
      printf "%s: model copy in SRAM %d B; of the %d B SRAM, %d B left for the stack\n",
        chip, model_copy, sram, sram - ram - model_copy
      if (flash > flash_budget || ram > ram_budget) {
        printf "%s: over budget (FLASH_BUDGET / RAM_BUDGET)\n", chip
        exit 1
      }
      if (sram - ram - model_copy < stack_reserve) {
        printf "%s: under %d B of SRAM left for the stack (STACK_RESERVE)\n", chip, stack_reserve
        exit 1
      }
    }'
}

status=0
build_board pico2
elf=$(board_elf pico2)
check_rp2350_boot_block "$elf" || status=1
report rp2350 "$elf" $((512 * 1024)) || status=1

build_board pico
elf=$(board_elf pico)
check_rp2040_boot_block "$elf" || status=1
report rp2040 "$elf" $((264 * 1024)) || status=1
exit "$status"
