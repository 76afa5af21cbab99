#!/usr/bin/env bash
# The board test: the unmodified firmware for the original Pico (pico-restouch built with its
# rp2040 feature, loaded from the UF2 file a user flashes, which build-uf2.sh writes; the ELF gives
# the symbols) runs in rp2040js with an emulated ST7789 display and XPT2046 touch controller wired
# as on the Waveshare Pico-ResTouch-LCD-2.8 (board-emulator/). It boots, draws the ten synthetic
# finger-drawn digits in emulated real time, taps CLEAR between them, and checks every answer on
# the emulated screen (against the desktop simulator's, pixel for pixel) and in the firmware's
# defmt log; then the touch calibration, which the firmware stores in its flash's last sector,
# a reset that must use it, a corrupt record that must give the defaults, a flash that takes no
# writes, and a build that panics on purpose (feature test-panic), whose fault screen and LED
# blink code are checked. Installs Node.js and npm
# (Debian) and defmt-print (crates.io) when missing; rp2040js (and TypeScript, for the type
# check) come pinned from board-emulator/package-lock.json.
#
#   firmware/emulate-board.sh                 # run the unit tests of the part models, then the board
#   firmware/emulate-board.sh --update-docs   # also copy the screenshot to docs/board.png
#   firmware/emulate-board.sh --profile       # also count the inference's cycles per function
#                                             # (target/board-emulator/profile.txt; the program
#                                             # counter sampled every 64 cycles)
#
# Screens, the raw and decoded RTT log land in firmware/target/board-emulator/. Prints, last:
#   board: calibration kept after reset: <yes|no>, corrupt record -> defaults: <yes|no>, panic shown on screen: <yes|no>
#   board: <n>/10 recognised, screen identical to simulator: <yes|no>, <cycles> cycles/inference (<ms> ms at <MHz> MHz)
set -euo pipefail
cd "$(dirname "$0")"
. ./boards.sh
update_docs=false
profile=0
for arg in "$@"; do
  case "$arg" in
    --update-docs) update_docs=true ;;
    --profile) profile=64 ;;
    *) echo "emulate-board.sh: unknown argument $arg (usage: emulate-board.sh [--update-docs] [--profile])" >&2; exit 2 ;;
  esac
done

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "emulate-board.sh: Node.js 18 or newer and npm are needed (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm
fi
command -v defmt-print >/dev/null || cargo install defmt-print --locked
(
  cd board-emulator
  npm ci --no-audit --no-fund --loglevel=error
  # Type-check the JavaScript against its JSDoc types (TypeScript, pinned as a dev dependency).
  npm run --silent check
)

build_board pico
elf=$(board_elf pico)
# The same firmware built to panic once its first screen is up, for the check of the fault
# screen: in its own target folder, so that the board's ELF above stays in place.
panic_target=target/test-panic
build_board pico --features test-panic --target-dir "$panic_target"
panic_elf=$(board_elf pico "$panic_target")
# The file a board owner flashes: the board is loaded from it (build-uf2.sh writes both boards').
./build-uf2.sh
cargo build --release -p simulator

# The part models' unit tests, counted with the cargo tests in the test command's last line.
uf2=$(board_uf2 pico)
tap=$(BOARD_ELF=$elf BOARD_UF2=$uf2 node --test --test-reporter=tap board-emulator/test/ 2>&1) || { echo "$tap"; echo "board-emulator unit tests failed" >&2; exit 1; }
passed=$(echo "$tap" | sed -n 's/^# pass \([0-9]*\)$/\1/p')
failed=$(echo "$tap" | sed -n 's/^# fail \([0-9]*\)$/\1/p')
echo "test result: ok. ${passed:-0} passed; ${failed:-0} failed; (board-emulator unit tests, node --test)"

out=target/board-emulator
node board-emulator/emulate.js --elf "$elf" --panic-elf "$panic_elf" --uf2 "$uf2" \
  --simulator target/release/simulator --out "$out" --profile "$profile"
if $update_docs; then
  cp "$out/board.png" ../docs/board.png
  echo "wrote docs/board.png"
fi
