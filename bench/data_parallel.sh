#!/usr/bin/env bash
# Data parallelism on the CPU: for full fine-tuning and LoRA at the klue/roberta-base shape (random
# weights, fp32, global batch 32 on the first NSMC reviews), 1 process on all cores against
# --nproc-per-node ranks (Gloo) sharing the same cores, each rank 16 of the 32. On one machine this
# measures correctness and overhead, not speed: the ranks split the cores one process had. Prints one
# JSON line per run; each says the bytes each rank all-reduced per optimizer step.
# Usage: bench/data_parallel.sh [BUILD_DIR] [STEPS] [RANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
steps=${2:-6}
ranks=${3:-2}
config=${FT_BENCH_MODEL:-tests/data/klue/roberta-base}
data=${NSMC_DIR:-../shared/nsmc}/ratings_train.txt
cores=$(nproc)
for arm in full lora; do
  "$build/bench_train" --config "$config" --data "$data" --arm "$arm" --steps "$steps" --threads "$cores"
  # Each rank gets cores / ranks threads (the launcher's OMP_NUM_THREADS).
  env -u OMP_NUM_THREADS "$build/bench_train" --config "$config" --data "$data" --arm "$arm" --steps "$steps" \
    --nproc-per-node "$ranks"
done
