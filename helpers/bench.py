"""`python -m helpers bench`: run every ``bench/bench_*.py`` and collect their measurements.

Each bench script prints one JSON object per measurement on stdout, e.g.
``{"bench": "sampling", "metric": "tokens_per_s", "value": 141.2, "unit": "tokens/s", ...}``; other
stdout lines are passed through as progress. The scripts run one at a time (timings must not share the
CPU) in a subprocess with the venv python. Results go to ``results/bench.json`` (or ``--out``), one
entry per script with its own provenance (git commit, CPU count, CPU model and its avx2 / avx512f /
avx512_bf16 / amx_bf16 / amx_tile flags, load average, torch threads, the precision choice of
:func:`helpers.precision.choose_precision`), so a ``--only`` rerun replaces just the scripts it ran.
``BENCH_THREADS=N`` makes the scripts run torch on N threads (default: torch's, all cores); every
record carries the ``torch_threads`` it ran with.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import config
from .config import UserError
from .provenance import git_commit, write_json

BENCH_DIR = config.REPO_ROOT / "bench"
CORE_KEYS = ("bench", "metric", "value", "unit")


def discover(only: list[str] | None = None, bench_dir: Path | None = None) -> list[Path]:
    """``bench_*.py`` scripts, sorted; ``only`` keeps those whose name contains any of the substrings."""
    scripts = sorted((bench_dir or BENCH_DIR).glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if any(o in s.name for o in only)]
    return scripts


def bench_python() -> str:
    """The venv interpreter when the repo has one, else the current one."""
    venv = config.REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def machine_info() -> dict[str, Any]:
    try:
        import torch
        threads, torch_version = torch.get_num_threads(), torch.__version__
    except ImportError:                                   # torch is a dependency; keep the stamp robust
        threads, torch_version = None, None
    from .precision import choose_precision, cpu_flags, relevant_flags
    cpu_model, flags = cpu_flags()
    try:
        choice = choose_precision() if torch_version else None
    except Exception as e:                               # the stamp must not fail a benchmark run
        choice = {"error": repr(e)}
    return {"cpu_count": os.cpu_count(),
            "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "torch_threads": threads, "torch": torch_version, "python": platform.python_version(),
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_model": cpu_model, "cpu_flags": relevant_flags(flags),
            "load_avg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "bench_threads": os.environ.get("BENCH_THREADS"), "precision": choice}


def emit_line(bench: str, metric: str, value: float, unit: str, **extra: Any) -> None:
    """Print one measurement in the line format ``parse_output`` reads (used by ``bench/*.py``)."""
    print(json.dumps({"bench": bench, "metric": metric, "value": round(float(value), 3), "unit": unit, **extra}),
          flush=True)


def parse_output(stdout: str, script: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Split a script's stdout into measurement records and pass-through lines.

    A line that starts with ``{`` must be a JSON object with ``bench``, ``metric``, numeric ``value``
    and ``unit``; anything else in such a line raises ``ValueError`` naming the script and line.
    """
    records, other = [], []
    for i, line in enumerate(stdout.splitlines(), start=1):
        s = line.strip()
        if not s.startswith("{"):
            if s:
                other.append(line)
            continue
        try:
            rec = json.loads(s)
        except json.JSONDecodeError as e:
            raise ValueError(f"{script}: stdout line {i}: invalid JSON ({e.msg})") from None
        missing = [k for k in CORE_KEYS if k not in rec]
        if missing:
            raise ValueError(f"{script}: stdout line {i}: missing keys {missing}")
        if not isinstance(rec["value"], (int, float)) or isinstance(rec["value"], bool):
            raise ValueError(f"{script}: stdout line {i}: 'value' must be a number, got {rec['value']!r}")
        records.append({**rec, "script": script})
    return records, other


def run_script(path: Path, python: str | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run one bench script; return ``{"rc", "seconds", "records", "error"}``."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python or bench_python(), str(path)], cwd=config.REPO_ROOT, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        recs, _ = parse_output(out, path.name)
        return {"rc": None, "seconds": time.perf_counter() - t0, "records": recs,
                "error": f"timed out after {timeout} s"}
    secs = time.perf_counter() - t0
    error = None
    try:
        recs, other = parse_output(proc.stdout, path.name)
    except ValueError as e:
        recs, other, error = [], [], str(e)
    for line in other:
        print(f"  [{path.stem}] {line}")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        error = f"exit code {proc.returncode}\n{tail}"
    return {"rc": proc.returncode, "seconds": secs, "records": recs, "error": error}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def format_table(records: list[dict[str, Any]]) -> str:
    """A plain-text table: bench, metric, value, unit, then the remaining keys as ``k=v``."""
    rows = [(r["bench"], r["metric"], _fmt(r["value"]), r["unit"],
             " ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in (*CORE_KEYS, "script")))
            for r in records]
    head = ("bench", "metric", "value", "unit", "details")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    lines = ["  ".join(f"{c:>{w}}" if i == 2 else f"{c:<{w}}" for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in (head, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_benchmarks(only: list[str] | None = None, out: str | Path | None = None,
                   timeout: float | None = None) -> list[str]:
    """Run the bench scripts (names containing one of ``only``), print a table, write ``out`` (default
    ``results/bench.json``, merged with the earlier results of scripts not run now). Returns the names
    of the scripts that failed; raises :class:`~helpers.config.UserError` when no script matches."""
    scripts = discover(only)
    if not scripts:
        raise UserError(f"no bench scripts in {BENCH_DIR}" + (f" matching {only}" if only else ""))
    out = Path(out) if out else config.results_dir() / "bench.json"
    previous: dict[str, Any] = {}
    if out.exists():
        try:
            previous = json.loads(out.read_text()).get("scripts", {})
        except (json.JSONDecodeError, AttributeError):
            previous = {}
    machine = machine_info()
    commit = git_commit()
    python = bench_python()
    results = dict(previous)
    failed = []
    for script in scripts:
        print(f"== {script.name}")
        res = run_script(script, python, timeout)
        res["provenance"] = {"git_commit": commit, "machine": machine, "python_executable": python,
                             "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        results[script.name] = res
        if res["error"]:
            failed.append(script.name)
            print(f"  FAILED: {res['error']}", file=sys.stderr)
        else:
            print(f"  {len(res['records'])} measurements in {res['seconds']:.1f} s")
    ran = [s.name for s in scripts]
    records = [r for s in ran for r in results[s]["records"]]
    print()
    print(format_table(records))
    kept = sorted(set(results) - set(ran))
    if kept:
        print(f"(kept earlier results of {kept} in {out})")
    write_json(out, {"records": [r for res in results.values() for r in res["records"]],
                     "scripts": results, "machine": machine, "git_commit": commit})
    print(f"wrote {out}")
    return failed
