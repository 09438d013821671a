"""Command line: ``python -m helpers <command>``.

  data check | data download      validate the task data / download it from the hub
  models [check --model NAME]     list the model registry / check that a model loads
  sample                          sample N chains of thought per question from a teacher
  train                           fine-tune a student on a corpus
  evaluate                        decode a model on a task split and score it
  run                             execute the notebooks headlessly (papermill)
  bench                           throughput benchmarks (bench/ scripts)
  serve                           an OpenAI-compatible completions server for a registry model
  human-eval                      check and summarise exported human judgments (notebook 09's page)
  exercises write | check | list  teaching mode: student copies of the lesson, grading completed notebooks

Every command speaks the same language: --task, --split, --model (the one model a command uses),
--n (samples per question), --setting supervised|few_shot, --profile, --seed, --limit, --data-dir.
A user error (an unknown name, a missing file, a bad data row, an unreachable endpoint) prints one
line on stderr and exits with code 2.

This module holds all argument parsing; each command calls stage functions that take plain
Python arguments.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import config
from .config import UserError

# --------------------------------------------------------------------------------------------- parser


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default; options whose help already says ``default`` are left as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or action.required or not action.option_strings:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr (exit code 2), without the usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


class _Renamed(argparse.Action):
    """A flag that was renamed: using it is an error that names the new flag."""

    def __init__(self, option_strings, dest, new: str = "", **kw):
        kw.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs="*", **kw)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} was renamed: use {self.new}")


def _command(sub: Any, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description or help.replace("%%", "%"),
                          formatter_class=_Formatter)


def _names(xs: Any) -> str:
    return ", ".join(sorted(xs))


def _number(kind: type, low: float, *, strict: bool = False, high: float | None = None) -> Any:
    """An argparse type: a ``kind`` (int or float) ≥ ``low`` (> with ``strict``; ≤ ``high`` if given); a bad
    value is a one-line error naming the bound (exit code 2)."""
    bound = f"> {low:g}" if strict else f"≥ {low:g}"
    if high is not None:
        bound += f" and ≤ {high:g}"

    def parse(value: str) -> Any:
        try:
            x = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if (x <= low if strict else x < low) or (high is not None and x > high) or x != x:
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bound}")
        return x
    parse.__name__ = kind.__name__          # argparse names the type in its messages
    return parse


COUNT = _number(int, 1)          # a count of things: at least one
NONNEG = _number(int, 0)         # a count where 0 means something (exemplars, retries)
POSITIVE = _number(float, 0, strict=True)
NONNEG_F = _number(float, 0)


def _endpoint(value: str) -> str:
    """An OpenAI-compatible base URL: http(s)://host[:port][/path]."""
    from urllib.parse import urlparse
    u = urlparse(value)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL: write it with its scheme, "
                                         f"e.g. http://{value if '://' not in value else 'localhost:8000'}/v1")
    return value


def _existing_file(value: str) -> str:
    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"file not found: {value}")
    return value


def _model_name(value: str) -> str:
    """A registry name, an existing local directory, or a hub id (``owner/name``)."""
    from .models import REGISTRY
    p = Path(value).expanduser()
    if value in REGISTRY or p.exists() or ("/" in value and not value.startswith((".", "/", "~"))):
        return value
    raise argparse.ArgumentTypeError(
        f"unknown model {value!r}: not a registry model ({_registry_help()}), an existing directory "
        "or a hub id (owner/name)")


def _replay_source(value: str) -> str:
    """A released corpus of ``<data>/rationales/`` (name or alias) or a SCoTD ``*_30x.json`` file."""
    from .rationales import ALIASES, CORPORA
    if value in CORPORA or value in ALIASES or (value.endswith(".json") and Path(value).is_file()):
        return value
    raise argparse.ArgumentTypeError(
        f"unknown replay corpus {value!r}; choose from {_names([*CORPORA, *ALIASES])} "
        "or give an existing SCoTD *_30x.json file")


def _all_splits() -> list[str]:
    from .tasks import TASKS
    return sorted({s for spec in TASKS.values() for s in (*spec.splits, *spec.aliases)})


def _add_task(p: argparse.ArgumentParser) -> None:
    from .tasks import TASKS
    p.add_argument("--task", required=True, choices=sorted(TASKS), metavar="TASK",
                   help=f"task: {_names(TASKS)}")


def _add_split(p: argparse.ArgumentParser, default: str) -> None:
    from .tasks import TASKS
    per_task = "; ".join(f"{t}: {', '.join(s.splits)}" for t, s in TASKS.items())
    p.add_argument("--split", default=default, choices=_all_splits(), metavar="SPLIT",
                   help=f"split of --task ({per_task}; dev/test are aliases where a task names them "
                        "differently)")


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None,
                   help=f"task data directory (default: $COTLAB_DATA, now {config.data_dir()})")


def _add_profile(p: argparse.ArgumentParser) -> None:
    from .profiles import DEFAULT_PROFILE, PROFILES
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES),
                   help="run size (helpers/profiles.py)")


def _add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _add_setting(p: argparse.ArgumentParser, default: str, help: str) -> None:
    p.add_argument("--setting", choices=["supervised", "few_shot"], default=default, help=help)


def _registry_help(kind: str = "causal") -> str:
    from .models import REGISTRY
    return _names(n for n, s in REGISTRY.items() if s.kind == kind)


