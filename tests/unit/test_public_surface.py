"""The public surface is pinned: a change to runtree.__all__ is a deliberate, reviewed change."""

import runtree

EXPECTED = {
    "Api", "BadForkSpec", "ConfigError", "ConflictingOptions", "NoSuchFile", "NoSuchRun", "Run", "RunExists", "RunIsActive",
    "RuntreeError", "RuntreeWarning", "Settings", "StepNotMonotonic", "StepOutOfRange", "StoreError", "UsageError",
    "__version__", "config", "define_metric", "finish", "init", "log", "run", "summary",
}


def test_all_is_pinned() -> None:
    assert set(runtree.__all__) == EXPECTED
    for name in EXPECTED - {"run", "config", "summary"}:
        assert hasattr(runtree, name), name


def test_wandb_names_exist() -> None:
    # The names `import runtree as wandb` code uses most.
    for name in ("init", "log", "finish", "define_metric", "Api", "Settings"):
        assert callable(getattr(runtree, name))


def test_the_wandb_surface_resolves_without_pulling_pillow() -> None:
    import subprocess
    import sys

    names = [
        "login",
        "Image",
        "Table",
        "Histogram",
        "Video",
        "Audio",
        "Html",
        "Object3D",
        "Molecule",
        "Plotly",
        "plot",
        "Artifact",
        "save",
        "restore",
        "alert",
        "AlertLevel",
        "watch",
        "unwatch",
        "log_artifact",
        "use_artifact",
        "log_model",
        "use_model",
        "setup",
        "teardown",
        "mark_preempting",
        "util",
        "termlog",
        "termwarn",
        "termerror",
        "Error",
        "agent",
        "controller",
        "sweep",
        "require",
    ]
    code = (
        "import sys, runtree as wandb\n"
        f"names = {names!r}\n"
        "assert 'PIL' not in sys.modules\n"
        "for n in names: getattr(wandb, n)\n"
        "for n in ('line', 'scatter', 'bar', 'histogram', 'line_series'): getattr(wandb.plot, n)\n"
        "assert len(wandb.util.generate_id()) == 8 and issubclass(wandb.UsageError, wandb.Error)\n"
        "for f in (wandb.agent, wandb.controller, wandb.sweep, wandb.Artifact, wandb.log_artifact):\n"
        "    try:\n"
        "        f('x')\n"
        "    except NotImplementedError as e:\n"
        "        assert 'issue 11' in str(e) or 'fork_from' in str(e), e\n"
        "    else:\n"
        "        raise AssertionError(f)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
