# ---
# jupyter:
#   cotlab:
#     figures:
#     - 10_table1_rationale_position
#     - 10_fig3_fillers
#     - 10_fig2_lens
#     reproduces:
#     - Wadhwa et al. Table 1
#     - Wadhwa et al. Fig. 2
#     - Wadhwa et al. Fig. 3
#     title: "RQ1: where the rationale goes — before or after the label"
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: cotlab,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10 · RQ1: the rationale before or after the label — Wadhwa et al. 2024, Table 1, Fig. 2, Fig. 3
#
# Wadhwa et al. ask *why* CoT-augmented distillation helps. Their first question: does it matter where
# the rationale sits in the training target?
#
# * **No CoT** — `So the answer is (b).`
# * **CoT before the label** — `<rationale> So the answer is (b).` (the usual CoT student: it reasons, then answers)
# * **CoT after the label** — `So the answer is (b). <rationale>` (at test time it answers first and
#   can stop there: it never gets to use the reasoning it would write)
#
# They find **after ≥ before > no CoT** on CSQA, OBQA and QuaRel (Table 1) and conclude that the
# benefit is not test-time reasoning but a richer training signal. Then two probes:
#
# * **Fig. 3 — is it just extra compute?** Replace the rationale by k `<unk>` filler tokens before the
#   label. Paper: accuracy rises up to ~11 fillers, plateaus, then declines, and never reaches CoT.
# * **Fig. 2 — when does the student know the answer?** Read the probability of the gold label at the
#   label position from every layer (logit lens; tuned lens, Belrose et al. 2023). Paper: CoT-after
#   students are confident earliest (layer-wise), no-CoT students latest.
#
# Everything runs under the protocol (`helpers.protocol`): every student trained by the same rule (until
# it stops learning), every seed of the profile, the full dev split, paired seed-level tests against no CoT,
# the majority baseline.
#
# **The task.** On the coin flip (notebooks 00–09) the answer has to be *computed*: a student that writes the
# label first cannot use a rationale it writes afterwards, so CoT-after cannot help there by construction.
# `course` therefore runs 10–12 on **creatures** (`helpers.synthetic.generate_creatures`, `data/README.md`):
# invented animals with four hidden attributes (habitat, diet, size, time of day); a yes/no question's answer
# is a fixed rule of one attribute ("Can a peman swim?" ⇔ it lives in water). Training *labels* reveal two
# attributes of each creature; the teacher's *rationales* state all four. The reported split (`dev`) asks
# about the other two — facts that only rationales stated, so a label-only student's ceiling there is chance
# (tested over 30 generated datasets) while a student that absorbed the rationales can do better. Two control
# splits are scored beside it: `dev_seen` (trained facts, new wording: every student that trained must do
# well) and `dev_new` (creatures never trained on: everyone at chance — nothing leaks).
# For an answer-first student the gold label's teacher-forced log-odds (`gold_margin`) is read on each split
# too: continuous where accuracy moves in steps.

# %% tags=["parameters"]
PROFILE = "course"

# %%
import dataclasses

import numpy as np

from helpers import analysis, models, plots, protocol, results, show, stats, targets
from helpers.corpus import only_questions
from helpers.tasks import get_spec

run = results.start("10_rq1_rationale_position", PROFILE)
W = run.profile.wadhwa
D = run.profile.wadhwa_distill                 # this notebook's task, teacher and protocol (course: creatures)
P = D.protocol(run.profile)
setup = protocol.setup(P, teacher=D.teacher, n_samples=D.n_samples)
print(setup.describe())
train, heldout, dev, corpus, train_corpus, majority = (setup.train, setup.heldout, setup.dev, setup.corpus,
                                                       setup.train_corpus, setup.majority)
controls = setup.controls              # {split: questions}: empty for a task without control splits
print(f"students {list(W.students)}")

