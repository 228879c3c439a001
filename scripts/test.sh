#!/usr/bin/env bash
# Installs missing packages, fetches the NSMC splits (scripts/get-data.sh), configures, builds and runs
# every test. Exits non-zero on any failure, and on any skipped test unless --allow-skips is given.
# The last line printed is 'N passed, N failed'.
#   scripts/test.sh [--allow-skips] [--sanitize] [ctest arguments, e.g. -R Tokenizer]
#   --sanitize   ASan + UBSan build (RelWithDebInfo) in build-sanitize/; suppressions in scripts/sanitize/
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
summary_args=() sanitize=0 ctest_args=()
for a in "$@"; do
  case $a in
    --allow-skips) summary_args+=(--allow-skips) ;;
    --sanitize) sanitize=1 ;;
    *) ctest_args+=("$a") ;;
  esac
done

bash scripts/install-deps.sh
bash scripts/get-data.sh
if [ "$sanitize" = 1 ]; then
  build=build-sanitize
  san=-fsanitize=address,undefined
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$san -fno-omit-frame-pointer -fno-sanitize-recover=undefined" -DCMAKE_EXE_LINKER_FLAGS="$san"
  # Also in effect while the build lists the tests (gtest_discover_tests runs the test binary).
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$root/scripts/sanitize/ubsan.supp
  # The longest training test takes ~20 min in Release on 2 busy cores; ctest's default limit is 25.
  ctest_args=(--timeout 14400 "${ctest_args[@]}")
else
  build=build
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" -j "$(nproc)"

cd "$build"
rm -f ctest-junit.xml
status=0
ctest --output-on-failure -j "$(nproc)" --output-junit ctest-junit.xml "${ctest_args[@]}" || status=$?
[ -f ctest-junit.xml ] || { echo "test.sh: ctest wrote no results (exit $status)" >&2; exit 1; }
python3 "$root/scripts/ctest_summary.py" ctest-junit.xml "${summary_args[@]}" || status=1
exit "$status"
