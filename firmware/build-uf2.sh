#!/usr/bin/env bash
# Builds the board firmware for both boards and writes the files a board owner flashes without a
# probe (hold BOOTSEL while plugging the Pico in, then copy the file onto the RPI-RP2 / RP2350
# drive):
#
#   firmware/target/uf2/pico-restouch-pico2.uf2   Pico 2 (RP2350, family rp2350-arm-s)
#   firmware/target/uf2/pico-restouch-pico.uf2    Pico   (RP2040, family rp2040)
#
# Each file is written by firmware/uf2 (elf2uf2) from the board's ELF image and then read back
# and checked against it: well-formed blocks, numbered, one family, 256-byte aligned pages
# holding exactly the image's flash segments, and on the RP2040 the boot2 checksum. Fails on
# any difference.
set -euo pipefail
cd "$(dirname "$0")"
. ./boards.sh

cargo build --release -p uf2
elf2uf2=target/release/elf2uf2
mkdir -p target/uf2
for board in "${BOARDS[@]}"; do
  build_board "$board"
  family=$(board_uf2_family "$board")
  "$elf2uf2" convert --family "$family" "$(board_elf "$board")" "$(board_uf2 "$board")"
  "$elf2uf2" check --family "$family" "$(board_elf "$board")" "$(board_uf2 "$board")"
done
