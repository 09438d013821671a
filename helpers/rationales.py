"""Released teacher rationale corpora, keyed to task example ids.

Three corpora live in ``<COTLAB_DATA>/rationales/`` (see ``data/README.md``):

* ``mario_gpt3``                    — 5 GPT-3 samples per QuaRel train question (MaRio release);
* ``palm_distilling_step_by_step``  — one PaLM-540B few-shot CoT per CSQA train/dev and ANLI-R1 dev/test
  example (Distilling Step-by-Step release);
* ``cose_v1.11``                    — CoS-E human explanations for CSQA train/dev. They were written
  for the gold answer, so a record's ``label`` is the gold answer and ``correct`` is True.

``load_rationales(name, task, split)`` returns ``{example_id: [RationaleRecord, ...]}`` (records sorted
by sample index ``k``) and validates every row against the task split: an id that is not in the split,
a predicted or gold answer outside the task's option space, a gold answer that disagrees with the
task file, or a ``correct`` flag that disagrees with ``label == gold`` raises :class:`DataError`
naming file, line and field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config
from .config import UnknownName
from .tasks import PAREN_LETTER, DataError, Example, get_spec, iter_jsonl, load_task


@dataclass(frozen=True)
class RationaleRecord:
    """One released rationale for one example.

    ``label`` is the teacher's predicted answer normalized to the task's option space
    (``Example.options``: ``"A"``.. for multiple choice, label strings such as ``"entailment"``
    otherwise), or ``None`` when the teacher gave no parseable answer. ``gold`` is the gold answer in
    the same space, ``correct`` is ``label == gold``. ``raw`` is the released raw text (the full
    generation for PaLM, the rationale itself where no raw generation was released). ``rationale`` is
    ``""`` only where the release has none (19 PaLM ANLI rows whose upstream parse failed; ``label``
    is then ``None``). ``k`` is the sample index within the example.
    """
    id: str
    k: int
    rationale: str
    label: str | None
    gold: str | None
    correct: bool
    raw: str
    source: str                       # corpus name, e.g. "mario_gpt3"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    files: dict[tuple[str, str], str]      # (task, canonical split) -> file name in rationales/<name>/
    rationale_field: str
    predicted_field: str | None            # None: the rationale explains the gold answer
    gold_field: str | None
    raw_field: str | None = None
    sample_field: str | None = None
    meta_fields: tuple[str, ...] = ()
    expected_rows: dict[tuple[str, str], int] = field(default_factory=dict)


CORPORA: dict[str, CorpusSpec] = {
    "mario_gpt3": CorpusSpec(
        "mario_gpt3", {("quarel", "train"): "quarel_train.jsonl"},
        rationale_field="rationale", predicted_field="predicted_answer", gold_field="gold_answer",
        sample_field="sample", meta_fields=("teacher",),
        expected_rows={("quarel", "train"): 9650}),
    "palm_distilling_step_by_step": CorpusSpec(
        "palm_distilling_step_by_step",
        {("csqa", "train"): "csqa_train.jsonl.gz", ("csqa", "dev"): "csqa_dev.jsonl",
         ("anli", "r1_dev"): "anli_r1_dev.jsonl", ("anli", "r1_test"): "anli_r1_test.jsonl"},
        rationale_field="rationale", predicted_field="predicted", gold_field="gold",
        raw_field="raw_output", meta_fields=("teacher",),
        expected_rows={("csqa", "train"): 9741, ("csqa", "dev"): 1221,
                       ("anli", "r1_dev"): 1000, ("anli", "r1_test"): 1000}),
    "cose_v1.11": CorpusSpec(
        "cose_v1.11", {("csqa", "train"): "csqa_train.jsonl", ("csqa", "dev"): "csqa_dev.jsonl"},
        rationale_field="explanation_open_ended", predicted_field=None, gold_field=None,
        meta_fields=("explanation_selected",),
        expected_rows={("csqa", "train"): 9741, ("csqa", "dev"): 1221}),
}
ALIASES = {"mario": "mario_gpt3", "palm": "palm_distilling_step_by_step", "cose": "cose_v1.11"}


def get_corpus(name: str) -> CorpusSpec:
    name = ALIASES.get(name, name)
    if name not in CORPORA:
        raise UnknownName(f"unknown rationale corpus {name!r}; known: {sorted(CORPORA)} "
                          f"(aliases {sorted(ALIASES)})")
    return CORPORA[name]


def _canonical_split(task: str, split: str) -> str:
    return get_spec(task).aliases.get(split, split)


def rationale_path(name: str, task: str, split: str, data_dir: Path | str | None = None) -> Path:
    """``<data>/rationales/<name>/<file>`` for one (corpus, task, split)."""
    spec = get_corpus(name)
    key = (task, _canonical_split(task, split))
    if key not in spec.files:
        raise UnknownName(f"corpus {spec.name!r} has no rationales for {task}/{split}; "
                       f"it has {sorted('/'.join(k) for k in spec.files)}")
    base = Path(data_dir) if data_dir is not None else config.data_dir()
    return base / "rationales" / spec.name / spec.files[key]


def available(data_dir: Path | str | None = None) -> list[tuple[str, str, str]]:
    """``(corpus, task, split)`` for every rationale file present in the data directory."""
    return [(c.name, t, s) for c in CORPORA.values() for (t, s) in c.files
            if rationale_path(c.name, t, s, data_dir).exists()]


_PAREN = PAREN_LETTER


def normalize_label(ex: Example, value: Any) -> str | None:
    """Map a released answer to an option of ``ex.options``; ``None``/empty means "no answer".

    Multiple choice accepts ``"B"``, ``"b"``, ``"(B)"``, ``"(b)."`` or the choice text; classification
    accepts the label string in any case with an optional trailing period. Raises ``ValueError``
    for anything else.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string or null, got {value!r}")
    v = value.strip()
    if not v:
        return None
    if ex.is_mc:
        m = _PAREN.match(v)
        if m and m.group(1).upper() in ex.options:
            return m.group(1).upper()
        text = v.rstrip(".").strip().lower()
        hits = [c.label for c in ex.choices if c.text.strip().lower() == text]
        if len(hits) == 1:
            return hits[0]
        raise ValueError(f"{value!r} is neither a choice label {list(ex.options)} nor a choice text")
    lab = v.rstrip(".").strip().lower()
    if lab in ex.options:
        return lab
    raise ValueError(f"{value!r} is not one of {list(ex.options)}")


