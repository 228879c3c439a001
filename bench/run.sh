#!/usr/bin/env bash
# Runs bench_train for full, LoRA and eval at the klue/roberta-base shape, each in its own process,
# and prints one JSON line per arm. Usage: bench/run.sh [BUILD_DIR] [STEPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
steps=${2:-8}
threads=${3:-0}
config=${FT_BENCH_MODEL:-../shared/klue/roberta-base}
data=${NSMC_DIR:-../shared/nsmc}/ratings_train.txt
for arm in full lora eval; do
  "$build/bench_train" --config "$config" --data "$data" --arm "$arm" --steps "$steps" --threads "$threads"
done
