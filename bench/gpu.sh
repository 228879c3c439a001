#!/usr/bin/env bash
# The GPU check, run on the device machine as it is, from a checkout with .device/ carried
# (scripts/device-deps.sh prepares it, with this machine's pip-build binaries): about 4 minutes on an H200.
#   1. the binaries: .device/bin/ (built here against pip's torch 2.11.0+cu130, the wheel the device's
#      python3 has; run there on its libtorch through LD_LIBRARY_PATH), else a build against the
#      machine's own PyTorch (~3 min on 16 cores);
#   2. the CUDA tests (finetune_cuda_tests: flash/varlen attention vs matmul, no host sync in a step,
#      fused AdamW, AMP) and the CPU-side parity tests on this build;
#   3. this project and the HF Trainer (+ PEFT) side by side at the klue/roberta-base shape (random
#      weights, fp16, batch 32, NSMC reviews), each arm in its own process; evaluation at batch 64;
#      the same two arms in a one-rank NCCL group, whose difference is the all-reduce's cost a step;
#   4. the whole study, capped at STUDY_STEPS steps an arm, with the projected full-length time.
# Prints one table last; everything lands in $OUT (gpu.json, logs).
# A dry run on a machine without a GPU (everything but the CUDA tests, fp32, few steps):
#   DEVICE=cpu STEPS=2 WARMUP=1 EVAL_STEPS=2 STUDY_STEPS=2 PYTHON=.venv/bin/python OUT=out/gpu-dry bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-300}              # timed training steps per arm
WARMUP=${WARMUP:-20}
EVAL_STEPS=${EVAL_STEPS:-160}
STUDY_STEPS=${STUDY_STEPS:-1500} # steps per arm of the capped study
PYTHON=${PYTHON:-python3}        # the one with torch (and transformers + peft for the HF side)
mkdir -p "$OUT"
dev=$PWD/.device
[ -d "$dev/prefix" ] || { echo "gpu.sh: no .device/ (run scripts/device-deps.sh here and carry .device)"; exit 2; }
torch_lib=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$dev/prefix/usr/lib/x86_64-linux-gnu:$torch_lib:${LD_LIBRARY_PATH:-}
model=$dev/klue-roberta-base
train=$dev/nsmc/ratings_train.txt
test=$dev/nsmc/ratings_test.txt
if [ "$DEVICE" = cuda ]; then
  half=(--precision fp16) hf_half=(--fp16) study_half=(--fp16) study_limits=()
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
else
  half=(--precision fp32) hf_half=() study_half=()
  study_limits=(--max-train-samples 2000 --max-eval-samples 200)  # CPU evaluation of 50,000 reviews takes 20 min
  echo "none (DEVICE=$DEVICE dry run)" > "$OUT/gpu.txt"
fi
stamp() { date +%s.%N; }

t0=$(stamp)
if [ -x "$dev/bin/finetune" ]; then
  bin=$dev/bin
  export FT_SOURCE_DIR=$PWD  # the tests' fixtures: this checkout, not the one they were built in
  build_rc=0
  echo "prebuilt binaries from .device/bin on $torch_lib" > "$OUT/build.log"
