#!/usr/bin/env bash
# Installs what is missing, fetches the NSMC splits (scripts/get-data.sh), then configures, builds and
# runs every test against each libtorch:
#   debian  Debian's libtorch-dev 1.13 (CPU)                         -> build/
#   pip     pip's PyTorch 2.11 CUDA 13 build, run on the CPU         -> build-pip/
#           (scripts/python-env.sh current makes .venv/; its transformers/PEFT also run the HF tests)
# Exits non-zero on any failure, and on any skipped test unless --allow-skips is given. The last
# line printed is 'N passed, N failed' over every build run.
#   scripts/test.sh [--torch debian|pip|both] [--allow-skips] [--sanitize] [ctest arguments, e.g. -R Tokenizer]
#   --torch      which builds (default both)
#   --sanitize   ASan + UBSan build (RelWithDebInfo, Debian's libtorch) in build-sanitize/; suppressions
#                in scripts/sanitize/
# The GPU tests (finetune_cuda_tests, pip build) are built but not run here: bench/gpu.sh runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
summary_args=() sanitize=0 ctest_args=() torch=both
while [ $# -gt 0 ]; do
  case $1 in
    --allow-skips) summary_args+=(--allow-skips) ;;
    --sanitize) sanitize=1 ;;
    --torch) torch=${2:?--torch takes debian, pip or both}; shift ;;
    --torch=*) torch=${1#--torch=} ;;
    *) ctest_args+=("$1") ;;
  esac
  shift
done
case $torch in
  debian) builds=(debian) ;;
  pip) builds=(pip) ;;
  both) builds=(debian pip) ;;
  *) echo "test.sh: --torch takes debian, pip or both, not '$torch'" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh
bash scripts/get-data.sh
py=$(bash scripts/python-env.sh current | tail -1)
seed_py=$(bash scripts/python-env.sh seed | tail -1)
hf=(-DFT_HF_PYTHON="$py" -DFT_HF_SEED_PYTHON="$seed_py")

if [ "$sanitize" = 1 ]; then
  builds=(sanitize)
  san=-fsanitize=address,undefined
  # Also in effect while the build lists the tests (gtest_discover_tests runs the test binary).
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$root/scripts/sanitize/ubsan.supp
  # The longest training test takes ~20 min in Release on 2 busy cores; ctest's default limit is 25.
  ctest_args=(--timeout 14400 "${ctest_args[@]}")
fi

configure() {  # build name -> build dir
  case $1 in
    debian) cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${hf[@]}" >&2; echo build ;;
    pip)
      cmake -S . -B build-pip -G Ninja -DCMAKE_BUILD_TYPE=Release "${hf[@]}" \
        -DCMAKE_PREFIX_PATH="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')" >&2
      echo build-pip ;;
    sanitize)
      cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${hf[@]}" \
        -DCMAKE_CXX_FLAGS="$san -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
        -DCMAKE_EXE_LINKER_FLAGS="$san" >&2
      echo build-sanitize ;;
  esac
}

junits=()
status=0
for b in "${builds[@]}"; do
  echo "test.sh: === $b ==="
  start=$(date +%s)
  dir=$(configure "$b")
  cmake --build "$dir" -j "$(nproc)"
  built=$(date +%s)
  rm -f "$dir/ctest-junit.xml"
  (cd "$dir" && ctest --output-on-failure -j "$(nproc)" --output-junit ctest-junit.xml "${ctest_args[@]}") || status=$?
  [ -f "$dir/ctest-junit.xml" ] || { echo "test.sh: ctest wrote no results for $b (exit $status)" >&2; exit 1; }
  echo "test.sh: $b: build $((built - start)) s, tests $(($(date +%s) - built)) s"
  junits+=("$b=$dir/ctest-junit.xml")
done
python3 "$root/scripts/ctest_summary.py" "${junits[@]}" "${summary_args[@]}" || status=1
exit "$status"
