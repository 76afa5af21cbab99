#!/usr/bin/env bash
# The trainer's GPU path, run on a software Vulkan device (Mesa's lavapipe, on the CPU) and
# checked against the flex CPU backend. Part of the test command (scripts/test.sh); runs alone too.
#
#   1. Inference: every committed stage (models/) on Vulkan and on flex over the first
#      $VULKAN_CHECK_DIGITS test digits (default 2000): every probability within 1e-4 and every
#      answer the same (`trainer compare`).
#   2. Training: dense1 for one epoch and cnn-bn for 300 steps (`--quick`: 2 x 150, the
#      recipe's first and last learning rates, then the batch norms' statistics measured under
#      the final weights) on Vulkan and on flex, into target/vulkan-check/ (never models/): the
#      losses fall, each epoch's mean training loss is within 0.1% (dense1) or 5% (cnn-bn) of
#      flex's and Vulkan's test accuracy within 0.5 points of flex's. Both start from the same
#      weights and draw the same dropout masks, in the same order (the trainer draws them on
#      the CPU for every device): not bit-exact only because the GPU kernels sum in another
#      order, which training amplifies (docs/training.md: how far, and why the quick run ends
#      as it does).
#   3. The `wgpu` backend's WGSL kernels: step 1 again with `--backend wgpu` on OpenGL ES
#      (WGPU_BACKEND=gl: Mesa's llvmpipe through EGL), where wgpu translates cubecl's WGSL
#      (naga) instead of running SPIR-V, on cnn-bn-aug, the codelab CNN's network (convolutions, batch
#      norm, pooling, dense layers, softmax: every kernel kind the stages use); printed before
#      the last line.
#
# Last line: `vulkan: <device>, forward max |diff| <d> on <n> digits, <k>/<m> stages, training
# dense1 <a>% (flex <b>%), cnn-bn <c>% (flex <e>%)`.
#
# Installs lavapipe and the Vulkan loader when missing (scripts/install-vulkan.sh) and builds the
# trainer with `--features vulkan` (as the test command's build does, so nothing is rebuilt
# there). VK_DRIVER_FILES chooses another Vulkan driver (a real GPU's ICD).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

digits=${VULKAN_CHECK_DIGITS:-2000}
tolerance=1e-4
max_gap_points=0.5
scratch=$root/target/vulkan-check

export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$(scripts/install-vulkan.sh)}
# The loader and Mesa want a runtime folder; a CI shell often has none.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR=$scratch/xdg
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi

# The workspace build with the GPU feature, as scripts/test.sh builds it (a lone -p trainer build
# would unify burn's features differently and rebuild it). scripts/test.sh has built it already
# and names the binary in VULKAN_CHECK_TRAINER: the check then takes no cargo lock, which the
# cargo commands running beside it hold for minutes. The check runs its own copy, which a later
# build cannot replace under it.
mkdir -p "$scratch"
if [ -z "${VULKAN_CHECK_TRAINER:-}" ]; then
  cargo build --workspace --release --bins --features trainer/vulkan
fi
cp "${VULKAN_CHECK_TRAINER:-$root/target/release/trainer}" "$scratch/trainer"
trainer=$scratch/trainer

