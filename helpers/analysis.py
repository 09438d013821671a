"""Looking inside students: the home of the Wadhwa et al. analyses (RQ1 Fig. 2, RQ3 Table 3).

Data flow: a trained student (:mod:`helpers.train`; ``Student.load()`` gives ``(tokenizer, model)``) and
examples in, per-layer or per-token numbers out; notebooks 10–12 plot them. Sections:

* **The label position** — :func:`label_context`: the token ids up to the first token at which the
  options' answer sentences differ (``"(b)"`` → ``"b"``), and the gold token there;
  :func:`label_position_items` builds them from a student's own generations.
* **Lens** (RQ1 Fig. 2) — :func:`logit_lens` (a prompt and an answer string) and
  :func:`lens_confidence` (items × layers at the label position): the probability of the gold label
  read from every layer's residual stream through the final norm and unembedding (nostalgebraist
  2020), or through a *tuned lens* (Belrose et al. 2023): :func:`train_tuned_lens` trains the
  ``tuned-lens`` package's ``TunedLens`` (one affine translator per layer) on the student's own
  training texts; :func:`layer_kl` measures KL(final ‖ lens) per layer. :func:`helpers.stats.column_band` and
  :func:`helpers.stats.item_difference` summarise the curves.
* **Attribution** (RQ3 Table 3) — :func:`rationale_attributions`: integrated gradients (captum,
  bounded ``internal_batch_size``) of the gold label's log-probability over a CoT-before student's
  rationale tokens; :func:`top_k_tokens` keeps the top 15 words in rationale order.
* **Word vectors** (RQ3 "Word2Vec based") — :func:`glove_neighbours` (each key word → a nearest GloVe
  neighbour; gensim, :func:`helpers.models.load_word_vectors`) and :func:`label_neighbours` (the
  paper's variant: the 15 words nearest the label).
* **Human-marked tokens** (RQ3 "Human Labels") — :func:`human_marked_words`: CoS-E highlights for
  CSQA; :data:`HUMAN_MARKS` / :data:`NO_HUMAN_MARKS` say what stands in and where nothing does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from .prompts import ANSWER_PREFIX, format_answer, format_input
from .rationales import load_rationales
from .tasks import Example


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


# --------------------------------------------------------------------------------------------------
# The label position (shared by the lens and attribution sections)
# --------------------------------------------------------------------------------------------------

def label_context(tokenizer: Any, ex: Example, before: str = "", label: str | None = None,
                  ) -> tuple[list[int], int]:
    """The token ids up to the *label position* and the gold label's token there.

    The text is what a student was trained on: ``format_input(ex)``, then ``" " + before`` when a
    rationale comes before the answer (``cot_before``; ``""`` for ``label_only`` / ``cot_after``),
    then ``" " + format_answer(ex, label)`` (``label`` defaults to the gold answer). The label
    position is the first token at which the answer sentences of the options differ (``"(b)"`` →
    the token ``"b"`` after ``" ("``; ``"positive"`` → ``" positive"``), so the probability read
    there is the probability of this answer rather than of shared punctuation. Returns
    ``(ids_before_that_token, that_token_id)``.
    """
    ids, target, _ = _label_encoding(tokenizer, ex, before, label)
    return ids, target


def _label_encoding(tokenizer: Any, ex: Example, before: str, label: str | None):
    label = label if label is not None else ex.answer
    if label is None:
        raise ValueError(f"{ex.task}/{ex.id}: no label given and the example has no gold answer")
    head = format_input(ex) + (f" {before.strip()}" if before.strip() else "")

    def enc(lab: str):
        return tokenizer(f"{head} {format_answer(ex, lab)}", return_offsets_mapping=True,
                         add_special_tokens=True)

    gold = enc(label)
    gids = gold["input_ids"]
    others = [enc(o)["input_ids"] for o in ex.options if o != label]
    if not others:
        raise ValueError(f"{ex.task}/{ex.id}: a label position needs at least two options")
    hids = tokenizer(head, add_special_tokens=True)["input_ids"]
    j = 0                                           # first token past the shared head
    while j < min(len(hids), len(gids)) and hids[j] == gids[j]:
        j += 1
    while j < len(gids) and all(j < len(o) and o[j] == gids[j] for o in others):
        j += 1
    if j >= len(gids):
        raise ValueError(f"{ex.task}/{ex.id}: the answer sentences of the options do not differ in tokens")
    return gids[:j], gids[j], gold["offset_mapping"][:j]


def label_position_items(examples: Sequence[Example], preds: Sequence[Any]) -> list[tuple[Example, str]]:
    """``(example, text before the answer sentence)`` for each prediction (``helpers.decode.Prediction``)
    whose id is among ``examples``: what the student itself wrote before ``"So the answer is"`` (its
    rationale for a CoT-before student, ``""`` for no-CoT and CoT-after students), for
    :func:`lens_confidence` — the prefix then ends at the label token (:func:`label_context`). A
    generation without the answer sentence raises ``ValueError``."""
    by_id = {ex.id: ex for ex in examples}
    out = []
    for p in preds:
        if p.id not in by_id:
            continue
        m = re.search(re.escape(ANSWER_PREFIX), p.text, re.IGNORECASE)
        if m is None:
            raise ValueError(f"{p.id}: the generation has no {ANSWER_PREFIX!r}: {p.text[:80]!r}")
        out.append((by_id[p.id], p.text[:m.start()].strip()))
    return out


def lens_questions(examples: Sequence[Example], preds: dict[str, Sequence[Any]], n: int, *,
                   anchor: str = "cot_before", min_shared: int = 10) -> tuple[list[str], str]:
    """Which questions RQ1 Fig. 2 reads the lenses on: ``(ids, how)``, at most ``n`` ids in ``examples``
    order. ``preds`` maps condition → predictions (``.id``, ``.correct``).

    As in Wadhwa et al.: the questions every condition's student answers correctly — when there are at
    least ``min_shared``. Students at chance can make that set empty or tiny (a label-only student that
    always answers (b) and a CoT-after student that always answers (a) share no correct question), so
    then the questions the ``anchor`` student answers correctly are used, every student still read on the
    same questions (paired) at the label position after its own text; ``how`` says which rule applied.
    Empty when even the anchor student has none right."""
    correct = {c: {p.id for p in ps if p.correct} for c, ps in preds.items()}
    shared = set.intersection(*correct.values()) if correct else set()
    if len(shared) >= min_shared:
        chosen, how = shared, f"all {len(correct)} students answer correctly"
    else:
        if anchor not in correct:
            raise ValueError(f"unknown anchor condition {anchor!r}; conditions: {sorted(correct)}")
        chosen = correct[anchor]
        how = (f"the {anchor} student answers correctly (only {len(shared)} questions are answered correctly by "
               f"all {len(correct)} students, fewer than {min_shared})")
    return [ex.id for ex in examples if ex.id in chosen][:n], how


def _as_label_item(tokenizer: Any, item: Any) -> tuple[list[int], int]:
    """An :class:`Example` (no text before the answer), ``(example, before)`` (:func:`label_position_items`),
    ``(ids, target)`` (:func:`label_context`) or ``(prompt, answer)`` strings (the first token of
    ``answer`` after ``prompt``, as :func:`logit_lens`)."""
    if isinstance(item, Example):
        return label_context(tokenizer, item)
    a, b = item
    if isinstance(a, Example):
        return label_context(tokenizer, a, b)
    if isinstance(a, str):
        ids = tokenizer(a, add_special_tokens=True)["input_ids"]
        return list(ids), tokenizer(a + b, add_special_tokens=True)["input_ids"][len(ids)]
    return list(a), int(b)


# --------------------------------------------------------------------------------------------------
# Lenses (RQ1 Fig. 2)
# --------------------------------------------------------------------------------------------------

def _hidden_states(model: Any, input_ids: Any, attention_mask: Any = None):
    """``(hidden_states, logits)`` with gradients off; ``hidden_states[L]`` is already normed."""
    import torch
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    return out.hidden_states, out.logits


def _decode(model: Any, h: Any, layer: int, lens: Any = None, final_logits: Any = None):
    """Logits of ``h`` (a residual stream from ``layer``, 0 = embeddings) read through ``lens``
    (``None``: the logit lens, final norm + unembedding); the last layer is the model's own logits."""
    n_layers = model.config.num_hidden_layers
    if layer == n_layers:
        if final_logits is None:
            raise ValueError("the last layer's logits are the model's own: pass final_logits")
        return final_logits
    if lens is not None:
        return lens(h, idx=layer)
    norm, head = _final_norm_and_head(model)
    return head(norm(h))