def _add_data(sub: Any) -> None:
    from .download import UNITS
    p = _command(sub, "data", "validate or download the task data")
    dsub = p.add_subparsers(dest="data_cmd", required=True, metavar="{check,generate,download}")
    c = _command(dsub, "check", "validate every task and rationale file in the data directory and print row "
                                "counts (exit 0 valid, 1 a count differs or a file is missing, 2 a bad row)")
    _add_data_dir(c)
    c.set_defaults(handler=cmd_data_check)
    g = _command(dsub, "generate", "write the generated tasks' splits (coin flip) under $COTLAB_GENERATED")
    g.add_argument("--data-dir", default=None, help=f"where to write (default: $COTLAB_GENERATED, now {config.generated_dir()})")
    g.add_argument("--force", action="store_true", help="rewrite even if the files match the settings")
    g.set_defaults(handler=cmd_data_generate)
    d = _command(dsub, "download", "download the datasets from the Hugging Face hub into the on-disk schema")
    d.add_argument("--data-dir", default="data", help="directory to write the data into")
    d.add_argument("--task", nargs="+", default=list(UNITS), choices=UNITS, metavar="TASK",
                   help=f"what to download: {', '.join(UNITS)}")
    d.add_argument("--out", action=_Renamed, new="--data-dir")
    d.add_argument("--tasks", action=_Renamed, new="--task")
    d.set_defaults(handler=cmd_data_download)


def _add_models(sub: Any) -> None:
    from .models import REGISTRY
    p = _command(sub, "models", "list the model registry, or check that a model loads")
    p.set_defaults(handler=cmd_models)
    msub = p.add_subparsers(dest="models_cmd", metavar="{check}")
    c = _command(msub, "check", "convert if needed, load offline, print a short greedy generation")
    c.add_argument("--model", required=True, choices=sorted(REGISTRY), metavar="MODEL",
                   help=f"registry model: {_names(REGISTRY)}")
    c.add_argument("--prompt", default="Q: What do plants need to grow?\nA:", help="prompt to continue")
    c.add_argument("--max-new-tokens", type=COUNT, default=24, help="tokens to generate")
    c.set_defaults(handler=cmd_models)


def _add_sample(sub: Any) -> None:
    from .rationales import ALIASES, CORPORA
    p = _command(sub, "sample", "sample N chains of thought per question from a teacher (resumable)",
                 "Sample a CoT corpus from a teacher: a local model (--model), an OpenAI-compatible server "
                 "(--endpoint, with --model naming the server's model) or a released corpus (--replay). "
                 "Every sample is appended to a durable cache the moment it returns; re-running the same "
                 "command after a kill resumes and completes the corpus.")
    _add_task(p)
    _add_split(p, "train")
    _add_data_dir(p)
    p.add_argument("--limit", type=COUNT, default=None, help="first N questions of the split (default: all)")
    p.add_argument("--model", default=None,
                   help="the teacher: a registry model (" + _registry_help() + "), a local directory or a hub "
                        "id, sampled locally; with --endpoint, the model name sent to the server "
                        "(default: the server's first model)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--endpoint", default=None, type=_endpoint, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
                                                      "(default: none, sample --model locally)")
    src.add_argument("--replay", default=None, type=_replay_source, metavar="CORPUS",
                     help=f"replay a released corpus instead of sampling: {_names(CORPORA)} (aliases "
                          f"{_names(ALIASES)}) or a SCoTD *_30x.json file (default: none)")
    p.add_argument("--n", type=COUNT, default=4, help="samples per question (paper: 30)")
    p.add_argument("--temperature", type=NONNEG_F, default=1.0, help="sampling temperature (0 = greedy)")
    p.add_argument("--max-new-tokens", type=COUNT, default=96, help="tokens per sample")
    p.add_argument("--shots", type=NONNEG, default=None, help="few-shot exemplars in the prompt (default: all)")
    p.add_argument("--mode", choices=["cot", "rationalize"], default="cot",
                   help="cot: few-shot CoT prompt; rationalize: the gold label is given (Wadhwa et al.)")
    _add_setting(p, "few_shot", "supervised: keep only samples whose label is gold (SCoTD's filter); "
                                "few_shot: keep every sample")
    p.add_argument("--engine", choices=["transformers", "llama.cpp"], default="transformers",
                   help="local teacher: transformers (the dequantized checkpoint) or llama.cpp (a registry model's "
                        "GGUF as it ships; the gguf extra: make gguf)")
    p.add_argument("--batch-size", type=COUNT, default=4, help="prompts per generate call (local teacher)")
    p.add_argument("--concurrency", type=COUNT, default=4, help="parallel HTTP requests (--endpoint)")
    p.add_argument("--timeout", type=POSITIVE, default=120.0, help="seconds per HTTP request (--endpoint)")
    p.add_argument("--retries", type=NONNEG, default=8,
                   help="retries per HTTP request, with exponential backoff (--endpoint)")
    _add_seed(p)
    p.add_argument("--cache-dir", default=None, help="sample cache (default: $COTLAB_CACHE/teacher)")
    p.add_argument("--out", required=True, help="corpus JSONL to write")
    p.add_argument("--teacher", action=_Renamed, new="--model")
    p.add_argument("--filter", action=_Renamed, new="--setting supervised|few_shot")
    p.set_defaults(handler=cmd_sample)


