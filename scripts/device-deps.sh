#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for a run of bench/gpu.sh on the GPU machine, which reaches no
# package registry: Debian's packages that the build needs beyond PyTorch, CUDA and CMake
# (nlohmann-json, CLI11, utf8proc, GoogleTest, zlib headers), unpacked with dpkg -x into .device/prefix, plus the
# files the benchmark reads: the klue/roberta-base shape (config + vocab, no weights) and the two
# NSMC files (the first 60,000 training reviews: all the capped study and the benchmark read), and the
# binaries of the pip build (BUILD, default build-pip: torch 2.11.0+cu130, the device's own wheel),
# stripped, so that the device run measures instead of compiling. Run it here, then pass
# carry: [".device"] to the device call. About 28 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
nsmc=${NSMC_DIR:-../shared/nsmc}
klue=${KLUE_DIR:-../shared/klue/roberta-base}
rm -rf .device
mkdir -p .device/debs .device/prefix .device/nsmc
(cd .device/debs && apt-get download nlohmann-json3-dev libcli11-dev libutf8proc-dev libutf8proc2 libgtest-dev zlib1g-dev >/dev/null)
for deb in .device/debs/*.deb; do dpkg -x "$deb" .device/prefix; done
rm -rf .device/debs
head -n 60001 "$nsmc/ratings_train.txt" > .device/nsmc/ratings_train.txt
cp "$nsmc/ratings_test.txt" .device/nsmc/
build=${BUILD:-build-pip}
mkdir -p .device/bin
for b in finetune finetune_tests finetune_cuda_tests bench_train; do
  [ -x "$build/$b" ] || { echo "device-deps: no $build/$b (scripts/test.sh --torch pip builds it)" >&2; exit 1; }
  strip -o ".device/bin/$b" "$build/$b"
done
cp -r "$klue" .device/klue-roberta-base
du -sh .device
