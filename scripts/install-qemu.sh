#!/usr/bin/env bash
# The QEMU that mnist-edge's checks run, installed from Debian's packages when missing, on images
# with and without backported QEMU packages. One place for what depends on the QEMU version.
#
#   scripts/install-qemu.sh user-x86      qemu-x86_64, the user-mode emulator (qemu-user-static):
#                                         ONNX Runtime on an emulated AVX2-only CPU
#                                         (cross-check/tests/int8_onnx.rs)
#   scripts/install-qemu.sh system-arm    qemu-system-arm: the Cortex-M33 checks (firmware/run-qemu.sh)
#   scripts/install-qemu.sh plugin-source DIR
#                                         tests/…/insn.c and include/qemu/qemu-plugin.h of the
#                                         installed qemu-system-arm's own source, extracted into DIR
#                                         as DIR/insn.c and DIR/qemu-plugin.h
#                                         (firmware/count-instructions.sh builds the plugin)
#
# Some images ship qemu-utils from <codename>-backports. The stable suite's qemu-system-arm then
# cannot be installed beside it (its qemu-system-common breaks the newer qemu-utils, so apt
# refuses or removes qemu-utils), so qemu-system-arm comes from the suite the installed qemu-utils
# came from: backports, through scripts/debian-suites.sh.
# qemu-user-static comes from the same suite (backports' is the newer qemu-user under its old name).
set -euo pipefail

. "$(dirname "$0")/debian-suites.sh"

die() { echo "install-qemu.sh: $*" >&2; exit 1; }

# Whether the installed qemu-utils is a backport (version ~bpoNN).
qemu_utils_from_backports() {
  dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q '~bpo'
}

# Installs QEMU packages from the suite the installed qemu-utils came from (see above).
install_qemu_packages() {
  local suite=()
  if qemu_utils_from_backports; then
    add_backports
    suite=(-t "$backports")
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${suite[@]}" "$@"
}

install_user_x86() {
  command -v qemu-x86_64 >/dev/null || command -v qemu-x86_64-static >/dev/null ||
    install_qemu_packages qemu-user-static
}

install_system_arm() {
  command -v qemu-system-arm >/dev/null || install_qemu_packages qemu-system-arm
}

# The upstream tarball of the installed qemu-system-arm's source package, fetched by the URI and
# checksum that apt's source index gives (a private deb-src list: the image's suites and
# backports). Only the .orig tarball is fetched: the Debian parts of a backport's source are not
# always on the archive, and the plugin needs nothing from them.
plugin_source() {
  local dir
  dir=$(mkdir -p "$1" && cd "$1" && pwd)
  install_system_arm
  local tools=()
  command -v curl >/dev/null || tools+=(curl)
  command -v xz >/dev/null || tools+=(xz-utils)
  [ ${#tools[@]} = 0 ] || { $sudo apt-get update -qq && $sudo apt-get install -y -qq "${tools[@]}"; }
  local version suites
  version=$(dpkg-query -W -f='${source:Version}' qemu-system-arm)
  mkdir -p "$dir/lists/partial" "$dir/download"
  suites=$(sed -n 's/^Suites: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | tr '\n' ' ')
  suites=${suites:-$VERSION_CODENAME $VERSION_CODENAME-updates}
  # The security archive's suites need its own URI; the main archive's suites are enough here.
  stanza deb-src "$(echo "$suites" | tr ' ' '\n' | grep -v -- '-security' | tr '\n' ' ') $backports" \
    > "$dir/deb-src.sources"
  local apt_src=(-o Dir::Etc::SourceList="$dir/deb-src.sources" -o Dir::Etc::SourceParts=/dev/null
                 -o Dir::State::Lists="$dir/lists")
  apt-get "${apt_src[@]}" update -qq
  local line uri name checksum
  line=$(cd "$dir/download" && apt-get "${apt_src[@]}" source --print-uris "qemu=$version" 2>/dev/null |
    grep "\.orig\.tar\." | head -1) ||
    die "no source of qemu $version in $suites$backports (the installed qemu-system-arm's version)"
  read -r uri name _ checksum <<<"$line"
  uri=${uri//\'/}
  [ -f "$dir/download/$name" ] || curl -fsSL -o "$dir/download/$name" "$uri" ||
    die "downloading $uri failed"
  case $checksum in
    SHA256:*) echo "${checksum#SHA256:}  $dir/download/$name" | sha256sum -c --quiet - ||
                die "$name does not match the checksum of apt's source index" ;;
    *) die "apt's source index gives no SHA256 for $name ($checksum)" ;;
  esac
  # The plugin moved from tests/plugin/ (QEMU 7) to tests/tcg/plugins/ (QEMU 8 on); no other
  # file of the tree is called insn.c.
  tar -xJf "$dir/download/$name" -C "$dir/download" --wildcards '*/insn.c' '*/include/qemu/qemu-plugin.h'
  local insn header
  insn=$(find "$dir/download" -path '*plugin*/insn.c' | head -1)
  header=$(find "$dir/download" -name qemu-plugin.h | head -1)
  [ -n "$insn" ] && [ -n "$header" ] || die "$name has no insn.c or qemu-plugin.h"
  cp "$insn" "$dir/insn.c"
  cp "$header" "$dir/qemu-plugin.h"
  echo "install-qemu.sh: insn plugin source of qemu $version in $dir" >&2
}

[ $# -ge 1 ] || die "usage: install-qemu.sh user-x86 | system-arm | plugin-source DIR"
command -v apt-get >/dev/null || die "no apt-get here: install QEMU ($1) with your system's package manager"
case $1 in
  user-x86) install_user_x86 ;;
  system-arm) install_system_arm ;;
  plugin-source) [ $# = 2 ] || die "usage: install-qemu.sh plugin-source DIR"; plugin_source "$2" ;;
  *) die "unknown part '$1' (user-x86, system-arm, plugin-source DIR)" ;;
esac
