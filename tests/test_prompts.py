"""Few-shot prompt sets: real exemplar rows, gold labels, one format, the extractor on every exemplar."""
import re

import pytest

from helpers.prompts import (EXEMPLARS, build_prompt, exemplar_ids, exemplars, extract_answer, format_exemplar,
                             format_input, prompt_set_hash, split_rationale)
from helpers.tasks import DataError, load_task

SUITE = ["csqa", "obqa", "quarel", "anli", "imdb", "sst2"]


@pytest.mark.parametrize("task", SUITE)
def test_prompt_set_is_real_labeled_and_parsable(task, data_dir):
    pairs = exemplars(task)
    assert 7 <= len(pairs) <= 10
    assert len({x.id for x, _ in pairs}) == len(pairs)
    assert len({e.answer for _, e in pairs}) >= 2            # more than one label shown
    for ex, e in pairs:
        assert ex.answer == e.answer                            # exemplars() checked it against the data
        text = format_exemplar(ex, e.rationale, e.answer)
        assert text.startswith(format_input(ex))
        completion = text[len(format_input(ex)):]
        assert extract_answer(ex, completion) == e.answer
        rationale, label = split_rationale(ex, completion)
        assert rationale == e.rationale and label == e.answer
        assert "answer is" not in e.rationale.lower()


def test_exemplar_sources(data_dir):
    anli_dev = {x.id for x in load_task("anli", "r1_dev")}
    assert exemplar_ids("anli") and exemplar_ids("anli") <= anli_dev      # ANLI: from r1_dev, recorded
    assert exemplar_ids("sst2") == set()                                   # SST-2: written sentences
    sst = {x.text for x in load_task("sst2", "validation")}
    assert not any(e.text in sst for e in EXEMPLARS["sst2"])
    for task in ("csqa", "obqa", "quarel", "imdb"):
        assert all(e.split == "train" for e in EXEMPLARS[task])


def test_build_prompt_shots_self_exclusion_and_modes(data_dir):
    ex = load_task("quarel", "dev", limit=1)[0]
    p = build_prompt(ex, shots=3)
    assert p.endswith(format_input(ex)) and p.count("So the answer is") == 3
    assert build_prompt(ex).count("So the answer is") == len(EXEMPLARS["quarel"])
    assert build_prompt(ex, shots=0) == format_input(ex)
    first_ex, first = exemplars("quarel")[0]
    own = build_prompt(first_ex, shots=3)                  # an exemplar never sees its own solution
    assert own.count("So the answer is") == 3 and first.rationale not in own
    r = build_prompt(ex, shots=2, mode="rationalize")
    assert f"The correct answer is ({ex.answer.lower()})." in r.split("\n\n")[-1] and r.endswith("\nA:")
    assert prompt_set_hash("quarel", 3) != prompt_set_hash("quarel", 3, "rationalize")
    d = build_prompt(ex, shots=2, mode="direct")                 # "No CoT": answers only
    assert d.count("\nA: So the answer is (") == 2 and first.rationale not in d and d.endswith(format_input(ex))
    with pytest.raises(ValueError):
        build_prompt(ex, mode="nonsense")
    with pytest.raises(KeyError):
        exemplars("no_such_task")


def test_extractor_reports_no_answer(data_dir):
    ex = load_task("csqa", "dev", limit=1)[0]
    assert extract_answer(ex, " I am not sure what this is about.") is None
    cls = load_task("anli", "r1_test", limit=1)[0]
    assert extract_answer(cls, " So the answer is maybe.") is None
    assert extract_answer(cls, " So the answer is neutral.") == "neutral"


def test_bad_exemplar_is_reported(monkeypatch, data_dir):
    from helpers import prompts
    row = load_task("quarel", "train", limit=1)[0]                # an id of whichever data version is here
    wrong = next(o for o in row.options if o != row.answer)
    bad = prompts.Exemplar(row.id, wrong, "wrong gold")
    monkeypatch.setitem(prompts.EXEMPLARS, "quarel", (bad,))
    prompts.exemplars.cache_clear()
    try:
        with pytest.raises(DataError, match=re.escape(f"prompt exemplar {row.id!r}: gold is {row.answer!r}")):
            prompts.exemplars("quarel")
    finally:
        prompts.exemplars.cache_clear()


def test_a_teachers_budget_is_sized_from_its_prompt_set():
    """1.5 × the longest exemplar completion in the teacher's tokens, a multiple of 8: the coin flip's 80-token
    budget cut a 5-person chain (≈ 88 tokens) short; the sized one holds it."""
    from helpers.config import UnknownName
    from helpers.models import load_tokenizer
    from helpers.prompts import exemplar_budget, format_answer
    from helpers.teacher import prompt_budget
    tok = load_tokenizer("smollm2-135m")
    longest = max(len(tok(f" {e.rationale} {format_answer(ex, e.answer)}", add_special_tokens=False)["input_ids"])
                  for ex, e in exemplars("coinflip"))
    budget = exemplar_budget("coinflip", tok)
    assert budget % 8 == 0 and 1.5 * longest <= budget < 1.5 * longest + 8 and budget > 88
    assert exemplar_budget("coinflip", tok, margin=1.0) >= longest
    assert prompt_budget(None, "coinflip", 40) == 40                       # an explicit budget wins
    assert prompt_budget(object(), "coinflip") == budget                  # no tokenizer of its own: SmolLM2's
    with pytest.raises(UnknownName, match="no prompt set for task 'creatures'"):
        exemplar_budget("creatures", tok)
    with pytest.raises(ValueError, match="margin must be >= 1"):
        exemplar_budget("coinflip", tok, margin=0.5)
