"""SCoTD §4 downsampling: budget kept, deterministic under a seed, each strategy picks what it claims."""
import numpy as np
import pytest

from helpers.corpus import Corpus, CorpusEntry, Sample, unique_bigrams
from helpers.downsample import (cluster_labels, downsample, open_endedness_quotas, pick_diverse)
from helpers.tasks import load_task
from helpers.teacher import ReplayTeacher
from helpers.corpus import sample_corpus


@pytest.fixture(scope="module")
def examples(data_dir):
    return load_task("quarel", "train", limit=20)


@pytest.fixture(scope="module")
def replay(examples):
    return sample_corpus(ReplayTeacher("mario_gpt3", "quarel", "train"), examples, n=5, progress=False)


def _kept(c):
    return {e.example.id: [s.k for s in e.samples] for e in c.entries}


@pytest.mark.parametrize("strategy", ["random", "open_endedness"])
def test_budget_and_determinism_on_real_corpus(replay, strategy):
    a = downsample(replay, strategy, budget=2, seed=0)
    b = downsample(replay, strategy, budget=2, seed=0)
    assert _kept(a) == _kept(b)
    if strategy == "random":
        assert all(len(e.samples) == 2 for e in a.entries)
        assert _kept(downsample(replay, strategy, budget=2, seed=1)) != _kept(a)
    else:
        assert a.n_samples() <= 2 * len(replay) + len(replay) // 5       # quintile rounding
    assert a.meta["downsample"] == {"strategy": strategy, "budget": 2, "seed": 0}
    orig = {(e.example.id, s.k): s for e in replay.entries for s in e.samples}
    assert all(orig[(e.example.id, s.k)] == s for e in a.entries for s in e.samples)


def test_likelihood_picks_top_per_token(examples):
    ex = examples[0]
    # per-token log-likelihood: k0 -1.0, k1 -0.5, k2 -2.0, k3 -0.25, k4 -0.5 (tie with k1)
    samples = [Sample(0, "a", "A", -4.0, 4), Sample(1, "b", "A", -1.0, 2), Sample(2, "c", "A", -2.0, 1),
               Sample(3, "d", "A", -2.0, 8), Sample(4, "e", "A", -3.0, 6)]
    c = Corpus([CorpusEntry(ex, samples)], {})
    assert _kept(downsample(c, "likelihood", budget=2))[ex.id] == [1, 3]
    assert _kept(downsample(c, "likelihood", budget=3))[ex.id] == [1, 3, 4]
    c.entries[0].samples[2].logprob = None
    with pytest.raises(ValueError, match="log-prob"):
        downsample(c, "likelihood", budget=2)


def test_open_endedness_quintiles(examples):
    entries = []
    for i, ex in enumerate(examples[:10]):
        # question i has i+1 distinct words per CoT → unique bigrams grow with i
        entries.append(CorpusEntry(ex, [Sample(k, " ".join(f"w{i}_{k}_{j}" for j in range(i + 2)), ex.answer)
                                        for k in range(12)]))
    c = Corpus(entries, {})
    q = open_endedness_quotas(c, budget=5)
    assert [q[e.example.id] for e in entries] == [1, 1, 3, 3, 5, 5, 7, 7, 9, 9]
    d = downsample(c, "open_endedness", budget=5, seed=3)
    assert d.n_samples() == 5 * 10                                      # same total budget
    assert [len(e.samples) for e in d.entries] == [1, 1, 3, 3, 5, 5, 7, 7, 9, 9]
    assert unique_bigrams([s.rationale for s in entries[9].samples]) > \
        unique_bigrams([s.rationale for s in entries[0].samples])


GROUPS = [
    ["The ice is slick, so the skates glide fast.", "Ice is slippery and skaters glide quickly on it.",
     "Skates slide fast over slick ice."],
    ["A heavy truck needs more force to start moving.", "Heavier vehicles are harder to accelerate.",
     "More mass means the truck speeds up slowly."],
    ["Sound gets quieter the farther you are from it.", "Distant noises are softer than near ones.",
     "The farther the horn, the fainter the sound."],
]


def test_diversity_one_per_cluster_with_minilm(examples):
    from helpers.models import load_embedder
    emb = load_embedder("minilm")
    ex = examples[0]
    order = [(g, t) for j in range(3) for g, grp in enumerate(GROUPS) for t in [grp[j]]]  # interleaved
    samples = [Sample(k, t, ex.answer) for k, (_, t) in enumerate(order)]
    group_of = {k: g for k, (g, _) in enumerate(order)}
    c = Corpus([CorpusEntry(ex, samples)], {})
    vecs = np.asarray(emb.encode([s.rationale for s in samples]))
    labels = cluster_labels(vecs, 3)
    assert len(set(labels)) == 3
    assert all(len({labels[k] for k in range(9) if group_of[k] == g}) == 1 for g in range(3))  # topics recovered
    picks = {}
    for seed in range(4):
        kept = _kept(downsample(c, "diversity", budget=3, seed=seed, embedder=emb))[ex.id]
        assert sorted(group_of[k] for k in kept) == [0, 1, 2]         # one per cluster
        picks[seed] = kept
    assert picks[0] == _kept(downsample(c, "diversity", budget=3, seed=0, embedder=emb))[ex.id]
    assert len({tuple(v) for v in picks.values()}) > 1                  # random within a cluster


def test_diversity_fills_budget_when_rationales_repeat(examples):
    ex = examples[0]
    samples = [Sample(k, "same text", ex.answer) for k in range(6)]
    entry = CorpusEntry(ex, samples)
    vecs = np.ones((6, 4))
    kept = pick_diverse(entry, vecs, budget=3, seed=0)
    assert len(kept) == 3 and len(set(kept)) == 3


def test_unknown_strategy(replay):
    with pytest.raises(ValueError):
        downsample(replay, "longest", budget=2)
