#!/usr/bin/env bash
# The whole study in minutes on a CPU: installs what is missing, builds, gets NSMC (downloaded, or copied
# from NSMC_DIR / the first argument), and runs `finetune compare` with configs/demo.json on the
# embedded model. Leaves runs/demo/{report.md,dashboard.png,comparison.json,...}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target finetune
bash scripts/get-data.sh ${1:+"$1"}
build/finetune compare --config configs/demo.json "${@:2}"
echo "report: runs/demo/report.md   dashboard: runs/demo/dashboard.png"
