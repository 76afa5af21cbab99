#!/usr/bin/env bash
# A software GPU for scripts/vulkan-check.sh: Mesa's lavapipe (a Vulkan driver that runs on the
# CPU, through LLVM) with the Vulkan loader, and Mesa's llvmpipe behind EGL (OpenGL ES on the CPU,
# where the check runs the `wgpu` backend's WGSL kernels), installed from Debian's packages when
# missing or too old. Prints the Vulkan driver file to use (VK_DRIVER_FILES).
#
# Mesa 25 is the oldest lavapipe the check was verified with (wgpu's and cubecl's CI use the same
# generation); Debian 12's own, 22.3.6, crashes compiling burn's kernels (docs/training.md), so on
# Debian 12 the driver comes from bookworm-backports (scripts/debian-suites.sh).
set -euo pipefail

. "$(dirname "$0")/debian-suites.sh"

die() { echo "install-vulkan.sh: $*" >&2; exit 1; }

min_mesa=25
icd=/usr/share/vulkan/icd.d/lvp_icd.json

mesa_major() { # package
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed -n 's/^\([0-9]*\)\..*/\1/p'
}

usable() {
  [ -f "$icd" ] && ldconfig -p | grep -q 'libvulkan.so.1 ' && ldconfig -p | grep -q 'libEGL.so.1 ' &&
    [ "$(mesa_major mesa-vulkan-drivers)" -ge "$min_mesa" ] 2>/dev/null &&
    [ "$(mesa_major libegl-mesa0)" -ge "$min_mesa" ] 2>/dev/null &&
    [ "$(mesa_major libgl1-mesa-dri)" -ge "$min_mesa" ] 2>/dev/null
}

if ! usable; then
  command -v apt-get >/dev/null ||
    die "no apt-get here: install Mesa >= $min_mesa's lavapipe (lvp_icd.json) and the Vulkan loader yourself"
  add_backports
  # Waits for dpkg's lock rather than failing when another install is running.
  lock=(-o DPkg::Lock::Timeout=300)
  $sudo apt-get "${lock[@]}" update -qq
  # -t prefers backports where it has the package and falls back to the stable suite.
  $sudo apt-get "${lock[@]}" install -y -qq --no-install-recommends -t "$backports" \
    mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri >&2
  usable || die "lavapipe and EGL from Mesa >= $min_mesa are not installable here (mesa-vulkan-drivers $(
    dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo none), libegl-mesa0 $(
    dpkg-query -W -f='${Version}' libegl-mesa0 2>/dev/null || echo none)); install newer ones"
fi
echo "$icd"
