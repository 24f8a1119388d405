"""Run identity: the immutable uid, the user-facing id, the display name; make, validate, parse paths.

One format for every name a run is found by, checked wherever one enters (the SDK's init, the HTTP API,
the W&B endpoints, upload URLs): uid `[A-Za-z0-9_-]{1,64}` (runtree makes 32 hex), run id W&B's rule (no
`:;,#?/'"\\`, no blanks or control characters), entity `[A-Za-z0-9_.-]{1,128}`, project W&B's rule (no
`/\\#?%:`, no control characters). Free text (display names, notes, tags, file names) holds no NUL or other
control character a database cannot keep, and no lone surrogate.
"""

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
_UID_FORMAT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_PROJECT_FORBIDDEN = set("/\\#?%:")
# C0 controls but tab/newline/carriage return, DEL, and C1 controls: PostgreSQL refuses NUL, the rest hide in logs.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
UID_PATTERN = _UID_FORMAT.pattern
ENTITY_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"
MAX_TEXT = 1 << 20  # characters of one notes text
MAX_NAME = 1024  # characters of a display name, tag, group, job type, host or file name

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


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def check_text(kind: str, value: object, *, max_len: int = MAX_NAME, lines: bool = False) -> str:
    """Return `value` if it is a string a store keeps and gives back exactly, else raise UsageError.

    Refused: non-strings, more than `max_len` characters, lone surrogates (no UTF-8 form), NUL and other
    control characters (tab, newline and carriage return are allowed when `lines`).
    """
    if not isinstance(value, str):
        raise UsageError(f"{kind} must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise UsageError(f"{kind} {_shown(value)} is {len(value)} characters long; at most {max_len} are allowed")
    bad = _CONTROL_RE.search(value) or (None if lines else re.search(r"[\t\n\r]", value))
    if bad:
        raise UsageError(f"{kind} {_shown(value)} contains the control character {bad.group()!r} at {bad.start()}")
    if _SURROGATE_RE.search(value):
        raise UsageError(f"{kind} {_shown(value)} contains a lone surrogate (text that has no UTF-8 form)")
    return value


def validate_uid(uid: object) -> str:
    """Return `uid` if it can be a run's immutable id (1 to 64 of [A-Za-z0-9_-]), else raise UsageError."""
    if not isinstance(uid, str) or not _UID_FORMAT.match(uid):
        raise UsageError(f"uid {uid!r:.80} is not a run uid: 1 to 64 letters, digits, '_' or '-'")
    return uid


def validate_id(run_id: str) -> str:
    """Return `run_id` if it can be a run id, else raise UsageError naming the offending character."""
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"run id must be a non-empty string, got {run_id!r}")
    if len(run_id) > 128:
        raise UsageError(f"run id {run_id[:20]!r}... is {len(run_id)} characters long; at most 128 are allowed")
    bad = sorted({c for c in run_id if c in _ID_FORBIDDEN})
    if bad:
        raise UsageError(f"run id {run_id!r} contains {''.join(bad)!r}; these characters are not allowed: :;,#?/'\" and spaces")
    check_text("run id", run_id, max_len=128)
    return run_id


def validate_entity(value: object) -> str:
    """Check an entity name: 1 to 128 letters, digits, '_', '-', '.'."""
    if not isinstance(value, str) or not _NAME_RE.match(value) or len(value) > 128:
        raise UsageError(f"entity {value!r:.80} is not allowed: use 1 to 128 letters, digits, '_', '-' or '.'")
    return value


def validate_project(value: object) -> str:
    """Check a project name as W&B does: 1 to 128 characters, none of / \\ # ? % : and no control characters."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise UsageError(f"project {value!r:.80} is not allowed: a project name is 1 to 128 characters, not blank at either end")
    bad = sorted({c for c in value if c in _PROJECT_FORBIDDEN})
    if bad:
        raise UsageError(f"project {value!r:.80} contains {''.join(bad)!r}; these characters are not allowed: / \\ # ? % :")
    return check_text("project", value, max_len=128)


def validate_scope_name(kind: str, value: str) -> str:
    """Check an entity or project name (`kind` is 'entity' or 'project')."""
    return validate_project(value) if kind == "project" else validate_entity(value)


def validate_file_name(name: object) -> str:
    """Check a run file's name: a relative path of printable characters, no '..' part, at most 1024 characters."""
    check_text("file name", name)
    assert isinstance(name, str)
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in name.split("/")):
        raise UsageError(f"file name {_shown(name)} is not allowed: a relative path with no empty, '.' or '..' part")
    return name


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
