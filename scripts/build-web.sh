#!/usr/bin/env bash
# Builds the web page into target/web/: the board's app (firmware/web: the firmware's controller,
# UI and int8 model on runtime-nostd's kernels) compiled to wasm32-unknown-unknown with plain
# exports, the page (firmware/web/site) and the training report it links. Any static file server
# serves the folder, e.g.:
#
#   scripts/build-web.sh && python3 -m http.server -d target/web 8000   # then http://localhost:8000
#
# The wasm32-unknown-unknown target comes with the pinned toolchain (rust-toolchain.toml);
# rustup adds it where an older install of the toolchain lacks it. Prints, last:
#   build-web: target/web (wasm <bytes> B)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
(cd firmware && cargo build -p web --profile web --target wasm32-unknown-unknown)
out=target/web
rm -rf "$out"
mkdir -p "$out/report"
cp firmware/web/site/index.html firmware/web/site/main.js firmware/web/site/style.css "$out/"
cp firmware/target/wasm32-unknown-unknown/web/web.wasm "$out/"
# The training report and the plots it links (models/<stage>/lr.png, predictions.png).
cp models/report.html "$out/report/"
for plots in models/*/; do
  stage=$(basename "$plots")
  mkdir -p "$out/report/$stage"
  cp "$plots"/*.png "$out/report/$stage/"
done
echo "build-web: $out (wasm $(stat -c %s "$out/web.wasm") B)"