# %% [markdown]
# ## The three training targets for one question
#
# The rationale is the teacher's first correct CoT for the question (supervised: gold label). Only the
# completion carries loss; the prompt is the same for every condition.

# %%
TABLE1 = ["label_only", "cot_before", "cot_after"]
for c in TABLE1:
    pair = targets.pairs_from_corpus(only_questions(train_corpus, train[:1]), c)[0]
    print(f"--- {c}:{pair.completion}")
print("--- prompt:\n" + pair.prompt)

# %% [markdown]
# ## Table 1: no CoT vs CoT before vs CoT after, for every student of the profile
#
# The loop: for each student model, condition and seed, a unit — `fit` trains (or reuses) a student under
# the profile's rule and `decode` answers every dev question (and each control split's) greedily — run
# several at a time by `run_units` (notebook 03). A CoT-after student is stopped at its
# answer sentence (it would go on to write the rationale, which is not needed for the answer).

# %%
rows = []
for name in W.students:
    Ps = dataclasses.replace(P, student=name)
    units = {(condition, seed): protocol.unit(Ps, targets.pairs_from_corpus(train_corpus, condition, supervised=True,
                                                                            seed=seed),
                                              seed=seed, info={"condition": condition, "setting": "supervised"},
                                              evaluate=dev, also=controls, train=train, heldout=heldout,
                                              pairs_for=protocol.answer_pairs(corpus, condition))
             for condition in TABLE1 for seed in P.seeds}
    for (condition, seed), (student, decodes) in protocol.run_units(Ps, units).items():
        rows.append(protocol.score(Ps, student, decodes[0], dev, condition=condition, seed=seed, model=name,
                                   train=train, heldout=heldout, pairs_for=protocol.answer_pairs(corpus, condition),
                                   controls=decodes.controls(controls)))
        print(f"{name} {condition:10s} seed {seed}: {100 * rows[-1]['accuracy']:.1f}% "
              f"({rows[-1]['train_steps']} steps, {rows[-1]['stopped_by']})"
              + "".join(f"; {k} {100 * v['accuracy']:.1f}%" for k, v in rows[-1].get("splits", {}).items()))
steps = protocol.check_matched(rows, P.budget)
table1 = protocol.summarize(rows, group=("model", "condition"), baseline="label_only",
                            paper=lambda r: results.wadhwa_value("1", task=W.paper_task or P.task, condition=r["condition"]))
results.summary_frame(table1 + [majority], keys=("model", "condition"),
                      extra=["train_accuracy", "heldout_accuracy", "answer_loss_train", "rationale_agreement",
                             "gold_margin_split"])

# %% [markdown]
# The control splits (where the task has them), each with the same seed-level table against no CoT:
# `dev_seen` shows that every student learned what its labels taught, `dev_new` that nothing else leaks in.

# %%
control_tables = []
for split in controls:
    control_tables += [dict(r, split=split) for r in protocol.summarize(protocol.on_split(rows, split),
                                                                         group=("model", "condition"),
                                                                         baseline="label_only")]
if control_tables:
    display(results.summary_frame(control_tables, keys=("split", "model", "condition"), extra=["gold_margin_split"]))

# %% [markdown]
# *paper %* is Wadhwa et al.'s GPT-2 on the same task where the paper has it (CSQA, OBQA, QuaRel; none for
# the coin flip). The after-vs-before comparison, paired by seed and question:

# %%
after_vs_before = protocol.summarize([dict(r) for r in rows if r["condition"] in ("cot_before", "cot_after")],
                                     group=("model", "condition"), baseline="cot_before")
results.summary_frame([r for r in after_vs_before if r["condition"] == "cot_after"], keys=("model", "condition"))

# %%
fig = plots.seed_points(table1, x="condition", hue="model" if len(W.students) > 1 else None,
                        majority=majority["accuracy"], chance=show.CHANCE.get(P.task),
                        title=f"Wadhwa Table 1 on {P.task} — {len(P.seeds)} seeds, {steps} steps (n={len(dev)})")
