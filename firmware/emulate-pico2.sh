#!/usr/bin/env bash
# The Pico 2 test: the unmodified firmware for the Raspberry Pi Pico 2 (pico-restouch's default
# build, RP2350), loaded from the UF2 file a board owner flashes (build-uf2.sh writes it; the
# ELF gives the symbols), runs in the rp2350-emu emulator (crates.io, pinned) with the
# Pico-ResTouch-LCD-2.8's ST7789 display and XPT2046 touch controller on its SPI bus
# (pico2-emulator/). It boots, draws its first screen, has a 7 drawn by the simulator's synthetic
# finger, and recognises it; the screens are compared with the desktop simulator's pixel for
# pixel, the firmware's defmt log (RTT) must say what it recognised, and the inference is timed
# in the core's cycles. The emulator has faults this firmware runs into: pico2-emulator/src/
# quirks.rs lists them, and the run prints how often it worked around each.
#
#   firmware/emulate-pico2.sh             # the run and its checks
#   firmware/emulate-pico2.sh --profile   # also the inference's cycles per function, every
#                                         # instruction counted (target/pico2-emulator/pico2-profile.txt),
#                                         # and per instruction address (pico2-profile-addresses.txt)
#
# Screens and the log land in firmware/target/pico2-emulator/. Prints, last:
#   pico2: 7 recognised, screens identical to simulator: <yes|no>, <cycles> cycles/inference (<ms> ms at <MHz> MHz)
set -euo pipefail
cd "$(dirname "$0")"
. ./boards.sh
profile=()
for arg in "$@"; do
  case "$arg" in
    --profile) profile=(--profile) ;;
    *) echo "emulate-pico2.sh: unknown argument $arg (usage: emulate-pico2.sh [--profile])" >&2; exit 2 ;;
  esac
done
command -v defmt-print >/dev/null || cargo install defmt-print --locked

./build-uf2.sh
cargo build --release -p simulator
cargo build --profile emulator -p pico2-emulator

digit=7
elf=$(board_elf pico2)
out=target/pico2-emulator
rm -rf "$out"
mkdir -p "$out"
run=$(target/emulator/pico2-emulator "$(board_uf2 pico2)" "$elf" "$out" "$digit" "${profile[@]}") || {
  echo "$run"
  echo "emulate-pico2.sh: the emulated Pico 2 did not get through (above; the log: defmt-print -e $elf < $out/pico2.rtt)" >&2
  exit 1
}
echo "$run"
defmt-print -e "$elf" < "$out/pico2.rtt" > "$out/pico2.log"
sed 's/^/pico2: log: /' "$out/pico2.log"

failures=()
compare() { # name [simulator arguments]
  local line
  line=$(target/release/simulator --png "$out/simulator-$1.png" "${@:2}" --compare "$out/pico2-$1.png" | grep '^compare:') || true
  echo "pico2: $1 screen vs the simulator's: ${line:-no comparison}"
  [[ "$line" == *", 0 pixels differ"* ]] || failures+=("the $1 screen differs from the simulator's")
}
compare boot --notice default
compare "$digit" --digit "$digit"
grep -q "recognised $digit in" "$out/pico2.log" || failures+=("the log does not say \"recognised $digit\"")
cycles=$(echo "$run" | sed -n 's/.*the last exit: \([0-9]*\) cycles (\([0-9.]*\) ms at \([0-9]*\) MHz).*/\1 cycles\/inference (\2 ms at \3 MHz)/p')
[ -n "$cycles" ] || failures+=("no inference cycle count")
identical=$([ "${#failures[@]}" = 0 ] && echo yes || echo no)
for failure in "${failures[@]}"; do echo "emulate-pico2.sh: $failure" >&2; done
echo "pico2: $digit recognised, screens identical to simulator: $identical, ${cycles:-no count}"
[ "${#failures[@]}" = 0 ]