def _field_name(base: str | None, task_kind: str) -> str | None:
    """PaLM files name the answer field ``*_answer`` (MC) or ``*_label`` (classification)."""
    if base in ("predicted", "gold"):
        return f"{base}_answer" if task_kind == "mc" else f"{base}_label"
    return base


def load_rationales(name: str, task: str, split: str, data_dir: Path | str | None = None,
                    examples: list[Example] | None = None) -> dict[str, list[RationaleRecord]]:
    """Load one released rationale corpus for one task split, validated against that split.

    Returns ``{example_id: [RationaleRecord, ...]}`` in the file's order of first appearance, each
    list sorted by ``k``. ``examples`` (the already-loaded split) skips re-reading the task file.
    Raises :class:`DataError` (file, line, field) for a bad row, an unknown or duplicate id, or a
    missing file.
    """
    spec = get_corpus(name)
    split = _canonical_split(task, split)
    path = rationale_path(spec.name, task, split, data_dir)
    if examples is None:
        examples = load_task(task, split, data_dir)
    by_id = {ex.id: ex for ex in examples}
    kind = get_spec(task).kind
    pred_f, gold_f = _field_name(spec.predicted_field, kind), _field_name(spec.gold_field, kind)

    out: dict[str, list[RationaleRecord]] = {}
    seen: dict[tuple[str, int], int] = {}
    for lineno, row in iter_jsonl(path):
        if "id" not in row:
            raise DataError(path, lineno, "id", "missing field")
        ex_id = str(row["id"])
        ex = by_id.get(ex_id)
        if ex is None:
            raise DataError(path, lineno, "id", f"id {ex_id!r} is not in {task}/{split}")
        k = 0
        if spec.sample_field:
            k = row.get(spec.sample_field)
            if not isinstance(k, int) or isinstance(k, bool) or k < 0:
                raise DataError(path, lineno, spec.sample_field, f"expected a non-negative int, got {k!r}")
        if (ex_id, k) in seen:
            raise DataError(path, lineno, "id", f"duplicate rationale for id {ex_id!r}, sample {k} "
                                                f"(first on line {seen[ex_id, k]})")
        seen[ex_id, k] = lineno
        rationale = row.get(spec.rationale_field)
        # Upstream parse failures (PaLM ANLI: "so the answer is" in lower case) carry a null
        # rationale *and* a null prediction; they are kept as rationale "" (raw text intact).
        if rationale is None and pred_f is not None and row.get(pred_f) is None:
            rationale = ""
        elif not isinstance(rationale, str) or not rationale.strip():
            raise DataError(path, lineno, spec.rationale_field, f"expected a non-empty string, got {rationale!r}")

        gold = ex.answer
        if gold_f is not None:
            if gold_f not in row:
                raise DataError(path, lineno, gold_f, "missing field")
            try:
                g = normalize_label(ex, row[gold_f])
            except ValueError as e:
                raise DataError(path, lineno, gold_f, str(e)) from None
            if g != gold:
                raise DataError(path, lineno, gold_f, f"gold {g!r} disagrees with the task file's answer {gold!r}")
        if pred_f is None:
            label = gold
        else:
            if pred_f not in row:
                raise DataError(path, lineno, pred_f, "missing field (use null for no answer)")
            try:
                label = normalize_label(ex, row[pred_f])
            except ValueError as e:
                raise DataError(path, lineno, pred_f, str(e)) from None
        correct = label is not None and label == gold
        if "correct" in row and row["correct"] is not correct:
            raise DataError(path, lineno, "correct",
                            f"correct={row['correct']!r} but predicted {label!r} vs gold {gold!r}")
        raw = row.get(spec.raw_field, rationale) if spec.raw_field else rationale
        if not isinstance(raw, str):
            raise DataError(path, lineno, spec.raw_field, f"expected a string, got {raw!r}")
        meta = {f: row[f] for f in spec.meta_fields if f in row}
        out.setdefault(ex_id, []).append(
            RationaleRecord(ex_id, k, rationale.strip(), label, gold, correct, raw, spec.name, meta))
    for recs in out.values():
        recs.sort(key=lambda r: r.k)
    return out


def count(records: dict[str, list[RationaleRecord]]) -> tuple[int, int]:
    """``(n_rationales, n_correct)`` over a loaded corpus."""
    flat = [r for recs in records.values() for r in recs]
    return len(flat), sum(r.correct for r in flat)
