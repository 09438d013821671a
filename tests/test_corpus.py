"""Corpus schema, JSONL round trip, supervised filter and stats on replayed real teacher corpora."""
import json

import pytest

from helpers.corpus import (PAPER_DISCARD_RATES, Corpus, CorpusEntry, Sample, corpus_stats, load_corpus,
                            save_corpus)
from helpers.tasks import DataError, load_task
from helpers.teacher import ReplayTeacher
from helpers.corpus import sample_corpus


@pytest.fixture(scope="module")
def quarel_replay(data_dir):
    exs = load_task("quarel", "train")
    return sample_corpus(ReplayTeacher("mario_gpt3", "quarel", "train", examples=exs), exs, n=5, split="train",
                         progress=False)


def test_replay_quarel_gpt3_discard_rate(quarel_replay, quarel_train_rows):
    c = quarel_replay
    assert len(c) == quarel_train_rows and c.n_samples() == 9650      # every train question; 5 GPT-3 CoTs each
    st = corpus_stats(c)
    assert st["discard_rate"] == pytest.approx(1 - 8203 / 9650)         # data/README: 8203 correct
    assert st["teacher_accuracy"] == pytest.approx(8203 / 9650)
    assert st["paper_discard_rate"] == PAPER_DISCARD_RATES["quarel"] == 0.342
    assert 0 < st["teacher_accuracy_majority"] <= 1
    sup = c.correct_only()
    assert sup.n_samples() == 8203 and sup.meta["filter"] == "supervised"
    assert all(s.label == e.example.answer for e in sup.entries for s in e.samples)
    assert c.meta["teacher"] == "replay:mario_gpt3" and c.meta["split"] == "train"


def test_replay_csqa_palm_and_n_cap(data_dir):
    exs = load_task("csqa", "train")
    c = sample_corpus(ReplayTeacher("palm", "csqa", "train", examples=exs), exs, n=30, progress=False)
    st = corpus_stats(c)
    assert st["samples"] == 9741 and st["questions"] == 9741           # one PaLM CoT per question
    assert st["discard_rate"] == pytest.approx(1 - 7212 / 9741)
    assert c.meta["samples_available"] == 9741
    e = c.entries[0]
    assert e.samples[0].raw.startswith(e.samples[0].rationale) and e.samples[0].logprob is None


def test_roundtrip_and_schema(tmp_path, quarel_replay):
    small = Corpus(quarel_replay.entries[:4], dict(quarel_replay.meta))
    small.entries[0].samples[0].logprob, small.entries[0].samples[0].n_tokens = -12.5, 20
    small.entries[1].samples[1].label = None
    p = save_corpus(small, tmp_path / "c.jsonl")
    lines = p.read_text().splitlines()
    assert json.loads(lines[0])["_meta"]["teacher"] == "replay:mario_gpt3"
    row = json.loads(lines[1])
    assert set(row) == {"task", "id", "text", "choices", "labels", "answer", "samples"}
    assert set(row["samples"][0]) == {"k", "rationale", "label", "logprob", "n_tokens", "raw", "finish_reason"}
    back = load_corpus(p)
    assert back.meta == json.loads(json.dumps(small.meta))
    for a, b in zip(small.entries, back.entries):
        assert a.example == b.example and a.samples == b.samples
    assert corpus_stats(back)["no_answer_rate"] == pytest.approx(1 / 20)


def test_load_errors_name_line_and_field(tmp_path, quarel_replay):
    p = save_corpus(Corpus(quarel_replay.entries[:3], {"task": "quarel"}), tmp_path / "c.jsonl")
    lines = p.read_text().splitlines()
    row = json.loads(lines[2])
    row["samples"][1]["label"] = "Z"
    lines[2] = json.dumps(row)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as ei:
        load_corpus(p)
    assert ei.value.line == 3 and ei.value.field == "samples[1].label"
    p.write_text(lines[1] + "\n")
    with pytest.raises(DataError, match="_meta"):
        load_corpus(p)


def test_stats_on_a_hand_built_corpus(data_dir):
    ex = load_task("quarel", "dev", limit=1)[0]            # gold answer is B
    wrong = "A" if ex.answer == "B" else "B"
    samples = [Sample(0, "x y z", ex.answer, -4.0, 4), Sample(1, "x y w", wrong, -2.0, 2),
               Sample(2, "q", None, -1.0, 1), Sample(3, "x y z", ex.answer, -8.0, 4)]
    c = Corpus([CorpusEntry(ex, samples)], {"task": "quarel"})
    st = corpus_stats(c)
    assert st["teacher_accuracy"] == 0.5 and st["discard_rate"] == 0.5 and st["no_answer_rate"] == 0.25
    assert st["teacher_accuracy_majority"] == 1.0
    assert st["unique_bigrams_per_question"] == 3            # (x,y) (y,z) (y,w)
    assert st["mean_completion_tokens"] == 2.75
    assert [s.k for s in c.correct_only().entries[0].samples] == [0, 3]