def lens_confidence(model: Any, tokenizer: Any, items: Sequence[Any], lens: Any = None) -> list[list[float]]:
    """Per item, per layer (0 = embeddings, …, L = the model's output), the probability of the gold label
    token at the label position, read through ``lens`` (a ``tuned_lens.nn.TunedLens``, e.g. from
    :func:`train_tuned_lens`) or, with ``lens=None``, through the logit lens — RQ1 Fig. 2. Returns an
    items × (L+1) list of lists (``np.mean(…, axis=0)`` is the curve; :func:`helpers.stats.column_band` adds an
    interval). The last column is the model's own probability whatever the lens.

    ``items``: ``(example, before)`` from :func:`label_position_items`, :class:`Example` s (nothing
    before the answer sentence), ``(ids, target)`` from :func:`label_context`, or ``(prompt, answer)``
    strings (the first token of ``answer``, as :func:`logit_lens`)."""
    import torch

    curves = []
    for item in items:
        ids, target = _as_label_item(tokenizer, item)
        x = torch.tensor([ids], device=model.device)
        hs, logits = _hidden_states(model, x)
        with torch.no_grad():
            curves.append([float(torch.softmax(_decode(model, h[0, -1], i, lens, logits[0, -1]).float(), -1)[target])
                           for i, h in enumerate(hs)])
    return curves


