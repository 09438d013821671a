# ---
# jupyter:
#   cotlab:
#     figures:
#     - 09_human_eval
#     reproduces:
#     - SCoTD Sec. 3.1.1 human evaluation (Q2, student vs teacher CoTs)
#     title: 'Human evaluation: student vs teacher CoTs, judged pairwise in a browser'
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
# # 09 · Human evaluation — SCoTD §3.1.1
#
# Accuracy says whether the student's *answers* are right; it does not say whether its chains of thought
# are any good. SCoTD (§3.1.1, Appendix A) asks people: crowdworkers see a question and two step-by-step
# reasoning chains, **with the final answers removed**, and pick the one "more likely to lead to a correct
# answer" (more relevant and correct facts, more fluent). Against the 100× larger teacher (Q2), the
# distilled OPT-1.3B won **47%** of a random sample (N = 900) and **51%** where both answered correctly
# (N = 659): equal preference was not rejected (p > .01) — the student's CoTs are *comparable*.
#
# This notebook builds the same comparison for a person with a browser:
#
# 1. the pairs — notebook 03's SCoTD student (first seed, greedy) and the profile's teacher on the same
#    questions, each chain cut before its answer sentence; which one is shown as **A** is balanced and
#    random, and the page never says which is the student;
# 2. `page.html` — one self-contained file (no network): an annotator id, one pair at a time (A better /
#    about the same / B better), progress saved in the browser, an **Export** button that downloads the
#    judgments as JSON;
# 3. the import — every file in `judgments/` is checked against the page's key (`page.json`): a file for
#    another page, an unknown pair, a bad choice or a pair judged twice by one annotator stops the
#    notebook with one line naming the file, the row and the field;
# 4. the analysis — student better / tie / teacher better, the student's win rate among non-tied judgments
#    with an exact binomial test against 50% and a Clopper–Pearson 95% interval, beside the paper's.
#
# **No judgments are made up.** Until a person has judged the page and dropped the export into
# `judgments/`, the notebook says so and analyses nothing; the figure then shows only what is on the page.

# %% tags=["parameters"]
PROFILE = "course"

# %%
import pandas as pd
from IPython.display import display

from helpers import human_eval, plots, protocol, results, targets
from helpers.corpus import only_questions, sample_corpus
from helpers.teacher import teacher_from_name

run = results.start("09_human_eval", PROFILE)
P = run.profile.protocol()
H = run.profile.human_eval
train, heldout = protocol.split_train(P)
dev = protocol.eval_examples(P)
SEED = P.seeds[0]
print(f"task {P.task}, student {P.student} (SCoTD, seed {SEED}), teacher {run.profile.teacher}")
print(f"page: {H.n_questions} questions from {'the ' + P.eval_split + ' split' if H.questions == 'eval' else 'the held-out slice of train'}")

# %% [markdown]
# ## The student: notebook 03's SCoTD student
#
# The same corpus, pairs, budget and seed as notebook 03, so `fit` finds 03's student in the cache (on a
# fresh cache it trains it). Its greedy decode of the question pool is the one 03 scored (cached too).

# %%
teacher = teacher_from_name(run.profile.teacher, task=P.task)
corpus = sample_corpus(teacher, train + heldout, n=run.profile.distill.n_samples, progress=False)
train_corpus = only_questions(corpus, train)
student = protocol.fit(P, targets.pairs_from_corpus(train_corpus, "scotd", supervised=True, seed=SEED), seed=SEED,
                       info={"condition": "scotd", "setting": "supervised"}, train=train, heldout=heldout)
pool = human_eval.question_pool(H.questions, dev, heldout)
preds = protocol.decode(P, student, pool, "greedy", seed=SEED, condition="scotd")
print(f"student {student.key} ({'reused from the cache' if student.reused else 'trained now'}); "
      f"greedy accuracy on the {len(pool)} pool questions {100 * sum(p.correct for p in preds) / len(preds):.1f}%")

# %% [markdown]
# ## The pairs and the page
#
# A seeded random sample of the pool; for each question the teacher's first chain of thought at the
# corpus's temperature (the kind of CoT the student was trained on) and the student's greedy one.

# %%
questions = human_eval.sample_questions(pool, H.n_questions, seed=H.seed)
teacher_cots = sample_corpus(teacher, questions, n=1, temperature=H.teacher_temperature, progress=False)
pairs = human_eval.build_pairs(questions, preds, teacher_cots, seed=H.seed)
page = human_eval.make_page(pairs, title=f"Reasoning chains for {P.task} questions",   # shown: names neither system
                            meta={"profile": run.profile.name, "task": P.task, "student": P.student,
                                  "student_key": student.key, "student_seed": SEED, "decode": "greedy",
                                  "teacher": teacher.teacher_id, "teacher_temperature": H.teacher_temperature,
                                  "questions": H.questions, "question_ids": [q.id for q in questions],
                                  "final_answers": "removed (SCoTD §3.1.1)"})