def test_scotd_30x_json_format(tmp_path, data_dir):
    exs = load_task("quarel", "dev")
    pools = {"gpt3*quarel*0*": [
        {"prompt": "…", "response": "Ice is smoother. So the answer is (B)", "score": 1.0, "index": 0,
         "rationale": "Ice is smoother."},
        {"prompt": "…", "response": "Snow is rough. So the answer is (A)", "score": 0.0, "index": 0},
        {"prompt": "…", "response": "Closer looks bigger. So the answer is (B)", "score": 1.0, "index": 2}]}
    p = tmp_path / "quarel_30x.json"
    p.write_text(json.dumps(pools))
    c = sample_corpus(ReplayTeacher(str(p), "quarel", "dev"), exs[:3], n=30, progress=False)
    by = c.by_id()
    assert [s.label for s in by[exs[0].id].samples] == ["B", "A"]
    assert by[exs[0].id].samples[1].rationale == "Snow is rough."
    assert len(by[exs[1].id].samples) == 0 and len(by[exs[2].id].samples) == 1
    pools["gpt3*quarel*0*"][0]["index"] = 10_000
    p.write_text(json.dumps(pools))
    with pytest.raises(DataError, match="index"):
        ReplayTeacher(str(p), "quarel", "dev")


def test_cli_replay(tmp_path, data_dir, capsys):
    from helpers.cli import main
    out = tmp_path / "c.jsonl"
    rc = main(["sample", "--task", "quarel", "--split", "train", "--limit", "8", "--replay", "mario_gpt3",
               "--n", "5", "--setting", "supervised", "--out", str(out)])
    assert rc == 0
    c = load_corpus(out)
    assert len(c) == 8 and c.meta["filter"] == "supervised"
    assert all(s.label == e.example.answer for e in c.entries for s in e.samples)
    assert "discard_rate" in capsys.readouterr().out


def test_why_a_completion_ended_is_kept_and_counted(tmp_path):
    """finish_reason survives save/load (older corpora without it still load), a bad one is a one-line error, and
    corpus_stats counts the CoTs the token budget cut and how many of the unanswered ones that explains."""
    ex = load_task("coinflip", "train")[0]
    samples = [Sample(0, "The coin starts heads up.", None, -3.0, 96, "raw0", finish_reason="length"),
               Sample(1, "The coin starts heads up. It ends heads up.", ex.answer, -2.0, 40, "raw1", finish_reason="stop"),
               Sample(2, "Hm.", None, -1.0, 10, "raw2", finish_reason="stop"),
               Sample(3, "old", ex.answer, -1.0, 10, "raw3")]
    c = Corpus([CorpusEntry(ex, samples)], {"task": "coinflip", "teacher": "t"})
    path = save_corpus(c, tmp_path / "c.jsonl")
    back = load_corpus(path)
    assert [s.finish_reason for s in back.entries[0].samples] == ["length", "stop", "stop", None]
    stats = corpus_stats(back)
    assert stats["length_cut_rate"] == pytest.approx(1 / 3)          # of the 3 samples that say why they ended
    assert stats["no_answer_cut_rate"] == pytest.approx(1 / 2)       # 1 of the 2 unanswered ones was cut
    rows = path.read_text().splitlines()
    row = json.loads(rows[1])
    row["samples"][0]["finish_reason"] = "eos"
    (tmp_path / "bad.jsonl").write_text(rows[0] + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"line 2.*samples\[0\]\.finish_reason.*'eos'"):
        load_corpus(tmp_path / "bad.jsonl")


def test_a_teacher_that_returns_fewer_samples_than_asked_is_a_clear_error_and_keeps_what_it_returned(tmp_path):
    """An endpoint that silently drops a sample must not give a corpus with a hole: sampling stops with one line
    (``TeacherError``, a user-facing error) and the samples that did come back are in the cache for the rerun."""
    from helpers.sample_cache import SampleCache, cache_path_for
    from helpers.teacher import Completion, Teacher, TeacherError

    class DropsOne(Teacher):
        teacher_id = "drops-one"

        def generate(self, requests, params, seed):
            for r in requests:
                for k in r.ks:
                    if (r.example.id, k) != (requests[0].example.id, 0):
                        yield r, k, Completion(text=" The coin stays heads. So the answer is (a).")

    exs = load_task("coinflip", "train", limit=2)
    with pytest.raises(TeacherError, match="1 samples are missing after sampling; rerun to resume"):
        sample_corpus(DropsOne(), exs, n=2, cache=tmp_path, progress=False)
    assert len(SampleCache(cache_path_for("drops-one", tmp_path), "drops-one")) == 3
