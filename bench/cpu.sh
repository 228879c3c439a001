#!/usr/bin/env bash
# This project, on each libtorch it builds against, beside HF Trainer + PEFT on each reference stack,
# on this CPU machine, side by side in one invocation:
#
#   scripts/test.sh --torch both        # or build build/ and build-pip/ yourself
#   scripts/python-env.sh current       # .venv/: transformers 5.24 + PEFT 0.21 on torch 2.11 (SDPA)
#   scripts/python-env.sh seed          # .venv-seed/: transformers 4.28 + PEFT 0.3.0 (the study's era)
#   bench/cpu.sh out/cpu.json           # STEPS=8 WARMUP=1 EVAL_STEPS=8 THREADS=2 REPEATS=1 (environment)
#
# Runs, interleaved and each in its own process, for each arm (full, lora, eval) every implementation
# in turn: ours on each build of BUILDS (default "debian=build pip=build-pip"), HF on each python of
# HF_PYTHONS (default "current=.venv/bin/python seed=.venv-seed/bin/python"), REPEATS times over, at
# the klue/roberta-base shape with random weights, fp32, batch 32 (eval 64), max length 128, on the
# same NSMC reviews (all pick the same seeded subset: the real_tokens columns agree), THREADS threads
# each. All time only the steady state: WARMUP untimed steps first (eval: one untimed pass), then
# STEPS timed steps with a fresh optimizer. Prints one table (median samples/s and real tokens/s over
# the repeats, each process's peak RSS from /usr/bin/time -v, and each side's share of the machine's
# measured matmul rate: the linear layers' FLOPs at its tokens/s over the best fp32 GFLOP/s that
# bench_train measured, 6 FLOPs a weight a token for full training, 4 for LoRA (no frozen weight
# gradients), 2 for evaluation) and writes it all, with every run's JSON, to the file given. Logs:
# beside it, in FILE.d/. Also: FT_BENCH_MODEL (../shared/klue/roberta-base), NSMC_DIR (../shared/nsmc),
# EVAL_SORT=1 (HF evaluates longest first, as bench_train does; default: the Trainer's file order).
# Time: on 2 cores a full-training step takes 3-60 s depending on the side; the defaults take ~40 min.
# A smoke test: STEPS=1 EVAL_STEPS=1 bench/cpu.sh /tmp/cpu.json.
set -uo pipefail
[ $# -eq 1 ] || { sed -n '2,26p' "$0"; exit 2; }
json_out=$(realpath -m "$1")  # before the cd
cd "$(dirname "$0")/.."
STEPS=${STEPS:-8}
WARMUP=${WARMUP:-1}
EVAL_STEPS=${EVAL_STEPS:-$STEPS}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-1}
BUILDS=${BUILDS:-debian=build pip=build-pip}
HF_PYTHONS=${HF_PYTHONS:-current=.venv/bin/python seed=.venv-seed/bin/python}
model=${FT_BENCH_MODEL:-../shared/klue/roberta-base}
data=${NSMC_DIR:-../shared/nsmc}/ratings_train.txt
impls=()
for b in $BUILDS; do
  [ -x "${b#*=}/bench_train" ] || { echo "cpu.sh: no ${b#*=}/bench_train (build the project first)"; exit 2; }
  impls+=("ours_${b%%=*}")
done
for h in $HF_PYTHONS; do
  [ -x "${h#*=}" ] || { echo "cpu.sh: no ${h#*=} (scripts/python-env.sh ${h%%=*})"; exit 2; }
  impls+=("hf_${h%%=*}")
done
[ -x /usr/bin/time ] || { echo "cpu.sh: no /usr/bin/time (apt-get install time)"; exit 2; }
for f in "$model/config.json" "$data"; do [ -f "$f" ] || { echo "cpu.sh: no $f"; exit 2; }; done
logs=${json_out%.json}.d
mkdir -p "$logs" "$(dirname "$json_out")"
hf_sort=()
[ "${EVAL_SORT:-0}" = 1 ] && hf_sort=(--eval-sort-by-length)

