# ---
# jupyter:
#   cotlab:
#     figures:
#     - 03_table2b_distillation
#     - 03_rq1_rationale_position
#     reproduces:
#     - SCoTD Table 2(b)
#     - SCoTD Table 1 (student CoTs)
#     - Wadhwa et al. Table 1 (RQ1, CoT before vs after the label)
#     title: 'Distillation: label-only vs greedy-CoT vs SCoTD'
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
# # 03 · Distillation — SCoTD Table 2(b)
#
# A small **student** is fine-tuned on what a **teacher** wrote, in three ways (SCoTD §3.1):
#
# * **Label-only** — the answer alone (`So the answer is (b).`), no chain of thought;
# * **Greedy-CoT** — one CoT per question (the teacher's most likely one);
# * **SCoTD** — every CoT the teacher sampled (N per question), one training pair each.
#
# The comparison is only fair if the three differ in *what* they learn from and nothing else, so every
# student is trained under one **protocol** (`helpers.protocol`): the same number of optimizer steps,
# batch size, learning rate, warm-up and schedule; three seeds each; scored on the **whole** dev split;
# with a held-out slice of the *training* split for diagnostics (the dev questions are used for nothing
# but the report). The table shows every seed, the mean with an interval that includes seed variance,
# paired tests against label-only, and the majority-class baseline.
#
# **Task.** The profile names it. `course` uses the generated **coin flip** task (`helpers.synthetic`):
# "A coin is heads up. Maya flips the coin. Omar does not flip the coin. … Is the coin still heads up?"
# The answer is the parity of the flips — not readable from the question in one step, but each step of a
# chain of thought is a local toggle a 135M model can copy. Its teacher is scripted: it writes varied,
# natural CoTs and slips (writes the wrong face) with probability 0.1 at each step, so about a third of
# its CoTs end on a wrong answer — the supervised filter has work to do, as in the paper (34–45% discarded).
# `lab` and `paper` run QuaRel with the replayed GPT-3 corpus / an endpoint teacher.

# %% tags=["parameters"]
PROFILE = "course"

# %%
from helpers import exercises, models, plots, protocol, results, show, targets
from helpers.corpus import corpus_stats, only_questions
from helpers.teacher import teacher_from_name
from helpers.corpus import sample_corpus
from helpers.train import loss_tokens

run = results.start("03_distillation", PROFILE)
P = run.profile.protocol()
train, heldout = protocol.split_train(P)
dev = protocol.eval_examples(P)
print(f"task {P.task}: {len(train)} training questions, {len(heldout)} held out from train, "
      f"{len(dev)} dev questions ({P.eval_text()})")
print(f"student {P.student}, seeds {P.seeds}")
print("budget:", P.budget.describe())

# %% [markdown]
# ## The corpus
#
# The teacher samples N chains of thought per training question (and per held-out question, used only
# for the diagnostics below). In the supervised setting, CoTs whose answer is wrong are dropped.

# %%
teacher = teacher_from_name(run.profile.teacher, task=P.task)
corpus = sample_corpus(teacher, train + heldout, n=run.profile.distill.n_samples, progress=False)
train_corpus = only_questions(corpus, train)
stats = corpus_stats(train_corpus)
print(f"{stats['samples']} CoTs from {stats['teacher']}: teacher accuracy per CoT "
      f"{100 * stats['teacher_accuracy']:.1f}%, discarded by the supervised filter {100 * stats['discard_rate']:.1f}%")
show.samples_table(train_corpus, n_questions=1)

# %% [markdown]
# ## What each student is trained on
#
# One (prompt, completion) pair per condition for the same question. Only the completion and the end-of-
# sequence token carry loss (TRL's completion-only loss); the prompt is context. SCoTD has N pairs per
# question, one per kept CoT; label-only has one pair with the answer sentence alone.

# %%
CONDITIONS = ["label_only", "greedy_cot", "scotd", "cot_after"]
pairs = {c: targets.pairs_from_corpus(train_corpus, c, supervised=True) for c in CONDITIONS}
for c in CONDITIONS:
    print(f"{c}: {len(pairs[c])} pairs; first completion:{pairs[c][0].completion}")