def _add_train(sub: Any) -> None:
    from .targets import CONDITIONS
    p = _command(sub, "train", "fine-tune a student on a corpus (completion-only loss, cached)")
    _add_task(p)
    _add_data_dir(p)
    p.add_argument("--corpus", default=None, type=_existing_file,
                   help="corpus JSONL from `sample` (default: none; only label_only trains without one)")
    p.add_argument("--target", default="scotd", choices=sorted(CONDITIONS), metavar="TARGET",
                   help=f"training target: {_names(CONDITIONS)}")
    p.add_argument("--model", default=None, type=_model_name,
                   help=f"the student: a registry model ({_registry_help()}), a local directory or a hub id "
                        "(default: the profile's student)")
    _add_profile(p)
    p.add_argument("--limit", type=COUNT, default=None,
                   help="first N training questions (default: the profile's distill.n_train)")
    p.add_argument("--lr", type=POSITIVE, default=None, help="learning rate (default: the profile's budget)")
    p.add_argument("--epochs", type=POSITIVE, default=None,
                   help="train for this many epochs instead of a step budget (default: the profile's step budget)")
    p.add_argument("--batch-size", type=COUNT, default=None, help="batch size (default: the profile's budget)")
    p.add_argument("--max-steps", type=COUNT, default=None, help="optimizer steps (default: the profile's budget)")
    p.add_argument("--lora", action="store_true", default=None, help="train LoRA adapters (default: the profile's)")
    _add_seed(p)
    _add_setting(p, "supervised", "supervised: keep correct samples, gold labels; few_shot: every sample with "
                                  "an answer, teacher labels (SCoTD 3.1)")
    p.add_argument("--filler-k", type=COUNT, default=10, help="filler tokens for --target filler")
    p.add_argument("--mask-p", type=_number(float, 0, high=1), default=0.5, help="masked word fraction for --target masked_*")
    p.add_argument("--key-tokens", default=None, type=_existing_file,
                   help="JSON {example id: [words]} for --target key_tokens (default: none)")
    p.add_argument("--out", required=True, help="directory for the trained student")
    p.add_argument("--student", action=_Renamed, new="--model")
    p.set_defaults(handler=cmd_train)


def _add_evaluate(sub: Any) -> None:
    p = _command(sub, "evaluate", "decode a model on a task split and score it (accuracy, 95%% CI)")
    _add_task(p)
    _add_split(p, "dev")
    _add_data_dir(p)
    p.add_argument("--model", required=True, type=_model_name,
                   help=f"a trained student directory, a registry model ({_registry_help()}) or a hub id")
    p.add_argument("--decode", choices=["greedy", "sc"], default="greedy",
                   help="greedy, or self-consistency (--n samples, majority vote)")
    p.add_argument("--n", type=COUNT, default=10, help="samples per question for --decode sc (paper: 30)")
    p.add_argument("--temperature", type=NONNEG_F, default=0.7, help="sampling temperature for --decode sc")
    p.add_argument("--max-new-tokens", type=COUNT, default=96, help="tokens per completion")
    p.add_argument("--limit", type=COUNT, default=None, help="first N questions of the split (default: all)")
    p.add_argument("--batch-size", type=COUNT, default=16, help="sequences per generate call")
    _add_seed(p)
    _add_profile(p)
    p.add_argument("--stop-at-answer", action="store_true",
                   help="stop each generation once it states an answer (answer-first targets, e.g. cot_after)")
    p.add_argument("--condition", default=None, help="condition name recorded in the results (default: the "
                   "student's training target, else 'base')")
    p.add_argument("--out", required=True, help="results JSON")
    p.add_argument("--k", action=_Renamed, new="--n")
    p.set_defaults(handler=cmd_evaluate)


def _add_run(sub: Any) -> None:
    p = _command(sub, "run", "execute the notebooks headlessly with papermill")
    _add_profile(p)
    p.add_argument("--only", nargs="+", default=None, help="notebook number prefixes, e.g. 03 (default: all)")
    p.add_argument("--out-dir", default=None, help="executed notebooks (default: runs/<profile>/)")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=None,
                   help="papermill parameter injected into every notebook, e.g. -p N_TRAIN 100 "
                        "(VALUE is a Python literal or a string); repeatable (default: none)")
    p.add_argument("--log-output", action="store_true", help="stream cell outputs to the terminal")
    p.add_argument("--notebook-dir", default=None, help="folder of the numbered notebooks (default: notebooks/)")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p.set_defaults(handler=cmd_run)


def _add_bench(sub: Any) -> None:
    p = _command(sub, "bench", "throughput benchmarks (sampling, training, decoding)")
    p.add_argument("--only", nargs="+", default=None, help="substrings of bench script names (default: all)")
    p.add_argument("--out", default=None, help="results JSON (default: results/bench.json)")
    p.add_argument("--timeout", type=POSITIVE, default=None, help="seconds per script (default: none)")
    p.set_defaults(handler=cmd_bench)


def _add_sweep(sub: Any) -> None:
    from .sweep import GRIDS
    p = _command(sub, "sweep", "run a settings grid under the protocol; records in results/sweep/ (resumable)")
    p.add_argument("--grid", required=True, choices=sorted(GRIDS), help="which grid (helpers/sweep.py GRIDS)")
    p.add_argument("--setting", nargs="+", default=None, metavar="NAME",
                   help="only these settings of the grid (default: all)")
    p.add_argument("--conditions", nargs="+", default=None, metavar="COND",
                   help="only these conditions of each setting (default: all; e.g. two processes sharing a setting)")
    p.add_argument("--seeds", nargs="+", type=NONNEG, default=None, metavar="SEED",
                   help="only these seeds of each setting (default: all)")
    p.add_argument("--threads", type=COUNT, default=None, help="torch threads (default: torch's)")
    p.set_defaults(handler=cmd_sweep)


