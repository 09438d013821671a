"""Where things live: the data directory, the cache, run outputs.

Every path the suite reads or writes comes from here, so one environment variable moves it:

* ``COTLAB_DATA``    — task files in the schema of ``data/README.md`` (default ``data/`` in the repo).
* ``COTLAB_GENERATED`` — generated tasks (coin flip), written on first use (default ``data/generated/``).
* ``COTLAB_CACHE``   — converted models, teacher samples, trained students
  (default ``~/.cache/cotlab``; survives re-clones so a re-run recomputes nothing).
* ``COTLAB_RESULTS`` — results JSON/CSV written by notebooks and the CLI (default ``results/``).
* ``COTLAB_FIGURES`` — figures (default ``figures/``).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class UserError(Exception):
    """Something the user can fix: an unknown task/split/target/corpus/profile/model name, a missing or
    malformed file, an unreachable endpoint. The message says what is wrong (and, for a name, the valid
    ones); ``python -m helpers`` prints it as one line on stderr and exits with code 2. Anything else
    that escapes a command is a bug and keeps its traceback."""


class UnknownName(UserError, KeyError, ValueError):
    """A name that is not in its registry. A ``KeyError`` *and* a ``ValueError`` so that callers that
    catch either kind of failed lookup keep working; ``str()`` is the plain message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _path_from_env(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    p = Path(value).expanduser() if value else default
    return p if p.is_absolute() else (Path.cwd() / p)


def data_dir() -> Path:
    """The task data directory (``COTLAB_DATA``, default ``<repo>/data``)."""
    return _path_from_env("COTLAB_DATA", REPO_ROOT / "data")


def generated_dir() -> Path:
    """Generated task data (``COTLAB_GENERATED``, default ``<repo>/data/generated``)."""
    return _path_from_env("COTLAB_GENERATED", REPO_ROOT / "data" / "generated")


def cache_dir() -> Path:
    """Durable cache root (``COTLAB_CACHE``, default ``~/.cache/cotlab``)."""
    p = _path_from_env("COTLAB_CACHE", Path.home() / ".cache" / "cotlab")
    p.mkdir(parents=True, exist_ok=True)
    return p


def results_dir() -> Path:
    p = _path_from_env("COTLAB_RESULTS", REPO_ROOT / "results")
    p.mkdir(parents=True, exist_ok=True)
    return p


def figures_dir() -> Path:
    p = _path_from_env("COTLAB_FIGURES", REPO_ROOT / "figures")
    p.mkdir(parents=True, exist_ok=True)
    return p


def workers() -> int:
    """How many students :func:`helpers.protocol.run_units` trains and decodes at once (and how many processes
    share other parallel work, e.g. RQ3's attributions): ``$COTLAB_WORKERS`` (a number, or ``auto``), 1 when
    unset. ``auto``: 1 with a CUDA GPU, else 2 on a machine with 2 or more cores — on a
    2-core AMD EPYC two 1-thread processes did 1.5x the work of one 2-thread process (training 1.37x,
    decoding 1.66x; ``make bench``, bench_parallel): a 135M model does not keep two threads busy."""
    value = os.environ.get("COTLAB_WORKERS", "1").strip().lower()
    if value == "auto":
        import torch
        return 1 if torch.cuda.is_available() else (2 if (os.cpu_count() or 1) >= 2 else 1)
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"COTLAB_WORKERS={value!r}: expected a positive whole number or 'auto'")
    return n


STORAGE_DTYPES = ("bf16", "fp32")


def student_storage() -> str:
    """The dtype trained students' weights are written in (``$COTLAB_STUDENT_STORAGE``: ``bf16``, the default,
    or ``fp32``). bf16 halves the cache (a SmolLM2-135M student: 0.27 GB instead of 0.54 GB); the weights are
    loaded back in fp32 (or bf16 where the machine decodes in it), and every stage reads them from disk, so a
    student decodes the same whether it was just trained or found in the cache. The answers that rounding to
    bf16 changes are measured, not assumed away: ``make bench`` (bench_student_decode) — on a converged
    Greedy-CoT coin-flip student's 200 dev questions, 200/200 answers and 197/200 texts the same as from its
    fp32 weights (98.5% accuracy either way)."""
    value = os.environ.get("COTLAB_STUDENT_STORAGE", "bf16").strip().lower()
    if value not in STORAGE_DTYPES:
        raise UserError(f"COTLAB_STUDENT_STORAGE={value!r}: expected one of {list(STORAGE_DTYPES)}")
    return value
