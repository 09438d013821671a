# ---
# jupyter:
#   cotlab:
#     figures:
#     - 01_table2a_prompting
#     reproduces:
#     - "SCoTD \xA72 (prompt set P, sampling N CoTs)"
#     - SCoTD Table 2(a)
#     title: 'Teacher prompting: prompt set P, live CoT sampling'
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
# # 01 · Teacher prompting — SCoTD §2 and Table 2(a)
#
# The first step of SCoTD is a few-shot **prompt set P**: a handful of training questions, each with its
# gold answer and a chain of thought written by hand. Prompted with P, a large teacher writes useful CoTs;
# a small model prompted the same way does not — which is why SCoTD *distills* instead of prompting.
#
# This notebook shows (1) the prompt set, (2) N chains of thought sampled live from a local teacher, and
# (3) SCoTD **Table 2(a)**: teacher vs. un-distilled student, each prompted three ways — *No CoT*
# (exemplars with answers only), *Greedy* CoT, and *Self-consistency* (k sampled CoTs, majority vote).
#
# **Scale.** The local teacher (`qwen2.5-0.5b` in `course`, `smollm2-135m` in `smoke`; any
# OpenAI-compatible endpoint in `paper`) is ~350× smaller than GPT-3. On QuaRel it sits near chance, like
# the paper's OPT-1.3B: it shows the mechanics and Table 2(a)'s point, while the distillation notebooks
# (02–04) train on the *replayed* GPT-3 corpus.

# %% tags=["parameters"]
PROFILE = "course"
TASK = "quarel"
N_QUESTIONS = None   # dev questions for Table 2(a) (None: the profile's n_prompt_eval)
SHOTS = None         # exemplars in each prompt (None: the profile's prompt_shots)
N_LIVE = None        # training questions sampled live (None: the profile's n_live_questions)

# %%
from helpers import experiments, plots, prompts

run = experiments.start("01_teacher_prompting", PROFILE, n_prompt_eval=N_QUESTIONS,
                        prompt_shots=SHOTS, n_live_questions=N_LIVE)
shots = run.profile.prompt_shots
dev = experiments.dev_examples(TASK, run.profile.n_prompt_eval)
print(f"{len(dev)} {TASK} dev questions; teacher {run.profile.teacher_live}, student {run.profile.student}, "
      f"{shots or 'all'} shots")

# %% [markdown]
# ## The prompt set P
#
# Written for this project from QuaRel *training* questions (so no dev question appears in a prompt).
# Every exemplar ends in the suite's one answer convention, `So the answer is (b).`, which
# `prompts.extract_answer` reads back (or reports as *no answer*).

# %%
experiments.exemplar_table(TASK)

# %%
print(prompts.build_prompt(dev[0], shots=shots))

# %% [markdown]
# ## Sampling N chains of thought from the teacher
#
# `LocalTeacher` samples N CoTs per question in one batched `generate` call (`num_return_sequences`),
# with the log-probability of each under the teacher. Every sample is appended to a durable cache the
# moment it returns, so re-running this cell costs nothing and a killed run resumes.

# %%
teacher = experiments.make_teacher(run.profile.teacher_live)
live = experiments.live_corpus(run.profile, TASK, teacher=teacher, seed=run.seed, shots=shots)
experiments.samples_table(live, n_questions=2)

# %% [markdown]
# ## Table 2(a): prompting the teacher and the un-distilled student
#
# The same dev questions, prompted with P. *No CoT* exemplars carry only the answer sentence; *Greedy*
# decodes one CoT; *Self-consistency* samples k CoTs at temperature 0.7 and takes the majority answer.
# Accuracies carry a bootstrap 95% CI; *paper* is GPT3-175B for the teacher row and OPT-1.3B for the
# student row.

# %%
rows = experiments.prompting_table(run.profile, dev, models={"teacher": teacher, "student": run.profile.student},
                                   shots=shots, seed=run.seed)
teacher.close()
experiments.frame(rows, ["role", "model", "mode"])

# %%
fig = plots.accuracy_bars(rows, group="role", bar="mode", chance=experiments.CHANCE[TASK],
                          title=f"SCoTD Table 2(a) — few-shot prompting on {TASK} dev (n={len(dev)})")
plots.savefig(fig, "01_table2a_prompting");

# %%
print(experiments.describe_prompting(rows, chance=experiments.CHANCE[TASK]))

# %%
FIGURES = ['01_table2a_prompting']   # what this notebook promises; checked by run.finish()
run.save_table("table2a_prompting", rows, title="SCoTD Table 2(a) — few-shot prompting before distillation",
               columns=["task", "role", "model", "mode"],
               description="Teacher and un-distilled student prompted with the few-shot CoT set P "
                           "(paper: GPT3-175B teacher, OPT-1.3B student).",
               data=experiments.data_info(dev=dev, shots=shots))
run.finish(FIGURES);