LENSES = ("logit lens", "tuned lens")


def student_lenses(model: Any, tokenizer: Any, items: Sequence[Any], texts: Sequence[str], *, steps: int,
                   seed: int = 0, tokens_per_step: int | None = None) -> dict[str, list[list[float]]]:
    """RQ1 Fig. 2 for one student: :func:`lens_confidence` on ``items`` through the logit lens and through a
    tuned lens trained on ``texts`` (the student's own training texts; :func:`train_tuned_lens` for ``steps``)
    — ``{"logit lens": items × layers, "tuned lens": items × layers}``."""
    tuned = train_tuned_lens(model, tokenizer, texts, steps=steps, seed=seed, tokens_per_step=tokens_per_step)
    return {"logit lens": lens_confidence(model, tokenizer, items),
            "tuned lens": lens_confidence(model, tokenizer, items, lens=tuned)}


def lens_summary(per_layer: dict[str, dict[str, Sequence[Any]]], *, baseline: str = "label_only",
                 threshold: float = 0.6) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """RQ1 Fig. 2's read-outs from ``per_layer[lens][condition]`` (a list of items × layers matrices, one per
    student, e.g. per seed; the items of one index are the same questions for every condition):

    * ``curves[lens][condition]``: the mean P(gold) per layer with a bootstrap band over items
      (:func:`helpers.stats.column_band`);
    * ``rows``: one per lens, condition and layer (``mean_p_gold``, its band, ``share_above_<threshold>``,
      ``n_items``);
    * ``tests``: per lens and condition, the first layer whose mean passes ``threshold`` and the mid-layer
      P(gold), and for each condition but ``baseline`` the mid-layer difference from it paired over the same
      items (:func:`helpers.stats.item_difference`: conditional on these trained students)."""
    import numpy as np

    from .stats import column_band, item_difference
    curves: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    for lens, by_cond in per_layer.items():
        mats = {c: np.concatenate([np.asarray(x, dtype=float) for x in ms], axis=0) for c, ms in by_cond.items()}
        curves[lens] = {c: column_band(m) for c, m in mats.items()}
        for c, m in mats.items():
            band = curves[lens][c]
            rows += [{"lens": lens, "condition": c, "layer": l, "mean_p_gold": band["mean"][l],
                      "p_gold_low": band["lo"][l], "p_gold_high": band["hi"][l],
                      f"share_above_{threshold}": float(np.mean(m[:, l] > threshold)), "n_items": int(m.shape[0])}
                     for l in range(m.shape[1])]
        for c, m in mats.items():
            layers = m.shape[1]
            mid = layers // 2
            test = {"lens": lens, "condition": c,
                    f"first_layer_above_{threshold}": next((l for l, v in enumerate(curves[lens][c]["mean"])
                                                            if v > threshold), None),
                    "layers": layers - 1, "p_gold_mid_layer": curves[lens][c]["mean"][mid], "mid_layer": mid}
            if c != baseline and baseline in mats:
                test.update(item_difference(m[:, mid] - mats[baseline][:, mid]))
            tests.append(test)
    return curves, rows, tests


def _batches(tokenizer: Any, texts: Sequence[str], batch_size: int, max_length: int, device: Any):
    """Right-padded batches (positions 0..n-1 for every real token; padding masked out)."""
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[i:i + batch_size]), return_tensors="pt", padding=True, truncation=True,
                        max_length=max_length, padding_side="right")
        yield enc["input_ids"].to(device), enc["attention_mask"].to(device)


def layer_kl(model: Any, tokenizer: Any, texts: Sequence[str], lens: Any = None, batch_size: int = 4,
             max_length: int = 128) -> list[float]:
    """Per layer 0 … L−1, the mean over every (non-padding) token position of ``texts`` of
    KL(final-layer distribution ‖ the lens's distribution at that layer), in nats
    (``tuned_lens.stats.kl_divergence``). ``lens=None`` is the logit lens."""
    import torch
    from tuned_lens.stats import kl_divergence

    n_layers = model.config.num_hidden_layers
    sums, count = [0.0] * n_layers, 0
    for ids, mask in _batches(tokenizer, texts, batch_size, max_length, model.device):
        hs, logits = _hidden_states(model, ids, mask)
        keep = mask.bool()
        with torch.no_grad():
            for i in range(n_layers):
                kl = kl_divergence(logits.float(), _decode(model, hs[i], i, lens).float())
                sums[i] += float(kl[keep].sum())
        count += int(keep.sum())
    return [s / count for s in sums]