# %% [markdown]
# ## Exercise 4 · Training targets from a corpus row
#
# Write `make_targets(entry)` for the supervised setting: a dict with two conditions' completions.
# `"label_only"` is the answer sentence alone after one space, `" So the answer is (a)."`
# (`prompts.format_answer(ex, ex.answer)`). `"cot_after"` (Wadhwa et al. RQ1) is the answer sentence, a space,
# then the *greedy* rationale, stripped: among the correct CoTs (Exercise 3), the one with the highest teacher
# log-prob `sample.logprob` (a tie goes to the lower `sample.k`; if any lacks a log-prob, the lowest `k`). A
# question without a correct CoT gets no CoT pair: `"cot_after"` is None. The check compares yours with
# `targets.pairs_from_corpus(…, supervised=True)`.

# %% tags=["exercise:make_targets"]
def make_targets(entry):
    """{"label_only": completion, "cot_after": completion or None} of one corpus row, supervised setting."""
    ### BEGIN SOLUTION
    from helpers.prompts import format_answer
    ex = entry.example
    answer = format_answer(ex, ex.answer)
    correct = [s for s in entry.samples if s.label == ex.answer]
    if all(s.logprob is not None for s in correct):
        correct.sort(key=lambda s: (-s.logprob, s.k))
    else:
        correct.sort(key=lambda s: s.k)
    return {"label_only": f" {answer}",
            "cot_after": f" {answer} {correct[0].rationale.strip()}" if correct else None}
    ### END SOLUTION


# %% tags=["check:make_targets"]
exercises.check("make_targets", make_targets)

# %%
tok = models.load_tokenizer(P.student)          # the tokenizer alone: no weights needed to show the loss mask
show.loss_table(loss_tokens(tok, pairs["greedy_cot"][0], P.max_seq_len))

# %% [markdown]
# ## Exercise 5 · The loss mask
#
# The student reads prompt + completion + EOS as one sequence but learns only the completion. Write
# `loss_mask(tokenizer, pair)`: one flag per token of `pair.prompt + pair.completion + tokenizer.eos_token`
# (`tokenizer(text)["input_ids"]`), True where the token carries loss — the completion's tokens and the EOS —
# and False on the prompt's. The check compares yours with `train.loss_tokens` (the table above) on
# label-only, Greedy-CoT and CoT-after pairs in SmolLM2's tokens.

# %% tags=["exercise:loss_mask"]
def loss_mask(tokenizer, pair):
    """[True if the token carries loss] for every token of prompt + completion + EOS."""
    ### BEGIN SOLUTION
    n_prompt = len(tokenizer(pair.prompt)["input_ids"])
    n_all = len(tokenizer(pair.prompt + pair.completion + tokenizer.eos_token)["input_ids"])
    return [i >= n_prompt for i in range(n_all)]
    ### END SOLUTION


# %% tags=["check:loss_mask"]
exercises.check("loss_mask", loss_mask)

# %% [markdown]
# ## The experiment: every condition × every seed, at one budget
#
# `fit` trains (or reuses from the cache) a student under the protocol's budget; `decode` writes a CoT
# and an answer for every dev question (greedy); `score` computes accuracy with its bootstrap CI and the
# diagnostics. Every student and every decode is cached the moment it finishes, so a re-run — or a run
# cut off half-way — recomputes nothing that is done.
#
# One student first, in the open: the SCoTD student of the first seed — `fit`, then `decode`, then `score`.

# %%
units = {(condition, seed): protocol.unit(P, targets.pairs_from_corpus(train_corpus, condition, supervised=True,
                                                                       seed=seed),
                                          seed=seed, info={"condition": condition, "setting": "supervised"},
                                          evaluate=dev, train=train, heldout=heldout)
         for condition in CONDITIONS for seed in P.seeds}
one = units["scotd", P.seeds[0]]
student = protocol.fit(P, one.pairs, seed=one.seed, info=one.info, train=train, heldout=heldout)
print(f"{'reused' if student.reused else 'trained'}: {len(one.pairs)} pairs, {student.meta['global_steps']} steps "
      f"(stopped by {student.meta.get('stopped_by')}), {student.meta['train_seconds']:.0f}s")