plots.savefig(fig, "10_table1_rationale_position");

# %% [markdown]
# ## Fig. 3: `<unk>` fillers instead of a rationale
#
# The target is `<unk> × k  So the answer is (b).`: the same extra positions before the label as a short
# rationale, with no information in them. k = 0 is the no-CoT student. The filler is the tokenizer's
# own unknown token where it has a dedicated one (Gemma's `<unk>`), else a new `<unk>` token added to the
# vocabulary with its embedding started from the space token's (SmolLM2's `unk_token` is
# `<|endoftext|>`, its pretraining's document separator, so it gets the new one). Started from the
# embeddings' mean instead, the new token was never learnt in 40 steps and the students answered nothing.

# %%
P0 = dataclasses.replace(P, student=W.students[0])
student_tok = models.load_tokenizer(P0.student)
example_pair = targets.pairs_from_corpus(only_questions(train_corpus, train[:1]), "filler", k=W.filler_counts[0],
                                         tokenizer=student_tok)[0]
print(example_pair.completion)
print(student_tok.tokenize(example_pair.completion))

# %%
rows_f = [dict(r, condition="k=0", n_fillers=0) for r in rows
          if r["condition"] == "label_only" and r["model"] == W.students[0]]
units_f = {(k, seed): protocol.unit(P0, targets.pairs_from_corpus(train_corpus, "filler", supervised=True, k=k,
                                                                  seed=seed, tokenizer=student_tok),
                                    seed=seed, info={"condition": "filler", "n_fillers": k, "setting": "supervised"},
                                    evaluate=dev, train=train, heldout=heldout, diagnostics=False)
           for k in W.filler_counts for seed in P.seeds}
for (k, seed), (student, (preds,)) in protocol.run_units(P0, units_f).items():
    rows_f.append(protocol.score(P0, student, preds, dev, condition=f"k={k}", seed=seed, n_fillers=k,
                                 diagnostics=False))
protocol.check_matched(rows_f, P.budget)
fillers = protocol.summarize(rows_f, baseline="k=0", carry=("n_fillers",))
results.summary_frame(fillers, extra=["n_fillers", "no_answer_rate"])

# %%
cot_means = {c: next(r["accuracy"] for r in table1 if r["condition"] == c and r["model"] == W.students[0])
             for c in ("cot_before", "cot_after")}
fig = plots.metric_curve(fillers, x="n_fillers", xlabel="<unk> fillers before the label (k)", refs=cot_means,
                         majority=majority["accuracy"], chance=show.CHANCE.get(P.task),
                         title=f"Wadhwa Fig. 3 on {P.task} — {W.students[0]}, {len(P.seeds)} seeds")
plots.savefig(fig, "10_fig3_fillers");

# %% [markdown]
# ## Fig. 2: when does the student know the label? Logit lens and tuned lens
#
# For the dev questions that **all three** students of a seed answer correctly (as in the paper) — or,
# when fewer than 10 are (students at chance: a label-only student that always answers (b) and a CoT-after
# student that always answers (a) share none), the questions the CoT-before student answers correctly,
# every student read on the same questions (`analysis.lens_questions` says which rule applied) — the
# prefix is the question plus what the student itself wrote up to the label — `So the answer is (` — and
# the lens reads P(gold label letter) there from every layer: the residual stream after block l, through
# the final norm and the unembedding (logit lens), or first through a per-layer affine translator trained
# on the student's own training texts (tuned lens: the `tuned-lens` package's `TunedLens`, trained with
# its default optimizer for the profile's `tuned_lens_steps`). The last layer is the student's actual
# output. The profile's `lens_seeds` says how many seeds get lenses (course: the first; the lens is a
# description of trained students, and a tuned lens costs minutes per student on 2 cores).

