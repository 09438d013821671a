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
# question from GPT-3 at temperature 1.0. Here C comes from four sources behind one teacher interface:
#
# * **GPT-3, replayed** — 5 samples per QuaRel training question (the MaRio release; SCoTD's own 30×
#   corpus is not public). The `lab` profile distills from it.
# * **PaLM-540B, replayed** — one CoT per CSQA training question (the Distilling Step-by-Step release).
# * **The scripted coin-flip teacher** — N varied CoTs per question with a 10% chance of a tracking slip
#   at every step (`helpers.synthetic`); the `course` profile distills from it.
# * **A live local LLM teacher** — N samples per question from the profile's live teacher, cached.
#
# In the **supervised** setting, samples whose answer disagrees with the gold label are discarded; the
# paper discards 40.4% (CSQA), 45.0% (OpenBookQA) and 34.2% (QuaRel) of its GPT-3 CoTs.

# %% tags=["parameters"]
PROFILE = "course"

# %%
from helpers import exercises, plots, protocol, results, show
from helpers.corpus import corpus_stats
from helpers.tasks import load_task
from helpers.teacher import prompt_budget, teacher_from_name
from helpers.corpus import sample_corpus

run = results.start("02_corpus_building", PROFILE)
n_q = run.profile.corpus.n_questions

# %% [markdown]
# ## Replayed large-teacher corpora
#
# `ReplayTeacher` serves a released corpus through the same interface as a live teacher, so every later
# step runs on real large-teacher CoTs without a GPU.

# %%
def replay(task, release):
    return sample_corpus(teacher_from_name(f"replay:{release}", task=task), load_task(task, "train", limit=n_q),
                         n=5, progress=False)


gpt3, palm = replay("quarel", show.GPT3_QUAREL), replay("csqa", show.PALM_CSQA)
print(f"GPT-3 QuaRel: {len(gpt3)} questions, {gpt3.n_samples()} CoTs;  PaLM CSQA: {len(palm)} questions, "
      f"{palm.n_samples()} CoTs")

# %% [markdown]
# ## The profile's distillation corpus, and live samples from the local LLM teacher
#
# The distillation corpus is the one notebooks 03–04 train on (same teacher, questions and N, so the
# same samples). The live samples are those notebook 01 drew (cached: free after 01).

# %%
P = run.profile.protocol()
train, heldout = protocol.split_train(P)
distill = sample_corpus(teacher_from_name(run.profile.teacher, task=P.task), train, n=run.profile.distill.n_samples,
                        progress=False)
cfg = run.profile.prompting
live_teacher = teacher_from_name(cfg.teacher, task=cfg.task)
live = sample_corpus(live_teacher, load_task(cfg.task, "train", limit=cfg.n_live), n=cfg.n_samples,
                     temperature=cfg.temperature, max_new_tokens=prompt_budget(live_teacher, cfg.task, cfg.max_new_tokens),
                     shots=cfg.shots, seed=run.seeds[0], progress=False)
print(f"distillation corpus {distill.meta['teacher']}: {len(distill)} questions, {distill.n_samples()} CoTs")
print(f"live {live.meta['teacher']}: {len(live)} questions, {live.n_samples()} CoTs")

# %% [markdown]
# ## Filtering and corpus statistics
#
# `Corpus.correct_only()` is the supervised filter. The *discard rate* is the share of CoTs it drops;
# teacher accuracy per CoT is its complement. *majority* is the teacher's accuracy when its N samples vote.

# %%
corpora = {"GPT-3 × QuaRel": gpt3, "PaLM × CSQA": palm, f"{distill.meta['teacher']} × {P.task}": distill,
           f"{cfg.teacher} × {cfg.task} (live)": live}
stats = show.corpus_table(corpora)
results.frame(stats, ["corpus", "teacher", "questions", "samples"], metric=None,
              pct=["teacher_accuracy", "teacher_accuracy_majority", "discard_rate", "paper_discard_rate",
                   "no_answer_rate"])

# %%
fig = plots.corpus_figure(stats, lengths=show.rationale_lengths(corpora))
plots.savefig(fig, "02_corpus_stats");

# %% [markdown]
# ## Exercise 3 · The supervised filter
#
# A corpus row (`CorpusEntry`) holds a question `entry.example`, whose gold answer is `entry.example.answer`,
# and the teacher's CoTs `entry.samples`, each with the answer it reached, `sample.label` (None: no answer).
# Write `keep_correct(entry)`: the samples the supervised setting keeps — those whose label is the gold
# answer — in corpus order (a question may keep none). The check compares yours with `Corpus.correct_only()`
# on the scripted coin-flip corpus and the replayed GPT-3 × QuaRel corpus.

# %% tags=["exercise:keep_correct"]
def keep_correct(entry):
    """The samples of `entry` whose label is the gold answer, in corpus order."""
    ### BEGIN SOLUTION
    return [s for s in entry.samples if s.label is not None and s.label == entry.example.answer]
    ### END SOLUTION


# %% tags=["check:keep_correct"]
exercises.check("keep_correct", keep_correct)

# %% [markdown]
# ## A Table-1-style gallery
#
# A few questions with the CoTs each teacher wrote for them (✓ = the CoT reaches the gold answer).
# SCoTD's Table 1 shows GPT-3 beside the un-distilled and the distilled student; the students' CoTs
# appear in notebook 03.

# %%
show.gallery(corpora, per_corpus=2)

# %%
FIGURES = ['02_corpus_stats']   # what this notebook promises; checked by run.finish()
run.save_table("corpus_stats", stats, title="Corpus statistics and the supervised filter (SCoTD §3.1)",
               columns=["corpus", "teacher", "questions", "samples"],
               description="Discard rate = share of teacher CoTs whose answer is wrong (dropped in the "
                           "supervised setting); paper: GPT-3 code-davinci-002, N=30.",
               data={name: results.data_info(c)["corpus"] for name, c in corpora.items()})
run.finish(FIGURES);
