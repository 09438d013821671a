"""Real end-to-end check (slow, ~40-60 min on 2 shared cores): QuaRel, replayed GPT-3 corpus, under the protocol.

Label-only and SCoTD students (SmolLM2-135M) are built, trained, decoded and scored exactly as the notebooks do
it — ``protocol.setup`` (the training questions, the held-out slice of train, the teacher's corpus, the majority
class), ``protocol.unit`` / ``run_units`` (every student and decode cached), ``protocol.score`` and
``protocol.summarize`` (the seed-level test against label-only) — on the 278 dev questions. The table is printed
and written to ``results/raw/e2e_quarel.json``. Students are cached, so a re-run only re-scores. The test asserts
the pipeline (every dev question decoded, the SCoTD student writes rationales and answers, the students took the
protocol's budget), not that SCoTD wins: at this scale that is the question asked.

Settings (env): ``COTLAB_E2E_N`` train questions (200), ``COTLAB_E2E_STEPS`` optimizer steps (200),
``COTLAB_E2E_LR`` (1e-4), ``COTLAB_E2E_STUDENT`` (smollm2-135m), ``COTLAB_E2E_NDEV`` (all 278),
``COTLAB_E2E_SEEDS`` (``0``; e.g. ``0,1,2`` for the seed-level test).
"""
from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.slow


def test_quarel_label_only_vs_scotd_under_the_protocol(capsys):
    from helpers import config, protocol, results
    from helpers.protocol import Budget, Protocol
    from helpers.provenance import write_json
    from helpers.targets import pairs_from_corpus

    n_dev = os.environ.get("COTLAB_E2E_NDEV")
    seeds = tuple(int(s) for s in os.environ.get("COTLAB_E2E_SEEDS", "0").split(","))
    p = Protocol(task="quarel", student=os.environ.get("COTLAB_E2E_STUDENT", "smollm2-135m"),
                 budget=Budget(steps=int(os.environ.get("COTLAB_E2E_STEPS", 200)),
                               lr=float(os.environ.get("COTLAB_E2E_LR", 1e-4))),
                 seeds=seeds, n_train=int(os.environ.get("COTLAB_E2E_N", 200)), n_heldout=32, n_diag_train=32,
                 eval_limit=int(n_dev) if n_dev else None, max_seq_len=320, max_new_tokens=96)
    s = protocol.setup(p, teacher="replay:mario_gpt3", n_samples=5)
    conditions = ("label_only", "scotd")
    units = {(c, seed): protocol.unit(p, pairs_from_corpus(s.train_corpus, c, supervised=True, seed=seed), seed=seed,
                                      info={"condition": c, "setting": "supervised"}, evaluate=s.dev, train=s.train,
                                      heldout=s.heldout)
             for c in conditions for seed in p.seeds}
    rows = []
    for (c, seed), (student, decodes) in protocol.run_units(p, units, progress=False).items():
        rows.append(protocol.score(p, student, decodes[0], s.dev, condition=c, seed=seed, train=s.train,
                                   heldout=s.heldout, pairs_for=protocol.answer_pairs(s.corpus, c)))
    steps = protocol.check_matched(rows, p.budget)
    table = protocol.summarize(rows, baseline="label_only")
    path = config.results_dir() / "raw" / "e2e_quarel.json"
    write_json(path, {"protocol": p.to_dict(), "setup": s.describe(), "rows": table + [s.majority],
                      "per_student": [{k: v for k, v in r.items() if k != "preds"} for r in rows]})
    with capsys.disabled():
        print("\n" + s.describe())
        print(results.table_markdown(table + [s.majority], ["condition"]))
        print(f"-> {path}")
    assert steps == p.budget.steps
    for r in rows:
        assert r["n"] == len(s.dev) and len(r["preds"]) == len(s.dev)       # every dev question decoded
    scotd = [x for r in rows if r["condition"] == "scotd" for x in r["preds"]]
    # the SCoTD student writes a rationale before its answer on most questions, and answers
    assert sum(len(x.texts[0].split()) > 8 for x in scotd) > 0.8 * len(scotd)
    assert sum(x.pred is None for x in scotd) < 0.5 * len(scotd)
    sc = next(t for t in table if t["condition"] == "scotd")
    assert sc["baseline"] == "label_only" and sc["diff_ci_low"] <= sc["diff"] <= sc["diff_ci_high"]
