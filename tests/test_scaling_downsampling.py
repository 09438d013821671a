"""Notebooks 05 (SCoTD Fig. 2–4) and 08 (§4 downsampling): their profile blocks, the paper's figure numbers,
scoring CoTs under a local model (replayed corpora carry no log-probs), what each strategy kept, the figure."""
import numpy as np
import pytest

from helpers.corpus import Corpus, CorpusEntry, Sample, sample_corpus
from helpers.downsample import STRATEGIES, downsample, memo_embed, score_likelihood, selection_stats
from helpers.models import load_model, model_id
from helpers.profiles import PROFILES
from helpers.prompts import format_answer, format_input
from helpers.results import paper_figure
from helpers.tasks import load_task
from helpers.teacher import LocalTeacher, ReplayTeacher, completion_logprobs


# ------------------------------------------------------------------------------------------ profiles

@pytest.mark.parametrize("name", sorted(PROFILES))
def test_scaling_and_downsampling_blocks_are_well_formed(name):
    p = PROFILES[name]
    s, d = p.scaling, p.downsampling
    assert s.rationale_counts and s.fraction_counts and s.student_counts and s.students
    for counts in (s.rationale_counts, s.fraction_counts, s.student_counts):
        assert all(isinstance(n, int) and 1 <= n <= p.distill.n_samples for n in counts)
    assert s.data_fractions and all(0 < f <= 1 for f in s.data_fractions)
    assert d.strategies and set(d.strategies) <= set(STRATEGIES)
    assert 1 <= d.budget < p.distill.n_samples          # a cut, not the full corpus
    if "likelihood" in d.strategies and p.distill.teacher.startswith("replay:"):
        assert d.likelihood_scorer, f"{name}: a replayed corpus has no log-probs; name a scorer"
    if name != "smoke":
        assert len(p.seeds) >= 3


def test_course_reuses_notebook_03s_students():
    """On course, Fig. 2, the 100% points of Fig. 3, the profile's student in Fig. 4 and 08's full corpus
    are 03's students (same pairs, budget and seeds), so they come from the cache."""
    p = PROFILES["course"]
    s = p.scaling
    assert set(s.rationale_counts) <= set(p.distill.rationale_counts) | {p.distill.n_samples}
    assert 1.0 in s.data_fractions and p.distill.n_samples in s.fraction_counts
    assert p.student in s.students and p.distill.n_samples in s.student_counts


# ------------------------------------------------------------------------------------ paper numbers

def test_paper_figure_points_stated_in_the_text():
    assert paper_figure("2", task="quarel", condition="label_only") == 59.0
    assert paper_figure("2", task="quarel", condition="scotd", n_rationales=30) == 83.8
    assert paper_figure("2", task="obqa", condition="scotd", n_rationales=50) == 67.0
    assert paper_figure("2", task="quarel", condition="scotd", n_rationales=5) is None     # plotted only
    assert paper_figure("2", task="coinflip", condition="label_only") is None
    assert paper_figure("3", task="csqa", condition="scotd", n_rationales=30, fraction=1.0) == 67.0
    assert paper_figure("3", task="csqa", condition="label_only", fraction=1.0) == 63.0
    assert paper_figure("3", task="csqa", condition="label_only", fraction=0.2) is None
    assert paper_figure("3", task="quarel", condition="label_only", fraction=1.0) is None  # Fig. 3 is CSQA only
    assert paper_figure("4", task="csqa", condition="label_only", student="facebook/opt-1.3b") == 63.0
    assert paper_figure("4", task="csqa", condition="scotd", n_rationales=30, student="facebook/opt-125m") is None
    assert paper_figure("4", task="csqa", condition="label_only", student="smollm2-135m") is None
    assert paper_figure("7", task="quarel", condition="full") == 83.8
    assert paper_figure("7", task="quarel", condition="random") is None
    with pytest.raises(KeyError):
        paper_figure("5", task="quarel", condition="scotd")


# ------------------------------------------------------------------------- likelihood under a model

