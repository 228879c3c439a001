#!/usr/bin/env bash
# Fuzzes the file readers: builds the libFuzzer harnesses under fuzz/ with clang, ASan and UBSan in
# build-fuzz/, then runs each for SECONDS (default 60), one at a time at low priority, and prints
# executions and findings per harness. Exits non-zero if any harness found a crash, a sanitizer
# report, a leak, a timeout or an out-of-memory input; those inputs are kept in build-fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 300 safetensors torch_bin
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(safetensors torch_bin json_config dataset tokenizer_load tokenizer_encode)
build=build-fuzz

# The normal build's packages, plus clang with its sanitizer and libFuzzer runtimes.
bash scripts/install-deps.sh
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
  echo "fuzz: installing clang and its runtimes"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-dev
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DFT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

# Seeds beyond the small ones in fuzz/corpus/: real files from ../shared and the embedded model, where present.
shared=../shared
model=models/ko-roberta-small
seeds="$build/seeds"
rm -rf "$seeds"
mkdir -p "$seeds"/{safetensors,torch_bin,json_config,dataset,tokenizer_load,tokenizer_encode}
copy_if() { [ -f "$1" ] && cp "$1" "$2" || true; }
copy_if "$shared/goldens/hf-tiny/inputs.safetensors" "$seeds/safetensors/"
copy_if "$shared/goldens/hf-tiny/lora/adapter_model.safetensors" "$seeds/safetensors/"
copy_if "$shared/goldens/hf-tiny/lora/peft_adapter/adapter_model.bin" "$seeds/torch_bin/"
copy_if "$model/config.json" "$seeds/json_config/model_config.json"
for m in bert-base roberta-base; do copy_if "$shared/klue/$m/config.json" "$seeds/json_config/klue_$m.json"; done
edge="$shared/goldens/tokenizer/edge_cases.tsv"
if [ -f "$edge" ]; then
  # The dataset and encode harnesses take a mode byte first (see their sources).
  { printf '\000'; cat "$edge"; } >"$seeds/dataset/edge_cases.tsv"
  { printf '\003'; cat "$edge"; } >"$seeds/dataset/edge_cases_column.tsv"
  n=0
  while IFS=$'\t' read -r _ text _; do
    printf '\000%s' "$text" >"$seeds/tokenizer_encode/edge$n"
    printf '\001%s' "$text" >"$seeds/tokenizer_encode/edge${n}_lower"
    n=$((n + 1))
  done < <(tail -n +2 "$edge")
fi
vocab="$shared/goldens/tokenizer/synthetic_vocab.txt"
if [ -f "$vocab" ]; then
  # Parts separated by "\n@@@\n": vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json, text.
  { cat "$vocab"; printf '\n@@@\n\n@@@\n'; cat "$model/tokenizer_config.json"; printf '\n@@@\n';
    cat "$model/special_tokens_map.json"; printf '\n@@@\n'; printf '아 더빙.. 진짜 짜증나네요 café 中文 [CLS]'; } \
    >"$seeds/tokenizer_load/synthetic_vocab"
fi

declare -A dict=([safetensors]=safetensors [torch_bin]=torch_bin [json_config]=json [dataset]=dataset
                 [tokenizer_load]=tokenizer [tokenizer_encode]=tokenizer)
# libtorch is not instrumented: LeakSanitizer gets the suppressions in fuzz/lsan.supp.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
export OMP_NUM_THREADS=1
status=0
table=()
for h in "${harnesses[@]}"; do
  [ -n "${dict[$h]:-}" ] || { echo "fuzz: unknown harness '$h'" >&2; exit 2; }
  corpus="$build/corpus/$h"
  artifacts="$build/artifacts/$h"
  log="$build/logs/$h.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "fuzz: $h for ${seconds}s (log: $log)"
  # New inputs go to the first corpus folder; fuzz/corpus/ and the seeds are only read.
  rc=0
  nice -n 10 "$build/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" -dict="fuzz/dict/${dict[$h]}.dict" \
    "$corpus" "fuzz/corpus/$h" "$seeds/$h" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  found=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    grep -m1 -E 'ERROR: |runtime error|deadly signal|terminate called' "$log" >&2 || tail -5 "$log" >&2
  fi
  table+=("$(printf '%-18s %12s %10s %9s' "$h" "${execs:-?}" "${rate:-?}" "$found")")
done
printf '\n%-18s %12s %10s %9s\n' harness executions exec/s findings
printf '%s\n' "${table[@]}"
[ "$status" -eq 0 ] || echo "fuzz: findings under $build/artifacts/ (reproduce: $build/fuzz/fuzz_<harness> <file>)" >&2
exit "$status"
