"""The settings sweep (helpers/sweep.py) on a real tiny student: one stamped record per condition and seed,
the generated table, and a second run that reuses every record instead of training again."""
import json

import pytest

from helpers import sweep
from helpers.protocol import Budget


def test_a_setting_records_each_run_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COTLAB_RESULTS", str(tmp_path / "results"))
    s = sweep.Setting("tiny-coinflip", "coinflip", "scripted:0.1", student="smollm2-tiny", n_train=16, n_samples=2,
                      budget=Budget(steps=2, batch_size=4), conditions=("label_only", "greedy_cot"), eval_limit=6,
                      max_seq_len=128, max_new_tokens=24)
    said = []
    out = sweep.run_setting(s, log=said.append)
    assert [(r["condition"], r["seed"]) for r in out] == [("label_only", 0), ("greedy_cot", 0)]
    assert len(said) == 2 and all(r["train_steps"] == 2 and r["n"] == 6 for r in out)
    runs = sorted((tmp_path / "results" / "sweep" / "runs").glob("*.json"))
    assert [p.name for p in runs] == ["tiny-coinflip__greedy_cot__s0.json", "tiny-coinflip__label_only__s0.json"]
    rec = json.loads(runs[0].read_text())
    assert rec["provenance"]["models"]["student"] == "smollm2-tiny" and rec["setting"]["budget"]["steps"] == 2
    table = (tmp_path / "results" / "sweep" / "README.md").read_text()
    assert "| tiny-coinflip | coinflip | scripted:0.1 | 16 | 2 | greedy_cot |" in table
    assert "## The papers' findings, per setting" in table and "| tiny-coinflip | [0] |" in table
    # the majority-class row beside the setting's conditions (recomputed identically for old records: below)
    maj = rec["majority"]
    assert maj["condition"] == "majority class" and maj["n"] == 6
    row = next(line for line in table.splitlines() if "| majority class |" in line)
    assert row.startswith("| tiny-coinflip | coinflip | scripted:0.1 | 16 | 2 | majority class |")
    students = sorted((tmp_path / "cache" / "students").iterdir())
    said.clear()
    assert sweep.run_setting(s, log=said.append) == out and said == []       # resumed: nothing trained again
    assert sorted((tmp_path / "cache" / "students").iterdir()) == students
    # a share of the setting (what one of two processes runs): only those records
    assert sweep.run_setting(s, conditions=["greedy_cot"], seeds=[0], log=said.append) == out[1:] and said == []
    import pytest
    with pytest.raises(ValueError, match=r"no condition\(s\) \['scotd'\]; valid: \['label_only', 'greedy_cot'\]"):
        sweep.run_setting(s, conditions=["scotd"])
    # records written before the majority row was stored: recomputed from the setting they record, identically
    for p in runs:
        old = json.loads(p.read_text())
        del old["majority"]
        p.write_text(json.dumps(old))
    sweep.write_table()
    assert (tmp_path / "results" / "sweep" / "README.md").read_text() == table


def _rows(**conds):
    from helpers.decode import Prediction
    return [{"condition": c, "seed": seed, "preds": [Prediction(f"q{i:03d}", "A", "A" if ok else "B", ["x"])
                                                      for i, ok in enumerate(m[seed])]}
            for c, m in conds.items() for seed in range(len(m))]


