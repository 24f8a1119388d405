"""`import runtree; runtree.init(); run.log(); run.finish()` loads no pandas, numpy, FastAPI, graphql or server code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "pandas", "fastapi", "starlette", "graphql", "uvicorn", "pydantic", "psycopg", "httpx", "rich", "typer")
SCRIPT = """
import json, sys
import runtree
after_import = sorted(sys.modules)
run = runtree.init(project="light")
for i in range(3000):
    run.log({"loss": 1.0 / (i + 1), "acc": i % 7})
run.finish()
print(json.dumps({"import": after_import, "run": sorted(sys.modules)}))
"""


def _loaded(tmp_path: Path) -> dict[str, list[str]]:
    env = {**os.environ, "RUNTREE_DIR": str(tmp_path / "rt"), "RUNTREE_CONSOLE": "off", "RUNTREE_SYSTEM_SAMPLE_INTERVAL": "0"}
    for var in ("RUNTREE_BASE_URL", "RUNTREE_API_KEY", "RUNTREE_STORE_URL"):
        env.pop(var, None)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=True)
    loaded: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in HEAVY or m.startswith(("runtree.server", "runtree.api", "runtree.cli"))})


def test_import_init_log_finish_load_nothing_heavy(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    assert _heavy(loaded["import"]) == []
    assert _heavy(loaded["run"]) == []  # 3000 rows: a chunk was sealed, without numpy
    assert "runtree.sdk.run" in loaded["import"]


def test_api_is_still_there_on_first_use() -> None:
    import runtree

    assert runtree.Api.__module__ == "runtree.api" and "Api" in dir(runtree) and "Api" in runtree.__all__