def train_tuned_lens(model: Any, tokenizer: Any, texts: Sequence[str], steps: int = 100, lr_scale: float = 1.0,
                     seed: int = 0, batch_size: int = 4, max_length: int = 128, weight_decay: float = 1e-3,
                     momentum: float = 0.9, tokens_per_step: int | None = None) -> Any:
    """A tuned lens (Belrose et al. 2023) for ``model``: :class:`tuned_lens.nn.TunedLens` from the
    ``tuned-lens`` package (0.2.0) — one affine translator per layer, added residually to the hidden
    state and initialised to zero (the identity, i.e. the logit lens), read through a frozen copy of
    the model's final norm and unembedding.

    Trained on ``texts`` (e.g. the student's training prompts and completions) to minimise, summed
    over layers, the mean over token positions of KL(final-layer distribution ‖ lens distribution) —
    the package's default ``--loss kl`` objective with its default optimizer (SGD, Nesterov momentum
    0.9, lr ``lr_scale·(1−momentum)``, weight decay 1e-3, linear decay, gradient norm clipped at 1).
    The package is installed ``--no-deps`` (``requirements-nodeps.txt``): its lens, unembedding and
    statistics modules import with our pins, but its training loop,
    ``tuned_lens.scripts.train_loop.Train``, cannot — it is a command-line / distributed script that
    imports ``simple_parsing`` and ``torchdata.dataloader2.DataLoader2`` (which the current torchdata,
    0.11, no longer has: it ships only ``nodes`` and ``stateful_dataloader``), logs to ``wandb`` and
    reads a hub dataset by name — so its KL step is reproduced in these lines.

    Batches cycle through ``texts`` in an order shuffled with ``seed``. ``tokens_per_step`` (default:
    all) scores only that many of a batch's token positions, drawn with ``seed``: a step costs one
    full-vocabulary unembedding per layer and position (SmolLM2-135M, 1 CPU thread, 4 texts of ~40
    tokens, all positions: ~8 s a step). Returns the lens in eval mode on the model's device.
    """
    import random

    import torch
    from transformers import get_linear_schedule_with_warmup
    from tuned_lens.nn import TunedLens
    from tuned_lens.stats import kl_divergence

    if not texts:
        raise ValueError("train_tuned_lens needs at least one text")
    torch.manual_seed(seed)
    lens = TunedLens.from_model(model).to(model.device)
    params = [p for p in lens.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr_scale * (1 - momentum), momentum=momentum, nesterov=True,
                          weight_decay=weight_decay)
    sched = get_linear_schedule_with_warmup(opt, 0, max(steps, 1))
    order = list(texts)
    random.Random(seed).shuffle(order)
    batches = [b for b in _batches(tokenizer, order, batch_size, max_length, model.device)]
    gen = torch.Generator().manual_seed(seed)
    lens.train()
    for step in range(steps):
        ids, mask = batches[step % len(batches)]
        hs, logits = _hidden_states(model, ids, mask)
        keep = mask.bool().nonzero(as_tuple=True)         # (row, position) of every real token
        if tokens_per_step is not None and tokens_per_step < len(keep[0]):
            pick = torch.randperm(len(keep[0]), generator=gen)[:tokens_per_step].to(ids.device)
            keep = (keep[0][pick], keep[1][pick])
        target = logits[keep].float()
        for i, h in enumerate(hs[:-1]):                   # one translator per layer; backward per layer
            kl_divergence(target, lens(h[keep], idx=i).float()).mean().backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=False)
        sched.step()
    lens.eval()
    return lens


# --------------------------------------------------------------------------------------------------
# Attribution (RQ3 Table 3)
# --------------------------------------------------------------------------------------------------

@dataclass
class Attribution:
    """Integrated-gradients attribution of the gold label's log-probability to rationale tokens.

    ``tokens``/``token_scores``: the rationale's sub-word tokens and their attributions (summed over
    the embedding dimensions); ``words``/``word_scores``: whitespace words of the rationale (the unit
    of the ``key_tokens`` condition) with their tokens' attributions summed. ``f_input`` and
    ``f_baseline``: log p(gold label token) for the real rationale and for the baseline (every
    rationale token replaced by ``baseline_token``); completeness says ``sum(token_scores) ≈
    f_input − f_baseline``, and ``delta`` is captum's convergence delta (the difference)."""
    words: list[str]
    word_scores: list[float]
    tokens: list[str]
    token_scores: list[float]
    f_input: float
    f_baseline: float
    delta: float
    baseline_token: str
    n_steps: int
    internal_batch_size: int