# On lavapipe nearly all the time goes to LLVM compiling the kernels that burn's autotuning tries
# (a few seconds to a minute each). Both caches live in the user's cache folder, so that a later
# run, from any clone, skips what an earlier one compiled and tuned: Mesa's shader cache (its
# default place) and cubecl's autotune results, which it keeps under target/ of the workspace
# unless a cubecl.toml in the working directory says otherwise (the trainer runs from $scratch).
# GALLIVM_PERF=nopt skips LLVM's optimisation passes: the kernels run slower and compile faster,
# and compiling is what costs here. A cache changes which kernel runs, never what is checked.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/mnist-edge/cubecl
mkdir -p "$scratch/runs" "$cache"
rm -rf "$scratch/runs"/*
printf '[environment]\npath = { directory = "%s" }\n' "$cache" > "$scratch/cubecl.toml"
export GALLIVM_PERF=${GALLIVM_PERF:-nopt}
# Coarser autotune keys (shapes rounded to larger steps): fewer tunings, each compiling kernels.
export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
# The trainer's default data folder, data/mnist, seen from $scratch: still checked as MNIST.
ln -sfn "$root/data" "$scratch/data"
cd "$scratch"

echo "vulkan-check: driver $VK_DRIVER_FILES, autotune cache $cache"

# Every trainer run gets at most this long, in seconds: one that hangs fails the check and says
# so, instead of stalling the test command. (It happened: wgpu's GL backend panics in a worker
# thread when it cannot lock its EGL context for 6 s, as when llvmpipe compiles a large kernel
# on a busy machine, and the process then waited for that thread forever: docs/training.md.)
limit=${VULKAN_CHECK_STEP_LIMIT:-2400}
bounded() { # what command...
  local what=$1 status=0
  shift
  timeout --kill-after=30 "$limit" "$@" || status=$?
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "vulkan-check: $what did not finish in $limit s (VULKAN_CHECK_STEP_LIMIT sets the limit)" >&2
  fi
  return "$status"
}

# 1. Inference on every committed stage.
SECONDS=0
bounded "inference on vulkan" "$trainer" compare --backend vulkan --out "$root/models" \
  --digits "$digits" --tolerance "$tolerance" | tee compare.log
summary=$(grep '^compare: ' compare.log)
echo "vulkan-check: inference compared in $SECONDS s"

# 2. Training on both backends. Prints "<accuracy %> <summary>" of the run, or fails when its
# losses do not fall: ln(classes) (an untrained network's loss), then each epoch's mean training
# loss, must decrease, and the test loss must be below ln(classes).
train() { # backend stage [trainer options...]
  local backend=$1 stage=$2
  shift 2
  local out=runs/$stage-$backend
  SECONDS=0
  bounded "training $stage on $backend" "$trainer" train --backend "$backend" --stage "$stage" \
    --out "$out" "$@" > "$out.log" 2>&1 || {
    tail -20 "$out.log" >&2
    echo "vulkan-check: training $stage on $backend failed (log: $scratch/$out.log)" >&2
    return 1
  }
  python3 - "$out/$stage/metrics.json" "$backend" "$SECONDS" <<'PY'
import json, math, sys
path, backend, wall = sys.argv[1:]
metrics = json.load(open(path))
epochs = metrics["epochs"]
# "net" is {"<kind>": {..., "classes": N}}.
classes = next(iter(metrics["net"].values()))["classes"]
losses = [math.log(classes)] + [e["train_loss"] for e in epochs]
test_loss = epochs[-1]["validation_loss"]
shown = " -> ".join(f"{loss:.3f}" for loss in losses) + f", test {test_loss:.3f}"
seconds = sum(e["seconds"] for e in epochs)
# The test loss (inference mode, no dropout, running batch-norm statistics) is not comparable
# with the training means; it must only be below an untrained network's.
if not all(b < a for a, b in zip(losses, losses[1:])) or not test_loss < losses[0]:
    sys.exit(f"vulkan-check: {metrics['stage']} on {backend}: the losses do not fall: {shown} ({path})")
print(f"{100 * metrics['test_accuracy']:.2f} {metrics['stage']} on {backend}: losses {shown}, "
      f"test accuracy {100 * metrics['test_accuracy']:.2f}%, {seconds:.1f} s training, {wall} s in all")
PY
}

# Trains `stage` on both backends and checks that the test accuracies are within
# $max_gap_points and each epoch's mean training loss within `loss_tolerance` (relative) of
# flex's; prints "<vulkan %> (flex <flex %>)".
train_both() { # loss_tolerance stage [trainer options...]
  local loss_tolerance=$1 vulkan flex
  shift
  vulkan=$(train vulkan "$@") || return 1
  flex=$(train flex "$@") || return 1
  echo "${vulkan#* }" >&2
  echo "${flex#* }" >&2
  python3 - "$1" runs/"$1"-{vulkan,flex}/"$1"/metrics.json "$max_gap_points" "$loss_tolerance" <<'PY'
import json, sys
stage, vulkan_path, flex_path = sys.argv[1:4]
gap, loss_tolerance = map(float, sys.argv[4:])
vulkan, flex = (json.load(open(path)) for path in (vulkan_path, flex_path))
for v, f in zip(vulkan["epochs"], flex["epochs"]):
    if abs(v["train_loss"] - f["train_loss"]) > loss_tolerance * f["train_loss"]:
        sys.exit(f"vulkan-check: {stage} epoch {f['epoch']}: mean training loss {v['train_loss']:.4f} "
                 f"on Vulkan, {f['train_loss']:.4f} on flex: more than {loss_tolerance:.0%} apart")
v, f = (100 * m["test_accuracy"] for m in (vulkan, flex))
if abs(v - f) > gap:
    sys.exit(f"vulkan-check: {stage} reached {v:.2f}% on Vulkan and {f:.2f}% on flex: "
             f"{abs(v - f):.2f} points apart, more than {gap}")
print(f"{v:.2f}% (flex {f:.2f}%)")
PY
}

# dense1 (one linear layer, SGD) tracks flex step for step (its weights stay within 1e-7), so
# its losses must agree closely; cnn-bn's drift apart as summation order compounds over 300
# Adam steps (2-3% measured after the second epoch).
dense1=$(train_both 0.001 dense1 --epochs 1)
cnn_bn=$(train_both 0.05 cnn-bn --quick)

# 3. WGSL on GL. Metal and DirectX 12 take the same WGSL through other naga back ends. One stage:
# with nothing cached, all ten took 18 minutes of compiling and autotuning on lavapipe beside the
# test command's other steps, which pushed the whole run past an hour; the board's stage runs every
# kernel kind the others do.
SECONDS=0
WGPU_BACKEND=gl bounded "WGSL inference on gl" "$trainer" compare --backend wgpu \
  --out "$root/models" --digits "$digits" --stage cnn-bn-aug --tolerance "$tolerance" |
  tee compare-wgsl.log
echo "vulkan-check: WGSL inference compared in $SECONDS s"

# compare: <device>, forward max |diff| <d> on <n> digits, <k>/<m> stages within ...
wgsl=$(grep '^compare: ' compare-wgsl.log)
echo "wgpu: ${wgsl#compare: }"
device=${summary#compare: }
device=${device%%, forward max*}
forward=${summary#*forward max |diff| }
forward=${forward%% stages within*}
echo "vulkan: $device, forward max |diff| $forward stages, training dense1 $dense1, cnn-bn $cnn_bn"