# %%
per_layer = {lens: {c: [] for c in TABLE1} for lens in analysis.LENSES}    # lens → condition → [items × layers]
lens_seeds = P.seeds[:W.lens_seeds]
for seed in lens_seeds:
    seed_rows = {c: next(r for r in rows if r["model"] == W.students[0] and r["condition"] == c and r["seed"] == seed)
                 for c in TABLE1}
    ids, which = analysis.lens_questions(dev, {c: r["preds"] for c, r in seed_rows.items()}, W.n_lens)
    lens_rule = f"seed {seed}: {len(ids)} questions — those {which}"
    if not ids:     # e.g. smoke's random students: read the lens right after the question, with no student text
        lens_rule = (f"seed {seed}: no dev question answered correctly — the lens is read at the label position right "
                     f"after the question (no rationale) for the first {W.n_lens} questions")
    print(lens_rule)
    for c, r in seed_rows.items():
        pairs = targets.pairs_from_corpus(train_corpus, c, supervised=True, seed=seed)
        student = protocol.fit(P0, pairs, seed=seed, train=train, heldout=heldout,
                               info={"condition": c, "setting": "supervised"})       # cached: Table 1's student
        tok, model = student.load()
        # the label position: after the student's own rationale (CoT before) or right after the question
        items = (analysis.label_position_items(dev, [p for p in r["preds"] if p.id in ids]) if ids
                 else [(ex, "") for ex in dev[:W.n_lens]])
        texts = [p.prompt + p.completion for p in pairs]          # the tuned lens learns on the student's own texts
        for name, m in analysis.student_lenses(model, tok, items, texts, steps=W.tuned_lens_steps, seed=seed,
                                               tokens_per_step=W.lens_tokens_per_step).items():
            per_layer[name][c].append(m)
        del model
curves, lens_rows, lens_tests = analysis.lens_summary(per_layer, baseline="label_only", threshold=0.6)
print(f"{len(curves['logit lens']['label_only']['mean']) - 1} layers; "
      f"{sum(len(x) for x in per_layer['logit lens']['label_only'])} questions per condition, seeds {list(lens_seeds)}")

# %% [markdown]
# The paper's reading: how early (in layers) the gold label becomes likely. Per lens, the first layer at
# which the mean probability passes 0.6, and the mid-network probability of CoT-after and CoT-before
# students against no CoT, paired over the same questions (a one-sample t test over questions, with the
# permutation p beside it: both conditional on these trained students — the lens reads one seed's students):

# %%
import pandas as pd
pd.DataFrame(lens_tests)

# %%
fig = plots.lens_figure(curves, title=f"Wadhwa Fig. 2 on {P.task} — {W.students[0]}: P(gold label) by layer, "
                                      f"{len(per_layer['logit lens']['label_only'][0])} questions ({which.split(' (')[0]})")
plots.savefig(fig, "10_fig2_lens");

