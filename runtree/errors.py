"""The exception tree: every error runtree raises, each quoting the bad value and what was allowed.

RuntreeError
├── UsageError            (also a ValueError) bad arguments to init/log/define_metric
│   ├── BadForkSpec        "abc?_step=x": a malformed fork/rewind moment
│   ├── ConflictingOptions fork_from with resume_from, ids that disagree, ...
│   ├── StepNotMonotonic   a custom step metric whose values go down
│   └── ConfigError        a config value changed without allow_val_change=True
├── NoSuchRun             (also a LookupError) an id, uid or path that names no run
├── NoSuchFile            (also a FileNotFoundError) a run file the run does not have
├── RunExists             an id already taken in entity/project
├── StepOutOfRange        a fork/rewind step beyond the last logged step
├── RunIsActive           rewinding a run whose process is still logging
└── StoreError            the store could not be opened or is of a newer schema
    ├── StoreDiskFull      the disk under the store is full; writers keep their rows and retry
    └── DataNotStored      finish(): rows, samples, lines or fields the store never took (disk full, ...)
RuntreeWarning (UserWarning)  something ignored: a step that went backwards, an unknown setting
"""

from __future__ import annotations


class RuntreeError(Exception):
    """Base class of every error raised by runtree."""


class UsageError(RuntreeError, ValueError):
    """The caller passed arguments runtree cannot accept."""


class BadForkSpec(UsageError):
    """A fork_from / resume_from moment that does not parse."""


class ConflictingOptions(UsageError):
    """Options to init that cannot be used together."""


class StepNotMonotonic(UsageError):
    """A custom step metric whose values decrease, so no fork point can be named by it."""


class NoSuchRun(RuntreeError, LookupError):
    """No run has this id, uid or path."""


class NoSuchFile(RuntreeError, FileNotFoundError):
    """The run has no file of that name."""


class RunExists(RuntreeError):
    """The id is already taken in this entity/project."""


class StepOutOfRange(RuntreeError, ValueError):
    """A fork or rewind step outside the run's logged history."""


class RunIsActive(RuntreeError):
    """The run is still being logged by a live process."""


class StoreError(RuntreeError):
    """The store cannot be opened or used."""


class StoreDiskFull(StoreError):
    """The store's disk is full: nothing was written; the same write succeeds once space is freed."""


class DataNotStored(StoreError):
    """finish() could not store everything logged: `leftover` counts what is missing and says why."""

    def __init__(self, message: str, leftover: object = None) -> None:
        super().__init__(message)
        self.leftover = leftover


class ConfigError(UsageError):
    """A config key changed value without allow_val_change=True (as wandb's ConfigError)."""


class RuntreeWarning(UserWarning):
    """Something was ignored (a step going backwards, an unknown setting); the run goes on."""
