"""`python -m helpers cache`: list what is cached with sizes, prune it; a pruned student's decodes survive."""
from __future__ import annotations

import json
import os
import time

import pytest

from helpers import cache
from helpers.cli import main
from helpers.tasks import load_task
from helpers.targets import pairs_from_examples
from helpers.train import Budget, TrainConfig, train_student

CFG = TrainConfig(Budget(steps=2, lr=5e-4, batch_size=2, warmup_ratio=0.0), max_seq_len=256, seed=0, bf16=False)


@pytest.fixture
def cached_student(tmp_path, monkeypatch):
    """A real tiny student trained and decoded into a fresh cache."""
    from helpers.decode import decode_student
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    exs = load_task("coinflip", "train", limit=4)
    pairs = pairs_from_examples(exs, "label_only")
    st = train_student("smollm2-tiny", pairs, CFG, info={"task": "coinflip", "condition": "label_only"})
    dev = load_task("coinflip", "dev", limit=3)
    preds = decode_student(st, dev, max_new_tokens=8)
    return tmp_path / "cache", pairs, dev, st, preds


def test_list_shows_students_with_their_decodes_and_sizes(cached_student, capsys):
    root, _, _, st, _ = cached_student
    es = cache.entries()
    [s] = [e for e in es if e.kind == "students"]
    assert s.info["key"] == st.key and s.info["task"] == "coinflip" and s.info["condition"] == "label_only"
    assert s.info["weights"] and s.info["decodes"] == 1 and s.info["steps"] == 2
    assert s.bytes == sum(f.stat().st_size for f in (root / "students" / st.key).rglob("*") if f.is_file())
    summ = {r["kind"]: r for r in cache.summary(es)}
    assert summ["students"]["with_weights"] == 1 and summ["decodes"]["entries"] == 1
    assert main(["cache", "list", "--students"]) == 0
    out = capsys.readouterr().out
    assert st.key in out and "decodes 1" in out and "weights yes" in out
    assert main(["cache", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["students"][0]["key"] == st.key


def test_pruning_weights_keeps_the_decodes_and_the_student_is_retrained(cached_student, monkeypatch):
    from helpers import decode as D
    root, pairs, dev, st, preds = cached_student
    before = cache.prune("weights", dry_run=True)
    assert before["removed"] == 1 and before["bytes"] > 0 and cache.has_weights(st.path)    # dry run: nothing gone
    r = cache.prune("weights")
    assert r["removed"] == 1 and not cache.has_weights(st.path)
    assert (st.path / "cotlab_student.json").exists()
    # the decode is found without the weights (loading them would fail now) ...
    assert [p.pred for p in D.decode_student(st, dev, max_new_tokens=8)] == [p.pred for p in preds]
    # ... and the student itself is retrained, under the same key, when something needs its weights
    again = train_student("smollm2-tiny", pairs, CFG, info={"task": "coinflip", "condition": "label_only"})
    assert not again.reused and again.key == st.key and cache.has_weights(again.path)
    assert train_student("smollm2-tiny", pairs, CFG).reused


def test_prune_filters_by_task_student_and_age(cached_student):
    root, _, _, st, _ = cached_student
    assert cache.prune("students", task="quarel")["removed"] == 0
    assert cache.prune("students", student="smollm2-135m")["removed"] == 0
    assert cache.prune("students", older_than_days=1)["removed"] == 0        # written a moment ago
    old = time.time() - 3 * 86400
    for f in (root / "students" / st.key).rglob("*"):
        os.utime(f, (old, old))
    r = cache.prune("students", older_than_days=2, task="coinflip", student="smollm2-tiny")
    assert r["removed"] == 1 and not st.path.exists()
    assert [e.kind for e in cache.entries()].count("decodes") == 1          # decodes go only when asked
    assert cache.prune("decodes")["removed"] == 1


def test_cache_cli_errors_are_one_line(cached_student, capsys):
    assert main(["cache", "prune"]) == 2
    assert "needs --what" in capsys.readouterr().err
    assert main(["cache", "prune", "--what", "weights", "--older-than", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--older-than: -1 is out of range: must be ≥ 0" in err and len(err.strip().splitlines()) == 1
    assert main(["cache", "prune", "--what", "everything"]) == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err
    assert main(["cache", "prune", "--what", "weights", "--dry-run"]) == 0
    assert "would remove 1 weights entry" in capsys.readouterr().out


def test_stage_seconds_counts_what_was_trained_and_decoded_since(cached_student):
    root, _, _, st, _ = cached_student
    got = cache.stage_seconds(0.0)
    assert got["students_trained"] == 1 and got["training_s"] == pytest.approx(st.meta["train_seconds"], abs=0.1)
    assert got["decodes_made"] == 1 and got["decoding_s"] > 0 and got["generated_tokens"] > 0
    assert cache.stage_seconds(time.time() + 60)["students_trained"] == 0


def test_a_killed_runs_checkpoints_are_listed_and_pruned(tmp_path, monkeypatch, kill_training, capsys):
    """A run killed after a checkpoint leaves ``students/<key>.resume/``: ``cache list`` shows the step it resumes
    from, ``cache prune --what checkpoints`` removes it (and nothing else)."""
    import helpers.train as train
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(train, "CHECKPOINT_EVERY", 1)
    kill_training(2)
    pairs = pairs_from_examples(load_task("coinflip", "train", limit=4), "label_only")
    with pytest.raises(KeyboardInterrupt):
        train_student("smollm2-tiny", pairs, CFG)
    [e] = [e for e in cache.entries() if e.kind == "checkpoints"]
    assert e.info["step"] == 1 and e.bytes > 0 and e.path.name.endswith(train.RESUME_SUFFIX)
    assert main(["cache", "list", "--students"]) == 0
    assert f"{e.info['key']}" in (out := capsys.readouterr().out) and "unfinished run: checkpoint at step 1" in out
    from filelock import FileLock
    with FileLock(str(e.path.parent / f"{e.info['key']}.lock")):   # as while a process trains it
        assert [x.info["training"] for x in cache.entries() if x.kind == "checkpoints"] == [True]
    assert not e.info["training"]
    assert main(["cache", "prune", "--what", "checkpoints"]) == 0
    assert not e.path.exists() and not [e for e in cache.entries() if e.kind == "checkpoints"]