IG_BASELINE = " "
"""The integrated-gradients baseline token: every rationale token replaced by a blank (the rationale
blanked out), a token the student has seen in every text. Not the padding token: on the course's
CoT-before student, log p(gold) along the straight path from ``<|im_end|>`` (SmolLM2's pad and EOS) to
the real rationale falls off cliffs (steps of up to 1.1 nats between 81 evenly spaced points, total
variation 6.5–7.4 nats against an end-to-end difference ≤ 0.3; the mean embedding behaves the same), so
64 Gauss–Legendre points missed the integral by a median 330%; from a blank, a word (" the", ".") or the
zero vector the path is smooth (steps ≤ 0.03, total variation ≈ 0.4)."""


def _baseline_id(tokenizer: Any, baseline: str) -> int:
    ids = tokenizer(baseline, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"the IG baseline {baseline!r} is {len(ids)} tokens in this tokenizer; it must be one")
    return ids[0]


def rationale_attributions(model: Any, tokenizer: Any, ex: Example, rationale: str, label: str | None = None,
                           n_steps: int = 64, internal_batch_size: int = 8,
                           baseline: str = IG_BASELINE) -> Attribution:
    """Integrated gradients (Sundararajan et al. 2017; captum ``LayerIntegratedGradients`` on the input
    embeddings) of log p(gold label token at the label position) for a **CoT-before** student reading
    ``format_input(ex) + " " + rationale + " " + format_answer(ex, label)`` (:func:`label_context`),
    attributed to each rationale token — Wadhwa et al. RQ3.

    Baseline: the same sequence with every rationale token replaced by the one token ``baseline``
    (default :data:`IG_BASELINE`, a blank; why not the padding token: see there); the prompt and
    answer-prefix tokens are left as they are, so their attributions are exactly zero and the rationale's
    attributions sum to ``f(input) − f(baseline)``. ``n_steps`` Gauss–Legendre points;
    ``internal_batch_size`` bounds how many interpolated sequences go through the model at once (memory
    stays flat in ``n_steps``). Check ``delta`` (:func:`completeness`) before trusting a ranking."""
    import copy

    import torch
    from captum.attr import LayerIntegratedGradients

    ids, target, offsets = _label_encoding(tokenizer, ex, rationale, label)
    head = format_input(ex)
    r0 = len(head) + 1
    text = rationale.strip()
    r1 = r0 + len(text)
    pos = [i for i, (s, e) in enumerate(offsets) if e > r0 and s < r1]
    if not pos:
        raise ValueError(f"{ex.task}/{ex.id}: the rationale is empty")
    blank = _baseline_id(tokenizer, baseline)
    x = torch.tensor([ids], device=model.device)
    b = x.clone()
    b[0, pos] = blank
    # The prompt before the rationale is the same in the input, the baseline and every point between:
    # its keys and values are computed once and every interpolated sequence starts from them, so IG runs
    # only the rationale and the answer prefix through the model (the prompt's attributions are zero).
    p0 = pos[0]
    with torch.no_grad():
        prefix = model(input_ids=x[:, :p0], use_cache=True).past_key_values if p0 else None

    def f(input_ids):
        cache = None
        if prefix is not None:
            cache = copy.deepcopy(prefix)
            if input_ids.shape[0] > 1:
                cache.batch_repeat_interleave(input_ids.shape[0])
        logits = model(input_ids=input_ids, past_key_values=cache, logits_to_keep=1).logits[:, -1].float()
        return torch.log_softmax(logits, -1)[:, target]

    x, b = x[:, p0:], b[:, p0:]
    pos = [p - p0 for p in pos]
    ids, offsets = ids[p0:], offsets[p0:]
    lig = LayerIntegratedGradients(f, model.get_input_embeddings())
    # gradients w.r.t. the interpolated embeddings only: with the weights frozen the backward pass skips
    # their gradients (a third of a forward+backward's matmuls); the flags are restored afterwards
    trainable = [q.requires_grad for q in model.parameters()]
    model.requires_grad_(False)
    try:
        attr, delta = lig.attribute(x, baselines=b, n_steps=n_steps, internal_batch_size=internal_batch_size,
                                    return_convergence_delta=True)
    finally:
        for q, flag in zip(model.parameters(), trainable):
            q.requires_grad_(flag)
    scores = attr.sum(-1)[0].detach().float()
    with torch.no_grad():
        f_in, f_b = float(f(x)[0]), float(f(b)[0])

    words = [(m.start() + r0, m.end() + r0, m.group()) for m in re.finditer(r"\S+", text)]
    word_scores = [0.0] * len(words)
    w = 0
    for p in pos:                                  # each token to the word it overlaps most (else the next)
        s, e = offsets[p]
        overlaps = [max(0, min(e, we) - max(s, ws)) for ws, we, _ in words]
        if max(overlaps) > 0:
            w = max(range(len(words)), key=lambda k: (overlaps[k], -k))
        word_scores[min(w, len(words) - 1)] += float(scores[p])
    return Attribution(
        words=[t for _, _, t in words], word_scores=word_scores,
        tokens=[tokenizer.decode([ids[p]]) for p in pos], token_scores=[float(scores[p]) for p in pos],
        f_input=f_in, f_baseline=f_b, delta=float(delta.reshape(-1)[0]),
        baseline_token=tokenizer.convert_ids_to_tokens(blank), n_steps=n_steps,
        internal_batch_size=internal_batch_size)


