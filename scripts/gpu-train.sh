#!/usr/bin/env bash
# Trains the whole progression on a GPU with the trainer's `vulkan` backend, beside a PyTorch
# reference of cnn-bn on the same GPU, in one run. Three steps, because the GPU machine has no
# Rust toolchain and no network:
#
#   scripts/gpu-train.sh package            on this machine: builds `trainer --features vulkan`,
#                                           packs it (xz) with the Vulkan loader (Debian's
#                                           libvulkan1) and the stage table into .gpu/
#   scripts/gpu-train.sh run [--quick] OUT  on the GPU machine, from the repository root with
#                                           .gpu/ beside it: trains every stage (10 epochs, or a
#                                           few hundred steps with --quick), runs the PyTorch
#                                           reference, and leaves in OUT the logs, the weights and
#                                           metrics (gpu-models.tar.gz) and the autotune cache
#   scripts/gpu-train.sh unpack TAR [DIR]   on this machine: unpacks the weights and metrics into
#                                           DIR (default models/), then rewrites every export
#                                           (ONNX, flat f32/int8), plot and report from them
#
# The device tool of this project's workplace runs the middle step as
#   run(command="scripts/gpu-train.sh run \$OUT", carry=[".gpu"])
# Environment: STAGES (comma-separated, default all in codelab order); RUN_BUDGET (seconds for the
# whole run, default 540); VK_DRIVER_FILES to choose the Vulkan driver (default: the NVIDIA ICD found on the
# machine); CUBECL_AUTOTUNE_LEVEL (minimal|balanced|extensive|full, burn's default balanced).
set -euo pipefail
cd "$(dirname "$0")/.."

pack=.gpu
usage() {
  sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

package() {
  mkdir -p "$pack"
  cargo build -p trainer --release --features vulkan
  # xz, not gzip: the tree sent to the GPU machine is capped (64 MiB), and xz packs the 113 MB
  # stripped binary into ~18 MB where gzip leaves ~30.
  strip -o "$pack/trainer" target/release/trainer
  xz -f -9e -T0 "$pack/trainer"
  "target/release/trainer" stages --json >"$pack/stages.json"
  if ! compgen -G "$pack/libvulkan1_*_amd64.deb" >/dev/null; then
    # The GPU machine may lack the Vulkan loader; carry Debian's (amd64, whatever this machine is).
    local apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/gpu-apt-lists)
    mkdir -p /tmp/gpu-apt-lists/partial
    apt-get "${apt[@]}" update -qq
    (cd "$pack" && apt-get "${apt[@]}" download libvulkan1)
  fi
  cp scripts/reference/torch_train.py scripts/reference/common.py "$pack/"
  du -sh "$pack"/*
  # Built with the GPU feature, the binary is also a CPU trainer; rebuild the workspace's own.
  cargo build --workspace --release
  echo "packed $pack/; next, on the GPU machine: scripts/gpu-train.sh run OUT (carry $pack)"
}

# Makes the Vulkan loader and the NVIDIA driver visible; fails with what is missing.
setup_vulkan() {
  if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    local loader=/tmp/gpu-vulkan
    mkdir -p "$loader"
    for deb in "$pack"/libvulkan1_*.deb; do dpkg -x "$deb" "$loader"; done
    export LD_LIBRARY_PATH="$loader/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  if [ -z "${VK_DRIVER_FILES:-}" ]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
      /etc/vulkan/icd.d/nvidia_icd.json; do
      if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
    done
  fi
  echo "vulkan: loader $(ldconfig -p | grep -c 'libvulkan.so.1 ') system + ${LD_LIBRARY_PATH:-none}; driver ${VK_DRIVER_FILES:-not found}"
  [ -n "${VK_DRIVER_FILES:-}" ] || { echo "error: no NVIDIA Vulkan ICD found; set VK_DRIVER_FILES" >&2; return 1; }
}

run() {
  local quick=() torch_epochs=() out
  if [ "${1:-}" = --quick ]; then quick=(--quick); torch_epochs=(--epochs 2); shift; fi
  out=${1:?usage: scripts/gpu-train.sh run [--quick] OUT}
  mkdir -p "$out"
  [ -f "$pack/trainer.xz" ] || { echo "error: $pack/trainer.xz missing; run scripts/gpu-train.sh package first" >&2; exit 1; }
  xz -dc "$pack/trainer.xz" >/tmp/trainer 2>/dev/null ||
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open("/tmp/trainer","wb"))' "$pack/trainer.xz"
  chmod +x /tmp/trainer
  setup_vulkan
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt" || true

  # The PyTorch reference first: short, and the yardstick for the trainer's epochs.
  timeout "${TORCH_TIMEOUT:-90}" python3 "$pack/torch_train.py" --stages-json "$pack/stages.json" \
    --stage cnn-bn --data-dir data/mnist "${torch_epochs[@]}" --json-out "$out/torch-cnn-bn.json" \
    2>&1 | tee "$out/torch.log" || echo "torch reference failed or timed out (see torch.log)"

  # The whole progression, timed from process start to the last export by the trainer itself.
  # RUN_BUDGET (s) bounds the whole run so that the outputs are packed before the caller's limit.
  local budget=${RUN_BUDGET:-540} models=/tmp/gpu-models
  rm -rf "$models"
  local stages=()
  if [ -n "${STAGES:-}" ]; then stages=(--stage "$STAGES"); fi
  timeout $((budget - SECONDS - 70)) /tmp/trainer --backend vulkan --out "$models" "${stages[@]}" "${quick[@]}" 2>&1 |
    tee "$out/train.log" || echo "trainer failed or timed out (see train.log)"
  # With the time left: cnn-bn again in a new process, to see what the persistent autotune
  # cache (target/environment/) does to the first epoch.
  if [ $((budget - SECONDS)) -gt 60 ]; then
    timeout $((budget - SECONDS - 15)) /tmp/trainer --backend vulkan --out /tmp/gpu-warm --stage cnn-bn \
      --epochs 2 "${quick[@]}" 2>&1 | tee "$out/warm.log" || echo "warm-cache run failed or timed out"
  fi
  tar -czf "$out/gpu-models.tar.gz" -C "$models" --exclude='*.png' --exclude='*.onnx' --exclude='*.mnef' . || true
  # The autotune results and compiled kernels, for a warm start on the same GPU.
  if compgen -G 'target/environment/*' >/dev/null; then
    tar -czf "$out/cubecl-cache.tar.gz" -C target environment
  fi
  ls -la "$out"
}

unpack() {
  local tarball=${1:?usage: scripts/gpu-train.sh unpack TAR [DIR]} dir=${2:-models}
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --wildcards '*/weights.bpk' '*/metrics.json'
  cargo build --workspace --release
  target/release/trainer export --out "$dir"
  target/release/trainer report --out "$dir"
}

case "${1:-}" in
  package) package ;;
  run) shift; run "$@" ;;
  unpack) shift; unpack "$@" ;;
  *) usage ;;
esac