folder = run.results_dir / "human_eval"
html_path, key_path = human_eval.write_page(page, folder)
stats = human_eval.pair_stats(page)
print(f"page {page.page_id}: {len(page.pairs)} pairs → {html_path}\n  key (A/B sides, answers) → {key_path}")
print(f"student shown as A in {sum(s['student_shown_as'] == 'A' for s in stats)} of {len(stats)} pairs; "
      f"both answers correct in {sum(s['student_correct'] and s['teacher_correct'] for s in stats)}")

# %% [markdown]
# One pair as the analyst sees it (the annotator sees the question and the two chains, nothing else):

# %%
human_eval.pair_frame(page, n=1)

# %% [markdown]
# ## Judging (a person, in a browser)
#
# Open `page.html` (printed above; `results/<profile>/human_eval/page.html`) in any browser, enter an
# annotator id, judge the pairs (keys 1 / 2 / 3), press **Export judgments**, and put the downloaded
# `judgments-<page>-<annotator>.json` into `results/<profile>/human_eval/judgments/`. Then run this
# notebook again. One export per annotator: the latest holds all of that annotator's judgments.
# (`python -m helpers human-eval --page …/page.json` checks and summarises files without the notebook.)

# %%
judgment_dir = folder / "judgments"
files = human_eval.judgment_files(judgment_dir)
judgments = human_eval.load_judgments(files, page)
analysis = human_eval.analyse(judgments, page) if judgments else None
if analysis is None:
    print(f"No human judgments yet: {judgment_dir} holds no exported file. Nothing is analysed; the table "
          "below shows the paper's numbers only.")
else:
    print(f"{len(judgments)} judgments from {len(files)} file(s) by {len({j.annotator for j in judgments})} "
          f"annotator(s) on {len({j.pair_id for j in judgments})} of {len(page.pairs)} pairs")

# %% [markdown]
# ## SCoTD §3.1.1 Q2: the student against the teacher
#
# *student win %*: the share of non-tied judgments preferring the student's chain (the paper's forced choice
# had no ties), with its exact (Clopper–Pearson) 95% interval and the two-sided binomial test of 50%;
# *good or better %*: student better or tie, among all judgments. *Both answers correct* is the paper's
# correctness-controlled sample. Judgments are pooled over annotators, as in the paper; several
# annotators on one pair are not independent, so read p with that in mind when they overlap.

# %%
rows = human_eval.result_rows(analysis, page)
pd.DataFrame(rows)[human_eval.RESULT_COLUMNS]

# %%
if analysis is not None:
    pos, agr = analysis["position"], analysis["agreement"]
    print(f"position: A chosen in {results.pct(pos['chose_a_rate'])}% of {pos['non_tie']} non-tied judgments "
          f"(binomial p vs 50%: {'–' if pos['p_value'] is None else format(pos['p_value'], '.2g')})")
    print(f"agreement: {agr['pairs_judged_twice_or_more']} pairs judged by ≥ 2 annotators; same verdict in "
          f"{results.pct(agr['rate'])}% of {agr['annotator_pairs']} annotator pairs")
    display(pd.DataFrame(analysis["per_annotator"]))

# %%
fig = plots.human_eval_figure(rows, stats, title=f"SCoTD §3.1.1 on {P.task} — {P.student} (SCoTD) vs "
                              f"{teacher.teacher_id}, page {page.page_id}")
plots.savefig(fig, "09_human_eval");

# %% [markdown]
# ## Reading it
#
# * A win rate near 50% with an interval that covers it is the paper's finding: the student's chains are
#   *comparable* to the teacher's. Far below 50% means the people could tell the student's chains apart
#   as worse — at a 135M student and a minutes-long budget, expect that on some questions.
# * Compare *both answers correct* with *all pairs*: where both systems got the answer right, what is left
#   to judge is the reasoning itself (fluency, relevant steps), not who reached the right answer.
# * On `course` the teacher is scripted (coin flip, 10% slips per step): its chains are templated and
#   fluent by construction, so the judgment is mostly whether each step tracks the coin correctly.
# * Check the position line: a strong preference for A (or B) regardless of content means the order
#   randomisation is doing real work, and per-annotator rows show whether one person drives the result.

# %%
FIGURES = ['09_human_eval']   # what this notebook promises; checked by run.finish()
run.save_table("human_eval", rows, title="SCoTD §3.1.1 — pairwise human evaluation: SCoTD student vs teacher",
               columns=human_eval.RESULT_COLUMNS,
               description=f"{P.task}: {P.student} SCoTD student (seed {SEED}, greedy) vs {teacher.teacher_id}, "
                           f"{len(page.pairs)} pairs (page {page.page_id}), final answers removed; people judged "
                           "which chain is more likely to lead to a correct answer. Win % among non-tied judgments, "
                           "Clopper–Pearson 95% CI, exact binomial test vs 50%. Paper: OPT-1.3B + SCoTD vs "
                           "text-davinci-002, forced choice, CSQA + QuaRel + OBQA.",
               notes="" if analysis else "No human judgments have been imported yet: nothing of ours to report.",
               data=results.data_info(dev=questions, page_id=page.page_id, judgment_files=[f.name for f in files]),
               extra={"page": {"page_id": page.page_id, "html": "human_eval/page.html", "key": "human_eval/page.json",
                               **page.meta},
                      "analysis": analysis, "pair_stats": stats})
run.finish(FIGURES);