def _add_serve(sub: Any) -> None:
    from .serve import FAULT_KINDS
    p = _command(sub, "serve", "serve a registry model as an OpenAI-compatible completions server",
                 "A small OpenAI-compatible completions server (stdlib, one request at a time) for a local "
                 "model; prints `READY <base url>` once it accepts requests.")
    p.add_argument("--model", default="smollm2-135m", type=_model_name,
                   help=f"a registry model ({_registry_help()}), a local directory or a hub id")
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=_number(int, 0, high=65535), default=8000, help="0 = any free port (printed in the READY line)")
    p.add_argument("--faults", default=os.environ.get("COTLAB_SERVE_FAULTS", ""), type=_faults,
                   help=f"comma-separated fault schedule for successive completions: {', '.join(FAULT_KINDS)} "
                        "(default: $COTLAB_SERVE_FAULTS or none)")
    p.add_argument("--fault-sleep", type=NONNEG_F, default=5.0,
                   help="seconds a 'timeout' fault stalls (set it above the client's timeout)")
    p.add_argument("--ignore-n", action="store_true", help="always return one choice (like llama-server)")
    p.set_defaults(handler=cmd_serve)


def _faults(value: str) -> list[str]:
    from .serve import parse_faults
    try:
        return parse_faults(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_human_eval(sub: Any) -> None:
    p = _command(sub, "human-eval", "check exported judgments of the pairwise human-evaluation page and summarise them",
                 "Reads the judgments files a person exported from page.html (notebook 09, SCoTD §3.1.1), checks "
                 "every row against the page's key (page.json: pairs, A/B sides) and prints student better / tie / "
                 "teacher better with the student's win rate (exact binomial test, Clopper-Pearson 95% CI). A bad or "
                 "duplicate judgment is one line naming the file, the row and the field (exit code 2).")
    _add_profile(p)
    p.add_argument("--page", default=None,
                   help="the page key page.json (default: <results>/<profile>/human_eval/page.json)")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="judgments files or folders (default: the judgments/ folder beside the page)")
    p.add_argument("--json", action="store_true", help="print the whole analysis as JSON")
    p.set_defaults(handler=cmd_human_eval)


