"""Durable, resumable cache of teacher samples (one JSONL file per teacher).

Every completion is appended the moment it returns (``write`` + ``flush`` + ``fsync``, under an
exclusive ``flock`` so concurrent threads or processes never interleave lines). The key of a sample
is ``(request key, k)`` where the request key hashes (teacher, prompt, decoding parameters) and
``k`` is the sample index. A killed run therefore loses at most the line being written: on open, a
truncated last line (no trailing newline, or unparsable) is cut off and reported; a corrupt line
elsewhere raises :class:`~helpers.tasks.DataError`. The cache stores completions and token counts,
never credentials.

File layout::

    {"_cache": 1, "teacher": "<teacher id>"}                         header (first line)
    {"key": "<16 hex>", "k": 0, "text": "...", "logprob": -12.3, "n_tokens": 41,
     "tokens_in": 310, "token_ids": [...], "finish_reason": "stop"}   one line per sample
"""
from __future__ import annotations

import json
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

from . import config
from .tasks import DataError

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return config.cache_dir() / "teacher"


def cache_path_for(teacher_id: str, cache_dir: str | Path | None = None) -> Path:
    """The cache file of one teacher: ``<cache_dir>/<slug of teacher id>.jsonl``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", teacher_id).strip("_")[:120] or "teacher"
    return Path(cache_dir or default_cache_dir()) / f"{slug}.jsonl"


class SampleCache:
    """Append-only JSONL cache of teacher samples, keyed by ``(key, k)``.

    ``repaired`` is set when a truncated last line was cut off on open (the number of bytes dropped).
    """

    def __init__(self, path: str | Path, teacher_id: str):
        self.path = Path(path)
        self.teacher_id = teacher_id
        self._lock = threading.Lock()
        self._records: dict[tuple[str, int], dict[str, Any]] = {}
        self.repaired = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    # -- loading / repair ---------------------------------------------------------------------------
    def _open(self) -> None:
        with self._file_lock(), open(self.path, "a+b") as fh:
            fh.seek(0)
            data = fh.read()
            good = self._parse(data, 1)
            if good < len(data):
                self.repaired = len(data) - good
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
                warnings.warn(f"{self.path}: cut off a truncated last line ({self.repaired} bytes) "
                              "left by an interrupted run", stacklevel=3)
            if good == 0:
                header = (json.dumps({"_cache": CACHE_VERSION, "teacher": self.teacher_id}) + "\n").encode()
                fh.write(header)
                fh.flush()
                os.fsync(fh.fileno())
                good = len(header)
            self._size, self._lines = good, data[:good].count(b"\n") or 1

    def _file_lock(self) -> Any:
        """The inter-process lock of this cache file (``<file>.lock``, ``filelock``: POSIX and Windows)."""
        from filelock import FileLock
        return FileLock(str(self.path) + ".lock")

    def _parse(self, data: bytes, first_lineno: int) -> int:
        """Load records from ``data`` (starting at line ``first_lineno`` of the file); return the byte
        length of its well-formed prefix.

        The tail after the last newline (an interrupted append) and an unparsable *last* line
        (e.g. NUL bytes after a crash) are not part of the prefix; a bad line before that is an error.
        """
        lines = data.split(b"\n")
        complete = lines[:-1]            # the element after the final newline is an unfinished line
        pos = 0
        for i, line in enumerate(complete):
            lineno = first_lineno + i
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                if i == len(complete) - 1:
                    return pos
                raise DataError(self.path, lineno, None,
                                f"corrupt cache line ({e}); delete the file to start over") from None
            if lineno == 1:
                if row.get("_cache") != CACHE_VERSION:
                    raise DataError(self.path, 1, "_cache", f"not a teacher cache (header {row!r:.80})")
                if row.get("teacher") != self.teacher_id:
                    raise DataError(self.path, 1, "teacher",
                                    f"cache belongs to teacher {row.get('teacher')!r}, not {self.teacher_id!r}")
            else:
                for f in ("key", "k", "text"):
                    if f not in row:
                        raise DataError(self.path, lineno, f, "missing field in cache record")
                self._records.setdefault((row["key"], int(row["k"])), row)
            pos += len(line) + 1
        return pos

    # -- access ---------------------------------------------------------------------------------------
    def get(self, key: str, k: int) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get((key, k))

    def missing(self, key: str, ks: range | list[int]) -> list[int]:
        with self._lock:
            return [k for k in ks if (key, k) not in self._records]

    def put(self, key: str, k: int, record: dict[str, Any]) -> bool:
        """Append one sample durably. Returns False (and writes nothing) if ``(key, k)`` is cached.

        Under the file lock, lines appended by other processes since the last read are loaded first
        (so two runs sharing a cache never write the same sample twice), and a partial last line left by
        a killed writer is cut off before appending.
        """
        row = {"key": key, "k": int(k), **{f: v for f, v in record.items() if f not in ("key", "k")}}
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
        with self._lock:
            if (key, k) in self._records:
                return False
            with self._file_lock(), open(self.path, "r+b") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size != self._size:
                    fh.seek(self._size)
                    tail = fh.read()
                    good = self._parse(tail, self._lines + 1)
                    self._lines += tail[:good].count(b"\n")
                    self._size += good
                    if good < len(tail):
                        fh.truncate(self._size)
                    if (key, k) in self._records:
                        return False
                fh.seek(self._size)
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
                self._size += len(line)
                self._lines += 1
            self._records[(key, k)] = row
            return True

    def __len__(self) -> int:
        return len(self._records)

    def usage(self, keys: set[str] | None = None) -> dict[str, int]:
        """Tokens in (prompt tokens billed) and out (generated), over all records or those in ``keys``."""
        with self._lock:
            rows = [r for (key, _), r in self._records.items() if keys is None or key in keys]
        return {"samples": len(rows),
                "tokens_in": sum(int(r.get("tokens_in") or 0) for r in rows),
                "tokens_out": sum(int(r.get("n_tokens") or 0) for r in rows)}
