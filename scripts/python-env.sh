#!/usr/bin/env bash
# Creates (once) the project-local Python environment the cross-checks use: `onnx` for
# checker/shape inference and `onnxruntime`, whose wheel ships libonnxruntime.so for the Rust
# `ort` crate (Debian has no package). Prints the ORT_DYLIB_PATH to export.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "onnx>=1.16" "onnxruntime>=1.19,<1.33" "numpy"
