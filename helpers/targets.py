"""Training targets: the (prompt, completion) pairs for every condition of both papers.

Every pair's ``prompt`` is :func:`helpers.prompts.format_input` (ending in ``"\\nA:"``) and its
``completion`` starts with a space; the trainer appends the tokenizer's EOS. With ``ANS`` the answer
sentence ``format_answer(ex, label)`` (e.g. ``"So the answer is (b)."``) and ``R`` a rationale:

======================  ==========================================  =====================================
condition               completion                                  source
======================  ==========================================  =====================================
``label_only``          `` ANS``                                    SCoTD Table 2 "Label-Only"; Wadhwa "Baseline"
``greedy_cot``          `` R ANS`` — one rationale per example      SCoTD "Greedy-CoT"
``scotd``               `` R_k ANS_k`` — one pair per kept sample   SCoTD (N samples per question)
``cot_before``          `` R ANS``                                  Wadhwa RQ1 "CoT before label"
``cot_after``           `` ANS R``                                  Wadhwa RQ1 "CoT after label"
``filler``              `` F×k ANS`` (``k`` filler tokens)          Wadhwa RQ1 "<unk> tokens" (Fig. 3)
``shuffled_before``     `` shuffle(R) ANS``                         Wadhwa RQ2 Table 2
``shuffled_after``      `` ANS shuffle(R)``                         Wadhwa RQ2 Table 2
``masked_before``       `` mask_p(R) ANS``                          Wadhwa RQ2 Fig. 4
``masked_after``        `` ANS mask_p(R)``                          Wadhwa RQ2 Fig. 4
``key_tokens``          `` ANS t1 t2 … tn`` (given tokens)          Wadhwa RQ3 Table 3 (IG top-15, word2vec)
======================  ==========================================  =====================================

Choices made here (the papers leave them open):

* **Which rationale is "greedy".** A replayed corpus holds samples, not a greedy decode: the greedy
  rationale is the kept sample with the highest teacher log-prob when every kept sample has one, else
  the first kept sample (lowest ``k``). ``greedy_cot``, ``cot_*``, ``shuffled_*`` and ``masked_*``
  use that one rationale per example (Wadhwa et al. elicit one rationale per example) unless
  ``n_rationales`` asks for more; ``scotd`` uses every kept sample.
* **Tokens for shuffling and masking** are whitespace-separated words (the papers' examples shuffle
  and mask words), so the shuffled text is still plain text the student tokenizer reads back.
  The mask is the literal ``"[MASK]"`` (as printed in Wadhwa et al.), ``round(p·n)`` words masked.
* **The filler token** (``filler_token``): the student tokenizer's own unknown token when it has a
  dedicated one (its ``unk_token`` names an unknown token, e.g. Gemma's ``<unk>``, and is none of
  BOS/EOS/padding); otherwise the reserved token ``"<unk>"``, which :func:`helpers.train.train_student`
  adds to the tokenizer (resizing the embeddings) with its embedding started from the space token's,
  so that a short budget can learn it. SmolLM2 gets the reserved token: its ``unk_token`` is
  ``<|endoftext|>``, the document separator of its pretraining (the base model's EOS), not a
  content-free token (GPT-2, the paper's student, also maps ``unk`` to ``<|endoftext|>``). ``k``
  fillers are written without spaces so each is exactly one token.
* **Labels.** Supervised: the gold label, and corpora are filtered to correct samples. Few-shot
  (SCoTD §3.1): each CoT pair carries its own sample's label; ``label_only`` uses the teacher's
  majority label (ties → the earliest sample); samples without an answer cannot form a pair and are
  skipped (counted in the log).
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from .config import UnknownName
from .prompts import format_answer, format_input
from .tasks import Example

log = logging.getLogger(__name__)

MASK_TOKEN = "[MASK]"
RESERVED_FILLER = "<unk>"


@dataclass(frozen=True)
class Pair:
    """One training pair. ``completion`` starts with a space and carries no EOS."""
    prompt: str
    completion: str
    condition: str
    example_id: str
    label: str
    sample_k: int | None = None     # which corpus sample the rationale came from (None: no rationale)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Condition:
    name: str
    uses_rationale: bool
    position: str | None          # "before" | "after" the answer sentence, None for no extra text
    transform: str = "none"       # none | shuffle | mask | filler | key_tokens
    all_samples: bool = False     # one pair per kept sample (SCoTD)
    source: str = ""


CONDITIONS: dict[str, Condition] = {c.name: c for c in [
    Condition("label_only", False, None, source="SCoTD Tab. 2 Label-Only; Wadhwa Tab. 1 Baseline"),
    Condition("greedy_cot", True, "before", source="SCoTD Tab. 2 Greedy-CoT"),
    Condition("scotd", True, "before", all_samples=True, source="SCoTD Tab. 2"),
    Condition("cot_before", True, "before", source="Wadhwa RQ1 Tab. 1"),
    Condition("cot_after", True, "after", source="Wadhwa RQ1 Tab. 1"),
    Condition("filler", False, "before", "filler", source="Wadhwa RQ1 Fig. 3"),
    Condition("shuffled_before", True, "before", "shuffle", source="Wadhwa RQ2 Tab. 2"),
    Condition("shuffled_after", True, "after", "shuffle", source="Wadhwa RQ2 Tab. 2"),
    Condition("masked_before", True, "before", "mask", source="Wadhwa RQ2 Fig. 4"),
    Condition("masked_after", True, "after", "mask", source="Wadhwa RQ2 Fig. 4"),
    Condition("key_tokens", False, "after", "key_tokens", source="Wadhwa RQ3 Tab. 3"),
]}


def get_condition(name: str) -> Condition:
    if name not in CONDITIONS:
        raise UnknownName(f"unknown target condition {name!r}; choose one of {sorted(CONDITIONS)}")
    return CONDITIONS[name]


def filler_token(tokenizer: Any | None) -> str:
    """The filler for ``filler``: the tokenizer's ``unk_token`` if it is a dedicated unknown token (its
    text names one, "unk", and it is none of BOS/EOS/padding), else :data:`RESERVED_FILLER` (``"<unk>"``,
    added to the tokenizer by the trainer). Without a tokenizer: :data:`RESERVED_FILLER`."""
    if tokenizer is None:
        return RESERVED_FILLER
    unk = getattr(tokenizer, "unk_token", None)
    if unk is None or "unk" not in str(unk).lower():
        return RESERVED_FILLER
    unk_id = tokenizer.convert_tokens_to_ids(unk)
    others = {getattr(tokenizer, f"{t}_token_id", None) for t in ("bos", "eos", "pad")}
    if unk_id is None or unk_id in others:
        return RESERVED_FILLER
    return unk


def shuffle_words(text: str, rng: random.Random) -> str:
    """The words of ``text`` (whitespace-separated) in a random order."""
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def mask_words(text: str, p: float, rng: random.Random, mask: str = MASK_TOKEN) -> str:
    """Replace ``round(p·n)`` randomly chosen words of ``text`` by ``mask``, keeping word order."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"mask fraction p must be in [0, 1], got {p}")
    words = text.split()
    n_mask = int(round(p * len(words)))
    for i in rng.sample(range(len(words)), n_mask):
        words[i] = mask
    return " ".join(words)