ATTRIBUTION_CACHE_VERSION = 2      # 2: the blank baseline (IG_BASELINE) replaced the padding token


def attribute_rationales(student: Any, items: Sequence[tuple[Example, str]], *, n_steps: int = 64,
                         internal_batch_size: int = 8, baseline: str = IG_BASELINE, progress: bool = False,
                         n_workers: int | None = None) -> dict[str, Attribution]:
    """:func:`rationale_attributions` of a trained student (:class:`helpers.train.Student`) for every
    ``(example, rationale)``, by example id — the stage verb of RQ3, owning its cache.

    Each attribution is appended to ``$COTLAB_CACHE/attributions/<key>.jsonl`` (key: student, ``n_steps``,
    ``internal_batch_size``, ``baseline``, code version) the moment it is computed, so a run cut off half-way resumes
    with the next item; a cached line is reused only for the same rationale text. ``n_workers`` (default
    :func:`helpers.config.workers`, ``$COTLAB_WORKERS``): that many processes, each with the student loaded
    from ``student.path`` and an equal share of the torch threads, attribute the items left; this process
    writes each result to the cache as it arrives."""
    import json

    from . import config
    from .provenance import stable_hash

    key = stable_hash({"student": student.key, "n_steps": n_steps, "ibs": internal_batch_size,
                       "baseline": baseline, "v": ATTRIBUTION_CACHE_VERSION})
    path = config.cache_dir() / "attributions" / f"{key}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    done: dict[tuple[str, str], Attribution] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:          # a line cut off by a crash: recomputed below
                continue
            k = (rec.pop("id"), rec.pop("rationale_hash"))
            done[k] = Attribution(**rec)
    todo = [(ex, r) for ex, r in items if (ex.id, stable_hash(r)) not in done]
    if todo:
        if n_workers is None:
            n_workers = config.workers()
        it = _attributions(student, todo, n_steps, internal_batch_size, baseline, min(n_workers, len(todo)))
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, total=len(todo), desc="integrated gradients")
        with path.open("a") as fh:
            for (ex, r), att in it:
                done[(ex.id, stable_hash(r))] = att
                fh.write(json.dumps({"id": ex.id, "rationale_hash": stable_hash(r), **att.__dict__}) + "\n")
                fh.flush()
    return {ex.id: done[(ex.id, stable_hash(r))] for ex, r in items}


