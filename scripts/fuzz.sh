#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, coverage on the libraries too) into
# build-fuzz/ and runs each for FUZZ_SECONDS (default 60). Usage:
#   bash scripts/fuzz.sh                 # all targets
#   bash scripts/fuzz.sh rlp_fuzz        # one target
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh abi_fuzz
# Corpora grow in build-fuzz/corpus/<target>; seeds are read from fuzz/corpus/<target> if present.
# Crashes are written to build-fuzz/crashes/ and make the script fail.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ZEPPELIN_ROOT"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
BUILD_DIR=build-fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEPPELIN_FUZZ=ON -DZEPPELIN_TESTS=OFF -DZEPPELIN_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link $san" -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $san" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
cmake --build "$BUILD_DIR" --target "${targets[@]}" -j"$(nproc)"

mkdir -p "$BUILD_DIR/crashes"
status=0
for t in "${targets[@]}"; do
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  if ! "$BUILD_DIR/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 \
       -artifact_prefix="$BUILD_DIR/crashes/$t-" -print_final_stats=1 "$corpus" "${seeds[@]}" \
       >"$BUILD_DIR/$t.log" 2>&1; then
    echo "fuzz: $t FAILED (see $BUILD_DIR/$t.log)"; tail -40 "$BUILD_DIR/$t.log"; status=1
  else
    grep -E '^stat::number_of_executed_units' "$BUILD_DIR/$t.log" | sed "s/^/fuzz: $t /" || true
  fi
done
exit $status