else
  bin=build-cuda
  torch_prefix=$("$PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)')
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;$dev/prefix/usr" \
    > "$OUT/cmake.log" 2>&1 &&
    cmake --build build-cuda -j "$(nproc)" > "$OUT/build.log" 2>&1
  build_rc=$?
fi
t1=$(stamp)
if [ $build_rc -ne 0 ]; then
  tail -40 "$OUT/cmake.log" "$OUT/build.log"
  echo "gpu.sh: build failed"
  exit 1
fi

{ { [ "$DEVICE" != cuda ] || "$bin/finetune_cuda_tests"; } &&
  "$bin/finetune_tests" --gtest_filter='MultiTensorAdamW.*:ClipGradNorm.*:LossScaler.*:Packing.*:TrainingStep.*:ModelParity.*:LoraParity.*'
} > "$OUT/tests.log" 2>&1
tests_rc=$?
t2=$(stamp)

bench() {  # name, command...
  local name=$1
  shift
  "$@" > "$OUT/$name.json" 2> "$OUT/$name.log" || echo "{\"error\": \"$name failed, see $name.log\"}" > "$OUT/$name.json"
}
for arm in full lora; do
  bench "ours_$arm" "$bin/bench_train" --config "$model" --data "$train" --arm $arm --steps "$STEPS" --warmup "$WARMUP" \
    --device "$DEVICE" "${half[@]}"
done
for arm in full lora; do
  bench "nccl_$arm" "$bin/bench_train" --config "$model" --data "$train" --arm $arm --steps "$STEPS" --warmup "$WARMUP" \
    --device "$DEVICE" "${half[@]}" --one-rank-group 1
done
bench ours_eval "$bin/bench_train" --config "$model" --data "$test" --arm eval --steps "$EVAL_STEPS" --device "$DEVICE" "${half[@]}"
for arm in full lora; do
  bench "hf_$arm" "$PYTHON" bench/hf_reference.py --model "$model" --train-file "$train" --arm $arm --max-steps "$STEPS" \
    --warmup-steps "$WARMUP" --random-init "${hf_half[@]}" --device "$DEVICE" --output-dir "$OUT/hf_tmp"
done
bench hf_eval "$PYTHON" bench/hf_reference.py --model "$model" --train-file "$test" --arm eval --max-steps "$EVAL_STEPS" \
  --warmup-steps 1 --random-init "${hf_half[@]}" --device "$DEVICE" --output-dir "$OUT/hf_tmp"
rm -rf "$OUT/hf_tmp"
t3=$(stamp)

"$bin/finetune" compare --config configs/klue-roberta-base-nsmc.json --device "$DEVICE" "${study_half[@]}" --model "$model" --random-init \
  --train-file "$train" --eval-file "$test" --max-steps "$STUDY_STEPS" "${study_limits[@]}" --output-dir "$OUT/study" --overwrite \
  > "$OUT/study.log" 2>&1
study_rc=$?
t4=$(stamp)

python3 - "$OUT" "$t0" "$t1" "$t2" "$t3" "$t4" "$tests_rc" "$study_rc" "$STUDY_STEPS" <<'PY'
import json, os, sys
out, t0, t1, t2, t3, t4, tests_rc, study_rc, study_steps = sys.argv[1:]
t0, t1, t2, t3, t4 = map(float, (t0, t1, t2, t3, t4))
def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception as e:
        return {"error": str(e)}
r = {k: load(k) for k in ("ours_full", "ours_lora", "ours_eval", "hf_full", "hf_lora", "hf_eval", "nccl_full", "nccl_lora")}
r["gpu"] = open(os.path.join(out, "gpu.txt")).read().strip()
r["build_s"], r["tests_s"], r["bench_s"], r["study_s"] = t1 - t0, t2 - t1, t3 - t2, t4 - t3
r["tests_rc"], r["study_rc"] = int(tests_rc), int(study_rc)
tests_log = open(os.path.join(out, "tests.log")).read().splitlines()
r["tests_summary"] = [l for l in tests_log if l.startswith("[  PASSED  ]") or l.startswith("[  FAILED  ]")]
# The study: each arm's timed parts scaled to the full length (150,000 reviews x 3 epochs at batch 32 =
# 14,063 steps, an evaluation of the 50,000 test reviews after each epoch); the rest (loading,
# tokenizing, writing) counted once as measured.
full_steps = 3 * -(-150000 // 32)
study = {}
arm_total = 0.0
for arm in ("full", "lora"):
    try:
        res = json.load(open(os.path.join(out, "study", arm, "results.json")))
        train_s, eval_s, steps = res["train"]["runtime_s"], res["eval"]["runtime_s"], res["train"]["steps"]
        study[arm] = {"steps": steps, "train_s": train_s, "eval_s": eval_s,
                      "samples_per_second": res["train"]["samples_per_second"],
                      "accuracy": res["eval"]["final"]["accuracy"],
                      "cuda_peak_allocated_bytes": res["memory"]["cuda_peak_allocated_bytes"],
                      "projected_train_s": train_s * full_steps / steps, "projected_eval_s": eval_s * 3}
        arm_total += train_s + eval_s
    except Exception as e:
        study[arm] = {"error": str(e)}
other = max(0.0, (t4 - t3) - arm_total)
if all("error" not in v for v in study.values()):
    study["projected_total_s"] = other + sum(v["projected_train_s"] + v["projected_eval_s"] for v in study.values())
    study["measured_wall_s"] = t4 - t3
r["study"] = study
for arm in ("full", "lora"):  # the all-reduce on one GPU: NCCL group of one rank against no group
    o, n = r["ours_" + arm], r["nccl_" + arm]
    try:
        per_step = lambda x: x["seconds"] / x["steps"] * 1e3
        r["nccl_overhead_" + arm] = {"ms_per_step_without": per_step(o), "ms_per_step_with": per_step(n),
                                     "allreduce_wait_ms_per_step": n["ranks"][0]["allreduce_seconds"] / n["steps"] * 1e3,
                                     "bytes_per_step": n["allreduce_bytes_per_step"]}
    except Exception as e:
        r["nccl_overhead_" + arm] = {"error": str(n.get("error", e))}
json.dump(r, open(os.path.join(out, "gpu.json"), "w"), indent=1)

def sps(x): return x.get("samples_per_second", float("nan"))
def mem(x): return (x.get("cuda_peak_allocated_bytes") or x.get("peak_gpu_allocated_bytes") or 0) / 1e9
print(f"GPU: {r['gpu']}   build {r['build_s']:.0f} s, tests {r['tests_s']:.0f} s (rc {tests_rc}: {' '.join(r['tests_summary'])})")
print(f"{'':10} {'ours samples/s':>15} {'HF samples/s':>13} {'ratio':>6} {'ours GB':>8} {'HF GB':>6}")
for arm in ("full", "lora"):
    o, h = r["ours_" + arm], r["hf_" + arm]
    print(f"{arm:10} {sps(o):15.1f} {sps(h):13.1f} {sps(o) / sps(h):6.2f} {mem(o):8.2f} {mem(h):6.2f}")
o, h = r["ours_eval"], r["hf_eval"]
print(f"{'eval b64':10} {sps(o):15.1f} {sps(h):13.1f} {sps(o) / sps(h):6.2f}")
for arm in ("full", "lora"):
    v = r["nccl_overhead_" + arm]
    if "error" in v:
        print(f"NCCL 1 rank, {arm}: {v['error']}")
    else:
        print(f"NCCL 1 rank, {arm}: {v['ms_per_step_without']:.2f} -> {v['ms_per_step_with']:.2f} ms/step, "
              f"wait {v['allreduce_wait_ms_per_step']:.2f} ms/step, {v['bytes_per_step']:,} bytes/step")
for arm in ("full", "lora"):
    v = study.get(arm, {})
    if "error" in v:
        print(f"study {arm}: {v['error']}")
    else:
        print(f"study {arm}: {v['steps']} steps at {v['samples_per_second']:.0f} samples/s, eval {v['eval_s']:.1f} s, "
              f"projected full length {v['projected_train_s'] + v['projected_eval_s']:.0f} s")
if "projected_total_s" in study:
    print(f"study (both arms, 3 epochs x 150,000 reviews + 3 evaluations of 50,000 each): projected "
          f"{study['projected_total_s'] / 60:.1f} min (capped run: {study['measured_wall_s']:.0f} s wall, {study_steps} steps/arm)")
PY
[ "$tests_rc" -eq 0 ] && [ "$study_rc" -eq 0 ]
