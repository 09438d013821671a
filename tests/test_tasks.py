"""Task loading against the real data (counts from the data README) and bad-input errors."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from helpers import tasks
from helpers.cli import main
from helpers.tasks import DataError, load_task

REPO = Path(__file__).resolve().parent.parent

# (task, split) -> rows, as listed in ../shared/data/README.md (the shared copy; a hub download differs only
# in QuaRel train: conftest.QUAREL_TRAIN_ROWS)
COUNTS = {
    ("csqa", "train"): 9741, ("csqa", "dev"): 1221, ("csqa", "test_unlabeled"): 1140,
    ("obqa", "train"): 4957, ("obqa", "dev"): 500,
    ("quarel", "train"): 1930, ("quarel", "dev"): 278,
    ("imdb", "train"): 5000, ("imdb", "test"): 25000,
    ("imdb_contrast", "dev_original"): 100, ("imdb_contrast", "dev_contrast"): 100,
    ("imdb_contrast", "test_original"): 488, ("imdb_contrast", "test_contrast"): 488,
    ("sst2", "validation"): 872,
    ("anli", "r1_dev"): 1000, ("anli", "r1_test"): 1000,
}


def _counts(quarel_train_rows: int) -> dict[tuple[str, str], int]:
    """The row counts of the data version under test."""
    return {**COUNTS, ("quarel", "train"): quarel_train_rows}


@pytest.mark.parametrize("task,split", sorted(COUNTS))
def test_split_row_counts(data_dir, quarel_train_rows, task, split):
    exs = load_task(task, split, data_dir)
    assert len(exs) == _counts(quarel_train_rows)[task, split]
    assert len({e.id for e in exs}) == len(exs)
    assert all(e.task == task and e.text for e in exs)
    if split != "test_unlabeled":
        assert all(e.answer in e.options for e in exs)


def test_readme_counts_agree_with_spec(data_dir, quarel_train_rows):
    exp = tasks.expected_counts(data_dir)
    for (task, split), n in _counts(quarel_train_rows).items():
        spec = tasks.get_spec(task)
        assert exp[f"{spec.folder}/{spec.splits[split]}"] == n        # the data dir's own README / manifest
        assert spec.expected_rows[split] == COUNTS[task, split]      # the spec pins the shared copy


def test_aliases_and_limit(data_dir):
    assert [e.id for e in load_task("anli", "dev", data_dir)] == [e.id for e in load_task("anli", "r1_dev", data_dir)]
    assert len(load_task("sst2", "dev", data_dir)) == 872
    assert len(load_task("quarel", "dev", data_dir, limit=5)) == 5
    with pytest.raises(KeyError, match="no split"):
        tasks.split_path("quarel", "validation")


def test_content_spot_checks(data_dir):
    csqa = load_task("csqa", "train", data_dir)
    assert csqa[0].id == "075e483d21c29a511267ef62bedc0461" and csqa[0].answer == "A"
    assert csqa[0].answer_text() == "ignore" and csqa[0].meta["question_concept"] == "punishing"
    assert csqa[0].options == ("A", "B", "C", "D", "E")
    assert all(e.answer is None for e in load_task("csqa", "test_unlabeled", data_dir))
    obqa = load_task("obqa", "train", data_dir)
    assert obqa[0].id == "7-980" and obqa[0].answer == "D" and len(obqa[0].choices) == 4
    qd = load_task("quarel", "dev", data_dir)
    assert qd[0].id == "QuaRel_V1_Fr_0785" and qd[0].answer == "B" and qd[0].answer_text() == "wet floor"
    assert all(len(e.choices) == 2 for e in qd)
    sst = load_task("sst2", "validation", data_dir)
    assert sst[0].text == "it 's a charming and often affecting journey ." and sst[0].answer == "positive"
    assert sst[0].options == ("negative", "positive")
    anli = load_task("anli", "r1_dev", data_dir)
    a0 = anli[0]
    assert a0.id == "bf628cf5-6948-4595-a6d0-daf99beb47b9" and a0.answer == "contradiction"
    assert a0.text == f"Premise: {a0.meta['premise']}\nHypothesis: {a0.meta['hypothesis']}"
    assert Counter(e.answer for e in anli) == {"entailment": 334, "neutral": 333, "contradiction": 333}


def test_imdb_balance_and_contrast_exclusion(data_dir, data_version):
    train = load_task("imdb", "train", data_dir)
    assert Counter(e.answer for e in train) == {"positive": 2500, "negative": 2500}
    overlap = set((data_dir / "imdb" / "ids_overlapping_contrast_sets.txt").read_text().split())
    assert overlap and not overlap & {e.id for e in train}
    if data_version == "shared":         # the hub drops file names: no rating, ids are row indices
        assert all(1 <= e.meta["rating"] <= 10 for e in train)
        # aclImdb convention: ratings >= 7 are positive, <= 4 negative
        assert all((e.meta["rating"] >= 7) == (e.answer == "positive") for e in train)
        assert len(overlap) == 612


def test_contrast_pairs_flip_labels(data_dir):
    for part in ("dev", "test"):
        orig = load_task("imdb_contrast", f"{part}_original", data_dir)
        con = load_task("imdb_contrast", f"{part}_contrast", data_dir)
        assert [e.meta["pair_id"] for e in orig] == [e.meta["pair_id"] for e in con]
        assert all(a.answer != b.answer for a, b in zip(orig, con))
        # flipping every pair mirrors the label balance
        co, cc = Counter(e.answer for e in orig), Counter(e.answer for e in con)
        assert co["positive"] == cc["negative"] and co["negative"] == cc["positive"]
    assert tasks.check_contrast_pairs(data_dir) == 588


# ---------------------------------------------------------------------------------------------- bad input

MC_ROW = {"id": "q1", "question": "Which?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}],
          "answer": "B"}
CLS_ROW = {"id": "s1", "text": "great film", "label": "positive", "label_id": 1}


def _write(root: Path, rel: str, rows: list, gz: bool = False) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        path.write_text(lines)
    return path


def _err(task: str, split: str, root: Path) -> DataError:
    with pytest.raises(DataError) as ei:
        load_task(task, split, root)
    return ei.value


@pytest.mark.parametrize("bad,field,msg", [
    ({k: v for k, v in MC_ROW.items() if k != "answer"}, "answer", "missing field"),
    ({**MC_ROW, "answer": "C"}, "answer", "not among the choices"),
    ({**MC_ROW, "choices": [{"label": "A", "text": "x"}, {"label": "A", "text": "y"}], "answer": "A"},
     "choices", "duplicate choice labels"),
    ({**MC_ROW, "choices": [{"label": "A"}, {"label": "B", "text": "y"}]}, "choices[0]", "expected"),
    ({**MC_ROW, "question": None}, "question", "expected str"),
])
def test_bad_mc_rows(tmp_path, bad, field, msg):
    path = _write(tmp_path, "quarel/dev.jsonl", [MC_ROW | {"id": "q0"}, bad])
    e = _err("quarel", "dev", tmp_path)
    assert (e.path, e.line, e.field) == (str(path), 2, field)
    assert msg in str(e) and f"{path}, line 2, field {field!r}" in str(e)


@pytest.mark.parametrize("bad,field,msg", [
    ({**CLS_ROW, "label": "great"}, "label", "unknown label 'great'"),
    ({**CLS_ROW, "label_id": 0}, "label_id", "does not match label 'positive'"),
    ({k: v for k, v in CLS_ROW.items() if k != "label"}, "label", "missing field"),
    ({k: v for k, v in CLS_ROW.items() if k != "text"}, "text", "missing field"),
])
def test_bad_cls_rows(tmp_path, bad, field, msg):
    path = _write(tmp_path, "sst2/validation.jsonl", [CLS_ROW | {"id": "s0"}, bad])
    e = _err("sst2", "validation", tmp_path)
    assert (e.path, e.line, e.field) == (str(path), 2, field) and msg in str(e)


def test_duplicate_id(tmp_path):
    path = _write(tmp_path, "quarel/dev.jsonl", [MC_ROW, {**MC_ROW, "answer": "A"}])
    e = _err("quarel", "dev", tmp_path)
    assert (e.path, e.line, e.field) == (str(path), 2, "id") and "first seen on line 1" in str(e)


def test_invalid_json(tmp_path):
    path = _write(tmp_path, "quarel/dev.jsonl", [MC_ROW, '{"id": "q2", "question": '])
    e = _err("quarel", "dev", tmp_path)
    assert (e.path, e.line) == (str(path), 2) and "invalid JSON" in str(e)


def test_truncated_gzip(tmp_path):
    rows = [{**CLS_ROW, "id": f"s{i}", "text": f"review number {i} " * 40} for i in range(300)]
    path = _write(tmp_path, "imdb/test.jsonl.gz", rows, gz=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    e = _err("imdb", "test", tmp_path)
    assert e.path == str(path) and e.line is not None and "truncated gzip" in str(e)


def test_missing_file(tmp_path):
    e = _err("obqa", "dev", tmp_path)
    assert e.path == str(tmp_path / "obqa" / "dev.jsonl") and "file not found" in str(e)


def test_unlabeled_only_in_unlabeled_files(tmp_path):
    path = _write(tmp_path, "csqa/dev.jsonl", [{**MC_ROW, "answer": None}])
    e = _err("csqa", "dev", tmp_path)
    assert (e.path, e.line, e.field) == (str(path), 1, "answer") and "null in a labeled split" in str(e)
    _write(tmp_path, "csqa/test_unlabeled.jsonl", [{**MC_ROW, "answer": None}])
    assert load_task("csqa", "test_unlabeled", tmp_path)[0].answer is None


def test_contrast_pair_not_flipped(tmp_path):
    _write(tmp_path, "imdb_contrast/dev_original.jsonl", [{**CLS_ROW, "id": "o0", "pair_id": "dev_000"}])
    path = _write(tmp_path, "imdb_contrast/dev_contrast.jsonl", [{**CLS_ROW, "id": "c0", "pair_id": "dev_000"}])
    with pytest.raises(DataError) as ei:
        tasks.check_contrast_pairs(tmp_path)
    assert (ei.value.path, ei.value.line, ei.value.field) == (str(path), 1, "label")


# ------------------------------------------------------------------------------------------- data check CLI

def test_data_check_real_data(data_dir, capsys):
    assert main(["data", "check", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "csqa/train.jsonl" in out and "9741" in out and "all files valid" in out
    assert "quarel/test.jsonl" in out and "held-out" in out
    assert "rationales/mario_gpt3/quarel_train.jsonl" in out and "8203/9650" in out


def test_data_check_bad_row_subprocess(tmp_path):
    path = _write(tmp_path, "quarel/dev.jsonl", [MC_ROW, {**MC_ROW, "id": "q2", "answer": "Z"}])
    r = subprocess.run([sys.executable, "-m", "helpers", "data", "check", "--data-dir", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert f"{path}, line 2, field 'answer'" in r.stderr and "'Z' is not among the choices" in r.stderr
    assert "MISSING" in r.stdout          # the other required files are absent from tmp_path


def test_data_check_count_mismatch(tmp_path, capsys):
    _write(tmp_path, "quarel/dev.jsonl", [MC_ROW])
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("quarel/dev.jsonl"))
    assert line.split()[1:4] == ["1", "278", "MISMATCH"]


def test_repo_data_readme_lists_every_file():
    """data/README.md's table (used by `data check` on a download) covers every task and rationale file."""
    from helpers import rationales
    exp = tasks.expected_counts(REPO / "data")
    for spec in tasks.TASKS.values():
        for split, fname in spec.splits.items():
            assert f"{spec.folder}/{fname}" in exp
    for c in rationales.CORPORA.values():
        for fname in c.files.values():
            assert exp[f"rationales/{c.name}/{fname}"] == c.expected_rows[next(k for k, v in c.files.items() if v == fname)]
    assert exp["quarel/train.jsonl"] == 1941 and exp["quarel/test.jsonl"] == 552     # hub sizes
