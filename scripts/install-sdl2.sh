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
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
$sudo apt-get update -qq
$sudo apt-get install -y -qq libsdl2-dev