# %% [markdown]
# ## Conclusions
#
# **Status.** `course` now runs this notebook on **creatures** by the convergence rule with its train-slice
# requirement (patience counts only once a student answers 90% of its own training questions); that full run
# (Table 1 with CoT before the label, the filler curve, the lenses) has not been made yet. The read-out so far is
# the sweep's (`results/sweep/README.md`, setting `creatures`: the same students this notebook trains — same cache
# keys, `tests/test_sweep.py`), SmolLM2-135M, seeds 0–4, majority class 50.0%, every student learned its own
# training questions (train slice ≥ 93.8%):
#
# * **Label-only learned what its labels taught, and nothing more** — stopped by patience at steps 320 / 400 / 320
#   / 280 / 280: 85.8% on `dev_seen` (trained facts, a wording never seen; 94.8 / 80.2 / 84.4 / 87.5 / 82.3 per
#   seed) and **52.1% [45.6, 58.6] on the key split** (facts no label showed: chance, as the generator guarantees;
#   49.5 / 52.6 / 55.7 / 50.5 / 52.1).
# * **CoT after the label: the paper's direction on every seed** — 56.7% [50.2, 63.2] on the key split
#   (54.7 / 56.8 / 59.9 / 55.2 / 56.8), **+4.6 [+0.4, +8.8] over label-only, seed-level p = 0.033** (per seed
#   +5.2, +4.2, +4.2, +4.7, +4.7: the seeds agree; the interval's width is the 192 questions'); `dev_seen` 83.5%
#   (−2.3, p = 0.54), `dev_new` 56.6% (label-only 51.2%, p = 0.36: nothing leaks). The gold label's log-odds on
#   the key split: +0.80 against +0.34. At three seeds the interval cleared zero by 0.005 points (p = 0.0498);
#   seeds 3 and 4 went the same way.
# * **What it cost.** CoT after the label stopped by patience at step 360 on seeds 0, 1 and 4; seeds 2 and 3 were
#   stopped by the 400-step cap with held-out accuracy still moving (seed 3: 84.4% at step 360, 75.0% and 81.3%
#   after), so their kept weights are step 360's, the best held-out ones. The table holds two capped students,
#   which the convergence rule refuses unless said: said here — CoT after the label needs 360–400+ steps where
#   label-only converges in 280–400 (64–117 min a student against 22–68 min, one thread beside other jobs). A
#   higher cap is a new cache key for every student of the block, so it is left for a run that can retrain all of
#   them.
# * **CoT before the label, three seeds: 91.7 / 89.1 / 94.8% on the key split** (patience at steps 300 / 240 / 260,
#   train slice 100 / 100 / 93.8%; `dev_seen` 92.7%, `dev_new` 54.7% — chance where no rationale ever spoke of the
#   creature). Before − none +39.2 [+31.4, +47.1], p = 1e-13; **after − before −34.7 [−42.3, −27.1], seed-level
#   p = 4e-14** (per seed −37.0 / −32.3 / −34.9). So on creatures the paper's ordering "after ≥ before > none"
#   holds in its second half and is reversed in its first: a student that writes its
#   rationale first recalls the creature's facts, as the training rationales stated them, and answers from them;
#   one that must answer first gets only what the rationale's loss left in its weights (+4.6 points). Here the
#   rationale is the only source of the deciding fact, so writing it out at test time is what recalls it; why the
#   paper's tasks order the two the other way is not something this task can say.
#
# The bullets below are the earlier coin-flip run (40 fixed steps; `results/course/rq1_*` still holds it): what a
# parity task shows — that a label written first cannot use reasoning written after it.
#
# Course run: coin flip, SmolLM2-135M, 40 steps × batch 8 for every student, seeds 0/1/2, all 200 dev
# questions; majority class 50.0 %. Mean [95 % CI over seeds and questions], Δ [CI], seed-level p.
#
# * **Table 1 (the students of notebook 03):** no CoT 50.0; CoT before the label 75.7, Δ +25.7 [−22.7,
#   +74.1], p = 0.15 (one of its seeds stalled at 54.0; over questions p = 2e-4); CoT after the label 50.8,
#   Δ +0.8 [−3.8, +5.4], p = 0.72. Ordering measured: **before > after ≈ none** in the mean, before > none
#   not shown at the seed level. The paper (GPT-2 on CSQA/OBQA/QuaRel) finds after
#   ≥ before > none — that CoT helps even when it comes after the label. It does not reproduce here: on a
#   parity task the answer needs the computation, and a student that must commit to the label first cannot
#   use reasoning it writes afterwards; whatever CoT-after training teaches the representations, it does not
#   reach the label at this budget.
# * **Fig. 3 (`<unk>` fillers before the label):** k = 4 50.0 [43.3, 57.0], k = 12 49.2 [44.0, 54.0], k = 32
#   50.8 [44.3, 57.2]; every Δ vs k = 0 within ±1 point (p ≥ 0.57). Extra positions without content are not
#   extra reasoning here — consistent with the paper's point that fillers never reach CoT, but without its
#   small rise up to ~11 fillers. (A first run scored 0 %: the new `<unk>` token, started at the embeddings'
#   mean, was never learnt in 40 steps; it now starts from the space token's embedding — tested.)
# * **Fig. 2 (lenses, seed 0, 48 questions):** no dev question is answered correctly by all three students
#   (label-only always answers one letter, CoT-after the other), so the lenses are read on 48 questions the
#   CoT-before student gets right. Logit lens: P(gold) ≈ 0 in every layer before the last for all three
#   students (the last: no CoT 0.50, before 0.62, after 0.51). Tuned lens (40 steps): the CoT-before student's
#   P(gold) is near 0 up to the middle layer (0.025 at layer 15 vs 0.43 for no CoT, Δ −0.40 [−0.46, −0.35],
#   p = 2e-4) and rises only in the last layers (first above 0.6 at layer 28 of 30); CoT-after stays near 0.5
#   (0.32 at layer 15, Δ −0.11 [−0.22, −0.01], p = 0.04 vs no CoT). So the label is decided late, and only
#   in the student whose rationale comes first; the paper's RQ1 reading (CoT-after students are confident
#   earlier) has nothing to show here, since those students never learned the label. One seed, 40 lens steps:
#   a description of these students, not a general claim.

