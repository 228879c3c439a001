#!/bin/sh
# with-python.sh PYTHON SCRIPT ARGS...: runs SCRIPT under PYTHON, or fails (one line, exit 1) when there is
# no such Python: a missing stack is a failed test, never a skipped one.
py=$1
shift
if [ ! -x "$py" ]; then
  echo "HF-INTEROP FAIL: no Python at $py (build the stack: scripts/python-env.sh current, or seed)"
  exit 1
fi
exec "$py" "$@"