def _add_cache(sub: Any) -> None:
    from .cache import WHAT
    p = _command(sub, "cache", "list what the cache holds (students, decodes, models) with sizes, or prune it",
                 "`cache list` prints each part of $COTLAB_CACHE with its size (--students: one line per trained "
                 "student: task, condition, steps, converged, weights kept, decodes; and each unfinished run's "
                 "checkpoint step). `cache prune --what W` removes "
                 "W: students (whole folders), weights (a student's weights only: its metadata and decodes stay, "
                 "and it is retrained if something needs its weights), checkpoints (of killed runs, which the next "
                 "run of that student would resume from), decodes, models, samples (teacher samples: "
                 "only when named), all (students, checkpoints, decodes, models); filtered by --older-than DAYS, "
                 "--task and "
                 "--student; --dry-run shows what would go.")
    p.add_argument("action", choices=("list", "prune"))
    p.add_argument("--what", default=None, choices=WHAT, help="prune: which part")
    p.add_argument("--older-than", type=NONNEG_F, default=None, metavar="DAYS",
                   help="prune: only what was last written at least DAYS ago (≥ 0)")
    p.add_argument("--task", default=None, help="prune/list: only students (and their decodes) of this task")
    p.add_argument("--student", default=None, help="prune/list: only students of this model (e.g. smollm2-tiny: smoke's)")
    p.add_argument("--students", action="store_true", help="list: one line per trained student")
    p.add_argument("--dry-run", action="store_true", help="prune: show what would be removed, remove nothing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_cache)


def cmd_cache(args: Any) -> int:
    """List or prune the cache (helpers.cache)."""
    from . import cache
    from .config import UserError
    if args.action == "prune":
        if args.what is None:
            raise UserError(f"cache prune needs --what (one of {', '.join(cache.WHAT)})")
        r = cache.prune(args.what, older_than_days=args.older_than, task=args.task, student=args.student,
                        dry_run=args.dry_run)
        if args.json:
            print(json.dumps(r, indent=2))
        else:
            verb = "would remove" if args.dry_run else "removed"
            print(f"{verb} {r['removed']} {args.what} entr{'y' if r['removed'] == 1 else 'ies'}, "
                  f"{cache.human(r['bytes'])} ({cache.config.cache_dir()})")
        return 0
    es = cache.entries()
    if args.task or args.student:
        es = [e for e in es if e.kind != "students" or ((args.task is None or e.info.get("task") == args.task)
                                                        and (args.student is None or e.info.get("student") == args.student))]
    if args.json:
        print(json.dumps({"root": str(cache.config.cache_dir()), "summary": cache.summary(es),
                          "students": [{**e.info, "bytes": e.bytes, "age_days": round(e.age_days, 2)}
                                       for e in es if e.kind == "students"]}, indent=2, default=str))
        return 0
    print(f"cache: {cache.config.cache_dir()}")
    total = 0
    for r in cache.summary(es):
        total += r["bytes"]
        extra = f" ({r['with_weights']} with weights)" if "with_weights" in r else ""
        print(f"  {r['kind']:<11} {r['entries']:>5} entries {cache.human(r['bytes']):>10}{extra}")
    print(f"  {'total':<11} {'':>5}         {cache.human(total):>10}")
    if args.students:
        for e in es:
            if e.kind == "students":
                i = e.info
                print(f"  {i['key']}  {cache.human(e.bytes):>9}  {i.get('student')}  {i.get('task')}  {i.get('condition')}  "
                      f"steps {i.get('steps')}  converged {i.get('converged')}  weights {'yes' if i['weights'] else 'pruned'}  "
                      f"decodes {i['decodes']}  {e.age_days:.1f} d")
            elif e.kind == "checkpoints":
                step = e.info.get("step")
                print(f"  {e.info['key']}  {cache.human(e.bytes):>9}  "
                      + ("training now" if e.info.get("training") else "unfinished run") + ": "
                      + (f"checkpoint at step {step}" if step is not None else "no complete checkpoint yet"))
    return 0


def _add_restat(sub: Any) -> None:
    p = _command(sub, "restat", "recompute the statistics of a profile's saved tables from their stored predictions",
                 "Rewrites <results>/<profile>/*.json|csv|md with intervals and tests from helpers.stats (the paired "
                 "test over seeds and questions; the question-level permutation p as a conditional column) and "
                 "regenerates results/<profile>/README.md and results/sweep/README.md. Rows whose students' "
                 "predictions are not stored keep their numbers and lose their comparisons, with a note.")
    _add_profile(p)
    p.set_defaults(handler=cmd_restat)


def cmd_restat(args: Any) -> int:
    from . import results, sweep
    done = results.restat_profile(args.profile)
    results.write_results_readme(args.profile)
    sweep.write_table()
    print(f"recomputed {len(done)} tables of {args.profile}: {', '.join(done)}")
    return 0


def _add_exercises(sub: Any) -> None:
    p = _command(sub, "exercises", "teaching mode: write student copies of the lesson notebooks, grade completed ones",
                 "The lesson notebooks 00–04 hold exercises: cells tagged exercise:<name> with the solution between "
                 "### BEGIN SOLUTION / ### END SOLUTION, each followed by a check cell. `exercises write` writes "
                 "student copies (.ipynb) with every solution replaced by a stub; `exercises check` runs only the "
                 "exercise cells of completed notebooks and each exercise's check on real data (nothing is trained "
                 "or decoded) and prints notebook / exercise / pass | fail | not done / one line (exit 0: all pass, "
                 "1: some do not); `exercises list` lists them.")
    esub = p.add_subparsers(dest="exercises_cmd", required=True, metavar="{write,check,list}")
    w = _command(esub, "write", "write student copies of the lesson notebooks (solutions replaced by stubs)")
    w.add_argument("--out", required=True, help="folder for the student copies (NN_name.ipynb)")
    w.add_argument("--notebook-dir", default=None, help="folder of the lesson notebooks (default: notebooks/)")
    w.add_argument("--force", action="store_true", help="overwrite copies already in --out (a student's work!)")
    w.set_defaults(handler=cmd_exercises_write)
    c = _command(esub, "check", "grade completed notebooks: run their exercise cells and each exercise's check")
    c.add_argument("paths", nargs="+", metavar="PATH",
                   help="notebooks (.ipynb or jupytext .py) or folders of numbered notebooks")
    c.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    c.set_defaults(handler=cmd_exercises_check)
    ls = _command(esub, "list", "list the exercises: number, notebook, name, what it teaches, the reference")
    ls.set_defaults(handler=cmd_exercises_list)


def cmd_exercises_write(args: Any) -> int:
    from .exercises import write_student_copies
    written = write_student_copies(args.out, notebook_dir=args.notebook_dir, force=args.force)
    print(f"wrote {len(written)} student notebooks to {Path(args.out)}: {', '.join(p.name for p in written)}")
    print(f"grade them with: python -m helpers exercises check {Path(args.out)}")
    return 0


def cmd_exercises_check(args: Any) -> int:
    """Grade notebooks; exit 0 when every exercise passes, 1 otherwise."""
    import logging
    from dataclasses import asdict

    from .exercises import grade_paths, report
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    graded = grade_paths(args.paths)
    if args.json:
        print(json.dumps({"verdicts": [asdict(v) for v in graded.verdicts], "notes": graded.notes,
                          "all_pass": graded.all_pass}, indent=2, ensure_ascii=False))
    else:
        print(report(graded))
    return 0 if graded.all_pass else 1


def cmd_exercises_list(args: Any) -> int:
    from .exercises import EXERCISES, number
    for name, e in EXERCISES.items():
        print(f"{number(name)}. {e.notebook}  {name}: {e.title} — {e.teaches} (checked against {e.reference})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m helpers", description=__doc__, formatter_class=_Formatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for add in (_add_data, _add_models, _add_sample, _add_train, _add_evaluate, _add_run, _add_bench, _add_sweep, _add_serve,
                _add_human_eval, _add_cache, _add_restat, _add_exercises):
        add(sub)
    return ap


def _one_line(e: BaseException) -> str:
    text = e.args[0] if isinstance(e, KeyError) and len(e.args) == 1 else str(e)
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command, return its exit code. A user error (:class:`helpers.config.UserError`:
    unknown names, missing files, bad rows, an unreachable endpoint) is one line on stderr and exit code 2."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:                      # --help (0) or a usage error (2, already printed)
        return 0 if e.code is None else e.code if isinstance(e.code, int) else 2
    try:
        return args.handler(args)
    except UserError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr, flush=True)
        return 2


# ------------------------------------------------------------------------------------------- commands


def _use_data_dir(args: Any) -> None:
    """``--data-dir`` wins over ``$COTLAB_DATA`` for everything this command loads."""
    if getattr(args, "data_dir", None):
        path = Path(args.data_dir).expanduser().resolve()
        if not path.is_dir():
            raise UserError(f"data dir {path} does not exist (set COTLAB_DATA or --data-dir, or run `make data`)")
        os.environ["COTLAB_DATA"] = str(path)


def cmd_data_generate(args: Any) -> int:
    """Write the generated tasks' splits (deterministic; a no-op when the files match the settings)."""
    from .synthetic import ensure_generated
    from .tasks import TASKS
    for spec in TASKS.values():
        if getattr(spec, "generated", False):
            folder = ensure_generated(spec.name, out_dir=args.data_dir, force=args.force)
            man = json.loads((folder / "manifest.json").read_text())
            print(f"{spec.name}: {folder} " + ", ".join(f"{s} {n}" for s, n in man["rows"].items()))
    return 0


def cmd_data_check(args: Any) -> int:
    """Validate every task and rationale file in the data dir (:func:`helpers.datacheck.check_data`); print row
    counts vs. expected.

    Exit code: 0 all good; 1 a required file is missing or a count differs from the expected one;
    2 a file has a bad row (the message names file, line and field) or the data dir does not exist.
    """
    from .datacheck import check_data

    base = Path(args.data_dir) if args.data_dir else config.data_dir()
    if not base.is_dir():
        raise UserError(f"data dir {base} does not exist (set COTLAB_DATA or --data-dir, or run `make data`)")
    report = check_data(base)
    print(f"data dir: {base}")
    w = max(len(r[0]) for r in report.rows)
    print(f"{'file':<{w}}  {'rows':>6}  {'expected':>8}  status")
    for rel, n, exp, status in report.rows:
        print(f"{rel:<{w}}  {n:>6}  {exp:>8}  {status}")
    for note in report.notes:
        print(f"note: {note}")
    sys.stdout.flush()
    if report.errors:
        for e in report.errors:
            print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    if report.worst:
        print("data check: row counts differ from the expected ones or required files are missing",
              file=sys.stderr)
    else:
        print("data check: all files valid")
    return report.worst


def cmd_data_download(args: Any) -> int:
    """Download ``--task`` (default: everything) into ``--data-dir``."""
    from .download import download
    out = Path(args.data_dir)
    failed = download(out, args.task)
    print(f"wrote {out}; validate with: python -m helpers data check --data-dir {out}")
    if failed:
        print(f"error: could not download {failed} (no network / hub unreachable?)", file=sys.stderr)
        return 1
    return 0


def cmd_models(args: Any) -> int:
    """List the registry, or (``models check``) convert, load and run one model."""
    from .models import (REGISTRY, converted_dir, get_spec, installed, load_embedder, load_model,
                         load_word_vectors)
    if args.models_cmd == "check":
        name = args.model
        spec = get_spec(name)
        t0 = time.time()
        if spec.kind == "embedder":
            v = load_embedder(name).encode(["a test sentence"])
            print(f"{name}: embedding dim {v.shape[1]} ({time.time() - t0:.1f}s)")
            return 0
        if spec.kind == "wordvec":
            kv = load_word_vectors(name)
            print(f"{name}: {len(kv)} words; neighbours of 'easier': "
                  f"{[w for w, _ in kv.most_similar('easier', topn=5)]} ({time.time() - t0:.1f}s)")
            return 0
        import torch
        tok, model = load_model(name)
        print(f"{name}: loaded from {converted_dir(name)} in {time.time() - t0:.1f}s "
              f"({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters)")
        torch.manual_seed(0)
        ids = tok(args.prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=args.max_new_tokens, do_sample=False)
        print(repr(args.prompt + tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)))
        return 0
    print(f"{'name':<14} {'kind':<9} {'installed':<9} {'converted':<9} description")
    for s in REGISTRY.values():
        inst = installed(s.name)
        conv = s.kind == "causal" and (converted_dir(s.name) / "cotlab_model.json").exists()
        print(f"{s.name:<14} {s.kind:<9} {'yes' if inst else 'no':<9} {'yes' if conv else '-':<9} "
              f"{s.description}{' [opt-in]' if s.optional else ''}")
        print(f"{'':<34} hub: {s.hub_id}; stands in for: {s.stands_in_for}; license: {s.license}")
    return 0