# %%
FIGURES = ['10_table1_rationale_position', '10_fig3_fillers', '10_fig2_lens']   # checked by run.finish()
run.save_table("rq1_table1", table1 + [majority], title="Wadhwa et al. Table 1 — no CoT vs CoT before vs after the label",
               columns=["model", "condition"],
               description=f"{P.task}: supervised (gold-label) rationales from {D.teacher}; "
                           f"{P.budget.describe()}; seeds {list(P.seeds)}; {P.eval_text()}; greedy decoding "
                           f"(CoT-after students stop at the answer). Paper: GPT-2 on {W.paper_task or P.task}.",
               data=results.data_info(train_corpus, dev), extra={"protocol": P.to_dict(), "per_student": rows,
                                                                 "after_vs_before": after_vs_before})
if control_tables:
    run.save_table("rq1_table1_controls", control_tables,
                   title="Wadhwa et al. Table 1 — the control splits (trained facts in a new wording; new creatures)",
                   columns=["split", "model", "condition"],
                   description=f"{P.task}: the Table 1 students on each control split — "
                               + "; ".join(f"{k}: {v}" for k, v in get_spec(P.task).controls.items())
                               + f". Δ and seed-level p against no CoT; gold_margin_split: mean teacher-forced "
                                 f"log p(gold answer) − log p(other answer) of answer-first students.",
                   data=results.data_info(train_corpus, dev), extra={"protocol": P.to_dict()})
run.save_table("rq1_fig3_fillers", fillers + [majority], title="Wadhwa et al. Fig. 3 — <unk> fillers before the label",
               columns=["condition"],
               description=f"{P.task}, {W.students[0]}: k filler tokens before the answer sentence (k=0: no CoT); "
                           f"Δ and p against k=0; CoT before / after: "
                           + ", ".join(f"{c} {100 * v:.1f}%" for c, v in cot_means.items()) + ".",
               data=results.data_info(train_corpus, dev), extra={"protocol": P.to_dict(), "per_student": rows_f})
run.save_table("rq1_fig2_lens", lens_rows, title="Wadhwa et al. Fig. 2 — P(gold label) by layer (logit / tuned lens)",
               columns=["lens", "condition", "layer"],
               description=f"{P.task}, {W.students[0]}: ≤ {W.n_lens} dev questions per seed ({lens_rule}), "
                           f"seeds {list(lens_seeds)}; tuned lens: {W.tuned_lens_steps} translator steps per "
                           f"student on its training texts.",
               data=results.data_info(train_corpus, dev), extra={"tests": lens_tests})
run.finish(FIGURES);