def _rng(seed: int, ex_id: str, j: int) -> random.Random:
    # string seeds hash deterministically (sha512) across processes, unlike hash()
    return random.Random(f"{seed}|{ex_id}|{j}")


def _check_label(ex: Example, label: str | None, what: str) -> str:
    if label is None:
        raise ValueError(f"{ex.task}/{ex.id}: {what} has no label (unlabeled example, or a sample "
                         "without an answer)")
    if label not in ex.options:
        raise ValueError(f"{ex.task}/{ex.id}: {what} label {label!r} is not an option {ex.options}")
    return label


def build_pairs(condition: str, example: Example, rationales: Sequence[str] = (), *,
                labels: Sequence[str | None] | None = None, label: str | None = None,
                sample_ks: Sequence[int] | None = None, tokenizer: Any | None = None,
                k: int = 10, p: float = 0.5, key_tokens: Sequence[str] | None = None,
                n_rationales: int | None = None, seed: int = 0) -> list[Pair]:
    """The training pairs of one example under ``condition``.

    ``rationales`` are the kept rationales in preference order (the first is the "greedy" one),
    ``labels`` their answers (default: the gold answer for each), ``label`` the answer of pairs
    without a rationale (default: gold). ``k``: filler tokens (``filler``); ``p``: masked fraction
    (``masked_*``); ``key_tokens``: the words appended after the answer (``key_tokens``);
    ``n_rationales``: rationales used by single-rationale conditions (default 1; ``scotd``: all).
    ``seed`` fixes shuffles and masks (per example and rationale).
    """
    cond = get_condition(condition)
    prompt = format_input(example)
    rationales = [str(r).strip() for r in rationales]
    if labels is None:
        labels = [example.answer] * len(rationales)
    if len(labels) != len(rationales):
        raise ValueError(f"{example.id}: {len(rationales)} rationales but {len(labels)} labels")
    ks = list(sample_ks) if sample_ks is not None else list(range(len(rationales)))

    if not cond.uses_rationale:
        lab = _check_label(example, label if label is not None else example.answer, "the example")
        ans = format_answer(example, lab)
        if cond.transform == "none":
            completion = f" {ans}"
        elif cond.transform == "filler":
            if k < 0:
                raise ValueError(f"filler count k must be >= 0, got {k}")
            completion = f" {filler_token(tokenizer) * k} {ans}" if k else f" {ans}"
        elif cond.transform == "key_tokens":
            if key_tokens is None:
                raise ValueError(f"{example.id}: condition 'key_tokens' needs key_tokens (a word list)")
            toks = " ".join(str(t).strip() for t in key_tokens if str(t).strip())
            completion = f" {ans} {toks}" if toks else f" {ans}"
        else:  # pragma: no cover - registry is closed
            raise AssertionError(cond.transform)
        return [Pair(prompt, completion, condition, example.id, lab)]

    if not rationales:
        return []
    n_use = len(rationales) if cond.all_samples else (n_rationales or 1)
    pairs = []
    for j, (rat, lab, sk) in enumerate(list(zip(rationales, labels, ks))[:n_use]):
        if not rat:
            raise ValueError(f"{example.task}/{example.id}: rationale {sk} is empty")
        lab = _check_label(example, lab, f"rationale {sk}")
        if cond.transform == "shuffle":
            rat = shuffle_words(rat, _rng(seed, example.id, j))
        elif cond.transform == "mask":
            rat = mask_words(rat, p, _rng(seed, example.id, j))
        ans = format_answer(example, lab)
        completion = f" {rat} {ans}" if cond.position == "before" else f" {ans} {rat}"
        pairs.append(Pair(prompt, completion, condition, example.id, lab, sk))
    return pairs


