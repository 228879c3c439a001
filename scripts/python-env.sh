#!/usr/bin/env bash
# Makes a project-local Python environment from a pinned requirements file, idempotently:
#   scripts/python-env.sh current   -> .venv/       PyTorch 2.11 (CUDA 13 wheel) + today's transformers/PEFT
#   scripts/python-env.sh seed      -> .venv-seed/  the study's era: transformers 4.28 + PEFT 0.3.0
# The environment's packages are scripts/requirements/NAME.txt. A first line '# python: CMD' in that
# file names the interpreter and venv options (default: python3); a line '# pip: OPTIONS' adds options
# to pip install (seed.txt: --no-deps, as its file pins the whole closure). A second run with the same file is
# a no-op (a stamp holds the file's sha256); a changed file rebuilds the environment from scratch.
# Prints the environment's python on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/python-env.sh current|seed}
req=scripts/requirements/$name.txt
[ -f "$req" ] || { echo "python-env: no $req" >&2; exit 2; }
if [ "$name" = current ]; then dir=.venv; else dir=.venv-$name; fi
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$dir/.requirements.sha256" ] && [ "$(cat "$dir/.requirements.sha256")" = "$want" ]; then
  echo "python-env: $dir up to date with $req" >&2
  echo "$(pwd)/$dir/bin/python"; exit 0
fi
read -r -a python < <(sed -n '1s/^# python: //p' "$req") || true  # no such line: read fails
[ ${#python[@]} -gt 0 ] || python=(python3)
read -r -a pipopts < <(sed -n 's/^# pip: //p' "$req" | head -n 1) || true
echo "python-env: building $dir from $req with ${python[*]} (a few minutes; ~5 GB for the CUDA wheels)" >&2
rm -rf "$dir"
"${python[@]::1}" -m venv "${python[@]:1}" "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check --no-input ${pipopts[@]+"${pipopts[@]}"} -r "$req"
echo "$want" > "$dir/.requirements.sha256"
echo "$(pwd)/$dir/bin/python"