def cmd_sample(args: Any) -> int:
    """Build (or resume) a corpus from a teacher and write it as JSONL."""
    from .corpus import corpus_stats, save_corpus
    from .tasks import load_task
    from .teacher import GGUFTeacher, HTTPTeacher, LocalTeacher, ReplayTeacher
    from .corpus import sample_corpus

    if args.replay and args.model:
        raise UserError("--replay serves a released corpus; it takes no --model")
    if not (args.replay or args.endpoint or args.model):
        raise UserError("no teacher: give --model NAME (local), --endpoint URL or --replay CORPUS")
    if args.model and not args.endpoint:
        try:
            _model_name(args.model)
        except argparse.ArgumentTypeError as e:
            raise UserError(f"--model: {e}") from None
    if args.engine == "llama.cpp":
        from .models import REGISTRY
        if args.endpoint or args.replay or args.model not in REGISTRY:
            raise UserError(f"--engine llama.cpp runs a registry model's GGUF locally: --model one of {sorted(REGISTRY)}, "
                            "no --endpoint / --replay")
    _use_data_dir(args)
    examples = load_task(args.task, args.split, limit=args.limit)
    if args.replay:
        teacher = ReplayTeacher(args.replay, args.task, args.split, examples=None)
    elif args.endpoint:
        teacher = HTTPTeacher(args.endpoint, model=args.model, concurrency=args.concurrency, timeout=args.timeout,
                              max_retries=args.retries)
    elif args.engine == "llama.cpp":
        teacher = GGUFTeacher(args.model)
    else:
        teacher = LocalTeacher(args.model, batch_size=args.batch_size)
    try:
        corpus = sample_corpus(teacher, examples, n=args.n, temperature=args.temperature,
                               max_new_tokens=args.max_new_tokens, shots=args.shots, mode=args.mode,
                               seed=args.seed, split=args.split, cache=args.cache_dir or "default",
                               meta={"limit": args.limit})
    finally:
        teacher.close()
    stats = corpus_stats(corpus)
    if args.setting == "supervised":
        corpus = corpus.correct_only()
    save_corpus(corpus, args.out)
    show = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()}
    print(json.dumps({"out": str(args.out), "setting": args.setting, "kept_samples": corpus.n_samples(),
                      "usage": corpus.meta.get("usage"), **show}, indent=1))
    if isinstance(teacher, HTTPTeacher) and teacher.ignores_n:
        print("note: the server ignored `n`; one request was sent per sample", file=sys.stderr)
    return 0


