#!/usr/bin/env bash
# Downloads a model's files from the Hugging Face hub into models/<name with / as ->.
#   scripts/get-model.sh klue/roberta-base            → models/klue-roberta-base
#   scripts/get-model.sh klue/roberta-base DIR        copy from a local directory instead
# Fetches config.json, the tokenizer files, and model.safetensors (or pytorch_model.bin when the
# repository has no safetensors file).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/get-model.sh ORG/NAME [LOCAL_DIR]}
dest=models/${name//\//-}
src=${2:-}
mkdir -p "$dest"
fetch() {  # fetch FILE → 0 when fetched, 1 when absent upstream
  local f=$1 tmp="$dest/$1.tmp.$$"
  if [ -n "$src" ]; then
    [ -f "$src/$f" ] || return 1
    cp "$src/$f" "$tmp"
  else
    local code
    code=$(curl -sSL --retry 2 -w '%{http_code}' -o "$tmp" "https://huggingface.co/$name/resolve/main/$f" 2>/dev/null) || code=000
    if [ "$code" = 000 ]; then
      rm -f "$tmp"
      echo "get-model: cannot reach huggingface.co (offline?). Put the files in a directory and run: scripts/get-model.sh $name DIR" >&2
      exit 1
    fi
    [ "$code" = 200 ] || { rm -f "$tmp"; return 1; }
  fi
  mv "$tmp" "$dest/$f"
  echo "get-model: $dest/$f"
}
fetch config.json || { echo "get-model: $name has no config.json" >&2; exit 1; }
for f in vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do fetch "$f" || true; done
fetch model.safetensors || fetch pytorch_model.bin || { echo "get-model: $name has neither model.safetensors nor pytorch_model.bin" >&2; exit 1; }
