"""Released teacher rationale corpora: counts, accuracy, id joins, label normalization, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import rationales
from helpers.rationales import RationaleRecord, load_rationales, normalize_label
from helpers.tasks import DataError, load_task

# (corpus, task, split) -> (rationales, correct, distinct ids), per ../shared/data/README.md
EXPECTED = {
    ("mario_gpt3", "quarel", "train"): (9650, 8203, 1930),
    ("palm_distilling_step_by_step", "csqa", "train"): (9741, 7212, 9741),
    ("palm_distilling_step_by_step", "csqa", "dev"): (1221, 939, 1221),
    ("palm_distilling_step_by_step", "anli", "r1_dev"): (1000, 668, 1000),
    ("palm_distilling_step_by_step", "anli", "r1_test"): (1000, 656, 1000),
    ("cose_v1.11", "csqa", "train"): (9741, 9741, 9741),
    ("cose_v1.11", "csqa", "dev"): (1221, 1221, 1221),
}


def test_all_corpora_present(data_dir):
    assert sorted(rationales.available(data_dir)) == sorted(EXPECTED)


@pytest.mark.parametrize("name,task,split", sorted(EXPECTED))
def test_counts_and_join(data_dir, name, task, split):
    exs = load_task(task, split, data_dir)
    recs = load_rationales(name, task, split, data_dir, examples=exs)
    n, n_ok, n_ids = EXPECTED[name, task, split]
    assert rationales.count(recs) == (n, n_ok)
    assert len(recs) == n_ids and set(recs) <= {e.id for e in exs}
    by_id = {e.id: e for e in exs}
    for ex_id, lst in recs.items():
        ex = by_id[ex_id]
        assert [r.k for r in lst] == list(range(len(lst)))
        for r in lst:
            assert r.id == ex_id and r.source == name and r.gold == ex.answer
            assert r.label is None or r.label in ex.options
            assert r.correct == (r.label == ex.answer)


def test_mario_five_samples_and_letters(data_dir):
    recs = load_rationales("mario", "quarel", "train", data_dir)
    assert all(len(v) == 5 for v in recs.values())
    # the soapbox-derby question (first row of the shared copy; ids differ between data versions)
    derby = [e for e in load_task("quarel", "train", data_dir)
             if e.text.startswith("The boys were racing their cars in the soapbox derby")]
    assert len(derby) == 1
    first = recs[derby[0].id][0]
    assert first.label == "B" and first.correct and first.rationale.startswith("When something is lighter")
    assert {r.label for v in recs.values() for r in v} == {"A", "B"}


def test_palm_fields(data_dir):
    csqa = load_rationales("palm", "csqa", "dev", data_dir)
    r = csqa["080ef6941410139d6869e78122bc741e"][0]
    assert r.label == "C" and r.correct and "So the answer is (c)" in r.raw and "So the answer" not in r.rationale
    anli = load_rationales("palm", "anli", "dev", data_dir)      # split alias dev -> r1_dev
    r = anli["bf628cf5-6948-4595-a6d0-daf99beb47b9"][0]
    assert r.label == "contradiction" and r.gold == "contradiction" and r.meta["teacher"].startswith("PaLM")
    # upstream parse failures are kept (no silent drop) as empty rationale + no answer
    failed = [x for v in anli.values() for x in v if x.rationale == ""]
    assert len(failed) == 9 and all(x.label is None and not x.correct and x.raw for x in failed)
    n_none = sum(x.label is None for v in load_rationales("palm", "csqa", "train", data_dir).values() for x in v)
    assert n_none == 448


def test_cose_explains_gold(data_dir):
    recs = load_rationales("cose", "csqa", "dev", data_dir)
    r = recs["080ef6941410139d6869e78122bc741e"][0]
    assert r.rationale == "Wooden area is only the place for the beaver supplies."
    assert r.label == r.gold == "C" and r.meta["explanation_selected"] == "their supplies come"


def test_normalize_label(data_dir):
    ex = load_task("quarel", "dev", data_dir, limit=1)[0]      # choices: marble floor / wet floor
    for v in ("B", "b", "(B)", "(b).", " (B) ", "wet floor", "Wet floor."):
        assert normalize_label(ex, v) == "B"
    assert normalize_label(ex, None) is None and normalize_label(ex, "  ") is None
    for bad in ("C", "(C)", "carpet", 1):
        with pytest.raises(ValueError):
            normalize_label(ex, bad)
    nli = load_task("anli", "r1_dev", data_dir, limit=1)[0]
    assert normalize_label(nli, "Neutral.") == "neutral"
    with pytest.raises(ValueError):
        normalize_label(nli, "maybe")


def test_unknown_corpus_or_split():
    with pytest.raises(KeyError, match="unknown rationale corpus"):
        rationales.get_corpus("scotd_30x")
    with pytest.raises(KeyError, match="no rationales for quarel/dev"):
        rationales.rationale_path("mario_gpt3", "quarel", "dev")


# ---------------------------------------------------------------------------------------------- bad input

QUAREL = [{"id": "q0", "question": "Which is faster?", "choices": [{"label": "A", "text": "hen"},
                                                                   {"label": "B", "text": "duck"}], "answer": "A"},
          {"id": "q1", "question": "Which is louder?", "choices": [{"label": "A", "text": "near"},
                                                                   {"label": "B", "text": "far"}], "answer": "A"}]
GOOD = {"id": "q0", "sample": 0, "teacher": "t", "rationale": "Hens are fast. Thus, hen.",
        "predicted_answer": "A", "gold_answer": "A", "correct": True}


def _corpus(tmp_path: Path, rows: list) -> Path:
    (tmp_path / "quarel").mkdir(exist_ok=True)
    (tmp_path / "quarel" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QUAREL))
    path = tmp_path / "rationales" / "mario_gpt3" / "quarel_train.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_tmp_corpus_loads_and_normalizes(tmp_path):
    _corpus(tmp_path, [GOOD, {**GOOD, "id": "q1", "sample": 1, "predicted_answer": "(B)", "correct": False},
                       {**GOOD, "id": "q1", "sample": 0, "predicted_answer": "near"}])
    recs = load_rationales("mario_gpt3", "quarel", "train", tmp_path)
    assert list(recs) == ["q0", "q1"] and [r.k for r in recs["q1"]] == [0, 1]
    assert recs["q1"][0].label == "A" and recs["q1"][1] == RationaleRecord(
        "q1", 1, GOOD["rationale"], "B", "A", False, GOOD["rationale"], "mario_gpt3", {"teacher": "t"})


Q1 = {**GOOD, "id": "q1"}


@pytest.mark.parametrize("bad,field,msg", [
    ({**GOOD, "id": "q9"}, "id", "'q9' is not in quarel/train"),
    ({**Q1, "predicted_answer": "C"}, "predicted_answer", "neither a choice label"),
    ({**Q1, "gold_answer": "B", "correct": False}, "gold_answer", "disagrees with the task file"),
    ({**Q1, "correct": False}, "correct", "correct=False"),
    ({**Q1, "rationale": ""}, "rationale", "non-empty string"),
    ({**Q1, "sample": "0"}, "sample", "non-negative int"),
    ({k: v for k, v in Q1.items() if k != "predicted_answer"}, "predicted_answer", "missing field"),
    (GOOD, "id", "duplicate rationale for id 'q0', sample 0"),
])
def test_bad_rationale_rows(tmp_path, bad, field, msg):
    path = _corpus(tmp_path, [GOOD, bad])
    with pytest.raises(DataError) as ei:
        load_rationales("mario_gpt3", "quarel", "train", tmp_path)
    e = ei.value
    assert (e.path, e.line, e.field) == (str(path), 2, field) and msg in str(e)


def test_bad_json_and_missing_file(tmp_path):
    path = _corpus(tmp_path, [GOOD, "{not json"])
    with pytest.raises(DataError, match="line 2: invalid JSON"):
        load_rationales("mario_gpt3", "quarel", "train", tmp_path)
    path.unlink()
    with pytest.raises(DataError, match="file not found"):
        load_rationales("mario_gpt3", "quarel", "train", tmp_path)
