#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the dashboard need. Safe to re-run:
# it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-openmp   # without openblas, libtorch falls back to reference BLAS (~50x slower)
  libgloo-dev                        # the headers of c10d's Gloo backend (data-parallel training on CPUs)
  nlohmann-json3-dev libcli11-dev libutf8proc-dev
  libgtest-dev zlib1g-dev             # zlib: the tests read a gzipped golden
  gnuplot-nox
  python3 python3-venv python3-torch   # .venv-seed (scripts/requirements/seed.txt): Debian's torch 1.13 under transformers 4.28 + PEFT 0.3.0
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