def _attributions(student: Any, todo: Sequence[tuple[Example, str]], n_steps: int, internal_batch_size: int,
                  baseline: str, n_workers: int):
    """``((example, rationale), Attribution)`` for each of ``todo``, as each finishes."""
    if n_workers <= 1:
        tok, model = student.load()
        model.eval()
        for ex, r in todo:
            yield (ex, r), rationale_attributions(model, tok, ex, r, n_steps=n_steps,
                                                  internal_batch_size=internal_batch_size, baseline=baseline)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import torch
    threads = max(1, torch.get_num_threads() // n_workers)
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ig_worker_start, initargs=(str(student.path), threads))
    try:
        futures = {pool.submit(_ig_worker_item, ex, r, n_steps, internal_batch_size, baseline): (ex, r)
                   for ex, r in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()       # a worker's exception is raised here, as it was
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER_MODEL: Any = None


def _ig_worker_start(path: str, threads: int) -> None:
    import torch

    from .models import load_model
    global _WORKER_MODEL
    torch.set_num_threads(threads)
    tok, model = load_model(path)
    model.eval()
    _WORKER_MODEL = (tok, model)


def _ig_worker_item(ex: Example, rationale: str, n_steps: int, internal_batch_size: int,
                    baseline: str) -> Attribution:
    tok, model = _WORKER_MODEL
    return rationale_attributions(model, tok, ex, rationale, n_steps=n_steps, internal_batch_size=internal_batch_size,
                                  baseline=baseline)


IG_MIN_EFFECT = 0.1
"""Nats: a rationale whose real-vs-baseline difference ``|f(input) − f(baseline)|`` is below this barely moves
the label, and a relative completeness error of it divides by almost nothing (course run, 32 steps: a third of
the 300 rationales moved log p(gold) by < 0.05 nats, with an absolute error of 0.02 nats but relative errors
of 100–500%). :func:`completeness` judges those by their absolute error and the rest by the relative one."""


def completeness(attributions: Sequence[Attribution], min_effect: float = IG_MIN_EFFECT) -> dict[str, Any]:
    """How well the attributions add up to ``f(input) − f(baseline)`` (integrated gradients' completeness):
    ``rel_median`` — the median over items whose difference is at least ``min_effect`` nats of
    ``|Σ attributions − (f(input) − f(baseline))| / |f(input) − f(baseline)|`` (0 = exact; large values mean
    too few ``n_steps`` for the ranking to be trusted; NaN when no item reaches ``min_effect``);
    ``abs_median`` / ``abs_p90`` — the absolute error in nats over every item; ``n``, ``n_effect`` (items
    judged relatively) and ``effect_median`` (the median ``|f(input) − f(baseline)|``)."""
    import numpy as np
    diff = np.array([a.f_input - a.f_baseline for a in attributions], dtype=float)
    err = np.array([abs(sum(a.token_scores) - d) for a, d in zip(attributions, diff)], dtype=float)
    big = np.abs(diff) >= min_effect
    nan = float("nan")
    return {"n": len(diff), "n_effect": int(big.sum()), "min_effect": min_effect,
            "rel_median": float(np.median(err[big] / np.abs(diff[big]))) if big.any() else nan,
            "abs_median": float(np.median(err)) if len(err) else nan,
            "abs_p90": float(np.percentile(err, 90)) if len(err) else nan,
            "effect_median": float(np.median(np.abs(diff))) if len(diff) else nan}


def top_k_tokens(attribution: Attribution, k: int = 15) -> list[str]:
    """The ``k`` rationale words with the highest attribution (signed: most support for the gold
    label; ties → earlier word), in rationale order — the ``key_tokens`` of Wadhwa et al. Table 3
    ("Grad Attr"; shuffle them for "Grad Attr Shuffled"). The paper keeps 15 of ~36 tokens."""
    order = sorted(range(len(attribution.words)), key=lambda i: (-attribution.word_scores[i], i))[:k]
    return [attribution.words[i] for i in sorted(order)]


# --------------------------------------------------------------------------------------------------
# Word-vector neighbours (RQ3 "Word2Vec based")
# --------------------------------------------------------------------------------------------------

_STRIP = "\"'“”‘’()[]{}.,;:!?"


def _norm_word(w: str) -> str:
    return w.strip(_STRIP).lower()


def _same_stem(a: str, b: str) -> bool:
    """``king``/``kings``, ``heads``/``headed``, ``faster``/``fastest``: one contains the other, or they
    share a prefix of at least 4 letters that leaves at most 2 letters of the shorter word."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a in b or b in a or n >= max(4, min(len(a), len(b)) - 2)


def glove_neighbours(words: Sequence[str], kv: Any, seed: int = 0, topn: int = 5) -> tuple[list[str], int]:
    """Replace each word by one of its ``topn`` nearest GloVe neighbours (cosine, gensim
    ``KeyedVectors.most_similar``; ``kv`` from ``load_word_vectors("glove-50d")``), picked with
    ``random.Random(seed)`` — deterministic for a given seed. A word is looked up lower-cased with
    surrounding punctuation stripped (GloVe 6B is lower-case); neighbours that are the same word
    inflected (``king`` → ``kings``, :func:`_same_stem`) are skipped. Out-of-vocabulary words
    (after stripping) are **kept as they are** and counted. Returns ``(replaced words, n_oov)``."""
    import random

    rng = random.Random(seed)
    out, n_oov = [], 0
    for w in words:
        key = _norm_word(w)
        if not key or key not in kv.key_to_index:
            out.append(w)
            n_oov += 1
            continue
        cands = [c for c, _ in kv.most_similar(key, topn=topn + 20) if not _same_stem(key, c)][:topn]
        out.append(rng.choice(cands) if cands else w)
    return out, n_oov


def label_neighbours(label_text: str, kv: Any, k: int = 15) -> list[str]:
    """The paper's own "Word2Vec based" variant: the ``k`` nearest words (GloVe here, word2vec
    Google-News-300 there) to the label — its longest word when it has several — excluding the word
    itself and its inflections (:func:`_same_stem`). Raises ``KeyError`` when that word is out of vocabulary."""
    key = max((_norm_word(w) for w in label_text.split()), key=len, default="")
    if key not in kv.key_to_index:
        raise KeyError(f"label word {key!r} is not in the word vectors")
    return [c for c, _ in kv.most_similar(key, topn=k + 40) if not _same_stem(key, c)][:k]


# --------------------------------------------------------------------------------------------------
# Human-marked tokens (RQ3 "Human Labels")
# --------------------------------------------------------------------------------------------------

#: What stands in for Wadhwa et al.'s human-marked rationale words, per task. Their Prolific
#: annotations (~2k QuaRel training rationales, up to 15 words each) are not in the shared data.
HUMAN_MARKS: dict[str, str] = {
    "csqa": "CoS-E v1.11 `explanation_selected` (Rajani et al. 2019): the span of the *question* an annotator "
            "highlighted as justifying the gold answer — human-marked words, but of the question, not of a "
            "teacher rationale; capped at 15 words",
}
#: Generated tasks whose generator knows exactly which rationale words decide the label: their ground truth
#: stands in for human marks (:func:`marked_words`; creatures: the sentences stating the asked fact and its rule).
GROUND_TRUTH_MARKS: dict[str, str] = {
    "creatures": "the generator's ground truth (helpers.synthetic.deciding_words): the words of the sentences "
                 "that state the asked attribute and the rule giving the answer — what an annotator would mark",
}
#: Tasks without any human marks in the data (the "Human Labels" row is left out for them).
NO_HUMAN_MARKS = ("quarel: the paper's own Prolific annotations are not in the data; obqa, anli, sst2, imdb: none in the "
                  "data; coinflip: synthetic, nobody marked anything (its scripted CoT's state words are the "
                  "known ground truth, but not human-marked)")


def human_marked_words(task: str, split: str = "train", data_dir: Any = None, k: int = 15
                       ) -> dict[str, list[str]]:
    """Human-marked key words per example id where the data carries them (see :data:`HUMAN_MARKS`):
    CSQA → the CoS-E highlighted question span, first ``k`` words. Any other task raises
    ``ValueError`` naming :data:`NO_HUMAN_MARKS`."""
    if task not in HUMAN_MARKS:
        raise ValueError(f"no human-marked tokens for {task!r}: {NO_HUMAN_MARKS}")
    recs = load_rationales("cose_v1.11", task, split, data_dir)
    return {i: str(r[0].meta.get("explanation_selected", "")).split()[:k] for i, r in recs.items()
            if str(r[0].meta.get("explanation_selected", "")).strip()}


def marked_words(task: str, items: Sequence[tuple[Any, str]], k: int = 15) -> tuple[dict[str, list[str]], str]:
    """``({example id: marked words}, what they are)`` for the rationales of ``items`` (``(example, rationale)``):
    a generated task's ground truth (:data:`GROUND_TRUTH_MARKS`, every deciding word of *that* rationale), else
    the data's human marks (:func:`human_marked_words`, first ``k``). Raises ``ValueError`` where neither exists."""
    if task in GROUND_TRUTH_MARKS:
        from .synthetic import deciding_words
        return {ex.id: deciding_words(ex, rationale) for ex, rationale in items}, GROUND_TRUTH_MARKS[task]
    marks = human_marked_words(task, k=k)
    return {ex.id: marks.get(ex.id, []) for ex, _ in items}, HUMAN_MARKS[task]


