# The two board builds of pico-restouch, in one place; sourced (from firmware/) by
# size-report.sh, emulate-board.sh and build-uf2.sh.
#
#   pico2  Raspberry Pi Pico 2 (RP2350, Cortex-M33, Arm secure image): the default features
#   pico   Raspberry Pi Pico (RP2040, Cortex-M0+): the `rp2040` feature
BOARDS=(pico2 pico)

board_target() { # board
  case $1 in
    pico2) echo thumbv8m.main-none-eabihf ;;
    pico) echo thumbv6m-none-eabi ;;
    *) echo "boards.sh: unknown board '$1' (pico2 or pico)" >&2; return 1 ;;
  esac
}

# The UF2 family ID's name (firmware/uf2: elf2uf2 --family).
board_uf2_family() { # board
  case $1 in
    pico2) echo rp2350-arm-s ;;
    pico) echo rp2040 ;;
    *) echo "boards.sh: unknown board '$1' (pico2 or pico)" >&2; return 1 ;;
  esac
}

board_elf() { # board [target folder]
  echo "${2:-target}/$(board_target "$1")/release/pico-restouch"
}

# The UF2 file build-uf2.sh writes, named after the display board and the Pico.
board_uf2() { # board
  echo "target/uf2/pico-restouch-$1.uf2"
}

build_board() { # board [more cargo arguments]
  local features=()
  [ "$1" = pico ] && features=(--no-default-features --features rp2040)
  cargo build --release -p pico-restouch "${features[@]}" --target "$(board_target "$1")" "${@:2}"
}