preds = protocol.decode(P, student, dev, "greedy", seed=one.seed, condition="scotd")
print(f"dev question {preds[0].id}: gold {preds[0].gold}, predicted {preds[0].pred}\n{preds[0].texts[0]}")
row = protocol.score(P, student, preds, dev, condition="scotd", seed=one.seed, train=train, heldout=heldout,
                     pairs_for=protocol.answer_pairs(corpus, "scotd"))
print(f"dev accuracy {100 * row['accuracy']:.1f}% [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]")

# %% [markdown]
# The rest are the same three calls for every (condition, seed). They are independent, so `run_units` trains
# and decodes them several at a time (`$COTLAB_WORKERS` processes; `make figures` uses 2 on a CPU-only machine,
# where two 1-thread workers do 1.5× the work of one 2-thread process) and hands back each student with its
# decodes; the student above comes back from the cache.

# %%
rows = []
for (condition, seed), (student, decodes) in protocol.run_units(P, units).items():
    rows.append(protocol.score(P, student, decodes[0], dev, condition=condition, seed=seed, train=train,
                               heldout=heldout, pairs_for=protocol.answer_pairs(corpus, condition)))
    print(f"{condition:11s} seed {seed}: dev accuracy {100 * rows[-1]['accuracy']:.1f}% "
          f"({rows[-1]['train_steps']} steps, {rows[-1]['train_seconds']:.0f}s)")
steps = protocol.check_matched(rows, P.budget)

# %% [markdown]
# ## Table 2(b)
#
# Per condition: each seed's accuracy, the mean over seeds with a 95% interval (seeds and questions), the
# difference from label-only on the same questions and seeds with its interval and **the test that honours
# seed variance** (`helpers.stats.seed_test`: a paired t over seeds and questions — p < 0.05 exactly when the
# interval excludes 0), the signed difference per seed with its exact McNemar test, and `p_questions`, the
# permutation test over questions (conditional on these trained students, not a test of training). Each row
# shows the steps every seed's student took (`steps`) and how many stopped by the convergence rule. The
# majority-class row answers every question with the most frequent training answer. *paper %*: SCoTD's
# OPT-1.3B on the same task where the paper has one (it has none for the coin flip).

# %%
majority = protocol.majority_baseline(train, dev)
scotd_rows = [r for r in rows if r["condition"] in ("label_only", "greedy_cot", "scotd")]
summary = protocol.summarize(scotd_rows, baseline="label_only",
                             paper=lambda r: results.paper_value("2b", task=P.task, setting="supervised",
                                                                 condition=r["condition"]))
results.summary_frame(summary + [majority])

# %%
fig = plots.seed_points(summary, title=f"SCoTD Table 2(b) on {P.task} — {P.student}, {len(P.seeds)} seeds, "
                        f"{steps} steps each (n={len(dev)})", majority=majority["accuracy"],
                        chance=show.CHANCE.get(P.task))
plots.savefig(fig, "03_table2b_distillation");

# %% [markdown]
# ## Wadhwa et al. RQ1: the CoT before or after the label (a preview of notebook 10)
#
# Wadhwa et al. (2024, Table 1) find that a student trained with the rationale *after* the label does as
# well as or better than one trained with it before — even though at test time it answers before writing
# any reasoning. Here: no CoT (label-only), CoT before the label (= the Greedy-CoT student above, the same
# training pairs) and CoT after the label, under the same budget and seeds.

# %%
rq1_rows = [dict(r, condition={"greedy_cot": "cot_before"}.get(r["condition"], r["condition"])) for r in rows
            if r["condition"] in ("label_only", "greedy_cot", "cot_after")]
rq1 = protocol.summarize(rq1_rows, baseline="label_only")
results.summary_frame(rq1 + [majority])

# %%
fig = plots.seed_points(rq1, title=f"Wadhwa et al. Table 1 (RQ1) on {P.task} — {P.student}, {len(P.seeds)} seeds",
                        majority=majority["accuracy"], chance=show.CHANCE.get(P.task))
plots.savefig(fig, "03_rq1_rationale_position");

# %% [markdown]
# ## Diagnostics
#
# * *train / held-out accuracy*: greedy accuracy on training questions the student saw, and on the
#   held-out slice of train it did not: a student that fits its training questions but not the held-out
#   ones memorised; one that fits neither is under-trained.
# * *answer loss*: the loss on the answer sentence alone (teacher-forced, gold label), on training and
#   held-out questions — for a CoT student, given the teacher's CoT.
# * *rationale agreement*: for CoT students, the share of answers whose letter is what the student's
#   own rationale concluded (for the coin flip: the last face it wrote vs the start). Low agreement means
#   the letter is not produced *by* the reasoning.
# * *answers*: the distribution of predicted answers (a letter bias shows here).

