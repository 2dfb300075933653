#!/usr/bin/env bash
# One-command set-up on Debian 12: system packages (libtorch, OpenBLAS with OpenMP, the PyTorch oracle used by
# the parity tests and benchmark anchors), then `npm ci`, which builds the native addon and the TypeScript.
set -euo pipefail
packages=(libtorch-dev libgloo-dev libopenblas0-openmp python3-torch python3-sklearn python3-numpy g++ make chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -q
  $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# onnxruntime-node's install script would download a CUDA provider; the CPU build ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci
