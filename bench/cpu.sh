#!/usr/bin/env bash
# This project against the Python original on this CPU machine, side by side in one invocation:
#
#   scripts/hf-reference-env.sh      # once per machine: transformers 4.28 + PEFT 0.3.0 on torch 1.13 in .hfref/
#   bench/cpu.sh out/cpu.json        # STEPS=8 WARMUP=1 EVAL_STEPS=8 THREADS=2 REPEATS=1 (environment)
#
# Runs, interleaved and each in its own process: ours full, HF full, ours lora, HF lora, ours eval,
# HF eval (REPEATS times over), at the klue/roberta-base shape with random weights, fp32, batch 32
# (eval 64), max length 128, on the same NSMC reviews (both pick the same seeded subset: the
# real_tokens columns agree), THREADS threads each. Both time only the steady state: WARMUP untimed
# steps first (eval: one untimed pass), then STEPS timed steps with a fresh optimizer (bench_train's
# --warmup/--steps; hf_reference.py's --warmup-steps/--max-steps). Prints one table (median samples/s
# over the repeats, ours/HF, each process's peak RSS from /usr/bin/time -v) and writes it all, with
# every run's JSON, to the file given. Logs: beside it, in FILE.d/.
# Other settings: BUILD (build), HF_PYTHON (.hfref/venv/bin/python), FT_BENCH_MODEL
# (../shared/klue/roberta-base), NSMC_DIR (../shared/nsmc), EVAL_SORT=1 (HF evaluates longest first,
# as bench_train does; default: the Trainer's file order).
# Time: on 2 shared cores a full-training step takes ~60 s (either side); the defaults take ~25-30 min.
# A smoke test: STEPS=1 EVAL_STEPS=1 bench/cpu.sh /tmp/cpu.json (~6 min).
set -uo pipefail
[ $# -eq 1 ] || { sed -n '2,19p' "$0"; exit 2; }
json_out=$(realpath -m "$1")  # before the cd
cd "$(dirname "$0")/.."
STEPS=${STEPS:-8}
WARMUP=${WARMUP:-1}
EVAL_STEPS=${EVAL_STEPS:-$STEPS}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-1}
BUILD=${BUILD:-build}
HF_PYTHON=${HF_PYTHON:-.hfref/venv/bin/python}
model=${FT_BENCH_MODEL:-../shared/klue/roberta-base}
data=${NSMC_DIR:-../shared/nsmc}/ratings_train.txt
[ -x "$BUILD/bench_train" ] || { echo "cpu.sh: no $BUILD/bench_train (build the project first)"; exit 2; }
[ -x "$HF_PYTHON" ] || { echo "cpu.sh: no $HF_PYTHON (run scripts/hf-reference-env.sh first)"; exit 2; }
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
    if [ $arm = eval ]; then
      # bench_train always makes one untimed pass first; so does hf_reference.py with --warmup-steps 1.
      run "ours_eval_$r" "$BUILD/bench_train" --config "$model" --data "$data" --arm eval --steps "$EVAL_STEPS" \
        --threads "$THREADS"
      run "hf_eval_$r" "$HF_PYTHON" bench/hf_reference.py --model "$model" --train-file "$data" --arm eval --random-init \
        --max-steps "$EVAL_STEPS" --eval-samples $((64 * EVAL_STEPS)) --warmup-steps 1 --threads "$THREADS" \
        --device cpu --output-dir "$logs/hf_tmp" "${hf_sort[@]}"
    else
      run "ours_${arm}_$r" "$BUILD/bench_train" --config "$model" --data "$data" --arm $arm --steps "$STEPS" \
        --warmup "$WARMUP" --threads "$THREADS"
      run "hf_${arm}_$r" "$HF_PYTHON" bench/hf_reference.py --model "$model" --train-file "$data" --arm $arm --random-init \
        --max-steps "$STEPS" --warmup-steps "$WARMUP" --threads "$THREADS" --device cpu --output-dir "$logs/hf_tmp"
    fi
  done
done
rm -rf "$logs/hf_tmp"
echo "$(date -Is) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$logs/machine.txt"

/usr/bin/python3 - "$logs" "$json_out" "$REPEATS" "$STEPS" "$WARMUP" "$EVAL_STEPS" "$THREADS" <<'PY'
import json, os, re, statistics, sys
logs, json_out, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps, warmup, eval_steps, threads = map(int, sys.argv[4:8])