def test_findings_say_whether_f1_and_f7_show():
    import numpy as np
    rng = np.random.default_rng(0)
    none = [rng.random(200) < 0.5 for _ in range(3)]
    cot = [b | (rng.random(200) < 0.6) for b in none]            # strictly more right answers, paired
    f = sweep.findings(_rows(label_only=none, greedy_cot=cot, scotd=cot, cot_after=none))
    assert f["F1"] == "shown" and f["F7"] == "not shown"
    assert "greedy_cot − label_only +" in f["F1_detail"] and "after − none +0.0" in f["F7_detail"]
    assert sweep.findings(_rows(label_only=none, greedy_cot=cot, cot_after=cot))["F7"] == "shown"
    between = [b | (rng.random(200) < 0.2) for b in none]        # after beats none, but lies well below before
    f = sweep.findings(_rows(label_only=none, greedy_cot=cot, cot_after=between))
    assert f["F7"] == "not shown"
    assert sweep._better(sweep._vs(_rows(label_only=none, cot_after=between), "cot_after", "label_only"))
    f = sweep.findings(_rows(label_only=none, greedy_cot=none))
    assert f["F1"] == "not shown" and f["F7"] == "not run"
    assert sweep.findings(_rows(label_only=none))["F1"] == "not run"


def test_f8_asks_a_shuffled_rationale_after_the_label_to_help_as_the_intact_one_does():
    import numpy as np
    rng = np.random.default_rng(1)
    none = [rng.random(200) < 0.5 for _ in range(3)]
    after = [b | (rng.random(200) < 0.3) for b in none]
    assert sweep.findings(_rows(label_only=none, cot_after=after))["F8"] == "not run"
    f = sweep.findings(_rows(label_only=none, cot_after=after, shuffled_after=after))
    assert f["F8"] == "shown" and "shuffled after − intact after +0.0" in f["F8_detail"]
    f = sweep.findings(_rows(label_only=none, cot_after=after, shuffled_after=none))   # shuffling undoes the gain
    assert f["F8"] == "not shown" and "significantly below" in f["F8_gap"]


def test_f9_asks_masked_rationales_after_the_label_to_help_up_to_60_percent():
    import numpy as np
    rng = np.random.default_rng(2)
    none = [rng.random(200) < 0.5 for _ in range(3)]
    after = [b | (rng.random(200) < 0.3) for b in none]
    assert sweep.findings(_rows(label_only=none, cot_after=after))["F9"] == "not run"
    f = sweep.findings(_rows(label_only=none, **{"masked_after@0.5": after, "masked_after@0.9": none}))
    assert f["F9"] == "shown"                                   # p = 0.9 is past the paper's 60%: not asked to help
    assert "masked after p = 0.5 − none +" in f["F9_detail"] and "masked after p = 0.9 − none +0.0" in f["F9_detail"]
    f = sweep.findings(_rows(label_only=none, **{"masked_after@0.5": none}))
    assert f["F9"] == "not shown" and f["F9_gap"].startswith("masked after p = 0.5 − none")


def test_a_masked_condition_carries_its_share_and_bad_ones_are_one_line():
    assert sweep.condition_spec("masked_after@0.5") == ("masked_after", {"p": 0.5})
    assert sweep.condition_spec("cot_after") == ("cot_after", {})
    for bad, msg in (("masked_after@1.5", "must be a number in"), ("masked_after@x", "must be a number in"),
                     ("cot_after@0.5", "only masked_"), ("cot_aftr", "cot_aftr")):
        with pytest.raises(Exception, match=msg) as e:
            sweep.condition_spec(bad)
        assert "\n" not in str(e.value)


def test_f10_asks_the_top_ig_words_after_the_label_to_do_what_the_whole_rationale_does():
    import numpy as np
    rng = np.random.default_rng(3)
    none = [rng.random(200) < 0.5 for _ in range(3)]
    after = [b | (rng.random(200) < 0.3) for b in none]
    assert sweep.findings(_rows(label_only=none, cot_after=after))["F10"] == "not run"
    f = sweep.findings(_rows(label_only=none, cot_after=after, **{"key_tokens@ig_top": after,
                                                                  "key_tokens@label_neighbours": none}))
    assert f["F10"] == "shown" and "IG top-15 after − full CoT after +0.0" in f["F10_detail"]
    assert "label_neighbours after − none +0.0" in f["F10_detail"] and "human" not in f["F10_detail"]
    f = sweep.findings(_rows(label_only=none, cot_after=after, **{"key_tokens@ig_top": none}))
    assert f["F10"] == "not shown" and "significantly below" in f["F10_gap"]