# --------------------------------------------------------------------------------------------------
# RQ3's variants: the words appended after the label
# --------------------------------------------------------------------------------------------------

def key_token_variants(task: str, items: Sequence[tuple[Any, str]], attributions: dict[str, Attribution], kv: Any,
                       *, k: int = 15, seed: int = 0) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """Wadhwa et al. Table 3's variants for the rationales of ``items`` (``(example, rationale)``), as
    ``{variant: {example id: words}}`` plus notes saying what was left out and why:

    * ``ig_top`` — the ``k`` words of highest attribution (:func:`top_k_tokens`), in rationale order;
    * ``ig_top_shuffled`` — the same words in a seeded random order;
    * ``glove_neighbours`` — each of those words replaced by a GloVe neighbour (:func:`glove_neighbours`;
      words GloVe lacks stay);
    * ``label_neighbours`` — the ``k`` words nearest the gold label's text (left out when GloVe knows no label);
    * ``human`` — the marked words (:func:`marked_words`: the generator's ground truth, or the data's human
      marks), left out where the task has neither."""
    import random
    ig_top = {ex.id: top_k_tokens(attributions[ex.id], k) for ex, _ in items}
    variants = {"ig_top": ig_top,
                "ig_top_shuffled": {i: random.Random(f"{seed}|{i}").sample(w, len(w)) for i, w in ig_top.items()}}
    glove, n_oov = {}, 0
    for i, words in ig_top.items():
        glove[i], oov = glove_neighbours(words, kv, seed=seed)
        n_oov += oov
    variants["glove_neighbours"] = glove
    notes = [f"GloVe neighbours: {n_oov} of {sum(map(len, ig_top.values()))} key words are not in GloVe and stay "
             f"as they are"]
    label_words = {}
    for ex, _ in items:
        try:
            label_words[ex.id] = label_neighbours(ex.answer_text(), kv, k=k)
        except KeyError:
            label_words[ex.id] = []
    if any(label_words.values()):
        variants["label_neighbours"] = label_words
    else:
        notes.append("words nearest the label: left out — GloVe knows none of the labels")
    try:
        variants["human"], what = marked_words(task, items, k=k)
        notes.append(f"human-marked tokens: {what}")
    except ValueError as e:
        notes.append(f"human-marked tokens: left out — {e}")
    return variants, notes