def cmd_train(args: Any) -> int:
    """Build the target pairs, train (or reuse) the student, export it to ``--out``."""
    from .profiles import get_profile
    from .targets import get_condition, pairs_from_corpus, pairs_from_examples
    from .tasks import load_task
    from .train import export_student, train_student

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _use_data_dir(args)
    profile = get_profile(args.profile)
    cond = get_condition(args.target)
    limit = args.limit if args.limit is not None else profile.distill.n_train
    kw = {"k": args.filler_k, "p": args.mask_p, "seed": args.seed}
    if cond.transform == "filler":             # the student's own unknown token where it has one
        from .models import load_tokenizer
        kw["tokenizer"] = load_tokenizer(args.model or profile.student)
    if cond.transform == "key_tokens" and not args.key_tokens:
        raise UserError("--target key_tokens needs --key-tokens FILE.json ({id: [words]})")
    if args.corpus:
        from .corpus import load_corpus
        corpus = load_corpus(args.corpus)
        if corpus.entries and corpus.entries[0].example.task != args.task:
            raise UserError(f"corpus {args.corpus} is for task {corpus.entries[0].example.task!r}, "
                            f"not {args.task!r}")
        if limit is not None:
            corpus = type(corpus)(corpus.entries[:limit], dict(corpus.meta))
        key_tokens = None
        if cond.transform == "key_tokens":
            try:
                key_tokens = json.loads(Path(args.key_tokens).read_text())
            except json.JSONDecodeError as e:
                raise UserError(f"{args.key_tokens}: invalid JSON ({e.msg}, line {e.lineno})") from None
        pairs = pairs_from_corpus(corpus, args.target, supervised=args.setting == "supervised",
                                  key_tokens=key_tokens, **kw)
        data_info = {"corpus": str(args.corpus), "corpus_meta": corpus.meta, "n_questions": len(corpus.entries)}
    else:
        if cond.uses_rationale or cond.transform == "key_tokens":
            raise UserError(f"--target {args.target} needs --corpus")
        examples = load_task(args.task, "train", limit=limit)
        pairs = pairs_from_examples(examples, args.target, **kw)
        data_info = {"split": "train", "n_questions": len(examples)}
    budget = {"lr": args.lr, "batch_size": args.batch_size,
              "steps": -1 if args.epochs is not None and args.max_steps is None else args.max_steps}
    cfg = profile.protocol().train_config(args.seed).with_budget(**{k: v for k, v in budget.items() if v is not None})
    cfg = replace(cfg, **{k: v for k, v in {"epochs": args.epochs, "lora": args.lora}.items() if v is not None})
    model = args.model or profile.student
    print(f"{args.target}: {len(pairs)} pairs from {data_info['n_questions']} questions; student {model}; "
          f"lr {cfg.lr} epochs {cfg.epochs} batch {cfg.batch_size} lora {cfg.lora} seed {cfg.seed}")
    st = train_student(model, pairs, cfg, info={"task": args.task, "target": args.target,
                                                "setting": args.setting, "profile": profile.name,
                                                **data_info}, progress=True)
    if int(os.environ.get("RANK", "0") or 0) != 0:   # accelerate launch: the main process exports and reports
        return 0
    out = export_student(st, args.out)
    print(f"{'reused' if st.reused else 'trained'} student {st.key} -> {out} "
          f"(train loss {st.meta.get('train_loss')}, {st.meta.get('train_seconds')} s, "
          f"{st.meta.get('processes', 1)} process(es))")
    return 0