def test_a_finding_resting_on_a_student_that_did_not_learn_its_training_questions_is_untested():
    """The rule's cap stopped a shuffled-after student short of its training questions: F8 is not "not shown" (a
    verdict about the paper) but untested (a verdict about the budget); a capped student that learned them (CoT
    after on creatures, seeds 2–3) does not change a verdict."""
    import numpy as np
    rng = np.random.default_rng(4)
    none = [rng.random(200) < 0.5 for _ in range(3)]
    after = [b | (rng.random(200) < 0.3) for b in none]
    rows = _rows(label_only=none, cot_after=after, shuffled_after=none)
    rule = {"budget": {"min_train_accuracy": 0.9}}
    for r in rows:
        r.update(setting=rule, stopped_by="patience", train_accuracy=1.0, train_steps=300)
    assert sweep.findings(rows)["F8"] == "not shown"
    capped = next(r for r in rows if r["condition"] == "cot_after")
    capped.update(stopped_by="cap", train_accuracy=0.938, train_steps=400)
    assert sweep.findings(rows)["F8"] == "not shown"
    unlearned = next(r for r in rows if r["condition"] == "shuffled_after" and r["seed"] == 1)
    unlearned.update(stopped_by="cap", train_accuracy=0.5625, train_steps=400)
    f = sweep.findings(rows)
    assert f["F8"] == "untested (not learned)" and f["F7"] != "untested (not learned)"
    assert f["F8_gap"] == ("shuffled_after seed 1 stopped by the cap at step 400 with 56% of its training slice "
                           "(the rule asks 90%)")


def test_a_key_token_condition_names_its_variant():
    assert sweep.condition_spec("key_tokens@ig_top") == ("key_tokens", {"variant": "ig_top"})
    for bad in ("key_tokens", "key_tokens@ig_top15", "key_tokens@"):
        with pytest.raises(ValueError, match=r"valid: \['ig_top', 'ig_top_shuffled'") as e:
            sweep.condition_spec(bad)
        assert "\n" not in str(e.value)
    rq3 = sweep.GRIDS["creatures-rq3"][0]
    assert rq3.name == sweep.GRIDS["creatures-confirm"][0].name and rq3.protocol() == sweep.GRIDS["creatures-confirm"][0].protocol()
    assert rq3.conditions == tuple(f"key_tokens@{v}" for v in sweep.KEY_TOKEN_VARIANTS)


