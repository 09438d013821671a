"""Stamp every result with what produced it: profile, models, data, seed, git commit."""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from . import config


def git_commit() -> str:
    """The repo's HEAD commit (``+dirty`` when the tree has uncommitted changes), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=config.REPO_ROOT, capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stable_hash(obj: Any, n: int = 16) -> str:
    """A short, order-independent hash of a JSON-able object (used as cache keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


def stamp(record: dict[str, Any], *, profile: Any, models: dict[str, str] | None = None,
          data: dict[str, Any] | None = None, seed: int | None = None) -> dict[str, Any]:
    """Return ``record`` with a ``provenance`` block added (does not mutate the input)."""
    prof = profile.to_dict() if hasattr(profile, "to_dict") else profile
    out = dict(record)
    out["provenance"] = {
        "profile": prof["name"] if isinstance(prof, dict) and "name" in prof else prof,
        "profile_settings": prof if isinstance(prof, dict) else None,
        "models": models or {},
        "data": {"dir": str(config.data_dir()), **(data or {})},
        "seed": seed,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return out


def clean(obj: Any) -> Any:
    """A strict-JSON-able copy of ``obj``: NaN/inf → None, numpy → Python, tuples → lists,
    predictions (objects with ``id``/``gold``/``pred``/``correct``) → small dicts."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "correct") and hasattr(obj, "pred") and hasattr(obj, "id"):
        return {"id": obj.id, "gold": obj.gold, "pred": obj.pred, "correct": bool(obj.correct)}
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):      # numpy scalar
        try:
            obj = obj.item()
        except (TypeError, ValueError):
            pass
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return clean(obj.to_dict())
    return str(obj)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (:func:`clean`: no NaN/inf), atomically (tmp file + rename), so a
    crash never leaves half a results file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(clean(obj), indent=2, ensure_ascii=False, allow_nan=False))
    tmp.replace(path)
    return path
