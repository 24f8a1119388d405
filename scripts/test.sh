#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the checks and the whole suite.
# Used as-is by CI (.ci/run) and by the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c "import runtree" # the install above must have worked

# The wandb client versions the tests run (one cached venv each, scripts/wandb-venv.sh): built in the background
# while the checks below run; a test that needs one waits on its lock.
for v in $(.venv/bin/python -c "from tests.integration.wandb_venvs import VERSIONS; print(*VERSIONS)"); do
    bash scripts/wandb-venv.sh "$v" >/dev/null 2>&1 &
done

for setup in .ci/ensure_postgres.sh .ci/ensure_chromium.sh; do
    [ -f "$setup" ] && bash "$setup"
done

echo "== ruff"; .venv/bin/ruff check runtree tests bench examples
echo "== mypy"; .venv/bin/mypy
echo "== import layers"; .venv/bin/lint-imports --no-cache >/dev/null && echo "layers kept"
echo "== pytest"; .venv/bin/python -m pytest "$@"
