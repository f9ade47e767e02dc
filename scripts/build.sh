#!/usr/bin/env bash
# Configures and builds into build/ (RelWithDebInfo, warnings as errors, ccache).
# Extra arguments go to the configure step, e.g. -DZEPPELIN_SANITIZE=ON.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ZEPPELIN_ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DZEPPELIN_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