run() {  # name, command...: stdout (one JSON line) to NAME.json, stderr to NAME.log, /usr/bin/time -v to NAME.time
  local name=$1
  shift
  echo "cpu.sh: $name" >&2
  /usr/bin/time -v -o "$logs/$name.time" "$@" > "$logs/$name.json" 2> "$logs/$name.log" ||
    echo "{\"error\": \"exit $?, see $logs/$name.log\"}" >> "$logs/$name.json"
}
echo "$(date -Is) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" > "$logs/machine.txt"
for ((r = 1; r <= REPEATS; r++)); do
  for arm in full lora eval; do
    for b in $BUILDS; do
      name=ours_${b%%=*}_${arm}_$r bin=${b#*=}/bench_train
      if [ $arm = eval ]; then  # bench_train always makes one untimed pass first
        run "$name" "$bin" --config "$model" --data "$data" --arm eval --steps "$EVAL_STEPS" --threads "$THREADS"
      else
        run "$name" "$bin" --config "$model" --data "$data" --arm $arm --steps "$STEPS" --warmup "$WARMUP" \
          --threads "$THREADS"
      fi
    done
    for h in $HF_PYTHONS; do
      name=hf_${h%%=*}_${arm}_$r hf_py=${h#*=}
      if [ $arm = eval ]; then  # so does hf_reference.py with --warmup-steps 1
        run "$name" "$hf_py" bench/hf_reference.py --model "$model" --train-file "$data" --arm eval --random-init \
          --max-steps "$EVAL_STEPS" --eval-samples $((64 * EVAL_STEPS)) --warmup-steps 1 --threads "$THREADS" \
          --device cpu --output-dir "$logs/hf_tmp" "${hf_sort[@]}"
      else
        run "$name" "$hf_py" bench/hf_reference.py --model "$model" --train-file "$data" --arm $arm --random-init \
          --max-steps "$STEPS" --warmup-steps "$WARMUP" --threads "$THREADS" --device cpu --output-dir "$logs/hf_tmp"
      fi
    done
  done
done
rm -rf "$logs/hf_tmp"
echo "$(date -Is) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$logs/machine.txt"

python3 - "$logs" "$json_out" "$REPEATS" "$STEPS" "$WARMUP" "$EVAL_STEPS" "$THREADS" "$model/config.json" "${impls[@]}" <<'PY'
import json, os, re, statistics, sys
logs, json_out, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps, warmup, eval_steps, threads = map(int, sys.argv[4:8])
cfg = json.load(open(sys.argv[8]))
impls = sys.argv[9:]
h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
linear_weights = layers * (4 * h * h + 2 * h * inter) + h * h  # the encoder's matmul weights + the head's dense
flops_per_weight_token = {"full": 6, "lora": 4, "eval": 2}

def load(name):
    r = {}
    try:
        lines = [l for l in open(os.path.join(logs, name + ".json")).read().splitlines() if l.strip()]
        r = json.loads(lines[-1])
    except Exception as e:
        r = {"error": f"{name}: {e}"}
    try:  # the process's peak RSS as the kernel saw it, the same way for all
        t = open(os.path.join(logs, name + ".time")).read()
        r["time_max_rss_bytes"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) * 1024
        r["time_wall_s"] = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
    except Exception:
        pass
    return r

arms = ("full", "lora", "eval")
runs = {f"{impl}_{arm}_{i}": load(f"{impl}_{arm}_{i}") for i in range(1, repeats + 1) for arm in arms for impl in impls}
matmul = {impl: max((r.get("matmul_gflops") or 0 for k, r in runs.items() if k.startswith(impl + "_")), default=0) or None
          for impl in impls if impl.startswith("ours_")}
machine_gflops = max((g for g in matmul.values() if g), default=None)
med = lambda xs: statistics.median(xs) if xs else None
summary = {}
for arm in arms:
    s = {}
    for impl in impls:
        rs = [runs[f"{impl}_{arm}_{i}"] for i in range(1, repeats + 1)]
        ok = [r for r in rs if "samples_per_second" in r]
        tps = med([r["real_tokens_per_second"] for r in ok if r.get("real_tokens_per_second")])
        gflops = flops_per_weight_token[arm] * linear_weights * tps / 1e9 if tps else None
        s[impl] = {"samples_per_second": med([r["samples_per_second"] for r in ok]),
                   "all_samples_per_second": [r["samples_per_second"] for r in ok],
                   "real_tokens_per_second": tps,
                   "linear_gflops": gflops,
                   "share_of_matmul_rate": gflops / machine_gflops if gflops and machine_gflops else None,
                   "peak_rss_bytes": max((r.get("time_max_rss_bytes", 0) for r in rs), default=0) or None,
                   "real_tokens": sorted({r.get("real_tokens") for r in ok}),
                   "errors": [r["error"] for r in rs if "error" in r]}
    tokens = [tuple(v["real_tokens"]) for v in s.values() if v["real_tokens"]]
    s["same_reviews"] = len(tokens) == len(impls) and len(set(tokens)) == 1
    summary[arm] = s
machine = open(os.path.join(logs, "machine.txt")).read().strip()
stacks = {impl: next(({k: r.get(k) for k in ("python", "torch", "transformers", "peft", "accelerate", "tokenizer",
                                               "attn_implementation", "optim", "eval_order")}
                      for k2, r in runs.items() if k2.startswith(impl + "_") and "torch" in r), {})
          for impl in impls if impl.startswith("hf_")}
result = {"settings": {"steps": steps, "warmup": warmup, "eval_steps": eval_steps, "threads": threads, "repeats": repeats,
                       "precision": "fp32", "batch": 32, "eval_batch": 64, "max_length": 128,
                       "linear_weights": linear_weights},
          "machine": machine, "matmul_gflops": matmul, "hf_stacks": stacks, "summary": summary, "runs": runs}
with open(json_out, "w") as f:
    json.dump(result, f, indent=1)

def num(x, fmt):  # fmt: "WIDTH.PRECf"
    return format(x, fmt) if x is not None else "-".rjust(int(fmt.split(".")[0]))

print(f"CPU, {threads} threads, fp32; {steps} timed steps after {warmup} warm-up (eval: {64 * eval_steps} reviews at 64); "
      f"median of {repeats}; matmul rate fp32 1024^3: " + ", ".join(f"{k} {num(v, '.0f')} GFLOP/s" for k, v in matmul.items()))
for impl, st in stacks.items():
    print(f"  {impl}: transformers {st.get('transformers')}, peft {st.get('peft')}, torch {st.get('torch')}, "
          f"{st.get('tokenizer')}, attention {st.get('attn_implementation')}, optim {st.get('optim')}")
hfs = [i for i in impls if i.startswith("hf_")]
print(f"{'arm':5} {'side':12} {'samples/s':>10} {'tokens/s':>9} " + " ".join(f"{'x ' + i:>11}" for i in hfs)
      + f" {'matmul share':>12} {'peak RSS GB':>12}")
for arm in arms:
    s = summary[arm]
    for impl in impls:
        v = s[impl]
        rel = [v["samples_per_second"] / s[i]["samples_per_second"] if v["samples_per_second"] and s[i]["samples_per_second"]
               else None for i in hfs]
        share = v["share_of_matmul_rate"] * 100 if v["share_of_matmul_rate"] else None
        gb = v["peak_rss_bytes"] / 1e9 if v["peak_rss_bytes"] else None
        print(f"{arm:5} {impl:12} {num(v['samples_per_second'], '10.2f')} {num(v['real_tokens_per_second'], '9.0f')} "
              + " ".join(num(x, "11.2f") for x in rel) + f" {num(share, '11.0f')}% {num(gb, '12.2f')}")
        for e in v["errors"]:
            print(f"  {impl} {arm}: {e}")
    print(f"{arm:5} same reviews on every side: {'yes' if s['same_reviews'] else 'NO'}")
print(f"{machine}; written to {json_out}")
PY
