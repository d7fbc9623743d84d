#!/usr/bin/env bash
# Installs a Vulkan driver Dawn accepts, for the webgpu backend: Mesa 25 (lavapipe) from bookworm-backports and libvulkan1.
# Idempotent: skipped when a Mesa >= 25 Vulkan driver and the loader are in place. Debian 12 only (Dawn refuses its Mesa 22.3).
set -euo pipefail
t0=$(date +%s)
fail() { echo "webgpu-setup: FAILED: $*" >&2; exit 1; }
step() { echo "webgpu-setup: $*"; }

mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [ "${mesa%%.*}" -ge 25 ] 2>/dev/null && dpkg -s libvulkan1 >/dev/null 2>&1; then
  step "mesa-vulkan-drivers $mesa and libvulkan1 already installed"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || fail "no apt-get: install libvulkan1 and Mesa >= 25's Vulkan drivers (or a GPU's Vulkan driver) by hand"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || fail "expected Debian 12 (bookworm), found ${PRETTY_NAME:-unknown}: install libvulkan1 and Mesa >= 25's mesa-vulkan-drivers from your distribution"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo; as root run: $0"
  SUDO="sudo -n"
fi
list=/etc/apt/sources.list.d/bookworm-backports.list
grep -qs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/* ||
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee "$list" >/dev/null || fail "writing $list"
step "apt-get install -t bookworm-backports mesa-vulkan-drivers; libvulkan1"
$SUDO apt-get update -qq || fail "apt-get update"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null || fail "apt-get install -t bookworm-backports mesa-vulkan-drivers"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null || fail "apt-get install libvulkan1"
step "mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) installed in $(( $(date +%s) - t0 )) s"
