#!/usr/bin/env bash
# The web page in a real browser: builds the site (scripts/build-web.sh -> target/web/) and the
# desktop simulator, then firmware/web/browser-test.mjs serves the site on 127.0.0.1, drives a
# headless Chromium (Debian's chromium package) through the DevTools protocol to draw the ten
# synthetic digits the board emulator draws, as mouse events at the board's poll period, reads
# every answer from the page, compares each screen with the simulator's (pixel for pixel outside
# the inference time), and checks that a model failing its CRC and a browser without WebAssembly
# each put a message on the page. Installs chromium and Node.js with npm (apt) when missing; the
# scripts are type-checked first.
#
#   scripts/test-web.sh                 # screens and logs in target/web-test/
#   scripts/test-web.sh --update-docs   # also writes docs/web.png, the page with a 7 drawn
#
# Prints, last:
#   web: <n>/10 recognised in <browser and version>, screen identical to simulator: <yes|no>, wasm <bytes> B, first paint <ms> ms
set -euo pipefail
cd "$(dirname "$0")/.."
docs=()
for arg in "$@"; do
  case "$arg" in
    --update-docs) docs=(--docs-screenshot docs/web.png) ;;
    *) echo "test-web.sh: unknown argument $arg (usage: test-web.sh [--update-docs])" >&2; exit 2 ;;
  esac
done
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v chromium >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "test-web.sh: needs ${missing[*]} (Node.js 18 or newer; Chromium or Chrome as 'chromium' on PATH)" >&2
    exit 1
  fi
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi
# Type-check the page's script and the browser test (JSDoc types) with the board emulator's
# pinned TypeScript (firmware/board-emulator/package-lock.json).
[ -x firmware/board-emulator/node_modules/.bin/tsc ] ||
  (cd firmware/board-emulator && npm ci --no-audit --no-fund --loglevel=error)
firmware/board-emulator/node_modules/.bin/tsc -p firmware/web
scripts/build-web.sh
# The simulator prints the finger scripts (--polls) and the reference screens (--png --compare).
scripts/install-sdl2.sh
(cd firmware && cargo build --release -p simulator)
rm -rf target/web-test
node firmware/web/browser-test.mjs --site target/web --simulator firmware/target/release/simulator \
  --chromium "$(command -v chromium)" --out target/web-test "${docs[@]}"
