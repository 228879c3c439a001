#!/usr/bin/env bash
# Compiles every translation unit (syntax only, FT_WITH_CUDA=1) against libtorch 2.x headers, to catch
# API breaks before a run on the GPU machine, whose pip libtorch is 2.x with CUDA, while this machine
# builds against Debian's libtorch 1.13 (CPU) and cannot compile the CUDA paths at all:
#   - Debian's libtorch-cuda-dev (2.6: CUDA builds' headers, ATen/cuda, c10/cuda, ProcessGroupNCCL) as C++17;
#   - Debian's newest libtorch-dev (2.14 or later, whose headers need C++20) as C++20.
# The packages are downloaded from deb.debian.org (sid, trixie) into a private apt state in .torch2/ and
# unpacked there; nothing is installed. Also needs the CUDA toolkit's headers (CUDA_INCLUDE, default
# /usr/local/cuda/include, which has nccl.h) and Debian's libgloo-dev (scripts/install-deps.sh).
#
#   scripts/check-torch2.sh [-j JOBS] [FILE.cpp ...]     (default: every .cpp of src, tests, bench, fuzz)
#
# Prints each failing file with its first errors; exits 1 if any failed. About 12 minutes on 2 cores.
# It does not link or run anything: symbols, ABI and behaviour are for bench/gpu.sh on the device.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
if [ "${1:-}" = -j ]; then jobs=$2; shift 2; fi
root=$PWD/.torch2
cuda_inc=${CUDA_INCLUDE:-/usr/local/cuda/include}
[ -f "$cuda_inc/cuda_runtime_api.h" ] || { echo "check-torch2: no CUDA headers in $cuda_inc (set CUDA_INCLUDE)"; exit 2; }

mkdir -p "$root/apt/lists/partial" "$root/apt/archives/partial" "$root/hdr" "$root/debs"
cat > "$root/apt/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main contrib
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main contrib
EOF
apt=(-o Dir::Etc::SourceList="$root/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$root/apt/lists" -o Dir::Cache::Archives="$root/apt/archives" -o Debug::NoLocking=1)
if [ -z "$(ls "$root/debs")" ]; then
  apt-get "${apt[@]}" update -qq
  (cd "$root/debs" && apt-get "${apt[@]}" download libtorch-cuda-dev libtorch-dev)
fi
declare -A std
for deb in "$root"/debs/*.deb; do
  name=$(basename "$deb" .deb)
  [ -d "$root/hdr/$name" ] || dpkg -x "$deb" "$root/hdr/$name"
  # torch/version.h, or from 2.10 on the headeronly/version.h it includes
  version=$(grep -rhE --include=version.h '^#define TORCH_VERSION_M(AJOR|INOR) ' "$root/hdr/$name/usr/include/torch" |
    sort -u | awk '{print $3}' | paste -sd.)
  # PyTorch's headers need C++20 from 2.13 on (CMakeLists.txt switches the same way).
  std[$name]=$(awk -v v="$version" 'BEGIN { split(v, a, "."); print (a[1] > 2 || (a[1] == 2 && a[2] >= 13)) ? "gnu++20" : "gnu++17" }')
  echo "check-torch2: $name (torch $version, ${std[$name]})"
done

if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(git ls-files 'src/*.cpp' 'tests/*.cpp' 'bench/*.cpp' 'fuzz/*.cpp'); fi
failed=0
for name in "${!std[@]}"; do
  inc=$root/hdr/$name/usr/include
  # A CPU build's package lacks the one header CMake generates for c10's CUDA library: supply it.
  overlay=$root/overlay/$name
  if [ ! -f "$inc/c10/cuda/impl/cuda_cmake_macros.h" ]; then
    mkdir -p "$overlay/c10/cuda/impl"
    printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' > "$overlay/c10/cuda/impl/cuda_cmake_macros.h"
  fi
  flags=(-std="${std[$name]}" -Wall -Wextra -Wno-unused-parameter -D_GLIBCXX_USE_CXX11_ABI=1
    -DFT_WITH_CUDA=1 -DFT_SOURCE_DIR='"/x"' -DFT_BINARY='"/x"' -Isrc -Itests
    -isystem "$inc" -isystem "$inc/torch/csrc/api/include" -isystem "$overlay" -isystem "$cuda_inc")
  pch=$root/pch/$name
  mkdir -p "$pch" "$root/log/$name"
  # The precompiled header, as the build has it: parsed once, not per file.
  g++ "${flags[@]}" -w -x c++-header src/pch.h -o "$pch/pch.h.gch"  # -w: "#pragma once in main file"
  printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c \
    'g++ "$@" -fsyntax-only -Winvalid-pch -include '"$pch"'/pch.h {} > '"$root/log/$name"'/$(echo {} | tr / _).log 2>&1 ||
     echo {} >> '"$root/log/$name"'/failed' _ "${flags[@]}"
  if [ -f "$root/log/$name/failed" ]; then
    failed=1
    while read -r f; do
      echo "== $name: $f"
      grep -m 5 -E 'error' "$root/log/$name/$(echo "$f" | tr / _).log" || true
    done < "$root/log/$name/failed"
    rm -f "$root/log/$name/failed"
  else
    echo "check-torch2: $name: ${#files[@]} files compile"
  fi
done
exit $failed
