# ---
# jupyter:
#   cotlab:
#     figures:
#     - 03_table2b_distillation
#     reproduces:
#     - SCoTD Table 2(b)
#     - SCoTD Table 1 (student CoTs)
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
# The student is fine-tuned on the teacher's corpus in three ways (SCoTD §3.1):
#
# * **Label-only** — the answer alone (`So the answer is (b).`), no chain of thought;
# * **Greedy-CoT** — one CoT per question (the paper decodes the teacher greedily; a replayed corpus has
#   only samples, so the first usable one stands in: the first with the right answer when supervised);
# * **SCoTD** — every kept CoT, one training pair each.
#
# in two settings: **Full** (supervised: gold labels, only CoTs whose answer is right, greedy decoding)
# and **Few-shot** (no gold labels beyond the prompt: the teacher's labels, all CoTs, self-consistency
# decoding) — as in the paper. The corpus is GPT-3 on QuaRel with 5 CoTs per question (paper: 30).
# Every student is cached by a hash of (model, training pairs, hyper-parameters, seed), and every decode
# by (student, dev questions, decoding parameters): a re-run recomputes nothing.

# %% tags=["parameters"]
PROFILE = "course"
TASK = "quarel"
N_TRAIN = None   # training questions (None: the profile's n_train)
N_DEV = None     # dev questions (None: the profile's n_dev, which may mean the whole split)
STUDENT = None   # student model (None: the profile's)
EPOCHS = None
LR = None
SEED = None

# %%
from helpers import experiments, plots

run = experiments.start("03_distillation", PROFILE, seed=SEED, n_train=N_TRAIN, n_dev=N_DEV,
                        student=STUDENT, epochs=EPOCHS, lr=LR)
corpus = experiments.replay_corpus(TASK, experiments.GPT3_QUAREL, limit=run.profile.n_train)
dev = experiments.dev_examples(TASK, run.profile.n_dev)
print(f"student {run.profile.student}: {len(corpus)} training questions ({corpus.n_samples()} GPT-3 CoTs), "
      f"{len(dev)} dev questions; lr {run.profile.lr}, {run.profile.epochs} epoch(s), batch {run.profile.batch_size}")

# %% [markdown]
# ## Train and evaluate six students
#
# Each call builds the training pairs for its condition (`helpers.targets`), fine-tunes the student with
# the loss on the completion only (`helpers.train`, TRL), decodes the dev questions (`helpers.decode`)
# and scores them with a bootstrap 95% CI (`helpers.evaluate`).

# %%
rows, preds = [], {}
for setting, decode in experiments.TABLE2B_SETTINGS:          # (supervised, greedy), (few_shot, sc)
    for condition in experiments.TABLE2B_CONDITIONS:          # label_only, greedy_cot, scotd
        row, preds[setting, condition] = experiments.run_condition(
            run.profile, corpus, dev, condition=condition, setting=setting, decode=decode, seed=run.seed,
            paper=experiments.paper_value("2b", task=TASK, setting=setting, condition=condition))
        rows.append(row)
experiments.frame(rows, ["setting", "condition", "decode"])

# %% [markdown]
# ## Paired comparisons
#
# All students answer the same dev questions, so conditions are compared pairwise (McNemar's test on the
# questions where exactly one of the two is right).

# %%
tests = experiments.paired_table(preds, [("scotd", "label_only"), ("scotd", "greedy_cot"),
                                         ("greedy_cot", "label_only")])
tests

# %%
fig = plots.accuracy_bars(rows, group="setting", bar="condition", chance=experiments.CHANCE[TASK],
                          title=f"SCoTD Table 2(b) — {run.profile.student} on {TASK} dev (n={len(dev)}); "
                                "◆ = paper (OPT-1.3B, N=30)")
plots.savefig(fig, "03_table2b_distillation");

# %% [markdown]
# ## What the students write
#
# Table-1-style: the distilled students' CoTs on a few dev questions, beside the label-only student.

# %%
experiments.student_gallery(preds, dev, setting="supervised", n=3)

# %%
print(experiments.describe_distillation(rows, tests, chance=experiments.CHANCE[TASK]))

# %%
FIGURES = ['03_table2b_distillation']   # what this notebook promises; checked by run.finish()
run.save_table("table2b_distillation", rows, title="SCoTD Table 2(b) — student after distillation",
               columns=["task", "setting", "condition", "decode"],
               description="GPT-3 QuaRel corpus (5 CoTs/question); Full = supervised (gold labels, correct "
                           "CoTs, greedy decoding), Few-shot = teacher labels, all CoTs, self-consistency.",
               data=experiments.data_info(corpus, dev), extra={"paired_tests": tests.to_dict("records")})
run.finish(FIGURES);
