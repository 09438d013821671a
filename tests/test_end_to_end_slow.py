"""Real end-to-end check (slow, ~40-60 min on 2 shared cores): QuaRel, replayed GPT-3 corpus.

Label-only and SCoTD students (SmolLM2-135M) are trained on the *same* QuaRel train questions and
decoded greedily on the 278 dev questions; accuracies with bootstrap 95% CIs and a paired McNemar
test are printed and written to ``results/raw/e2e_quarel.json``. Students are cached, so a re-run
only re-decodes. The test asserts the pipeline (every dev question decoded, the SCoTD student
writes rationales and answers), not that SCoTD wins: at this scale that is the question asked.

Settings (env): ``COTLAB_E2E_N`` train questions (200), ``COTLAB_E2E_LR`` (1e-4),
``COTLAB_E2E_EPOCHS`` (1), ``COTLAB_E2E_STUDENT`` (smollm2-135m), ``COTLAB_E2E_NDEV`` (all 278).
"""
from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.slow


def replay_quarel_corpus(limit: int):
    """The MaRio GPT-3 QuaRel samples (5 per question) as a Corpus, read straight from the release."""
    from helpers.corpus import Corpus, CorpusEntry, Sample
    from helpers.rationales import load_rationales
    from helpers.tasks import load_task

    examples = load_task("quarel", "train", limit=limit)
    recs = load_rationales("mario_gpt3", "quarel", "train", examples=load_task("quarel", "train"))
    entries = [CorpusEntry(ex, [Sample(r.k, r.rationale, r.label, None, None, r.raw) for r in recs.get(ex.id, [])])
               for ex in examples]
    return Corpus(entries, {"teacher": "replay:mario_gpt3", "task": "quarel", "split": "train", "limit": limit})


def test_quarel_label_only_vs_scotd(capsys):
    from helpers import config
    from helpers.decode import timed_decode
    from helpers.evaluate import results_record
    from helpers.stats import mcnemar, seed_test
    from helpers.models import model_id
    from helpers.profiles import get_profile
    from helpers.provenance import write_json
    from helpers.targets import pairs_from_corpus
    from helpers.tasks import load_task
    from helpers.train import TrainConfig, train_student

    n = int(os.environ.get("COTLAB_E2E_N", 200))
    lr = float(os.environ.get("COTLAB_E2E_LR", 1e-4))
    epochs = float(os.environ.get("COTLAB_E2E_EPOCHS", 1))
    student_name = os.environ.get("COTLAB_E2E_STUDENT", "smollm2-135m")
    n_dev = os.environ.get("COTLAB_E2E_NDEV")
    corpus = replay_quarel_corpus(n)
    dev = load_task("quarel", "dev", limit=int(n_dev) if n_dev else None)
    cfg = TrainConfig(lr=lr, epochs=epochs, batch_size=8, max_seq_len=256, seed=0)
    profile = get_profile("course")
    out = {"settings": {"n_train_questions": n, "student": student_name, "train_config": cfg.key_fields(),
                        "n_dev": len(dev)}}
    preds_by = {}
    for cond in ("label_only", "scotd"):
        pairs = pairs_from_corpus(corpus, cond, supervised=True)
        st = train_student(student_name, pairs, cfg, progress=True,
                           info={"task": "quarel", "target": cond, "setting": "supervised", "n_questions": n})
        losses = [x["loss"] for x in st.meta["loss_curve"]]
        tok, model = st.load()
        preds, timing = timed_decode(model, tok, dev, method="greedy", max_new_tokens=80, batch_size=16)
        rec = results_record(condition=cond, task="quarel", split="dev", seed=0, preds=preds, profile=profile,
                             models={"student": model_id(student_name), "teacher": "replay:mario_gpt3"},
                             decode={"method": "greedy", "max_new_tokens": 80}, train_meta=st.meta, timing=timing)
        preds_by[cond] = preds
        out[cond] = rec
        with capsys.disabled():
            print(f"\n{cond}: {len(pairs)} pairs, {st.meta['train_seconds']} s train "
                  f"({st.meta['tokens_per_s']} tok/s), loss {losses[0]:.3f} -> {sum(losses[-5:]) / len(losses[-5:]):.3f}; "
                  f"dev acc {rec['accuracy']:.3f} [{rec['ci_low']:.3f}, {rec['ci_high']:.3f}] "
                  f"no-answer {rec['no_answer_rate']:.3f} preds {rec['pred_counts']}; "
                  f"decode {timing['tokens_per_s']:.0f} tok/s")
            print("  e.g.", repr(preds[0].text[:200]))
        assert len(preds) == len(dev)
        del model
    ids = sorted(p.id for p in preds_by["scotd"])
    a, b = ([{p.id: float(p.correct) for p in preds_by[c]}[i] for i in ids] for c in ("scotd", "label_only"))
    test = {**seed_test([a], [b]), "mcnemar_p": mcnemar(a, b)["p_value"]}
    out["scotd_vs_label_only"] = test
    path = config.results_dir() / "raw" / "e2e_quarel.json"
    write_json(path, out)
    with capsys.disabled():
        print(f"SCoTD - label-only: {100 * test['diff']:+.1f} points [{100 * test['diff_ci_low']:+.1f}, "
              f"{100 * test['diff_ci_high']:+.1f}], McNemar p={test['mcnemar_p']:.3f} -> {path}")
    # the SCoTD student writes a rationale before its answer on most questions
    scotd = preds_by["scotd"]
    assert sum(len(p.text.split()) > 8 for p in scotd) > 0.8 * len(scotd)
    assert out["scotd"]["no_answer_rate"] < 0.5