def test_key_token_students_train_on_the_words_their_attributor_found(tmp_path, monkeypatch):
    """Wadhwa Table 3 in the sweep, on a real tiny student: the setting's CoT-before student (seed 0) attributes each
    training rationale by integrated gradients; the words are stored once with what made them; each key-token
    student trains on its variant's words after the label, and its record rebuilds to its cache key from the
    stored words alone (no attribution again). A stored file made by other IG settings is refused."""
    from dataclasses import replace

    from helpers import protocol as P
    from helpers.corpus import only_questions
    from helpers.synthetic import deciding_words
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COTLAB_RESULTS", str(tmp_path / "results"))
    s = sweep.Setting("tiny-creatures-rq3", "creatures", "scripted:0.1", student="smollm2-tiny", n_train=12,
                      n_samples=1, budget=Budget(steps=2, batch_size=4),
                      conditions=("label_only", "cot_after", "key_tokens@ig_top", "key_tokens@human"), eval_limit=4,
                      max_seq_len=160, max_new_tokens=24, n_heldout=4, n_diag_train=4, top_k=3, ig_steps=2,
                      ig_internal_batch=2)
    said = []
    recs = sweep.run_setting(s, log=said.append)
    assert [r["condition"] for r in recs] == list(s.conditions) and all(r["n"] == 4 for r in recs)
    stored = json.loads(sweep.key_words_path(s).read_text())
    proto = s.protocol()
    train, heldout = P.split_train(proto)
    train_corpus = only_questions(sweep._corpus(s, train, heldout), train)
    attributor_pairs = sweep.condition_pairs(train_corpus, "greedy_cot", 0)
    assert stored["spec"]["attributor"] == P.fit_key(proto, attributor_pairs, seed=0)
    assert stored["spec"]["ig_steps"] == 2 and stored["spec"]["top_k"] == 3
    rationale = {p.example_id: p.completion for p in attributor_pairs}
    ig_top, human = stored["variants"]["ig_top"], stored["variants"]["human"]
    assert set(ig_top) == set(rationale) and len(ig_top) >= 10
    for i, words in ig_top.items():            # the attributor's top words, each from its own rationale
        assert len(words) == 3 and all(w.lower() in rationale[i].lower() for w in words)
    by_id = {e.example.id: e for e in train_corpus.entries}
    for i, words in human.items():             # the generator's ground truth of the deciding words
        assert words == deciding_words(by_id[i].example, by_id[i].samples[0].rationale)
    # each key-token student trained on its words after the label, and nothing else after it
    pairs = sweep.condition_pairs(train_corpus, "key_tokens@ig_top", 0, stored["variants"])
    assert all(p.completion.endswith(" " + " ".join(ig_top[p.example_id])) for p in pairs if p.example_id in ig_top)
    assert [r["student_key"] for r in recs[2:]] == [P.fit_key(proto, sweep.condition_pairs(
        train_corpus, c, 0, stored["variants"]), seed=0) for c in s.conditions[2:]]
    # the records rebuild to their students from the stored words alone: no attribution cache needed
    import shutil
    shutil.rmtree(tmp_path / "cache" / "attributions")
    assert sweep.record_keys(recs) == [r["student_key"] for r in recs]
    table = (tmp_path / "results" / "sweep" / "README.md").read_text()
    assert "F10" in table and "IG top-15 after − none" in table
    # words made otherwise are not silently reused; none stored: a one-line error without compute
    with pytest.raises(ValueError, match="made with"):
        sweep.key_words(replace(s, ig_steps=4), train_corpus, compute=False)
    with pytest.raises(ValueError, match="no key words stored"):
        sweep.key_words(replace(s, name="other"), train_corpus, compute=False)


def test_how_far_an_unshown_finding_is():
    """The MDE from the interval's width (power 0.8, α 0.05), the sample factor that would bring the observed
    difference to it, and the training CPU-hours of that many students; nothing for the wrong direction."""
    import numpy as np
    import pytest
    g = sweep.gap({"diff": 0.02, "diff_ci_low": -0.04, "diff_ci_high": 0.08, "seeds": [0, 1, 2],
                   "train_seconds": 300.0})
    assert g["mde"] == pytest.approx((1.959964 + 0.841621) * 0.12 / (2 * 1.959964), rel=1e-5)
    assert g["factor"] == pytest.approx((g["mde"] / 0.02) ** 2) and 18 < g["factor"] < 19
    assert g["cpu_hours"] == pytest.approx(g["factor"] * 2 * 3 * 300 / 3600)
    assert sweep.gap({"diff": -0.01, "diff_ci_low": -0.05, "diff_ci_high": 0.03, "seeds": [0]})["factor"] is None
    assert sweep.gap(None) is None
    rng = np.random.default_rng(1)
    none = [rng.random(200) < 0.5 for _ in range(3)]
    worse = [b & (rng.random(200) < 0.7) for b in none]           # CoT after strictly below no CoT
    f = sweep.findings(_rows(label_only=none, greedy_cot=none, cot_after=worse))
    assert f["F1"] == "not shown" and f["F7"] == "not shown"
    assert "greedy_cot − label_only: –" in f["F1_gap"]            # identical answers: no spread to extrapolate
    assert "after − none: MDE" in f["F7_gap"] and "not the paper's direction" in f["F7_gap"]
    shown = sweep.findings(_rows(label_only=none, greedy_cot=[b | (rng.random(200) < 0.6) for b in none]))
    assert shown["F1"] == "shown" and shown["F1_gap"] == ""


