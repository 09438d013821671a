"""What the cache holds, and pruning it: ``python -m helpers cache list`` / ``cache prune``.

The cache (``$COTLAB_CACHE``, :func:`helpers.config.cache_dir`) has one folder per stage that owns it:

* ``students/<key>/`` — trained students (:mod:`helpers.train`): weights, tokenizer and the metadata
  ``cotlab_student.json`` (task, condition, steps, how it stopped, …);
* ``students/<key>.resume/`` — checkpoints of a training run not finished yet (killed; the next run of that
  student resumes from them, and removes them once it is saved): kind ``checkpoints``;
* ``decodes/<key>.json`` — every decode of a student (:func:`helpers.decode.decode_student`), keyed by the
  student's key and the decoding settings; small, and the most expensive thing to recompute;
* ``models/`` — converted GGUF models; ``samples/`` — teacher samples (what a user paid for); ``wordvec/`` —
  word vectors; anything else is listed as ``other``.

Pruning never touches teacher samples (``samples``) unless asked by name. ``weights`` removes a student's
weights but keeps its metadata and every decode: :func:`helpers.train.train_student` then retrains that
student when something needs its weights, while its decodes are still found (the same key).
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import config
from .train import (RESUME_SUFFIX, STUDENT_META, WEIGHT_FILES, has_weights,  # noqa: F401  (has_weights: re-exported)
                    latest_checkpoint)

KINDS = ("students", "checkpoints", "decodes", "models", "samples", "wordvec", "other")
WHAT = ("students", "weights", "checkpoints", "decodes", "models", "samples", "all")


@dataclass
class Entry:
    kind: str
    path: Path
    bytes: int
    mtime: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def age_days(self) -> float:
        return (time.time() - self.mtime) / 86400


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _mtime(p: Path) -> float:
    if p.is_file():
        return p.stat().st_mtime
    times = [f.stat().st_mtime for f in p.rglob("*") if f.is_file()]
    return max(times) if times else p.stat().st_mtime


def _locked(lock: Path) -> bool:
    """Whether a process holds ``lock`` now (a student being trained: :func:`helpers.train.train_student`)."""
    from filelock import FileLock, Timeout
    if not lock.exists():
        return False
    try:
        FileLock(str(lock)).acquire(timeout=0).lock.release()
    except Timeout:
        return True
    return False


def entries(root: Path | None = None) -> list[Entry]:
    """Everything in the cache, one entry per student folder, decode file, model folder, … ."""
    root = root or config.cache_dir()
    out: list[Entry] = []
    decode_counts: dict[str, int] = {}
    dec = root / "decodes"
    if dec.is_dir():
        for f in sorted(dec.glob("*.json")):
            try:
                student = json.loads(f.read_text()).get("student")
            except (json.JSONDecodeError, OSError):
                student = None
            decode_counts[student] = decode_counts.get(student, 0) + 1
            out.append(Entry("decodes", f, f.stat().st_size, f.stat().st_mtime, {"student": student}))
    st = root / "students"
    if st.is_dir():
        for d in sorted(p for p in st.iterdir() if p.is_dir()):
            if ".tmp-" in d.name:           # a student being trained (or left by a killed run: train removes it)
                out.append(Entry("other", d, _size(d), _mtime(d), {"training": True}))
                continue
            if d.name.endswith(RESUME_SUFFIX):      # checkpoints of an unfinished run (train resumes from them)
                found = latest_checkpoint(d)
                key = d.name[:-len(RESUME_SUFFIX)]
                out.append(Entry("checkpoints", d, _size(d), _mtime(d), {
                    "key": key, "step": found[1].get("step") if found else None,
                    "training": _locked(st / f"{key}.lock")}))
                continue
            meta_path = d / STUDENT_META
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            info = meta.get("info") or {}
            out.append(Entry("students", d, _size(d), _mtime(d), {
                "key": d.name, "student": meta.get("student"), "task": info.get("task"),
                "condition": info.get("condition"), "steps": meta.get("global_steps"),
                "converged": meta.get("converged"), "weights": has_weights(d),
                "decodes": decode_counts.get(d.name, 0), "complete": meta_path.exists()}))
    for kind in ("models", "samples", "wordvec"):
        base = root / kind
        if base.is_dir():
            for p in sorted(base.iterdir()):
                out.append(Entry(kind, p, _size(p), _mtime(p), {}))
    for p in sorted(root.iterdir()):
        if p.name not in KINDS:
            out.append(Entry("other", p, _size(p), _mtime(p), {}))
    return out


def summary(es: Sequence[Entry]) -> list[dict[str, Any]]:
    """Per kind: how many entries and how many bytes (students: how many still hold weights)."""
    rows = []
    for kind in KINDS:
        sel = [e for e in es if e.kind == kind]
        if not sel:
            continue
        row: dict[str, Any] = {"kind": kind, "entries": len(sel), "bytes": sum(e.bytes for e in sel)}
        if kind == "students":
            row["with_weights"] = sum(bool(e.info.get("weights")) for e in sel)
        rows.append(row)
    return rows


def select(es: Iterable[Entry], what: str, *, older_than_days: float | None = None, task: str | None = None,
           student: str | None = None) -> list[Entry]:
    """The entries ``prune`` would act on: ``what`` (one of :data:`WHAT`), filtered by age (days since last
    written), task and student model (both: students and, through their student, decodes)."""
    from .config import UnknownName
    if what not in WHAT:
        raise UnknownName(f"unknown cache part {what!r}; valid: {', '.join(WHAT)}")
    if older_than_days is not None and older_than_days < 0:
        raise ValueError(f"--older-than must be ≥ 0 days, got {older_than_days:g}")
    es = list(es)
    kinds = {"all": ("students", "checkpoints", "decodes", "models"), "weights": ("students",)}.get(what, (what,))
    by_key = {e.info.get("key"): e for e in es if e.kind == "students"}

    def ok(e: Entry) -> bool:
        if e.kind not in kinds:
            return False
        if older_than_days is not None and e.age_days < older_than_days:
            return False
        info = e.info if e.kind == "students" else (by_key.get(e.info.get("student")) or Entry("", Path(), 0, 0)).info
        if (task or student) and e.kind not in ("students", "decodes"):
            return False
        if task is not None and info.get("task") != task:
            return False
        if student is not None and info.get("student") != student:
            return False
        if what == "weights" and not e.info.get("weights"):
            return False
        return True
    return [e for e in es if ok(e)]


def prune(what: str, *, older_than_days: float | None = None, task: str | None = None, student: str | None = None,
          dry_run: bool = False, root: Path | None = None) -> dict[str, Any]:
    """Remove what :func:`select` picks (``weights``: only a student's weight files). Returns
    ``{"removed": n, "bytes": freed, "paths": [...]}``; ``dry_run`` removes nothing."""
    chosen = select(entries(root), what, older_than_days=older_than_days, task=task, student=student)
    freed, paths = 0, []
    for e in chosen:
        if what == "weights":
            files = [f for w in WEIGHT_FILES for f in [e.path / w, *e.path.glob(w.replace(".", "-*.", 1))]
                     if f.exists()]
            freed += sum(f.stat().st_size for f in files)
            if not dry_run:
                for f in files:
                    f.unlink()
        else:
            freed += e.bytes
            if not dry_run:
                shutil.rmtree(e.path) if e.path.is_dir() else e.path.unlink()
        paths.append(str(e.path))
    return {"removed": len(chosen), "bytes": freed, "paths": paths, "dry_run": dry_run}


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def stage_seconds(since: float, root: Path | None = None) -> dict[str, Any]:
    """Where the time went since ``since`` (a ``time.time()``): the students trained and decodes made in the
    cache after it, with the seconds each recorded (training: ``train_seconds``; decoding: ``seconds``).
    Work done by several worker processes at once adds up to more than the wall time."""
    root = root or config.cache_dir()
    out: dict[str, Any] = {"students_trained": 0, "training_s": 0.0, "decodes_made": 0, "decoding_s": 0.0,
                           "generated_tokens": 0}
    for meta in (root / "students").glob(f"*/{STUDENT_META}") if (root / "students").is_dir() else []:
        if meta.stat().st_mtime >= since:
            m = json.loads(meta.read_text())
            out["students_trained"] += 1
            out["training_s"] += float(m.get("train_seconds") or 0)
    for f in (root / "decodes").glob("*.json") if (root / "decodes").is_dir() else []:
        if f.stat().st_mtime >= since:
            d = json.loads(f.read_text())
            out["decodes_made"] += 1
            out["decoding_s"] += float(d.get("seconds") or 0)
            out["generated_tokens"] += int(d.get("generated_tokens") or 0)
    out["training_s"], out["decoding_s"] = round(out["training_s"], 1), round(out["decoding_s"], 1)
    return out
