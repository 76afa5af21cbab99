#!/usr/bin/env bash
# Creates (once) the project-local Python environment the cross-checks use: `onnx` for
# checker/shape inference and `onnxruntime`, whose wheel ships libonnxruntime.so for the Rust
# `ort` crate (Debian has no package). Prints the ORT_DYLIB_PATH to export.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  # A stock Debian ships python3 without the venv module's ensurepip (package python3-venv).
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv
  fi
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "onnx>=1.16" "onnxruntime>=1.19,<1.33" "numpy" "opencv-python-headless>=4.10"
