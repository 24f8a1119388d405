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