def greedy_order(samples: Sequence[Any]) -> list[Any]:
    """Samples in "greedy first" order: by teacher log-prob (descending) when every sample has one,
    else by sample index ``k``."""
    samples = list(samples)
    if samples and all(getattr(s, "logprob", None) is not None for s in samples):
        return sorted(samples, key=lambda s: (-s.logprob, s.k))
    return sorted(samples, key=lambda s: s.k)


def majority_label(samples: Sequence[Any]) -> str | None:
    """The most frequent non-None sample label; ties go to the label whose first sample comes first."""
    labels = [s.label for s in sorted(samples, key=lambda s: s.k) if s.label is not None]
    if not labels:
        return None
    counts = Counter(labels)
    best = max(counts.values())
    return next(lab for lab in labels if counts[lab] == best)


def pairs_from_corpus(corpus: Any, condition: str, *, supervised: bool = True,
                      key_tokens: Mapping[str, Sequence[str]] | Callable[[Example], Sequence[str]] | None = None,
                      **kw: Any) -> list[Pair]:
    """All training pairs of ``corpus`` (a :class:`helpers.corpus.Corpus`) under ``condition``.

    ``supervised=True``: rationale conditions keep only samples whose label is the gold answer
    (SCoTD's supervised filter) and ``label_only``/``filler``/``key_tokens`` use the gold label for
    *every* question of the corpus (so label-only and SCoTD students see the same questions).
    ``supervised=False`` (few-shot): all samples with an answer, each with its own label, and the
    teacher's majority label for the label-only family. ``key_tokens`` maps example id (or a
    function of the example) to its word list. Other keywords go to :func:`build_pairs`.
    """
    cond = get_condition(condition)
    out: list[Pair] = []
    n_no_label = n_wrong = n_no_pairs = 0
    for entry in corpus.entries:
        ex = entry.example
        kt = None
        if cond.transform == "key_tokens":
            if key_tokens is None:
                raise ValueError("condition 'key_tokens' needs key_tokens= (a dict id -> words, or a function)")
            kt = key_tokens(ex) if callable(key_tokens) else key_tokens.get(ex.id)
            if kt is None:
                raise ValueError(f"{ex.task}/{ex.id}: no key tokens given for this example")
        if not cond.uses_rationale:
            lab = ex.answer if supervised else majority_label(entry.samples)
            if lab is None:
                n_no_label += 1
                continue
            out += build_pairs(condition, ex, label=lab, key_tokens=kt, **kw)
            continue
        kept = []
        for s in entry.samples:
            if s.label is None:
                n_no_label += 1
            elif supervised and s.label != ex.answer:
                n_wrong += 1
            else:
                kept.append(s)
        kept = greedy_order(kept)
        pairs = build_pairs(condition, ex, [s.rationale for s in kept], labels=[s.label for s in kept],
                            sample_ks=[s.k for s in kept], key_tokens=kt, **kw)
        n_no_pairs += not pairs
        out += pairs
    log.info("%s: %d pairs from %d questions (%d samples without an answer, %d wrong samples dropped, "
             "%d questions without a usable rationale)", condition, len(out), len(corpus.entries),
             n_no_label, n_wrong, n_no_pairs)
    return out


def first_correct_rationales(corpus: Any) -> list[tuple[Example, str]]:
    """``(example, rationale)`` for every question of ``corpus`` with a correct sample: its first correct CoT in
    :func:`greedy_order` — the one the CoT-before and CoT-after students train on, and Wadhwa RQ3 attributes."""
    out = []
    for entry in corpus.entries:
        kept = greedy_order([s for s in entry.samples if s.label == entry.example.answer])
        if kept:
            out.append((entry.example, kept[0].rationale))
    return out


def pairs_from_examples(examples: Iterable[Example], condition: str = "label_only", **kw: Any) -> list[Pair]:
    """Pairs for conditions that need no corpus (``label_only``, ``filler``) from gold labels."""
    cond = get_condition(condition)
    if cond.uses_rationale:
        raise ValueError(f"condition {condition!r} needs rationales: use pairs_from_corpus")
    out: list[Pair] = []
    for ex in examples:
        out += build_pairs(condition, ex, **kw)
    return out
