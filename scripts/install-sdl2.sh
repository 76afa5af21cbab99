#!/usr/bin/env bash
# Installs SDL2's development files (Debian/Ubuntu: libsdl2-dev) when missing: the desktop
# simulator (firmware/simulator, embedded-graphics-simulator) links against libSDL2.
set -euo pipefail
if pkg-config --exists sdl2 2>/dev/null || [ -e /usr/lib/x86_64-linux-gnu/libSDL2.so ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-sdl2.sh: no apt-get here; install SDL2's development package (e.g. libsdl2-dev, SDL2-devel, brew install sdl2)" >&2
  exit 1
fi
. "$(dirname "$0")/debian-suites.sh"
# Once install-vulkan.sh has brought Mesa from backports (libgbm1, libdrm2 and the rest), SDL2's
# development files need the -dev packages of exactly those versions, which only backports has:
# with the image's own suite alone apt finds no solution ("held broken packages").
suite=()
[ -f "$backports_file" ] && suite=(-t "$backports")
lock=(-o DPkg::Lock::Timeout=300)
$sudo apt-get "${lock[@]}" update -qq
$sudo apt-get "${lock[@]}" install -y -qq "${suite[@]}" libsdl2-dev