def cmd_evaluate(args: Any) -> int:
    """Decode a model on a task split, score it, write the results JSON."""
    from .decode import timed_decode
    from .evaluate import results_record
    from .models import load_model, model_id
    from .profiles import get_profile
    from .provenance import write_json
    from .tasks import load_task, split_path

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _use_data_dir(args)
    profile = get_profile(args.profile)
    examples = load_task(args.task, args.split, limit=args.limit)
    tok, model = load_model(args.model)
    train_meta = None
    meta_path = Path(args.model) / "cotlab_student.json"
    if meta_path.exists():
        train_meta = json.loads(meta_path.read_text())
    condition = args.condition or ((train_meta or {}).get("info", {}).get("target")) or "base"
    sc = args.decode == "sc"
    preds, timing = timed_decode(model, tok, examples, method=args.decode, k=args.n,
                                 temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                                 batch_size=args.batch_size, seed=args.seed,
                                 stop_at_answer=args.stop_at_answer, progress=True)
    rec = results_record(
        condition=condition, task=args.task, split=args.split, seed=args.seed, preds=preds, profile=profile,
        models={"student": model_id(args.model)},
        data={"task_file": str(split_path(args.task, args.split)), "limit": args.limit},
        decode={"method": args.decode, "k": args.n if sc else 1, "temperature": args.temperature if sc else 0.0,
                "max_new_tokens": args.max_new_tokens, "stop_at_answer": args.stop_at_answer},
        train_meta=train_meta, timing=timing)
    write_json(args.out, rec)
    print(f"{args.task}/{args.split} {condition} ({args.decode}): accuracy {rec['accuracy']:.3f} "
          f"[{rec['ci_low']:.3f}, {rec['ci_high']:.3f}] n={rec['n']} no-answer {rec['no_answer_rate']:.3f} "
          f"-> {args.out}")
    return 0


def cmd_run(args: Any) -> int:
    """Execute the notebooks (``--only`` prefixes) under ``--profile``; exit 1 at the first failing one."""
    from .runner import NotebookFailed, discover, parse_param, run_all

    logging.basicConfig(level=logging.INFO if args.log_output else logging.WARNING,
                        format="%(message)s", stream=sys.stdout)
    params = {name: parse_param(value) for name, value in (args.param or [])}
    nb_dir = Path(args.notebook_dir).resolve() if args.notebook_dir else None
    try:
        discover(args.only, nb_dir)                   # an unknown --only prefix is a user error
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        run_all(args.profile, args.only, parameters=params, out_dir=args.out_dir, notebook_dir=nb_dir,
                progress_bar=not args.no_progress, log_output=args.log_output)
    except NotebookFailed as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def cmd_human_eval(args: Any) -> int:
    """Check judgments files against a page key and print the analysis (nothing is written)."""
    from . import human_eval as he
    key = Path(args.page) if args.page else config.results_dir() / args.profile / "human_eval" / "page.json"
    page = he.load_page(key)
    files: list[Path] = [] if args.files else he.judgment_files(key.parent / "judgments")
    for f in args.files:
        path = Path(f)
        if path.is_dir():
            files += he.judgment_files(path)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such judgments file or folder")
    judgments = he.load_judgments(files, page)
    analysis = he.analyse(judgments, page) if judgments else None
    if args.json:
        print(json.dumps({"page_id": page.page_id, "files": [str(f) for f in files], "analysis": analysis},
                         indent=2, ensure_ascii=False))
        return 0
    print(f"page {page.page_id} ({len(page.pairs)} pairs): {len(files)} file(s), {len(judgments)} judgments")
    if analysis is None:
        print("no judgments to analyse")
        return 0
    for r in he.result_rows(analysis, page):
        print(f"  {r['subset']:22s} student / tie / teacher {r['student / tie / teacher']:>14s}   student win % "
              f"{r['student win % (95% CI)']}  p {r['p (binomial)']}   paper {r['paper %']}")
    for a in analysis["per_annotator"]:
        print(f"  annotator {a['annotator']}: {a['judgments']} of {a['of_pairs']} pairs, student / tie / teacher "
              f"{a['student_better']} / {a['tie']} / {a['teacher_better']}")
    return 0


def cmd_bench(args: Any) -> int:
    """Run the bench scripts, print a table, write the results JSON; exit 1 if a script failed."""
    from .bench import run_benchmarks
    return 1 if run_benchmarks(args.only, args.out, args.timeout) else 0


def cmd_sweep(args: Any) -> int:
    """Run (or resume) the settings of a sweep grid; regenerate results/sweep/README.md."""
    import logging

    from .sweep import GRIDS, run_setting, write_table
    grid = GRIDS[args.grid]
    names = [s.name for s in grid]
    unknown = sorted(set(args.setting or ()) - set(names))
    if unknown:
        raise UserError(f"unknown setting(s) {unknown} in grid {args.grid!r}; settings: {names}")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    chosen = [st for st in grid if args.setting is None or st.name in args.setting]
    for name, asked, attr in (("condition", args.conditions, "conditions"), ("seed", args.seeds, "seeds")):
        valid = sorted({v for st in chosen for v in getattr(st, attr)})
        bad = sorted(set(asked or ()) - set(valid))
        if bad:
            raise UserError(f"unknown {name}(s) {bad} in grid {args.grid!r}; valid: {valid}")
    for st in chosen:
        conds = None if args.conditions is None else [c for c in st.conditions if c in args.conditions]
        seeds = None if args.seeds is None else [x for x in st.seeds if x in args.seeds]
        if conds == [] or seeds == []:
            continue
        run_setting(st, conditions=conds, seeds=seeds)
    print(f"table: {write_table()}")
    return 0


def cmd_serve(args: Any) -> int:
    """Serve ``--model`` until interrupted."""
    from .serve import build_server
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding to {args.host}; anyone who can reach it can use the model", file=sys.stderr)
    try:
        srv = build_server(args.model, args.host, args.port, args.faults, args.fault_sleep, args.ignore_n)
    except OSError as e:                               # port in use, address not available
        raise UserError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    host, port = srv.server_address[:2]
    print(f"READY http://{host}:{port}/v1", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0
