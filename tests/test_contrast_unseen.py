"""Notebooks 06 (SCoTD §3.4, contrast sets) and 07 (§3.5, an unseen task): shortening long review inputs
(never the answer), the paired contrast set, the paired change original → contrast, a teacher's accuracy
over questions, the paper's Fig. 5 / 6 numbers, the profile blocks, and their figure and table helpers."""
from __future__ import annotations

import json
import pandas as pd
import pytest

from helpers import decode as D
from helpers import protocol, results
from helpers.corpus import Corpus, CorpusEntry, Sample
from helpers.decode import Prediction
from helpers.profiles import PROFILES, UnseenTask, get_profile
from helpers.prompts import (CUT_MARK, build_prompt, exemplars, format_answer, format_input, shorten_input,
                             shorten_words)
from helpers.targets import pairs_from_corpus
from helpers.tasks import DataError, Example, SENTIMENT, contrast_pairs, load_task


def review(text: str, answer: str = "positive", task: str = "imdb", ex_id: str = "r0") -> Example:
    return Example(task, ex_id, text, answer, (), SENTIMENT, {"rating": 9})


WORDS = " ".join(f"w{i}" for i in range(1, 21))          # w1 … w20


# ------------------------------------------------------------------------------------------ shortening

def test_shorten_words_keeps_the_first_and_last_words_around_the_mark():
    assert shorten_words(WORDS, 6) == f"w1 w2 w3 {CUT_MARK} w18 w19 w20"
    assert shorten_words(WORDS, 5) == f"w1 w2 w3 {CUT_MARK} w19 w20"          # odd: one more at the start
    assert shorten_words(WORDS, 1) == f"w1 {CUT_MARK}"
    assert shorten_words(WORDS, 20) == WORDS and shorten_words(WORDS, 100) == WORDS
    kept = shorten_words(WORDS, 7).split()
    assert len(kept) == 7 + 1 and kept.count(CUT_MARK) == 1


def test_shorten_words_treats_html_breaks_as_whitespace():
    assert shorten_words("Great.<br /><br />Loved it.  Really<BR>so", 50) == "Great. Loved it. Really so"
    assert shorten_words("a<br />b<br />c<br />d", 2) == f"a {CUT_MARK} d"


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True, None])
def test_shorten_words_refuses_a_bad_limit(bad):
    with pytest.raises(ValueError, match="max_words"):
        shorten_words(WORDS, bad)


def test_shorten_input_cuts_the_input_never_the_label():
    ex = review(WORDS, "negative")
    short = shorten_input(ex, 4)
    assert short.text == f"w1 w2 {CUT_MARK} w19 w20" and short.answer == "negative" and short.id == ex.id
    assert short.meta == {"rating": 9, "max_words": 4, "words": 20, "shortened": True}
    assert ex.text == WORDS and "max_words" not in ex.meta                  # the original is untouched
    assert shorten_input(ex, None) is ex
    assert shorten_input(short, 4) is short                                  # idempotent at the same limit
    with pytest.raises(ValueError, match="already shortened to 4"):
        shorten_input(short, 8)
    whole = shorten_input(ex, 50)
    assert whole.text == WORDS and whole.meta["shortened"] is False and whole.meta["words"] == 20


def test_shorten_input_refuses_multiple_choice_and_nli():
    mc = load_task("quarel", "dev")[0]
    nli = load_task("anli", "r1_dev")[0]
    for ex in (mc, nli):
        with pytest.raises(ValueError, match="only single-passage inputs"):
            shorten_input(ex, 10)


def test_the_prompt_states_the_cut_only_when_there_is_one():
    ex = review(WORDS)
    assert format_input(shorten_input(ex, 4)).startswith(f"Review (shortened: {CUT_MARK} marks left-out words): w1 w2 {CUT_MARK}")
    assert format_input(shorten_input(ex, 50)).startswith("Review: w1 w2 w3")
    assert format_input(ex) == format_input(shorten_input(ex, 50))


def test_build_prompt_shortens_the_exemplars_but_not_their_cots_or_answers():
    ex = shorten_input(load_task("imdb_contrast", "dev_original")[0], 16)
    prompt = build_prompt(ex, shots=3)
    for x, e in exemplars("imdb")[:3]:
        assert format_input(shorten_input(x, 16)) in prompt
        assert f"{e.rationale} {format_answer(x, e.answer)}" in prompt
    blocks = prompt.split("\n\n")
    assert len(blocks) == 4 and blocks[-1] == format_input(ex)
    for block in blocks:                                       # every review in the prompt: ≤ 16 words + the mark
        text = block.split("\n")[0].split("words): " if CUT_MARK in block else "Review: ", 1)[1]
        assert len(text.split()) <= 16 + 1
    # unshortened queries keep the exemplars whole (the prompt of notebooks 01/02 is unchanged)
    whole = load_task("imdb_contrast", "dev_original")[0]
    assert exemplars("imdb")[0][0].text in build_prompt(whole, shots=1)