@pytest.fixture(scope="module")
def tiny():
    return load_model("smollm2-tiny")


def test_completion_logprobs_match_the_teachers_own(smollm):
    """Scoring the tokens a local teacher generated gives back the log-prob it recorded: the scored
    positions are exactly the completion's tokens, each predicted from the one before."""
    tok, model = smollm
    teacher = LocalTeacher("smollm2-135m", tokenizer=tok, model_obj=model)
    prompts = ["Q: Which is heavier, a truck or a bicycle?\nA:", "Q: Is ice colder than steam?\nA:"]
    comps = teacher.sample_batch(prompts, 1, 0.0, 6, seed=0, stop=())        # short: no EOS among them
    texts = [tok.decode(c[0].token_ids, skip_special_tokens=True) for c in comps]
    for c, t in zip(comps, texts):
        if tok(t, add_special_tokens=False)["input_ids"] != c[0].token_ids:
            pytest.skip("the generated text does not re-tokenize to the same ids")
    scored = completion_logprobs(model, tok, prompts, texts, batch_size=2)
    for (lp, n), c in zip(scored, comps):
        assert n == len(c[0].token_ids)
        assert lp == pytest.approx(c[0].logprob, abs=1e-3)
    # a natural continuation is far more likely than the same words shuffled
    (nat, _), (shuf, _) = completion_logprobs(model, tok, [prompts[0]] * 2, [
        " A truck is heavier than a bicycle.", " bicycle heavier a A than truck is."])
    assert nat > shuf + 5


def test_completion_logprobs_ignore_padding(tiny):
    tok, model = tiny
    prompts = ["Q: short?\nA:", "Q: a much longer question with many more words in it?\nA:", "Q: mid one\nA:"]
    comps = [" yes.", " The answer needs a few words here.", " no"]
    together = completion_logprobs(model, tok, prompts, comps, batch_size=3)
    alone = [completion_logprobs(model, tok, [p], [c])[0] for p, c in zip(prompts, comps)]
    for (a, n), (b, m) in zip(together, alone):
        assert n == m and a == pytest.approx(b, abs=1e-4)
    with pytest.raises(ValueError):
        completion_logprobs(model, tok, prompts, comps[:2])


@pytest.fixture(scope="module")
def replay(data_dir):
    examples = load_task("quarel", "train", limit=4)
    return sample_corpus(ReplayTeacher("mario_gpt3", "quarel", "train"), examples, n=3, progress=False)


def test_score_likelihood_scores_a_replayed_corpus_and_caches(replay, tiny, tmp_path, monkeypatch):
    assert all(s.logprob is None for e in replay.entries for s in e.samples)      # a replay has none
    with pytest.raises(ValueError, match="log-prob"):
        downsample(replay, "likelihood", budget=1)
    scored = score_likelihood(replay, "smollm2-tiny", cache=tmp_path, model_and_tokenizer=tiny)
    assert scored.meta["likelihood"]["scorer"] == model_id("smollm2-tiny")
    distinct = {(e.example.id, s.rationale.strip(), s.label) for e in replay.entries for s in e.samples}
    assert scored.meta["likelihood"]["computed"] == len(distinct)              # identical CoTs scored once
    assert scored.meta["likelihood"]["scored"] == replay.n_samples()
    assert all(s.logprob is None for e in replay.entries for s in e.samples)      # the input is untouched
    e, s = scored.entries[0], scored.entries[0].samples[0]
    tok, model = tiny
    text = f" {replay.entries[0].samples[0].rationale.strip()} {format_answer(e.example, s.label)}"
    lp, n = completion_logprobs(model, tok, [format_input(e.example)], [text])[0]
    assert (s.logprob, s.n_tokens) == (pytest.approx(lp, abs=1e-4), n)
    assert [x.rationale for x in e.samples] == [x.rationale for x in replay.entries[0].samples]

    def no_model(*a, **k):
        raise AssertionError("a cached score loaded a model")
    monkeypatch.setattr("helpers.models.load_model", no_model)
    again = score_likelihood(replay, "smollm2-tiny", cache=tmp_path)
    assert again.meta["likelihood"]["computed"] == 0
    assert [[x.logprob for x in e.samples] for e in again.entries] == \
        [[x.logprob for x in e.samples] for e in scored.entries]
    # the likelihood strategy now runs, and keeps the most likely CoT per question
    kept = downsample(scored, "likelihood", budget=1)
    for e, k in zip(scored.entries, kept.entries):
        if e.samples:
            assert k.samples[0].mean_logprob == max(x.mean_logprob for x in e.samples)