# %%
results.summary_frame(protocol.summarize(rows, baseline="label_only"), extra=["train_accuracy", "heldout_accuracy", "answer_loss_train",
                                      "answer_loss_heldout", "rationale_agreement", "answers", "no_answer_rate"])

# %% [markdown]
# ## What the students write (SCoTD Table 1)
#
# The first dev questions, each student (seed 0).

# %%
show.student_gallery(rows, dev, n=2, seed=P.seeds[0])

# %% [markdown]
# ## Conclusions (course profile: coin flip, SmolLM2-135M, 3 seeds)
#
# Written for the committed course run (`results/course/table2b_distillation.md`,
# `rq1_rationale_position.md`; 40 steps × batch 8 for every student, all 200 dev questions); other
# profiles print their own numbers above.
#
# * **Distillation works where the answer needs steps.** Label-only students sit at 50.0% on every seed
#   (the majority class) — parity is not learned from answers alone at this budget (nor did label-only fit
#   its own training questions: 47.9%). Greedy-CoT reaches 75.7% [28.2, 100] (Δ +25.7 points [−22.7, +74.1],
#   seed-level p = 0.15) and SCoTD 82.7% [42.8, 100] (Δ +32.7 [−5.7, +71.0], p = 0.069). Over questions
#   both differences have p = 2e-4 and every seed's McNemar p < 0.05 — but that is a statement about these
#   six students, not about training: **at the seed level F1 is not shown here**, because of the next point.
# * **Seeds matter.** One seed of each CoT condition stalled (Greedy-CoT 54.0%, SCoTD 63.5%) while the
#   others reached 80–93%: per-seed differences +30.0 / +43.0 / +4.0 and +43.0 / +13.5 / +41.5. At 40
#   fixed steps the table compares trained students with untrained ones; the convergence rule (`Budget(rule=
#   "learned")`, README "The protocol") trains every student until it stops learning, and `check_matched`
#   refuses a table with a student that hit the cap.
# * **Diagnostics.** SCoTD students generalise better to held-out training questions (86.5% vs 65.6%
#   for Greedy-CoT) and their letters follow their own reasoning more often (rationale agreement 91.8% vs
#   80.0%): more distinct CoTs per question, same number of steps.
# * **Wadhwa RQ1 does not reproduce here.** CoT *after* the label scores 50.8% — no better than label-only
#   (Δ +0.8 [−3.8, +5.4], p = 0.72) and below CoT before the label (75.7%; Δ −24.8 [−68.7, +19.1], p = 0.14
#   at the seed level, with CoT before's stalled seed). Wadhwa et al. find after ≥
#   before on CSQA/OBQA/QuaRel; on a task whose answer must be *computed* step by step, a student that
#   must write the label first cannot use the reasoning it writes afterwards. A finding, not tuned away.

# %%
FIGURES = ['03_table2b_distillation', '03_rq1_rationale_position']   # what this notebook promises; checked by run.finish()
run.save_table("table2b_distillation", summary + [majority], title="SCoTD Table 2(b) — distillation under the protocol",
               columns=["condition"],
               description=f"{P.task}, student {P.student}, supervised (gold labels, correct CoTs only), greedy "
                           f"decoding; {P.budget.describe()}; seeds {list(P.seeds)}; {P.eval_text()}.",
               data=results.data_info(train_corpus, dev), extra={"protocol": P.to_dict(), "per_student": rows})
run.save_table("rq1_rationale_position", rq1 + [majority], title="Wadhwa et al. Table 1 (RQ1) — CoT before vs after the label",
               columns=["condition"],
               description=f"{P.task}, student {P.student}: no CoT vs the teacher's CoT before / after the answer "
                           f"sentence; {P.budget.describe()}; seeds {list(P.seeds)}; {P.eval_text()}.",
               data=results.data_info(train_corpus, dev), extra={"protocol": P.to_dict()})
run.finish(FIGURES);