def test_training_pairs_of_a_shortened_review_keep_the_whole_answer():
    ex = shorten_input(review(WORDS, "negative"), 6)
    corpus = Corpus([CorpusEntry(ex, [Sample(0, "It calls the film dull.", "negative"),
                                      Sample(1, "It likes it.", "positive")])], {"teacher": "t"})
    lo, = pairs_from_corpus(corpus, "label_only")
    sc, = pairs_from_corpus(corpus, "scotd")
    assert lo.prompt == sc.prompt == format_input(ex) and CUT_MARK in lo.prompt
    assert lo.completion == " So the answer is negative."
    assert sc.completion == " It calls the film dull. So the answer is negative."


def test_decodes_of_differently_shortened_inputs_are_cached_apart(tmp_path, monkeypatch):
    """Same student, same ids, other texts: not a cache hit (the decode cache keys the inputs)."""
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path))
    monkeypatch.setattr("helpers.precision.use_bf16", lambda: False)
    calls = []

    def fake_decode(model, tok, examples, **kw):
        calls.append([format_input(ex) for ex in examples])
        return [Prediction(ex.id, ex.answer, "positive", [" So the answer is positive."]) for ex in examples]
    monkeypatch.setattr(D, "decode", fake_decode)

    class Stub:
        key = "stub-student"

        def load(self, dtype=None):
            return None, None
    exs = [review(WORDS, ex_id="a"), review(WORDS[::-1], ex_id="b")]
    for w in (4, 8, 4):
        D.decode_student(Stub(), [shorten_input(ex, w) for ex in exs])
    assert len(calls) == 2 and calls[0] != calls[1]                 # w=4 decoded once, w=8 apart
    D.decode_student(Stub(), exs)                                    # whole reviews: the old key, decoded once
    D.decode_student(Stub(), exs)
    assert len(calls) == 3


# --------------------------------------------------------------------------------------- contrast pairs

def test_contrast_pairs_are_paired_and_flipped(data_dir):
    orig, con = contrast_pairs("dev")
    assert len(orig) == len(con) == 100
    for a, b in zip(orig, con):
        assert a.meta["pair_id"] == b.meta["pair_id"] and a.answer != b.answer and a.id != b.id
    o3, c3 = contrast_pairs("test", limit=3)
    assert [x.meta["pair_id"] for x in o3] == [x.meta["pair_id"] for x in c3] == ["test_000", "test_001", "test_002"]
    with pytest.raises(Exception, match="parts 'dev' and 'test'"):
        contrast_pairs("train")


def test_contrast_pairs_name_the_bad_row(tmp_path):
    row = {"text": "ok", "label": "positive", "label_id": 1}
    (tmp_path / "imdb_contrast").mkdir()
    (tmp_path / "imdb_contrast" / "dev_original.jsonl").write_text(
        "\n".join(json.dumps({**row, "id": f"o{i}", "pair_id": f"p{i}"}) for i in range(2)) + "\n")
    bad = [{**row, "id": "c0", "pair_id": "p0", "label": "negative", "label_id": 0},
           {**row, "id": "c1", "pair_id": "p9", "label": "negative", "label_id": 0}]
    path = tmp_path / "imdb_contrast" / "dev_contrast.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in bad) + "\n")
    with pytest.raises(DataError) as ei:
        contrast_pairs("dev", tmp_path)
    assert (ei.value.path, ei.value.line, ei.value.field) == (str(path), 2, "pair_id")


# ------------------------------------------------------------------------------------------ paired gap

def preds(ids: list[str], correct: list[bool]) -> list[Prediction]:
    return [Prediction(i, "positive", "positive" if c else "negative", [""]) for i, c in zip(ids, correct)]


PAIRS = {**{f"o{i}": f"p{i}" for i in range(8)}, **{f"c{i}": f"p{i}" for i in range(8)}}
O, C = [f"o{i}" for i in range(8)], [f"c{i}" for i in range(8)]


def gap_rows(cond: str, seed: int, orig: list[bool], con: list[bool]) -> list[dict]:
    return [{"condition": cond, "seed": seed, "split": "original", "preds": preds(O, orig)},
            {"condition": cond, "seed": seed, "split": "contrast", "preds": preds(C, con)}]


