#!/usr/bin/env bash
# CPU training speed, side by side on this machine in one run: the trainer (burn, flex backend)
# and Keras (tensorflow-cpu, pinned, in .venv-keras) train the same stage with the same recipe
# one after the other; per epoch: seconds, images/s and CPU utilisation (process CPU time /
# wall time), then the ratio ours/Keras of the steady epochs (the median of all epochs after the
# first, which carries warm-up). Not part of the test command: it takes minutes and measures.
#
# On even terms: both use every core, set explicitly (RAYON_NUM_THREADS for the trainer,
# TensorFlow's intra- and inter-op pools for Keras); both time the same work, each epoch's
# batches, with the data loaded and handed to the framework once before the first (Keras: one
# fit over all epochs, timed by a callback); the side that runs first alternates from stage to
# stage; per side the fastest and the median steady epoch and its CPU utilisation are printed.
#
#   scripts/bench-train.sh [EPOCHS] [STAGE...]     default: 2 epochs of cnn-bn and dense-deep
#
# Last line, for scripts:
#   train-speed: cnn-bn <ours> s/epoch, keras <theirs> s/epoch, ratio <ours/theirs>
# Only ratios within one run mean anything: absolute times vary ~2.5x between machines of a kind.
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${1:-2}
shift || true
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(cnn-bn dense-deep)
[[ $epochs =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/bench-train.sh [EPOCHS] [STAGE...]" >&2; exit 2; }
# Need at least 2 epochs for a steady figure.
[ "$epochs" -ge 2 ] || { echo "error: EPOCHS must be at least 2 (the first epoch is reported apart)" >&2; exit 2; }

venv=.venv-keras
tensorflow="tensorflow-cpu==2.21.0"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tensorflow' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$tensorflow"
fi

cargo build --workspace --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/trainer stages --json >"$work/stages.json"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

threads=$(nproc)
echo "threads: $threads for each framework"

median() { # the median of the numbers on stdin, one per line
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The steady epochs' (all after the first) seconds or cores from a log of lines
# "<name> <stage> epoch  2/5: ... | 61.3 s, 979 img/s, 1.46 cores".
steady() { grep -E ' epoch +[0-9]+/' "$1" | tail -n +2 | sed -E "s/.*\| ([0-9.]+) s, [0-9]+ img\/s, ([0-9.]+) cores.*/\\$2/"; }
side() { # side's one-line summary: fastest and median steady epoch, median cores
  echo "$1: fastest $(steady "$2" 1 | sort -g | head -1) s, median $(steady "$2" 1 | median) s, $(steady "$2" 2 | median) cores"
}
run_ours() {
  echo "== $stage: trainer (burn flex), $epochs epochs"
  RAYON_NUM_THREADS=$threads target/release/trainer --stage "$stage" --epochs "$epochs" --out "$work/models" |
    tee "$work/ours.log" | grep -E ' epoch +[0-9]+/'
}
run_keras() {
  echo "== $stage: Keras ($tensorflow), $epochs epochs"
  BENCH_THREADS=$threads "$venv/bin/python" scripts/reference/keras_train.py --stages-json "$work/stages.json" \
    --stage "$stage" --epochs "$epochs" --json-out "$work/keras.json" | tee "$work/keras.log" |
    grep -E ' epoch |^keras'
}

summary=()
for i in "${!stages[@]}"; do
  stage=${stages[i]}
  if (( i % 2 == 0 )); then run_ours; run_keras; else run_keras; run_ours; fi
  side "$stage trainer" "$work/ours.log"
  side "$stage keras" "$work/keras.log"
  ours=$(steady "$work/ours.log" 1 | median)
  theirs=$(steady "$work/keras.log" 1 | median)
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  summary+=("train-speed: $stage $ours s/epoch, keras $theirs s/epoch, ratio $ratio")
done
# The first stage asked for prints last: that is the line scripts read.
for ((i = ${#summary[@]} - 1; i >= 0; i--)); do echo "${summary[i]}"; done
