"""Looking inside students: the home of the Wadhwa et al. analyses (RQ1 Fig. 2, RQ3).

Data flow: a trained student (:mod:`helpers.train`) and examples in, per-layer or per-token numbers out;
notebooks 10–12 plot them. Sections:

* **Lens** (RQ1 Fig. 2) — :func:`logit_lens`: the probability of the gold answer token at the label
  position read from every layer's residual stream through the model's final norm and unembedding
  (nostalgebraist 2020). A *tuned* lens (Belrose et al. 2023, the ``tuned-lens`` package) trains one
  affine translator per layer; it belongs here beside the logit lens.
* **Attribution** (RQ3 Table 3) — integrated gradients over rationale tokens (captum), to pick the
  top-k tokens a student relies on.
* **Word vectors** (RQ3) — nearest GloVe neighbours of rationale words (gensim,
  :func:`helpers.models.load_word_vectors`).
"""
from __future__ import annotations

from typing import Any, Sequence


def _final_norm_and_head(model: Any) -> tuple[Any, Any]:
    """The final normalisation and the unembedding of a decoder-only transformers model."""
    base = getattr(model, "model", None) or getattr(model, "transformer", None)
    norm = getattr(base, "norm", None) or getattr(base, "ln_f", None) or getattr(base, "final_layernorm", None)
    head = model.get_output_embeddings()
    if norm is None or head is None:
        raise ValueError(f"{type(model).__name__}: no final norm / unembedding found for the logit lens")
    return norm, head


def logit_lens(model: Any, tokenizer: Any, prompt: str, answer: str) -> list[float]:
    """Per layer (embeddings = 0, …, last block = L), the probability the model would give to the first
    token of ``answer`` right after ``prompt`` if it stopped at that layer: hidden state → final norm →
    unembedding → softmax. The last entry equals the model's own output probability."""
    import torch

    norm, head = _final_norm_and_head(model)
    ids = tokenizer(prompt, return_tensors="pt").to(model.device)
    target = tokenizer(prompt + answer, add_special_tokens=True)["input_ids"][ids["input_ids"].shape[1]]
    with torch.no_grad():
        out = model(**ids, output_hidden_states=True)
        probs = []
        hs = out.hidden_states
        for i, h in enumerate(hs):
            x = h[0, -1]
            x = x if i == len(hs) - 1 else norm(x)      # the last hidden state is already normed
            probs.append(float(torch.softmax(head(x).float(), dim=-1)[target]))
    return probs


def lens_curves(model: Any, tokenizer: Any, items: Sequence[tuple[str, str]]) -> list[float]:
    """Mean :func:`logit_lens` probability per layer over ``(prompt, answer)`` items."""
    curves = [logit_lens(model, tokenizer, p, a) for p, a in items]
    return [sum(c[i] for c in curves) / len(curves) for i in range(len(curves[0]))]
