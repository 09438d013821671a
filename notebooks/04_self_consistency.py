# ---
# jupyter:
#   cotlab:
#     figures:
#     - 04_table3a_self_consistency
#     - 04_table3b_rationales
#     reproduces:
#     - SCoTD Table 3(a)
#     - SCoTD Table 3(b)
#     - "SCoTD Fig. 2 (QuaRel, N \u2264 5)"
#     title: Self-consistency for the student, and CoTs per question
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
# # 04 · Self-consistency for the student — SCoTD Table 3
#
# Self-consistency (Wang et al. 2022) samples k chains of thought and takes the majority answer. Does a
# distilled student benefit? SCoTD §3.2 finds: **only when it was trained on many unfiltered CoTs per
# question** (the few-shot setting) — not after the supervised filter, and not with one CoT per question.
#
# * **Table 3(a)** — SCoTD students of notebook 03 (few-shot and supervised), decoded greedily and by
#   self-consistency (paper: k=30 at T=0.7; here the profile's `sc_k`).
# * **Table 3(b)** — few-shot SCoTD trained on N CoTs per question, the first N answered of the 5 GPT-3
#   samples (the profile's `rationale_counts`: 1, 2, 3, 5 by default; 1 and 5 in `course`, which are
#   notebook 03's students and the paper's own N=1 and N=5 points; paper: 1, 5, 10, 20, 30), each decoded
#   both ways.

# %% tags=["parameters"]
PROFILE = "course"
TASK = "quarel"
N_TRAIN = None
N_DEV = None
RATIONALE_COUNTS = None   # CoTs per question for Table 3(b) (None: the profile's rationale_counts)
SEED = None

# %%
from helpers import experiments, plots

run = experiments.start("04_self_consistency", PROFILE, seed=SEED, n_train=N_TRAIN, n_dev=N_DEV,
                        rationale_counts=tuple(RATIONALE_COUNTS) if RATIONALE_COUNTS else None)
corpus = experiments.replay_corpus(TASK, experiments.GPT3_QUAREL, limit=run.profile.n_train)
dev = experiments.dev_examples(TASK, run.profile.n_dev)
print(f"{len(corpus)} training questions, {len(dev)} dev questions, self-consistency k={run.profile.sc_k} "
      f"at T={run.profile.sc_temperature}")

# %% [markdown]
# ## Table 3(a): with and without self-consistency
#
# The two SCoTD students are the ones notebook 03 trained (same cache key), so only the missing decodes run.

# %%
rows_a = []
for setting in ("few_shot", "supervised"):
    student = experiments.distill(run.profile, corpus, "scotd", setting, seed=run.seed)
    for decode in ("greedy", "sc"):
        row, _ = experiments.evaluate_student(
            run.profile, student, dev, decode, seed=run.seed, task=TASK, setting=setting, condition="scotd",
            paper=experiments.paper_value("3a", task=TASK, setting=setting, decode=decode))
        rows_a.append(row)
experiments.frame(rows_a, ["setting", "decode"])

# %%
fig = plots.accuracy_bars(rows_a, group="setting", bar="decode", chance=experiments.CHANCE[TASK],
                          title=f"SCoTD Table 3(a) — self-consistency (k={run.profile.sc_k}) on {TASK} dev; "
                                "◆ = paper")
plots.savefig(fig, "04_table3a_self_consistency");

# %% [markdown]
# ## Table 3(b): against the number of CoTs per question
#
# Few-shot SCoTD on the first N answered GPT-3 samples of each question. N=1 has exactly the training pairs
# of notebook 03's few-shot Greedy-CoT student and N=5 those of its few-shot SCoTD student, so both are
# reused from the cache; only the other N are trained here.

# %%
rows_b = []
for n in run.profile.rationale_counts:
    student = experiments.distill(run.profile, experiments.first_n(corpus, n), "scotd", "few_shot", seed=run.seed)
    for decode in ("greedy", "sc"):
        row, _ = experiments.evaluate_student(run.profile, student, dev, decode, seed=run.seed, task=TASK,
                                              setting="few_shot", condition="scotd", n_rationales=n)
        row["paper"] = experiments.paper_value("3b", task=TASK, n_rationales=n, decode=decode)
        rows_b.append(row)
experiments.frame(rows_b, ["n_rationales", "decode"])

# %%
fig = plots.rationales_curve(rows_b, paper=experiments.paper_curve("3b", task=TASK),
                             chance=experiments.CHANCE[TASK],
                             title=f"SCoTD Table 3(b) — few-shot SCoTD on {TASK}: CoTs per question")
plots.savefig(fig, "04_table3b_rationales");

# %%
print(experiments.describe_self_consistency(rows_a, rows_b))

# %%
FIGURES = ['04_table3a_self_consistency', '04_table3b_rationales']   # what this notebook promises; checked by run.finish()
run.save_table("table3a_self_consistency", rows_a, title="SCoTD Table 3(a) — student self-consistency",
               columns=["task", "setting", "decode"],
               description=f"SCoTD students of notebook 03, greedy vs self-consistency (k={run.profile.sc_k}, "
                           f"T={run.profile.sc_temperature}; paper: k=30, T=0.7).",
               data=experiments.data_info(corpus, dev))
run.save_table("table3b_rationales", rows_b, title="SCoTD Table 3(b) — few-shot SCoTD vs CoTs per question",
               columns=["task", "n_rationales", "decode"],
               description="Few-shot SCoTD trained on the first N GPT-3 CoTs per question (paper N: 1, 5, 10, 20, 30).",
               data=experiments.data_info(corpus, dev))
run.finish(FIGURES);