def test_paired_gap_is_the_mean_change_per_pair_and_beats_the_baseline():
    rows = []
    for seed in (0, 1, 2):
        rows += gap_rows("label_only", seed, [True] * 8, [True] + [False] * 7)
        rows += gap_rows("scotd", seed, [True] * 8, [True] * 7 + [False])
    lo, sc = protocol.paired_gap(rows, PAIRS)
    assert lo["condition"] == "label_only" and "vs_baseline_diff" not in lo
    assert lo["accuracy_original"] == 1.0 and lo["accuracy_contrast"] == pytest.approx(1 / 8)
    assert lo["diff"] == pytest.approx(-7 / 8) and lo["per_seed"] == pytest.approx([-7 / 8] * 3)
    # 7 pairs of 8 dropped on every seed: the exact sign-flip p over pairs is 2 / 2^7 (conditional on the
    # students); the headline test over seeds and pairs agrees
    assert lo["diff_ci_high"] < 0 and lo["p_value"] < 0.01 and lo["n_pairs"] == 8
    assert lo["p_questions"] == pytest.approx(2 / 128, abs=0.005)
    assert sc["diff"] == pytest.approx(-1 / 8) and sc["p_value"] > 0.3 and sc["p_questions"] == 1.0  # one drop
    assert sc["baseline"] == "label_only" and sc["vs_baseline_diff"] == pytest.approx(6 / 8)
    assert sc["vs_baseline_diff_ci_low"] > 0 and sc["vs_baseline_p"] < 0.05


