# ---
# jupyter:
#   cotlab:
#     figures:
#     - 02_corpus_stats
#     reproduces:
#     - "SCoTD \xA73.1 discard rates"
#     - SCoTD Table 1 (teacher CoTs)
#     title: 'Corpus building: replayed GPT-3 / PaLM corpora, filtering'
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
# # 02 · Building the corpus C — SCoTD §2 and §3.1
#
# SCoTD's corpus is C = {(x, [(ŷₖ, zₖ)]ₖ₌₁..N)}: for each unlabeled training question x, N chains of
# thought zₖ sampled from the teacher with the answers ŷₖ they reach. The paper samples N=30 per
# question from GPT-3 at temperature 1.0. Here C comes from three sources behind one teacher interface:
#
# * **GPT-3, replayed** — 5 samples per QuaRel training question (the MaRio release; SCoTD's own 30×
#   corpus is not public). This is the corpus notebooks 03–04 distill from.
# * **PaLM-540B, replayed** — one CoT per CSQA training question (the Distilling Step-by-Step release).
# * **A live local teacher** — N samples per question from the profile's `teacher_live`, cached.
#
# In the **supervised** setting, samples whose answer disagrees with the gold label are discarded; the
# paper discards 40.4% (CSQA), 45.0% (OpenBookQA) and 34.2% (QuaRel) of its GPT-3 CoTs.

# %% tags=["parameters"]
PROFILE = "course"
N_TRAIN = None   # training questions per corpus (None: the profile's n_train)
N_LIVE = None    # questions sampled from the live teacher (None: the profile's n_live_questions)

# %%
from helpers import corpus as C, experiments, plots

run = experiments.start("02_corpus_building", PROFILE, n_train=N_TRAIN, n_live_questions=N_LIVE)
n_train = run.profile.n_train

# %% [markdown]
# ## Replayed large-teacher corpora
#
# `ReplayTeacher` serves a released corpus through the same interface as a live teacher, so every later
# step runs on real large-teacher CoTs without a GPU.

# %%
gpt3 = experiments.replay_corpus("quarel", experiments.GPT3_QUAREL, limit=n_train)
palm = experiments.replay_corpus("csqa", experiments.PALM_CSQA, limit=n_train)
print(f"GPT-3 QuaRel: {len(gpt3)} questions, {gpt3.n_samples()} CoTs;  PaLM CSQA: {len(palm)} questions, "
      f"{palm.n_samples()} CoTs")

# %% [markdown]
# ## Live samples from the local teacher
#
# The same cached samples notebook 01 drew (same teacher, prompt and decoding parameters), so this
# costs nothing after 01 has run.

# %%
live = experiments.live_corpus(run.profile, "quarel", seed=run.seed, shots=run.profile.prompt_shots)
print(f"live {live.meta['teacher']}: {len(live)} questions, {live.n_samples()} CoTs")

# %% [markdown]
# ## Filtering and corpus statistics
#
# `Corpus.correct_only()` is the supervised filter. The *discard rate* is the share of CoTs it drops;
# teacher accuracy per CoT is its complement. *majority* is the teacher's accuracy when its N samples vote.

# %%
corpora = {"GPT-3 × QuaRel": gpt3, "PaLM × CSQA": palm, f"{run.profile.teacher_live} × QuaRel (live)": live}
stats = experiments.corpus_table(corpora)
experiments.frame(stats, ["corpus", "teacher", "questions", "samples"], metric=None,
                  pct=["teacher_accuracy", "teacher_accuracy_majority", "discard_rate", "paper_discard_rate",
                       "no_answer_rate"])

# %%
fig = plots.corpus_figure(stats, lengths=experiments.rationale_lengths(corpora))
plots.savefig(fig, "02_corpus_stats");

# %% [markdown]
# ## A Table-1-style gallery
#
# A few questions with the CoTs each teacher wrote for them (✓ = the CoT reaches the gold answer).
# SCoTD's Table 1 shows GPT-3 beside the un-distilled and the distilled student; the students' CoTs
# appear in notebook 03.

# %%
experiments.gallery(corpora, per_corpus=2)

# %%
FIGURES = ['02_corpus_stats']   # what this notebook promises; checked by run.finish()
run.save_table("corpus_stats", stats, title="Corpus statistics and the supervised filter (SCoTD §3.1)",
               columns=["corpus", "teacher", "questions", "samples"],
               description="Discard rate = share of teacher CoTs whose answer is wrong (dropped in the "
                           "supervised setting); paper: GPT-3 code-davinci-002, N=30.",
               data={name: experiments.data_info(c)["corpus"] for name, c in corpora.items()})
run.finish(FIGURES);