def load(name):
    r = {}
    try:
        lines = [l for l in open(os.path.join(logs, name + ".json")).read().splitlines() if l.strip()]
        r = json.loads(lines[-1])
    except Exception as e:
        r = {"error": f"{name}: {e}"}
    try:  # the process's peak RSS as the kernel saw it, the same way for both
        t = open(os.path.join(logs, name + ".time")).read()
        r["time_max_rss_bytes"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) * 1024
        r["time_wall_s"] = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
    except Exception:
        pass
    return r

runs = {f"{impl}_{arm}_{i}": load(f"{impl}_{arm}_{i}")
        for i in range(1, repeats + 1) for arm in ("full", "lora", "eval") for impl in ("ours", "hf")}
summary = {}
for arm in ("full", "lora", "eval"):
    s = {}
    for impl in ("ours", "hf"):
        rs = [runs[f"{impl}_{arm}_{i}"] for i in range(1, repeats + 1)]
        ok = [r for r in rs if "samples_per_second" in r]
        s[impl] = {"samples_per_second": statistics.median(r["samples_per_second"] for r in ok) if ok else None,
                   "all_samples_per_second": [r["samples_per_second"] for r in ok],
                   "peak_rss_bytes": max((r.get("time_max_rss_bytes", 0) for r in rs), default=0) or None,
                   "real_tokens": sorted({r.get("real_tokens") for r in ok}),
                   "errors": [r["error"] for r in rs if "error" in r]}
    o, h = s["ours"]["samples_per_second"], s["hf"]["samples_per_second"]
    s["ratio"] = o / h if o and h else None
    s["same_reviews"] = bool(s["ours"]["real_tokens"]) and s["ours"]["real_tokens"] == s["hf"]["real_tokens"]
    summary[arm] = s
machine = open(os.path.join(logs, "machine.txt")).read().strip()
hf = next((r for r in runs.values() if r.get("impl") == "hf" and "torch" in r), {})
ours = next((r for k, r in runs.items() if k.startswith("ours") and "matmul_gflops" in r), {})
result = {"settings": {"steps": steps, "warmup": warmup, "eval_steps": eval_steps, "threads": threads, "repeats": repeats,
                       "precision": "fp32", "batch": 32, "eval_batch": 64, "max_length": 128},
          "machine": machine, "ours_matmul_gflops": ours.get("matmul_gflops"),
          "hf_stack": {k: hf.get(k) for k in ("python", "torch", "transformers", "peft", "accelerate", "tokenizer",
                                               "attn_implementation")},
          "hf_optim": next((r.get("optim") for r in runs.values() if r.get("optim")), None),
          "hf_eval_order": next((r.get("eval_order") for r in runs.values() if r.get("eval_order")), None),
          "summary": summary, "runs": runs}
with open(json_out, "w") as f:
    json.dump(result, f, indent=1)

def num(x, fmt):  # fmt: "WIDTH.PRECf"
    return format(x, fmt) if x is not None else "-".rjust(int(fmt.split(".")[0]))

st = result["hf_stack"]
print(f"CPU, {threads} threads, fp32; {steps} timed steps after {warmup} warm-up (eval: {64 * eval_steps} reviews at 64); "
      f"median of {repeats}. HF: transformers {st['transformers']}, peft {st['peft']}, torch {st['torch']}, "
      f"{st['tokenizer']}, optim {result['hf_optim']}, eval order {result['hf_eval_order']}")
print(f"{'':6} {'ours samples/s':>15} {'HF samples/s':>13} {'ours/HF':>8} {'ours RSS GB':>12} {'HF RSS GB':>10} {'same reviews':>13}")
for arm, s in summary.items():
    o, h = s["ours"], s["hf"]
    gb = lambda b: b / 1e9 if b else None
    print(f"{arm:6} {num(o['samples_per_second'], '15.2f')} {num(h['samples_per_second'], '13.2f')} {num(s['ratio'], '8.2f')} "
          f"{num(gb(o['peak_rss_bytes']), '12.2f')} {num(gb(h['peak_rss_bytes']), '10.2f')} {('yes' if s['same_reviews'] else 'NO'):>13}")
    for impl in ("ours", "hf"):
        for e in s[impl]["errors"]:
            print(f"  {impl} {arm}: {e}")
print(f"{machine}; written to {json_out}")
PY