def test_paired_gap_pairs_by_pair_id_not_by_position():
    """The mean change is the difference of the means whatever the pairing; the interval and the test are
    not: every pair here is unchanged (o_i and c_i both right for i < 4, both wrong after), so the change is
    exactly 0 — also when the contrast predictions come in another order."""
    rows = gap_rows("scotd", 0, [True] * 4 + [False] * 4, [True] * 4 + [False] * 4)
    reordered = dict(rows[1], preds=list(reversed(rows[1]["preds"])))
    for rs in (rows, [rows[0], reordered]):
        g, = protocol.paired_gap(rs, PAIRS)
        assert (g["diff"], g["diff_ci_low"], g["diff_ci_high"], g["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    # paired by position instead, the reversed list would have changed every pair (d = -1 × 4, +1 × 4)
    by_position = {f"c{7 - i}": f"p{i}" for i in range(8)}
    g, = protocol.paired_gap([rows[0], reordered], {**PAIRS, **by_position})
    assert g["diff"] == 0.0 and g["diff_ci_low"] < -0.2 and g["diff_ci_high"] > 0.2


def test_paired_gap_refuses_incomplete_or_mismatched_rows():
    rows = gap_rows("scotd", 0, [True] * 8, [True] * 8)
    with pytest.raises(ValueError, match="needs both 'original' and 'contrast'"):
        protocol.paired_gap(rows[:1], PAIRS)
    with pytest.raises(ValueError, match="split='test'"):
        protocol.paired_gap([dict(rows[0], split="test"), rows[1]], PAIRS)
    with pytest.raises(ValueError, match="cover other pairs"):
        protocol.paired_gap([rows[0], dict(rows[1], preds=rows[1]["preds"][:7])], PAIRS)
    with pytest.raises(ValueError, match="has no pair id"):
        protocol.paired_gap(rows, {k: v for k, v in PAIRS.items() if k != "c3"})
    with pytest.raises(ValueError, match="two rows"):
        protocol.paired_gap(rows + rows[:1], PAIRS)


# --------------------------------------------------------------------------------------- the teacher

def entry(answer: str | None, labels: list[str | None], ex_id: str) -> CorpusEntry:
    return CorpusEntry(review("x", answer, ex_id=ex_id), [Sample(k, "r", lab) for k, lab in enumerate(labels)])


def test_teacher_accuracy_per_cot_no_answer_and_majority_vote():
    corpus = Corpus([entry("positive", ["positive", "positive", "negative", None], "a"),
                     entry("negative", ["positive", None, None, "positive"], "b"),
                     entry("negative", [], "c")], {"teacher": "local:t"})
    row = protocol.teacher_accuracy(corpus)
    assert row["teacher"] == "local:t" and row["questions"] == 2 and row["samples"] == 8
    assert row["accuracy"] == pytest.approx(2 / 8) and row["no_answer_rate"] == pytest.approx(3 / 8)
    assert row["majority_vote_accuracy"] == 0.5
    assert 0 <= row["ci_low"] <= row["accuracy"] <= row["ci_high"] <= 0.5
    with pytest.raises(ValueError, match="no gold answer"):
        protocol.teacher_accuracy(Corpus([entry(None, ["positive"], "d")], {}))
    with pytest.raises(ValueError, match="no samples"):
        protocol.teacher_accuracy(Corpus([entry("positive", [], "e")], {}))


# ------------------------------------------------------------------------------------ paper numbers

def test_paper_figure_5_and_6():
    f = results.paper_figure
    assert f("5", task="imdb_contrast", condition="label_only", split="original") == 96.1
    assert f("5", task="imdb_contrast", condition="label_only", split="contrast") == 81.6
    assert f("5", task="imdb_contrast", condition="scotd", split="original") == 95.5
    assert f("5", task="imdb_contrast", condition="scotd", split="contrast") == 92.0
    assert f("5", task="imdb_contrast", condition="greedy_cot", split="contrast") is None
    with pytest.raises(KeyError, match="split"):
        f("5", task="imdb_contrast", condition="scotd")
    assert f("6", task="sst2", condition="scotd") == 79.6
    assert f("6", task="sst2", condition="label_only") == 0.0
    assert f("6", task="sst2", condition="prompt_cot") == 74.5
    assert f("6", task="sst2", condition="prompt_no_cot") is None and f("6", task="csqa", condition="scotd") is None
    with pytest.raises(KeyError, match="unknown SCoTD figure"):
        f("8", task="sst2", condition="scotd")


# ---------------------------------------------------------------------------------------- profiles

@pytest.mark.parametrize("name", sorted(PROFILES))
def test_contrast_and_unseen_blocks_are_well_formed(name):
    p = PROFILES[name]
    c, u = p.contrast, p.unseen
    for P in (c.protocol(p), u.protocol(p)):
        assert P.budget.steps > 0 and P.seeds == p.seeds and P.student == p.student
    assert c.eval_part in ("dev", "test") and c.n_samples >= 1 and c.shots >= 1
    assert c.max_review_words is None or c.max_review_words >= 8
    assert set(u.prompt_modes) <= {"no_cot", "greedy", "sc"} and u.shots >= 1
    assert all(t != u.eval_task for t, _, _ in u.source_list()) and len(u.source_list()) >= 2
    if name != "smoke":
        assert len(p.seeds) >= 3 and c.eval_limit is None and u.eval_limit is None     # every seed, full splits
        assert c.temperature == 1.0                                                    # SCoTD samples at T = 1
    json.dumps(p.to_dict())


def test_course_scores_every_contrast_pair_and_all_of_sst2():
    p = PROFILES["course"]
    assert len(contrast_pairs(p.contrast.eval_part)[0]) == 100
    assert len(protocol.eval_examples(p.unseen.protocol(p))) == 872


def test_unseen_sources_are_parsed_and_checked():
    assert UnseenTask(sources=("csqa/train@replay:palm",)).source_list() == [("csqa", "train", "replay:palm")]
    for bad in ("csqa@replay:palm", "csqa/train", "/train@x", "csqa/@x"):
        with pytest.raises(ValueError, match="expected '<task>/<split>@<teacher>'"):
            UnseenTask(sources=(bad,)).source_list()
    with pytest.raises(ValueError, match="must stay unseen"):
        UnseenTask(sources=("sst2/validation@endpoint",)).source_list()
    with pytest.raises(ValueError, match="empty"):
        UnseenTask(sources=()).source_list()
    p = get_profile("course", unseen={"n_per_task": 5, "budget": {"steps": 3}}, contrast={"max_review_words": 32})
    assert p.unseen.n_per_task == 5 and p.unseen.budget.steps == 3 and p.contrast.max_review_words == 32


# ------------------------------------------------------------------------------------ tables and figure

def test_gap_frame_and_contrast_figure(tmp_path, monkeypatch):
    rows = []
    for seed in (0, 1):
        rows += [dict(r, accuracy=0.0, n=8) for r in gap_rows("label_only", seed, [True] * 8, [True] * 4 + [False] * 4)]
        rows += [dict(r, accuracy=0.0, n=8) for r in gap_rows("scotd", seed, [True] * 8, [True] * 7 + [False])]
    gaps = protocol.paired_gap(rows, PAIRS)
    majority = {"condition": "majority class", "accuracy_original": 0.5, "accuracy_contrast": 0.5, "diff": 0.0, "n_pairs": 8}
    df = results.gap_frame(gaps + [majority])
    assert list(df["condition"]) == ["label_only", "scotd", "majority class"]
    assert df.loc[1, "change (pts) [95% CI]"].startswith("-12.5 [") and pd.isna(df.loc[0, "vs label_only (pts) [95% CI]"])
    assert df.loc[1, "vs label_only (pts) [95% CI]"].startswith("+37.5")
    summary = protocol.summarize(rows, group=("split", "condition"), baseline="label_only")
    monkeypatch.setenv("COTLAB_FIGURES", str(tmp_path))
    from helpers import plots
    fig = plots.contrast_figure(summary, [dict(g, paper_gap=-3.5) for g in gaps], majority={"original": 0.5, "contrast": 0.5})
    assert [p.exists() for p in plots.savefig(fig, "t06")] == [True, True]
