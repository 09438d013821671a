"""Validating a data dir: every task split and released teacher corpus read row by row (a bad row is a
:class:`helpers.tasks.DataError` naming file, line and field), row counts against the ones ``data/README.md``
documents, the IMDb contrast set's pairing and its separation from IMDb training reviews, and the generated
tasks. ``python -m helpers data check`` prints :func:`check_data`'s report."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .tasks import DataError


@dataclass
class DataReport:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)   # file, rows, expected, status
    notes: list[str] = field(default_factory=list)
    errors: list[DataError] = field(default_factory=list)
    worst: int = 0          # 1: a required file missing or a count differs


def check_data(base: Path) -> DataReport:
    """The report for data dir ``base`` (which must exist)."""
    from . import rationales
    from .tasks import TASKS, check_contrast_pairs, expected_counts, iter_jsonl, load_task, split_path

    expected = expected_counts(base)
    report = DataReport()
    rows, errors, notes = report.rows, report.errors, report.notes

    def record(rel: str, n: int | None, status: str | None = None) -> None:
        exp = expected.get(rel)
        if status is None:
            status = "ok" if exp is None or n == exp else "MISMATCH"
            if status == "MISMATCH":
                report.worst = max(report.worst, 1)
        rows.append((rel, "" if n is None else str(n), "" if exp is None else str(exp), status))

    for spec in TASKS.values():
        if getattr(spec, "generated", False):       # written by helpers.synthetic, not part of the data dir
            continue
        for split, fname in spec.splits.items():
            rel = f"{spec.folder}/{fname}"
            path = base / rel
            if not path.exists():
                if split in spec.optional_splits:
                    record(rel, None, "absent (held-out, optional)")
                    notes.append(f"{rel}: held-out split, deliberately absent (see data/README.md)")
                else:
                    record(rel, None, "MISSING")
                    report.worst = max(report.worst, 1)
                continue
            try:
                record(rel, len(load_task(spec.name, split, base)))
            except DataError as e:
                record(rel, None, "ERROR")
                errors.append(e)
    try:
        n_pairs = check_contrast_pairs(base)
        if n_pairs:
            notes.append(f"imdb_contrast: {n_pairs} original/contrast pairs aligned by pair_id, every label flipped")
    except DataError as e:
        errors.append(e)
    overlap = base / "imdb" / "ids_overlapping_contrast_sets.txt"
    train5k = split_path("imdb", "train", base)
    if overlap.exists() and train5k.exists():
        ids = set(overlap.read_text().split())
        for lineno, row in iter_jsonl(train5k):
            if row.get("id") in ids:
                errors.append(DataError(train5k, lineno, "id",
                                        f"{row['id']!r} overlaps a contrast-set review ({overlap.name})"))
                break
        else:
            notes.append(f"imdb/train_5k: none of the {len(ids)} contrast-overlapping ids present")

    for name, task, split in [(c.name, t, s) for c in rationales.CORPORA.values() for (t, s) in c.files]:
        path = rationales.rationale_path(name, task, split, base)
        rel = str(path.relative_to(base))
        if not path.exists():
            record(rel, None, "absent (optional)")
            continue
        if not split_path(task, split, base).exists():
            record(rel, None, f"skipped ({task}/{split} absent)")
            continue
        spec_r = rationales.get_corpus(name)
        expected.setdefault(rel, spec_r.expected_rows.get((task, split)))
        try:
            n, n_ok = rationales.count(rationales.load_rationales(name, task, split, base))
            record(rel, n)
            notes.append(f"{rel}: {n_ok}/{n} teacher answers correct")
        except DataError as e:
            record(rel, None, "ERROR")
            errors.append(e)

    for spec in TASKS.values():                     # generated tasks live under COTLAB_GENERATED
        if not getattr(spec, "generated", False):
            continue
        for split, fname in spec.splits.items():
            try:
                n = len(load_task(spec.name, split))
                rows.append((f"generated/{spec.folder}/{fname}", str(n), str(spec.expected_rows.get(split, "")),
                             "ok" if n == spec.expected_rows.get(split, n) else "MISMATCH"))
                report.worst = max(report.worst, 0 if n == spec.expected_rows.get(split, n) else 1)
            except DataError as e:
                rows.append((f"generated/{spec.folder}/{fname}", "", "", "ERROR"))
                errors.append(e)
    return report
