"""Tasks as declarative data, loaded into one typed record per example.

Seven tasks share two shapes (see ``../shared/data/README.md`` for the on-disk schema):

* multiple-choice QA (``csqa``, ``obqa``, ``quarel``): ``question`` + ``choices`` + ``answer`` letter;
* classification (``imdb``, ``imdb_contrast``, ``sst2``, ``anli``): ``text`` + ``label`` string.

``load_task(task, split)`` reads ``<COTLAB_DATA>/<task>/<split>.jsonl[.gz]`` and returns a list of
:class:`Example`. Every row is validated; a bad row raises :class:`DataError` naming file, line and
field — nothing is dropped silently.
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import config
from .config import UnknownName, UserError


class DataError(UserError, ValueError):
    """A task or corpus file is malformed or missing. The message names file, line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = f"{path}" + (f", line {line}" if line is not None else "") + (
            f", field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Choice:
    label: str   # "A", "B", ...
    text: str


@dataclass(frozen=True)
class Example:
    """One example of any task.

    For multiple-choice tasks ``choices`` holds the options and ``answer`` is the gold choice label
    (``"A"``…). For classification tasks ``choices`` is empty, ``labels`` lists the task's label
    strings and ``answer`` is the gold label string (``"positive"``). ``answer`` is ``None`` for
    unlabeled rows. ``text`` is the question stem (MC) or the input text (classification).
    """
    task: str
    id: str
    text: str
    answer: str | None
    choices: tuple[Choice, ...] = ()
    labels: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_mc(self) -> bool:
        return bool(self.choices)

    @property
    def options(self) -> tuple[str, ...]:
        """The possible answers: choice labels for MC, label strings for classification."""
        return tuple(c.label for c in self.choices) if self.choices else self.labels

    def answer_text(self) -> str | None:
        if self.answer is None:
            return None
        if self.choices:
            return next(c.text for c in self.choices if c.label == self.answer)
        return self.answer


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str                                  # "mc" or "cls"
    splits: dict[str, str]                     # split name -> file name inside <data>/<folder>/
    folder: str
    labels: tuple[str, ...] = ()               # classification label strings, by label_id
    expected_rows: dict[str, int] = field(default_factory=dict)  # from data/README.md
    optional_splits: tuple[str, ...] = ()      # held-out splits that may be absent
    aliases: dict[str, str] = field(default_factory=dict)        # e.g. dev -> validation
    generated: bool = False                    # written by helpers.synthetic under COTLAB_GENERATED
    # control splits scored beside the reported one (name -> what it shows): a table on this task is read
    # against them (creatures: label-only must do well on dev_seen, everyone is at chance on dev_new)
    controls: dict[str, str] = field(default_factory=dict)


SENTIMENT = ("negative", "positive")
NLI = ("entailment", "neutral", "contradiction")
#: A choice letter as teachers write it ("B", "(B)", "(b).", "( B )"); group 1 is the letter.
PAREN_LETTER = re.compile(r"^\(?\s*([A-Za-z])\s*\)?\.?$")

TASKS: dict[str, TaskSpec] = {
    "csqa": TaskSpec("csqa", "mc", {"train": "train.jsonl", "dev": "dev.jsonl",
                                     "test_unlabeled": "test_unlabeled.jsonl"}, "csqa",
                     expected_rows={"train": 9741, "dev": 1221, "test_unlabeled": 1140}),
    "obqa": TaskSpec("obqa", "mc", {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"},
                     "obqa", expected_rows={"train": 4957, "dev": 500, "test": 500},
                     optional_splits=("test",)),
    "quarel": TaskSpec("quarel", "mc", {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"},
                       "quarel", expected_rows={"train": 1930, "dev": 278, "test": 552},
                       optional_splits=("test",)),
    "imdb": TaskSpec("imdb", "cls", {"train": "train_5k.jsonl.gz", "test": "test.jsonl.gz"}, "imdb",
                     labels=SENTIMENT, expected_rows={"train": 5000, "test": 25000}),
    "imdb_contrast": TaskSpec("imdb_contrast", "cls",
                              {"dev_original": "dev_original.jsonl", "dev_contrast": "dev_contrast.jsonl",
                               "test_original": "test_original.jsonl",
                               "test_contrast": "test_contrast.jsonl"}, "imdb_contrast",
                              labels=SENTIMENT,
                              expected_rows={"dev_original": 100, "dev_contrast": 100,
                                             "test_original": 488, "test_contrast": 488}),
    "sst2": TaskSpec("sst2", "cls", {"validation": "validation.jsonl"}, "sst2", labels=SENTIMENT,
                     expected_rows={"validation": 872}, aliases={"dev": "validation"}),
    "anli": TaskSpec("anli", "cls", {"r1_dev": "r1_dev.jsonl", "r1_test": "r1_test.jsonl"}, "anli",
                     labels=NLI, expected_rows={"r1_dev": 1000, "r1_test": 1000},
                     aliases={"dev": "r1_dev", "test": "r1_test"}),
    # generated (helpers.synthetic): the course's vehicle and the suite's positive control
    "coinflip": TaskSpec("coinflip", "mc", {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"},
                         "coinflip", expected_rows={"train": 1000, "dev": 200, "test": 500}, generated=True),
    # generated: facts about invented creatures that only rationales state (Wadhwa et al.'s questions; dev = the
    # key split: attributes no training label revealed; dev_seen: trained facts, new wording; dev_new: new creatures)
    "creatures": TaskSpec("creatures", "mc", {"train": "train.jsonl", "dev": "dev.jsonl", "dev_seen": "dev_seen.jsonl",
                                              "dev_new": "dev_new.jsonl"}, "creatures",
                          expected_rows={"train": 288, "dev": 192, "dev_seen": 96, "dev_new": 64}, generated=True,
                          controls={"dev_seen": "trained facts in a new wording: every student that trained does well",
                                    "dev_new": "creatures never trained on: every student at chance (nothing leaks)"}),
}


def get_spec(task: str) -> TaskSpec:
    if task not in TASKS:
        raise UnknownName(f"unknown task {task!r}; known tasks: {sorted(TASKS)}")
    return TASKS[task]


def split_path(task: str, split: str, data_dir: Path | str | None = None) -> Path:
    spec = get_spec(task)
    split = spec.aliases.get(split, split)
    if split not in spec.splits:
        raise UnknownName(f"task {task!r} has no split {split!r}; splits: {sorted(spec.splits)}")
    if data_dir is not None:
        base = Path(data_dir)
    elif spec.generated:
        from .synthetic import ensure_generated
        base = ensure_generated(spec.name).parent      # written once, deterministically, on first use
    else:
        base = config.data_dir()
    return base / spec.folder / spec.splits[split]


def iter_jsonl(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` from a ``.jsonl`` or ``.jsonl.gz`` file (1-based lines).

    Raises :class:`DataError` for invalid JSON, a non-object row, or a truncated gzip stream.
    Blank lines are skipped (they carry no row).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, None, "file not found (set COTLAB_DATA, or run `make data`)")
    opener = gzip.open if path.suffix == ".gz" else open
    lineno = 0
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(path, lineno, None, f"invalid JSON ({e.msg} at column {e.colno})") from None
                if not isinstance(row, dict):
                    raise DataError(path, lineno, None, f"expected a JSON object, got {type(row).__name__}")
                yield lineno, row
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(path, lineno + 1, None, f"corrupt or truncated gzip stream ({e})") from None


def _req(row: dict, key: str, path: Path, lineno: int, types=(str,)) -> Any:
    if key not in row:
        raise DataError(path, lineno, key, "missing field")
    val = row[key]
    if not isinstance(val, types):
        raise DataError(path, lineno, key, f"expected {'/'.join(t.__name__ for t in types)}, got {val!r}")
    return val


def parse_row(spec: TaskSpec, row: dict[str, Any], path: Path, lineno: int,
              allow_unlabeled: bool = False) -> Example:
    """Validate one raw row and build an :class:`Example`."""
    ex_id = _req(row, "id", path, lineno, (str, int))
    ex_id = str(ex_id)
    if spec.kind == "mc":
        question = _req(row, "question", path, lineno)
        raw_choices = _req(row, "choices", path, lineno, (list,))
        if len(raw_choices) < 2:
            raise DataError(path, lineno, "choices", f"need at least 2 choices, got {len(raw_choices)}")
        choices = []
        for i, c in enumerate(raw_choices):
            if not isinstance(c, dict) or not isinstance(c.get("label"), str) or not isinstance(c.get("text"), str):
                raise DataError(path, lineno, f"choices[{i}]", f"expected {{'label': str, 'text': str}}, got {c!r}")
            choices.append(Choice(c["label"], c["text"]))
        labels = [c.label for c in choices]
        if len(set(labels)) != len(labels):
            raise DataError(path, lineno, "choices", f"duplicate choice labels {labels}")
        if "answer" not in row:
            raise DataError(path, lineno, "answer", "missing field (use null for unlabeled rows)")
        answer = row["answer"]
        if answer is None:
            if not allow_unlabeled:
                raise DataError(path, lineno, "answer", "answer is null in a labeled split")
        elif answer not in labels:
            raise DataError(path, lineno, "answer", f"answer {answer!r} is not among the choices {labels}")
        meta = {k: v for k, v in row.items() if k not in ("id", "question", "choices", "answer")}
        return Example(spec.name, ex_id, question, answer, tuple(choices), (), meta)
    # classification
    text = _req(row, "text", path, lineno)
    if "label" not in row:
        raise DataError(path, lineno, "label", "missing field")
    label = row["label"]
    if label is None and allow_unlabeled:
        pass
    elif label not in spec.labels:
        raise DataError(path, lineno, "label", f"unknown label {label!r}; expected one of {list(spec.labels)}")
    if "label_id" in row and label is not None:
        lid = row["label_id"]
        if not isinstance(lid, int) or not (0 <= lid < len(spec.labels)) or spec.labels[lid] != label:
            raise DataError(path, lineno, "label_id", f"label_id {lid!r} does not match label {label!r}")
    meta = {k: v for k, v in row.items() if k not in ("id", "text", "label")}
    return Example(spec.name, ex_id, text, label, (), spec.labels, meta)


def load_task(task: str, split: str, data_dir: Path | str | None = None,
              limit: int | None = None) -> list[Example]:
    """Load one split of one task as validated :class:`Example` records.

    ``limit`` keeps the first ``limit`` rows (file order), after validating *all* rows.
    Raises :class:`DataError` on a bad row or duplicate id, ``FileNotFoundError``-style
    :class:`DataError` when the file is absent.
    """
    spec = get_spec(task)
    path = split_path(task, split, data_dir)
    allow_unlabeled = "unlabeled" in path.name
    out: list[Example] = []
    seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        ex = parse_row(spec, row, path, lineno, allow_unlabeled=allow_unlabeled)
        if ex.id in seen:
            raise DataError(path, lineno, "id", f"duplicate id {ex.id!r} (first seen on line {seen[ex.id]})")
        seen[ex.id] = lineno
        out.append(ex)
    return out[:limit] if limit is not None else out


def available_splits(task: str, data_dir: Path | str | None = None) -> list[str]:
    spec = get_spec(task)
    return [s for s in spec.splits if split_path(task, s, data_dir).exists()]


# --------------------------------------------------------------------------------------------------
# checks behind `python -m helpers data check` (helpers.cli)

def contrast_pairs(part: str, data_dir: Path | str | None = None,
                   limit: int | None = None) -> tuple[list[Example], list[Example]]:
    """``(originals, contrasts)`` of the IMDb contrast set ``part`` (``"dev"`` or ``"test"``): row *i* of
    each is one pair — the same ``pair_id``, the label flipped (checked for every row; a bad row raises
    :class:`DataError` on the contrast file's line). ``limit`` keeps the first pairs."""
    if part not in ("dev", "test"):
        raise UnknownName(f"the IMDb contrast sets have parts 'dev' and 'test', not {part!r}")
    orig_path = split_path("imdb_contrast", f"{part}_original", data_dir)
    con_path = split_path("imdb_contrast", f"{part}_contrast", data_dir)
    orig = load_task("imdb_contrast", f"{part}_original", data_dir)
    con = load_task("imdb_contrast", f"{part}_contrast", data_dir)
    if len(orig) != len(con):
        raise DataError(con_path, None, None, f"{len(con)} rows but {orig_path.name} has {len(orig)}")
    for i, (a, b) in enumerate(zip(orig, con), start=1):
        if a.meta.get("pair_id") is None or a.meta.get("pair_id") != b.meta.get("pair_id"):
            raise DataError(con_path, i, "pair_id",
                            f"{b.meta.get('pair_id')!r} != {a.meta.get('pair_id')!r} on the same line of {orig_path.name}")
        if a.answer == b.answer:
            raise DataError(con_path, i, "label", f"label {b.answer!r} is not flipped from the original")
    return (orig, con) if limit is None else (orig[:limit], con[:limit])


def check_contrast_pairs(data_dir: Path | str | None = None) -> int:
    """Check that row *i* of ``<set>_original`` and ``<set>_contrast`` share ``pair_id`` and flip the label.

    Returns the number of pairs checked; raises :class:`DataError` on the contrast file's line.
    """
    n = 0
    for part in ("dev", "test"):
        orig_path = split_path("imdb_contrast", f"{part}_original", data_dir)
        con_path = split_path("imdb_contrast", f"{part}_contrast", data_dir)
        if not (orig_path.exists() and con_path.exists()):
            continue
        n += len(contrast_pairs(part, data_dir)[0])
    return n


def expected_counts(data_dir: Path | str | None = None) -> dict[str, int]:
    """Expected row counts by path relative to the data dir.

    Read from the ``| file | rows |`` table of ``<data>/README.md`` when it has one, else from
    ``<data>/manifest.json`` (written by ``data download``); missing entries fall back to
    :attr:`TaskSpec.expected_rows`.
    """
    base = Path(data_dir) if data_dir is not None else config.data_dir()
    out: dict[str, int] = {}
    for spec in TASKS.values():
        for split, fname in spec.splits.items():
            if split in spec.expected_rows:
                out[f"{spec.folder}/{fname}"] = spec.expected_rows[split]
    manifest = base / "manifest.json"
    if manifest.exists():
        try:
            files = json.loads(manifest.read_text()).get("files", {})
        except json.JSONDecodeError as e:
            raise DataError(manifest, e.lineno, None, f"invalid JSON ({e.msg})") from None
        out.update({k: int(v["rows"]) for k, v in files.items() if isinstance(v, dict) and "rows" in v})
    readme = base / "README.md"
    if readme.exists():
        for line in readme.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\|\s*([\w./-]+\.jsonl(?:\.gz)?)\s*\|\s*(\d+)\s*\|", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out

