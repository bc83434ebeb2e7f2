#!/usr/bin/env bash
# Sets up (apt + build) and runs the whole test suite with CTest. GPU tests skip themselves
# when no GPU is present.   launch/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
bash launch/setup.sh "$build_dir"
cd "$build_dir"
ctest --output-on-failure -j "${WEMASK_TEST_JOBS:-$(nproc)}" --timeout 900
