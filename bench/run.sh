#!/usr/bin/env bash
# Make bench/.venv (runtree editable + the peers in requirements.txt) and run bench_log.py with any arguments given.
#   bench/run.sh                      # the full comparison (about 3-4 minutes on 2 cores, after the install)
#   bench/run.sh --only runtree       # or a subset; bench/.venv/bin/python bench/bench_log.py --help
# A peer that will not install (Aim has no wheels for some Pythons) is left out; the bench prints why.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bench: needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$VENV/.installed" ] || [ bench/requirements.txt -nt "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e .
    # All peers in one resolve; if that fails, one at a time, keeping each failure's log for the bench to quote.
    if ! "$VENV/bin/python" -m pip install -q -r bench/requirements.txt >"$VENV/install-all.log" 2>&1; then
        echo "bench: installing all peers together failed; trying one at a time" >&2
        grep -Ev '^\s*(#|$)' bench/requirements.txt | while read -r req; do
            mod=$(echo "$req" | sed -E 's/[<>=!~ ;].*//')
            if ! "$VENV/bin/python" -m pip install -q "$req" >"$VENV/install-$mod.log" 2>&1; then
                echo "bench: pip install '$req' failed (see $VENV/install-$mod.log)" >&2
            fi
        done
    fi
    touch "$VENV/.installed"
fi
exec "$VENV/bin/python" bench/bench_log.py "$@"