def test_a_setting_with_extra_splits_records_them_and_the_gold_margin(tmp_path, monkeypatch):
    """The creatures screen's records: accuracy on each control split beside the key one, and for answer-first
    students the mean log-odds of the gold label on every split — checked against a direct forward pass."""
    import math

    import torch

    from helpers import protocol as P
    from helpers.decode import format_input
    from helpers.prompts import format_answer
    from helpers.tasks import load_task
    from helpers.train import Student
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COTLAB_RESULTS", str(tmp_path / "results"))
    s = sweep.Setting("tiny-creatures", "creatures", "scripted:0.1", student="smollm2-tiny", n_train=16, n_samples=1,
                      budget=Budget(steps=2, batch_size=4), conditions=("label_only", "greedy_cot"), eval_limit=5,
                      max_seq_len=160, max_new_tokens=24, n_heldout=8, n_diag_train=4,
                      extra_splits=("dev_seen", "dev_new"))
    label_only, greedy = sweep.run_setting(s, log=lambda *_: None)
    for rec in (label_only, greedy):
        assert rec["n"] == 5 and set(rec["splits"]) == {"dev_seen", "dev_new"}
        assert all(v["n"] == 5 and len(v["preds"]) == 5 for v in rec["splits"].values())
    assert "gold_margin" not in greedy                       # CoT before the label: no answer right after the prompt
    assert set(label_only["gold_margin"]) == {"dev", "dev_seen", "dev_new"}
    # the margin by hand, one unpadded forward pass per option
    folder = next(p for p in (tmp_path / "cache" / "students").rglob("*") if p.is_dir() and label_only["student_key"] in p.name)
    student = Student(folder, label_only["student_key"])
    tok, model = student.load()
    margins = []
    for ex in load_task("creatures", "dev_new")[:5]:
        scores = {}
        for o in ex.options:
            plen = len(tok(format_input(ex))["input_ids"])
            ids = tok(format_input(ex) + " " + format_answer(ex, o), return_tensors="pt")["input_ids"]
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits.float(), -1)[0]
            scores[o] = sum(float(logp[j - 1, ids[0, j]]) for j in range(plen, ids.shape[1]))
        margins.append(scores[ex.answer] - max(v for o, v in scores.items() if o != ex.answer))
    assert math.isclose(label_only["gold_margin"]["dev_new"], sum(margins) / 5, rel_tol=1e-4, abs_tol=1e-5)
    assert P.answer_first("cot_after") and P.answer_first("label_only") and not P.answer_first("scotd")
    table = (tmp_path / "results" / "sweep" / "README.md").read_text()
    assert "## Control splits and the gold label's log-odds" in table
    margin = label_only["gold_margin"]["dev_new"]
    acc = 100 * sum(p["correct"] for p in label_only["splits"]["dev_new"]["preds"]) / 5
    assert any(line.startswith(f"| tiny-creatures | dev_new | label_only | [0] | {acc:.1f} |")
               and f"{margin:.3g}"[:4] in line for line in table.splitlines()), table
    # a record written before extra splits existed still reads back as a setting
    old = dict(label_only["setting"])
    del old["extra_splits"]
    assert sweep.Setting.from_record(old).extra_splits == ()


