#!/usr/bin/env bash
# Counts Cortex-M33 instructions per cnn-bn inference (int8 and f32) under QEMU mps2-an505 with
# the TCG `insn` plugin: each variant is built to run 1 and 11 inferences, and
# (count(11) - count(1)) / 10 is one inference without start-up. Debian's QEMU accepts -plugin
# but ships no plugins, so this builds tests/plugin/insn.c from the Debian source package of the
# installed QEMU (needs deb-src access, gcc and libglib2.0-dev, installed here when missing).
set -euo pipefail
# A failure inside $(...) must stop the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")"
work=${MNIST_EDGE_PLUGIN_DIR:-target/qemu-plugin}
mkdir -p "$work"
plugin="$(pwd)/$work/libinsn.so"
if [ ! -f "$plugin" ]; then
  command -v qemu-system-arm >/dev/null || { apt-get update -qq && apt-get install -y -qq qemu-system-arm; }
  dpkg -s libglib2.0-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libglib2.0-dev pkg-config; }
  version=$(dpkg -s qemu-system-arm | sed -n 's/^Version: //p' | sed 's/+b[0-9]*$//')
  sources="$(pwd)/$work/deb-src.sources"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$sources"
  apt_src=(-o Dir::Etc::SourceList="$sources" -o Dir::Etc::SourceParts=/dev/null
           -o Dir::State::Lists="$(pwd)/$work/lists")
  mkdir -p "$work/lists/partial"
  apt-get "${apt_src[@]}" update -qq
  (cd "$work" && apt-get "${apt_src[@]}" source --download-only "qemu=$version")
  (cd "$work" && tar -xJf qemu_*.orig.tar.xz --wildcards '*/tests/plugin/insn.c' '*/include/qemu/qemu-plugin.h')
  src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'qemu-[0-9]*' | head -1)
  gcc -O2 -shared -fPIC -I"$src/include/qemu" $(pkg-config --cflags glib-2.0) \
    "$src/tests/plugin/insn.c" -o "$plugin" $(pkg-config --libs glib-2.0)
fi
count() {
  MNIST_EDGE_VARIANT=$1 MNIST_EDGE_INFERENCES=$2 \
    cargo build -q --release -p qemu --bin inference-count --target thumbv8m.main-none-eabihf
  local insns
  insns=$(qemu-system-arm -M mps2-an505 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -plugin "$plugin",inline=on -d plugin \
    -kernel target/thumbv8m.main-none-eabihf/release/inference-count 2>&1 >/dev/null |
    sed -n 's/^insns: //p')
  if ! [[ "$insns" =~ ^[0-9]+$ ]]; then
    echo "count-instructions.sh: QEMU's insn plugin gave no count for $1 x $2 (got '${insns}')" >&2
    return 1
  fi
  echo "$insns"
}
for variant in i8 f32; do
  one=$(count "$variant" 1)
  eleven=$(count "$variant" 11)
  echo "cnn-bn $variant: $(( (eleven - one) / 10 )) instructions/inference (Cortex-M33, QEMU TCG)"
done
