"""Students at once: :func:`helpers.protocol.run_units` with one process at all torch threads vs several
1-thread worker processes.

Two course units (a Greedy-CoT student on the coin flip under the course protocol, cut to
``BENCH_STEPS`` optimizer steps, then a greedy decode of the first ``BENCH_DEV`` dev questions) are run
twice from an empty cache (converted base models are linked in, nothing else): once with
``n_workers=1`` (here, one after the other, at this process's torch threads) and once with
``n_workers=BENCH_WORKERS`` (one process per student, an equal share of the threads each). Metrics:

* ``units_per_hour:workers=<n>`` — students trained and decoded per hour of wall time;
* ``speedup:workers=<n>`` — the ratio, what ``COTLAB_WORKERS=auto`` relies on (measured 1.5x with two
  1-thread workers on a 2-core AMD EPYC: a 135M model does not keep two threads busy).

Env: ``BENCH_STEPS`` (12), ``BENCH_DEV`` (48), ``BENCH_WORKERS`` (2), ``BENCH_THREADS`` (torch threads of
the one-process run; default torch's).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))

from helpers import config, protocol, targets  # noqa: E402
from helpers.bench import emit_line  # noqa: E402
from helpers.profiles import get_profile  # noqa: E402

STEPS = int(os.environ.get("BENCH_STEPS", 12))
N_DEV = int(os.environ.get("BENCH_DEV", 48))
WORKERS = int(os.environ.get("BENCH_WORKERS", 2))


def units(p: protocol.Protocol, seeds: tuple[int, ...]) -> dict[int, protocol.Unit]:
    s = protocol.setup(p, teacher="scripted:0.1", n_samples=1)
    return {seed: protocol.unit(p, targets.pairs_from_corpus(s.train_corpus, "greedy_cot", seed=seed), seed=seed,
                                info={"condition": "greedy_cot", "bench": "parallel"}, evaluate=s.dev[:N_DEV])
            for seed in seeds}


def main() -> None:
    base = config.cache_dir()
    p0 = get_profile("course").protocol()
    p = replace(p0, budget=replace(p0.budget, steps=STEPS))
    rates = {}
    for n, seeds in ((1, (101, 102)), (WORKERS, (103, 104))):
        with tempfile.TemporaryDirectory() as tmp:
            for d in ("models", "gguf", "precision.json"):   # converted base models, the machine's precision
                if (base / d).exists():
                    os.symlink(base / d, Path(tmp) / d)
            os.environ["COTLAB_CACHE"] = tmp
            todo = units(p, seeds)
            t0 = time.perf_counter()
            protocol.run_units(p, todo, n_workers=n, progress=False)
            rates[n] = len(todo) / (time.perf_counter() - t0) * 3600
        emit_line("parallel", f"units_per_hour:workers={n}", rates[n], "students/h", steps=STEPS, n_dev=N_DEV,
                  torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count())
    os.environ["COTLAB_CACHE"] = str(base)
    emit_line("parallel", f"speedup:workers={WORKERS}", rates[WORKERS] / rates[1], "x", steps=STEPS, n_dev=N_DEV,
              torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count())


if __name__ == "__main__":
    main()
