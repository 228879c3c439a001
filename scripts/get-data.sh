#!/usr/bin/env bash
# Puts the official NSMC splits into data/nsmc/ and checks their sha256.
#   scripts/get-data.sh            copy from ../shared/nsmc beside the clone when present, else download
#                                  from the dataset's GitHub repository (e9t/nsmc)
#   scripts/get-data.sh DIR        copy from a local directory (also: NSMC_DIR=DIR scripts/get-data.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data/nsmc
src=${1:-${NSMC_DIR:-}}
if [ -z "$src" ] && [ -d ../shared/nsmc ]; then src=../shared/nsmc; fi
declare -A sha=(
  [ratings_train.txt]=e03b7d14e9e41be8d464a28057cd25d7396c53e67aa7fd5f7e552c59b0ee2940
  [ratings_test.txt]=8ac9f64052f11dbf6ae0acb5e038f03d90a76f0eda7820cfb3a92d02edfcebda
)
mkdir -p "$dest"
for f in ratings_train.txt ratings_test.txt; do
  if [ -f "$dest/$f" ] && echo "${sha[$f]}  $dest/$f" | sha256sum -c --status; then
    echo "get-data: $dest/$f already present and verified"; continue
  fi
  tmp="$dest/$f.tmp.$$"
  if [ -n "$src" ]; then
    [ -f "$src/$f" ] || { echo "get-data: $src/$f not found" >&2; exit 1; }
    cp "$src/$f" "$tmp"
  else
    url="https://raw.githubusercontent.com/e9t/nsmc/master/$f"
    if ! curl -fsSL --retry 2 -o "$tmp" "$url"; then
      rm -f "$tmp"
      echo "get-data: cannot download $url (offline?). Copy the files from a local directory instead: scripts/get-data.sh DIR or NSMC_DIR=DIR" >&2
      exit 1
    fi
  fi
  if ! echo "${sha[$f]}  $tmp" | sha256sum -c --status; then
    rm -f "$tmp"; echo "get-data: $f has the wrong sha256 (expected ${sha[$f]})" >&2; exit 1
  fi
  mv "$tmp" "$dest/$f"
  echo "get-data: $dest/$f verified"
done