def test_the_course_wadhwa_students_are_the_creatures_sweeps():
    """Notebooks 10–12 on ``course`` run on the creatures block; its students are the sweep's creatures-confirm
    students (same protocol, teacher, corpus and training pairs → same cache keys), so the sweep's compute is not
    paid twice — and a change to either side that breaks this fails here. The screen's setting is the same but
    for the train-slice requirement of the stopping rule."""
    from dataclasses import replace

    from helpers import protocol
    from helpers.corpus import only_questions
    from helpers.profiles import get_profile
    from helpers.targets import pairs_from_corpus
    from helpers.train import student_key
    prof = get_profile("course")
    D = prof.wadhwa_distill
    s = sweep.GRIDS["creatures-confirm"][0]
    screen = sweep.GRIDS["creatures-screen"][0]
    assert D.task == "creatures" and prof.distill.task == "coinflip"
    assert replace(D.protocol(prof), seeds=s.seeds) == s.protocol() and s.seeds == (0, 1, 2, 3, 4)
    assert D.budget.min_train_accuracy == 0.9 and screen.budget == replace(D.budget, min_train_accuracy=0.0)
    st = protocol.setup(D.protocol(prof), D.teacher, D.n_samples)
    assert set(st.controls) == {"dev_seen", "dev_new"}
    screen_corpus = only_questions(sweep._corpus(s, st.train, st.heldout), st.train)
    for notebook_cond, screen_cond in (("label_only", "label_only"), ("cot_after", "cot_after"),
                                       ("cot_before", "greedy_cot"), ("shuffled_after", "shuffled_after")):
        for seed in (0, 3):
            a = pairs_from_corpus(st.train_corpus, notebook_cond, seed=seed)
            b = pairs_from_corpus(screen_corpus, screen_cond, seed=seed)
            cfg = s.protocol().train_config(seed)
            assert student_key(s.student, a, cfg) == student_key(s.student, b, cfg)
    # notebook 11's F8 students are creatures-rq2's, recorded under the same setting name as creatures-confirm's
    rq2 = sweep.GRIDS["creatures-rq2"][0]
    assert rq2.name == s.name and rq2.protocol() == s.protocol()
    assert rq2.conditions == ("shuffled_after", *(f"masked_after@{p:.1f}" for p in prof.wadhwa.mask_fractions))
    for p in prof.wadhwa.mask_fractions:         # notebook 11's Fig. 4 students: pairs_from_corpus(..., p=p)
        a = pairs_from_corpus(st.train_corpus, "masked_after", seed=2, p=p)
        b = sweep.condition_pairs(screen_corpus, f"masked_after@{p}", 2)
        assert a == b and student_key(s.student, a, s.protocol().train_config(2)) == student_key(
            s.student, b, s.protocol().train_config(2))
    # notebook 12's key-token students are creatures-rq3's: same attributor (its cot_before student of the first
    # seed is the greedy_cot one above: same key), IG settings, top-k and variant seed
    rq3 = sweep.GRIDS["creatures-rq3"][0]
    assert rq3.name == s.name and rq3.protocol().seeds[0] == D.protocol(prof).seeds[0]
    assert (rq3.ig_steps, rq3.ig_internal_batch, rq3.top_k) == (prof.wadhwa.ig_steps, prof.wadhwa.ig_internal_batch,
                                                               prof.wadhwa.top_k)
    # and the lab profile keeps 10–12 on its own distill block
    lab = get_profile("lab")
    assert lab.wadhwa_distill == lab.distill
    assert get_profile("lab", wadhwa={"distill": {"n_train": 50}}).wadhwa_distill.task == lab.distill.task


def test_every_committed_sweep_record_names_the_student_todays_code_would_find():
    """Each run record in ``results/sweep/runs`` is rebuilt from its setting with today's code (corpus, pairs,
    window, budget → cache key): a change that alters the key of a committed student — a default moved, a field
    renamed in the trainer's config — fails here, not as hours of silent retraining when the sweep resumes."""
    from pathlib import Path
    runs = Path(__file__).resolve().parent.parent / "results" / "sweep" / "runs"
    records = [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]
    assert len(records) >= 40
    keys = sweep.record_keys(records)
    wrong = [f"{r['setting_name']} {r['condition']} s{r['seed']}: recorded {r['student_key']}, rebuilt {k}"
             for r, k in zip(records, keys) if k != r["student_key"]]
    assert not wrong, wrong
