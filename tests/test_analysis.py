"""The analysis home (helpers.analysis): the logit lens on a real (tiny) model."""
from __future__ import annotations

import pytest
import torch

from helpers.analysis import lens_curves, logit_lens
from helpers.models import load_model


@pytest.fixture(scope="module")
def tiny():
    return load_model("smollm2-tiny")


def test_logit_lens_ends_at_the_models_own_probability(tiny):
    tok, model = tiny
    prompt, answer = "Q: Is the coin still heads up?\nA: So the answer is", " (a)"
    probs = logit_lens(model, tok, prompt, answer)
    assert len(probs) == model.config.num_hidden_layers + 1
    assert all(0.0 <= p <= 1.0 for p in probs)
    ids = tok(prompt, return_tensors="pt")
    target = tok(prompt + answer)["input_ids"][ids["input_ids"].shape[1]]
    with torch.no_grad():
        own = torch.softmax(model(**ids).logits[0, -1].float(), dim=-1)[target].item()
    assert probs[-1] == pytest.approx(own, rel=1e-4, abs=1e-7)
    assert len(set(round(p, 9) for p in probs)) > 1          # the layers differ


def test_lens_curves_average_items(tiny):
    tok, model = tiny
    items = [("A coin is heads up. So the answer is", " (a)"), ("A coin is tails up. So the answer is", " (b)")]
    mean = lens_curves(model, tok, items)
    each = [logit_lens(model, tok, p, a) for p, a in items]
    assert mean == pytest.approx([(x + y) / 2 for x, y in zip(*each)])