# ----------------------------------------------------------------------------- what strategies kept

def _corpus(ex, specs):
    return Corpus([CorpusEntry(ex, [Sample(k, text, ex.answer, lp, 2) for k, text, lp in specs])], {})


def test_selection_stats(data_dir):
    ex = load_task("quarel", "train", limit=1)[0]
    full = _corpus(ex, [(0, "a b c", -2.0), (1, "a b c", -4.0), (2, "x y z", -6.0), (3, "p q r", -8.0)])
    near = _corpus(ex, [(0, "a b c", -2.0), (1, "a b c", -4.0)])          # two identical CoTs
    far = _corpus(ex, [(2, "x y z", -6.0), (3, "p q r", -8.0)])            # two different ones
    vecs = {"a b c": [1.0, 0.0, 0.0], "x y z": [0.0, 1.0, 0.0], "p q r": [0.0, 0.0, 1.0]}
    rows = {r["corpus"]: r for r in selection_stats({"full": full, "near": near, "far": far}, reference="near",
                                                    embed=lambda ts: np.array([vecs[t] for t in ts]))}
    assert rows["full"]["cots"] == 4 and rows["near"]["cots_per_question"] == 2.0
    assert rows["near"]["mean_token_logprob"] == -1.5 and rows["far"]["mean_token_logprob"] == -3.5
    assert rows["near"]["embedding_spread"] == 0.0 and rows["far"]["embedding_spread"] == 1.0
    assert rows["near"]["overlap"] == 1.0 and rows["far"]["overlap"] == 0.0 and rows["full"]["overlap"] == 0.5
    assert rows["near"]["unique_bigrams_per_question"] == 2 and rows["far"]["unique_bigrams_per_question"] == 4
    rescored = _corpus(ex, [(0, "a b c", -20.0), (1, "a b c", -40.0), (2, "x y z", -60.0), (3, "p q r", -80.0)])
    rows = {r["corpus"]: r for r in selection_stats({"near": near}, scores_from=rescored)}
    assert rows["near"]["mean_token_logprob"] == -15.0


def test_memo_embed_encodes_each_text_once():
    calls = []

    class Fake:
        def encode(self, texts, **kw):
            calls.append(list(texts))
            return np.array([[len(t), 1.0] for t in texts])
    embed = memo_embed(Fake())
    a = embed(["aa", "b", "aa"])
    b = embed(["b", "ccc"])
    assert calls == [["aa", "b"], ["ccc"]]
    assert a.tolist() == [[2, 1], [1, 1], [2, 1]] and b.tolist() == [[1, 1], [3, 1]]


# ---------------------------------------------------------------------------------------- the figure

def test_scaling_curve_draws_lines_refs_and_paper():
    from helpers.plots import scaling_curve

    def row(cond, x, acc, paper=None):
        return {"condition": cond, "x": x, "accuracy": acc, "ci_low": acc - 0.1, "ci_high": acc + 0.1,
                "per_seed": [acc - 0.05, acc + 0.05], "paper": paper}
    rows = [row("N=1", 1, 0.6), row("N=5", 5, 0.8, paper=83.8)]
    fig = scaling_curve(rows, x="x", log_x=True, refs=[row("label_only", None, 0.5)], majority=0.5)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"N=1", "N=5", "paper", "Label-only", "majority class"} <= set(labels)
    fig = scaling_curve([dict(r, model=m) for r, m in zip(rows, ["b", "a"])], x="model", order=["a", "b"],
                        hue="condition")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b"]
