#!/usr/bin/env bash
# On the GPU machine (DEVELOPERS.md): Vulkan loader from carried .deb files, then bench/webgpu (S = 1, 2, 4; wasm; simulator error) into $OUT.
# Prepare here: mkdir -p .gpu/debs && (cd .gpu/debs && apt-get download libvulkan1); npx tsc -p tsconfig.json.
# Node and node_modules must be on the machine or carried (the carry limit is 64 MiB: node_modules here is ~460 MiB,
# node 95 MiB, Dawn's dawn.node 21 MiB; a run needs a trimmed, compressed bundle of them). Untested: no GPU machine was lent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for d in .gpu/debs/*.deb; do dpkg -x "$d" /; done
  ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
node dist/bench/webgpu.js "$@" 2>&1 | grep -v '^Warning: maxDynamic' | tee "${OUT:-/tmp}/webgpu-bench.log"
cp bench/results/webgpu.json bench/results/webgpu.md "${OUT:-/tmp}/"
