"""Run identity: the immutable uid, the user-facing id, the display name; make, validate, parse paths."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from runtree.errors import UsageError

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# W&B refuses these in run ids; so do we, since '?' and '/' carry meaning in fork specs and paths.
_ID_FORBIDDEN = set(":;,#?/'\"\\ \t\n")
_UID_RE = re.compile(r"^[0-9a-f]{32}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")

_ADJECTIVES = [
    "amber",
    "autumn",
    "bold",
    "brisk",
    "calm",
    "cosmic",
    "crimson",
    "dainty",
    "dark",
    "dashing",
    "desert",
    "dry",
    "eager",
    "earthy",
    "fancy",
    "fearless",
    "floral",
    "fresh",
    "gentle",
    "glad",
    "golden",
    "grateful",
    "hardy",
    "hearty",
    "icy",
    "jolly",
    "lively",
    "lucky",
    "lunar",
    "misty",
    "morning",
    "noble",
    "northern",
    "olive",
    "polar",
    "proud",
    "quiet",
    "rare",
    "rosy",
    "royal",
    "rustic",
    "sage",
    "scarlet",
    "serene",
    "sleek",
    "smooth",
    "snowy",
    "solar",
    "spring",
    "stellar",
    "stoic",
    "sunny",
    "swift",
    "twilight",
    "vague",
    "vibrant",
    "vivid",
    "wandering",
    "warm",
    "wild",
    "winter",
    "wise",
    "young",
    "zany",
]
_NOUNS = [
    "aurora",
    "bird",
    "blaze",
    "breeze",
    "brook",
    "butterfly",
    "cloud",
    "comet",
    "dawn",
    "dew",
    "dream",
    "dust",
    "feather",
    "field",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "galaxy",
    "glade",
    "grass",
    "haze",
    "hill",
    "lake",
    "leaf",
    "meadow",
    "moon",
    "morning",
    "mountain",
    "night",
    "oasis",
    "ocean",
    "paper",
    "pine",
    "plasma",
    "pond",
    "rain",
    "river",
    "sea",
    "shadow",
    "silence",
    "sky",
    "smoke",
    "snow",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "thunder",
    "tree",
    "valley",
    "violet",
    "water",
    "wave",
    "wind",
    "wood",
]


def make_uid() -> str:
    """A new immutable run id: 32 lowercase hex characters, globally unique."""
    return uuid.uuid4().hex


def make_id() -> str:
    """A new user-facing run id: 8 random lowercase base-36 characters, as W&B makes them."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def make_name(number: int) -> str:
    """A readable display name such as 'brisk-river-7'; `number` is the run's ordinal in its project."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{number}"


def looks_like_uid(text: str) -> bool:
    return bool(_UID_RE.match(text))


def validate_id(run_id: str) -> str:
    """Return `run_id` if it can be a run id, else raise UsageError naming the offending character."""
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"run id must be a non-empty string, got {run_id!r}")
    if len(run_id) > 128:
        raise UsageError(f"run id {run_id[:20]!r}... is {len(run_id)} characters long; at most 128 are allowed")
    bad = sorted({c for c in run_id if c in _ID_FORBIDDEN})
    if bad:
        raise UsageError(f"run id {run_id!r} contains {''.join(bad)!r}; these characters are not allowed: :;,#?/'\" and spaces")
    return run_id


def validate_scope_name(kind: str, value: str) -> str:
    """Check an entity or project name: letters, digits, '_', '-', '.'."""
    if not isinstance(value, str) or not _NAME_RE.match(value) or len(value) > 128:
        raise UsageError(f"{kind} {value!r} is not allowed: use 1 to 128 letters, digits, '_', '-' or '.'")
    return value


@dataclass(frozen=True, slots=True)
class RunPath:
    """A parsed run reference: entity/project/id with missing parts None, or a bare id/uid."""

    entity: str | None
    project: str | None
    id: str


def parse_path(path: str) -> RunPath:
    """Parse 'entity/project/id', 'entity/project/runs/id', 'project/id' or 'id' (or a uid)."""
    if not isinstance(path, str) or not path.strip("/"):
        raise UsageError(f"run path must look like 'entity/project/id', got {path!r}")
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) == 3:
        return RunPath(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return RunPath(None, parts[0], parts[1])
    if len(parts) == 1:
        return RunPath(None, None, parts[0])
    raise UsageError(f"run path {path!r} has {len(parts)} parts; expected 'entity/project/id'")
