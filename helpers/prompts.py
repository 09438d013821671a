"""Prompts: one text convention for the whole suite, and the answer extractor.

Multiple choice (CSQA, OBQA, QuaRel)::

    Q: <question>
    Answer Choices: (a) <text> (b) <text> ...
    A: <rationale> So the answer is (b).

Classification (IMDB, SST-2, ANLI)::

    Review: <text>                       (ANLI: "Premise: …\\nHypothesis: …")
    Q: Is the sentiment of this review positive or negative?
    A: <rationale> So the answer is positive.

``format_input`` gives the zero-shot prompt (what the student sees), ``format_answer`` the final answer
sentence, ``extract_answer`` maps generated text back to an option of ``ex.options`` or ``None``
("no answer"). The first "answer is X" in the text wins, so text generated after the answer is ignored.
"""
from __future__ import annotations

import re
from typing import Any

from .tasks import Example

ANSWER_PREFIX = "So the answer is"

_QUESTIONS = {
    "imdb": "Is the sentiment of this review positive or negative?",
    "imdb_contrast": "Is the sentiment of this review positive or negative?",
    "sst2": "Is the sentiment of this sentence positive or negative?",
    "anli": "Does the premise entail the hypothesis, contradict it, or neither (entailment, contradiction or neutral)?",
}
_TEXT_HEADERS = {"imdb": "Review", "imdb_contrast": "Review", "sst2": "Sentence"}


#: Where a shortened input was cut (:func:`shorten_words`); the prompt header names it.
CUT_MARK = "[…]"
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def shorten_words(text: str, max_words: int) -> str:
    """``text`` in at most ``max_words`` words: the first ``ceil(max_words / 2)`` and the last
    ``floor(max_words / 2)``, joined by :data:`CUT_MARK` (a review's opening and its closing verdict
    both carry sentiment). Words are whitespace-separated; HTML line breaks (``<br />``) count as
    whitespace and whitespace runs become one space, also when nothing is cut."""
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive int, got {max_words!r}")
    words = _HTML_BREAK.sub(" ", text).split()
    if len(words) <= max_words:
        return " ".join(words)
    head = (max_words + 1) // 2
    tail = words[len(words) - (max_words - head):] if max_words > head else []
    return " ".join(words[:head] + [CUT_MARK] + tail)


def shorten_input(ex: Example, max_words: int | None) -> Example:
    """A copy of a review/sentence example whose *input* text is cut by :func:`shorten_words` — never
    its label — with ``meta`` recording ``max_words``, the original ``words`` and whether it was
    ``shortened`` (then :func:`format_input` states the cut in the prompt, and :func:`build_prompt` cuts
    the prompt's exemplars the same way). ``None`` returns ``ex`` itself. Multiple-choice and ANLI
    inputs are refused (their text is not one passage to cut); an example already cut to another
    ``max_words`` too (cut from the original)."""
    if max_words is None:
        return ex
    if ex.is_mc or ex.task == "anli":
        raise ValueError(f"{ex.task}/{ex.id}: only single-passage inputs (reviews, sentences) are shortened")
    done = ex.meta.get("max_words")
    if done is not None:
        if done == max_words:
            return ex
        raise ValueError(f"{ex.task}/{ex.id}: already shortened to {done} words; shorten the original example")
    from dataclasses import replace
    n = len(_HTML_BREAK.sub(" ", ex.text).split())
    return replace(ex, text=shorten_words(ex.text, max_words),
                   meta={**ex.meta, "max_words": max_words, "words": n, "shortened": n > max_words})


def label_to_display(ex: Example, label: str) -> str:
    """How an option is written in text: ``"B"`` → ``"(b)"`` for MC, label strings as they are."""
    if ex.is_mc:
        return f"({label.lower()})"
    return label


def format_choices(ex: Example) -> str:
    return "Answer Choices: " + " ".join(f"({c.label.lower()}) {c.text}" for c in ex.choices)


def format_input(ex: Example) -> str:
    """The zero-shot prompt for one example, ending in ``"\\nA:"`` (the completion starts with a space).
    A shortened input (:func:`shorten_input`) says so in its header: ``Review (shortened: […] marks
    left-out words): …``."""
    if ex.is_mc:
        return f"Q: {ex.text}\n{format_choices(ex)}\nA:"
    if ex.task == "anli":
        return f"{ex.text}\nQ: {_QUESTIONS['anli']}\nA:"
    header = _TEXT_HEADERS.get(ex.task, "Text")
    if ex.meta.get("shortened"):
        header += f" (shortened: {CUT_MARK} marks left-out words)"
    question = _QUESTIONS.get(ex.task, "Which label fits: " + ", ".join(ex.labels) + "?")
    return f"{header}: {ex.text}\nQ: {question}\nA:"


def format_answer(ex: Example, label: str) -> str:
    """The answer sentence, e.g. ``"So the answer is (b)."``."""
    if label not in ex.options:
        raise ValueError(f"{ex.task}/{ex.id}: label {label!r} is not an option {ex.options}")
    return f"{ANSWER_PREFIX} {label_to_display(ex, label)}."


_MC_RE = re.compile(r"answer is:?\s*\(?\s*([a-z])\s*\)", re.IGNORECASE)
_MC_BARE_RE = re.compile(r"answer is:?\s*([a-z])\b", re.IGNORECASE)


def extract_answer(ex: Example, text: str) -> str | None:
    """The option the text commits to (first "answer is …"), or ``None`` for no answer.

    MC accepts ``(b)``, ``(B)``, ``b`` or the exact text of a choice after "answer is";
    classification accepts any of the task's label strings (case-insensitive).
    """
    if ex.is_mc:
        letters = {c.label.lower(): c.label for c in ex.choices}
        for rx in (_MC_RE, _MC_BARE_RE):
            m = rx.search(text)
            if m and m.group(1).lower() in letters:
                return letters[m.group(1).lower()]
        m = re.search(r"answer is:?\s*(.+)", text, re.IGNORECASE)
        if m:
            tail = m.group(1).strip().lower()
            for c in sorted(ex.choices, key=lambda c: -len(c.text)):
                if tail.startswith(c.text.lower()):
                    return c.label
        return None
    m = re.search(r"answer is:?\s*\(?\s*([A-Za-z]+)", text, re.IGNORECASE)
    if m:
        word = m.group(1).lower()
        for lab in ex.labels:
            if word == lab.lower():
                return lab
    return None


def split_rationale(ex: Example, completion: str) -> tuple[str, str | None]:
    """Split a generated completion into (rationale, answer): the text before "So the answer is"."""
    idx = completion.lower().find("answer is")
    head = completion if idx < 0 else completion[:idx]
    head = re.sub(r"(?:\b(?:So|Therefore|Thus|Hence),?\s*)?(?:\bthe)?\s*$", "", head.rstrip(),
                  flags=re.IGNORECASE).strip()
    return head, extract_answer(ex, completion)


def rationale_conclusion(ex: Example, completion: str) -> str | None:
    """The option a completion's own rationale concludes, independently of its final letter.

    Coin flip: the coin's last stated face against its starting face. Other MC tasks: the choice
    whose text the rationale mentions last (None when it names none). Classification: the last label
    word in the rationale. Used to check whether a CoT student's letter follows its own reasoning."""
    rationale, _ = split_rationale(ex, completion)
    if not rationale:                              # answer first (CoT after the label): the text after it
        m = re.search(r"answer is[^.]*\.", completion, re.IGNORECASE)
        rationale = completion[m.end():].strip() if m else ""
    from .synthetic import CONCLUSIONS
    if ex.task in CONCLUSIONS:                     # generated tasks: the generator knows what a rationale says
        return CONCLUSIONS[ex.task](ex, rationale)
    low = rationale.lower()
    best, where = None, -1
    if ex.is_mc:
        for c in ex.choices:
            i = low.rfind(c.text.lower())
            if c.text and i > where:
                best, where = c.label, i
        return best
    for lab in ex.labels:
        m = list(re.finditer(rf"\b{re.escape(lab.lower())}\b", low))
        if m and m[-1].start() > where:
            best, where = lab, m[-1].start()
    return best


# ---------------------------------------------------------------------------------------------------
# Few-shot prompt sets P (SCoTD §2): exemplars with gold label and a chain-of-thought written for this
# project. Exemplars reference rows of the data by id (the text is read from the data directory);
# SST-2 exemplars are sentences written here (the SST-2 copy has only a validation split).
# ANLI exemplars come from r1_dev (no train split here): evaluation must exclude `exemplar_ids("anli")`.

from dataclasses import dataclass as _dataclass
from functools import lru_cache as _lru_cache


@_dataclass(frozen=True)
class Exemplar:
    """One prompt exemplar: a data row (``id`` in ``split``) or written ``text``, gold ``answer``, CoT."""
    id: str
    answer: str
    rationale: str
    split: str = "train"
    text: str | None = None       # set for exemplars written here (not a data row)


_E = Exemplar
EXEMPLARS: dict[str, tuple[Exemplar, ...]] = {
    "quarel": (
        _E("quarel_train_0098", "A", "Sand shifts under the feet and soaks up the push, while a gym floor stays firm and "
           "pushes back. The firm floor gives the jumper more resistance to push against."),
        _E("quarel_train_0808", "B", "Sound spreads out and fades as it travels. Once the train is farther away, less of "
           "the sound reaches the listener, so the horn seems quieter."),
        _E("quarel_train_1333", "B", "A rope with more material across it can carry a bigger load before it snaps. "
           "Tony needs a strong rope, so he should choose the wide one."),
        _E("quarel_train_1097", "A", "A heavier rider means more mass for the same push on the pedals, and more mass "
           "speeds up more slowly. When Steve weighed more, his bike was slower to get up to speed."),
        _E("quarel_train_0192", "A", "The dog throws with its mouth, which is much weaker than a person's arm. Millie can "
           "throw harder, so her throw sends the ball farther."),
        _E("quarel_train_0748", "B", "The pull of gravity grows with the mass of a planet. Mars pulls more weakly than "
           "Jupiter, which means Mars has less mass."),
        _E("quarel_train_1039", "B", "Something that bends easily can flex a long way without snapping, while a stiff "
           "object cracks. The straw bends more easily, so it is less likely to break."),
        _E("quarel_train_1599", "A", "Less friction means less of the turtle's energy is lost with each step, so it "
           "can keep going longer. The sandy ground has the low friction, so the turtle goes farther there."),
        _E("quarel_train_1146", "A", "A rougher surface rubs against a rolling object more and slows it down. Meghan's "
           "own driveway is rougher than her neighbor's smooth one, so the pear moves slower on it."),
    ),
    "csqa": (
        _E("42d8c2c6cd46df84df7bf732a6dc5eb3", "A", "Pressing the accelerator feeds the engine and makes the car go. "
           "The direct result of pushing the pedal is that the car is moving; the other choices are vaguer or wrong."),
        _E("4322b5a448236600fb178d61e344c354", "D", "A booth that sells tickets for trains and reports their delays "
           "belongs where trains stop. Of the choices, only a metro station has trains."),
        _E("385ee449a4ea9cc95e8592cb065c8e9f", "C", "Silk has long been made in China and is sold in shops run by "
           "Chinese communities. A chinatown is a place you can go to, and its shops often sell silk."),
        _E("3a8c0cacf6ee0d0dd0588e32ed0c7c6a", "D", "Time that is not taken up by any duty is free time. Having "
           "nothing you must do means you have spare time."),
        _E("2d10a46c0de4be8178aef3ad43fca62d", "E", "A grain of sand only bothers you when it is against your skin. "
           "Of these, the bathing suit is the thing you wear, so sand inside it is uncomfortable."),
        _E("ee722bf6d44de65b4c9c61ad9086313e", "A", "Clear tape lets light through, so it does not block the view. "
           "Joe chose it so that he would not obscure what he can see."),
        _E("325ffb4414918aadb442fae8123534a1", "D", "The Milky Way is the galaxy that holds our sun and billions of "
           "other stars. A galaxy is found out in space."),
        _E("5149db90adab76c5bde03c1ed778401e", "B", "Going downstairs inside a home leads to the lowest floor, which "
           "is the basement. People often keep tools there."),
        _E("a1e63c7a6c8331ebe3e2e8c6d2920d2e", "A", "The dark core of an ordinary pencil is made of graphite, but "
           "people call it lead. That writing tool is a lead pencil."),
        _E("1791168155f717d78550b9a729a9e694", "E", "Cargo is the goods a ship carries, and on a ship it is stored "
           "below deck in the hold. So a ship's hold is another word for the cargo space."),
    ),
    "obqa": (
        _E("12-214", "B", "Biodiversity is highest where it is warm and wet and lowest where it is cold and dry. "
           "The arctic is the coldest of these places, so it has the fewest kinds of living things."),
        _E("12-1015", "D", "A dishwasher cleans with hot water and often dries the dishes with heat. A dish taken "
           "out right after the cycle is still warm."),
        _E("7-64", "A", "Cooking changes food by heating it. Food can be cooked in many ways without a stove, "
           "oven or fire, but every way needs higher temperatures applied to the food."),
        _E("8-34", "B", "Changing an object's structure in a destructive way means damaging it. Breaking the "
           "object into pieces damages it; the other choices do not."),
        _E("7-1079", "C", "In summer, the half of the earth tilted toward the sun gets more direct sunlight. "
           "That part of the planet is angled closer to the sun, which makes it hotter."),
        _E("12-677", "D", "Webbed feet help an animal push against water and mud. Ducks and frogs use them to move "
           "through swamps, which are wet and muddy."),
        _E("14-1215", "A", "Growing means building new body tissue, and that takes energy from food. A child "
           "without enough energy cannot grow, whatever else they have."),
        _E("9-444", "D", "A table fan turns electrical energy into motion, and the moving air cools people and "
           "things. The other items do not convert electricity to keep things cool."),
        _E("8-243", "A", "Being hit in the face hurts. The child cries because it was harmed."),
    ),
    "imdb": (
        _E("imdb_train_pos_3247_10", "positive", "The reviewer says they like the movie and never get tired of "
           "watching it. Wanting to watch something again and again shows strong liking."),
        _E("imdb_train_neg_1570_2", "negative", "The review calls the movie terrible and improbable, criticizes the "
           "acting and directing, and tells people not to watch it."),
        _E("imdb_train_pos_3518_10", "positive", "The review praises a wild scene, a fantastic actor and the twists, "
           "and ends by calling it a must-see."),
        _E("imdb_train_neg_4627_1", "negative", "The review lists only faults: cheap, amateurish, unimaginative and "
           "dull, with no amusement value to make up for it."),
        _E("imdb_train_pos_8580_9", "positive", "The reviewer enjoyed the humor, says it is worth the rental price "
           "and predicts you will watch it twice."),
        _E("imdb_train_neg_3570_1", "negative", "The reviewer calls it the worst trash they have ever seen and "
           "mistook the film for a bad joke."),
        _E("imdb_train_pos_11595_10", "positive", "The reviewer calls it their favorite movie with a great story and "
           "wishes they could buy a copy."),
        _E("imdb_train_neg_342_1", "negative", "The reviewer found the plot predictable, calls the acting, plot "
           "and movie very bad, gives it 1/10 and warns people not to watch it."),
    ),
    "sst2": (  # sentences written for this project (SST-2 here has only its validation split)
        _E("sst2_prompt_0", "positive", "Warm and funny are words of praise for a film.", split="written",
           text="a warm , funny little film that never overstays its welcome ."),
        _E("sst2_prompt_1", "negative", "Saying the plot falls apart and the jokes fall flat points out two failures.",
           split="written", text="the plot falls apart halfway through and the jokes land with a thud ."),
        _E("sst2_prompt_2", "positive", "The sentence credits the cast with giving an ordinary story real life, "
           "which is a compliment.", split="written",
           text="the cast brings real energy to a story we have seen before ."),
        _E("sst2_prompt_3", "negative", "A film that feels two hours too long is boring the writer.",
           split="written", text="ninety minutes that feel like three hours ."),
        _E("sst2_prompt_4", "positive", "Calling the film beautiful and moving expresses admiration.",
           split="written", text="a beautiful , moving portrait of a family in crisis ."),
        _E("sst2_prompt_5", "negative", "The writer finds the dialogue stiff and the characters dull, both "
           "criticisms.", split="written", text="stiff dialogue and characters you never care about ."),
        _E("sst2_prompt_6", "positive", "Saying you leave the theater smiling means the film was enjoyable.",
           split="written", text="you 'll leave the theater with a smile on your face ."),
        _E("sst2_prompt_7", "negative", "Even calling the lead actor's charm not enough to save the film says the "
           "film fails.", split="written", text="not even the star 's charm can rescue this mess ."),
    ),
    "anli": (
        _E("c981a610-57c1-45d9-a8a0-121e1ba3a1f1", "entailment", "The premise says she placed 4th runner-up at Miss "
           "Universe 2007. The hypothesis states the same thing.", split="r1_dev"),
        _E("eba0ebf0-a4c2-4c1f-b8d7-1955f4e22bd7", "neutral", "The premise says she was born in Alexandria and died in "
           "1965, but it does not say where she died. The hypothesis may or may not be true.", split="r1_dev"),
        _E("f2a03b34-2693-4600-851f-41b83a99b302", "contradiction", "2011 is the year of the census, and the "
           "population counted then was 737. A population of 2011 disagrees with the premise.", split="r1_dev"),
        _E("ad7d28d7-f332-4afc-92bd-34ec3734c4ab", "entailment", "Porter retired in 2010, and 2010 is 10 years after "
           "2000. The hypothesis follows from the premise.", split="r1_dev"),
        _E("f064b82d-0bf1-407f-a41e-5a323888e037", "neutral", "The premise gives his birth year as 1934, which fits, "
           "but it says nothing about his religion. The second half cannot be checked.", split="r1_dev"),
        _E("4e152889-04ec-48ad-a19f-976a70e0cf28", "contradiction", "The premise says the album was released in "
           "1984, not 1983. The hypothesis gets the year wrong.", split="r1_dev"),
        _E("6865649e-8977-4415-8a93-649f33a3d04a", "entailment", "The film came out in 2000 as the sequel to a 1999 "
           "film, so it was made after 1999.", split="r1_dev"),
        _E("5e0fc203-16d4-4939-9e63-12bca72d42aa", "neutral", "The premise tells us his birth date and football "
           "career, but nothing about how he was delivered.", split="r1_dev"),
        _E("f6f0221e-79ae-4534-a22e-c09eb34d74c8", "contradiction", "He was born in 1981, so he cannot have played "
           "for any club for 60 years.", split="r1_dev"),
    ),
    # the generated coin-flip task (helpers.synthetic): rows of its train split, CoTs written to track the coin
    "coinflip": (
        _E("coinflip_train_0000", "A", "The coin starts heads up. Nadia flips it, so it is now tails up. Hugo does not "
           "flip it, so it is still tails up. Anya flips it, so it is now heads up. It ends heads up, which is how "
           "it started."),
        _E("coinflip_train_0002", "B", "The coin starts heads up. Diana flips it, so it is now tails up. Tomas flips it, "
           "so it is now heads up. Zane flips it, so it is now tails up. It ends tails up, not heads up."),
        _E("coinflip_train_0003", "A", "The coin starts heads up. Nobody flips it: Omar, Oskar, Kofi and Leila all leave "
           "it alone, so it is still heads up."),
        _E("coinflip_train_0006", "B", "The coin starts heads up. Diana does not flip it, so it is still heads up. Omar "
           "does not flip it, so it is still heads up. Lucas flips it, so it is now tails up. Diego does not flip "
           "it, so it is still tails up. It ends tails up, not heads up."),
    ),
}
EXEMPLARS["imdb_contrast"] = EXEMPLARS["imdb"]      # contrast sets are evaluation-only; use IMDb exemplars
_EXEMPLAR_TASK = {"imdb_contrast": "imdb"}          # task whose data holds the exemplar rows

RATIONALIZE_HINT = "The correct answer is {answer}. Explain why."


def exemplar_ids(task: str) -> set[str]:
    """Ids of the data rows used as exemplars of ``task``'s prompt (exclude them from evaluation)."""
    return {e.id for e in EXEMPLARS.get(task, ()) if e.text is None}


@_lru_cache(maxsize=None)
def exemplars(task: str) -> tuple[tuple[Example, Exemplar], ...]:
    """The prompt set P of ``task`` as ``(Example, Exemplar)`` pairs, checked against the data.

    Raises ``KeyError`` for a task without exemplars and :class:`~helpers.tasks.DataError` when an
    exemplar row is missing or its gold answer disagrees with the data.
    """
    from .tasks import DataError, get_spec, load_task, split_path
    if task not in EXEMPLARS:
        from .config import UnknownName
        raise UnknownName(f"no few-shot exemplars for task {task!r}; have {sorted(EXEMPLARS)}")
    src = _EXEMPLAR_TASK.get(task, task)
    spec = get_spec(src)
    out = []
    rows: dict[str, dict[str, Example]] = {}
    for e in EXEMPLARS[task]:
        if e.text is not None:
            ex = Example(src, e.id, e.text, e.answer, (), spec.labels, {"written": True})
        else:
            if e.split not in rows:
                rows[e.split] = {x.id: x for x in load_task(src, e.split)}
            ex = rows[e.split].get(e.id)
            if ex is None:
                raise DataError(split_path(src, e.split), None, "id", f"prompt exemplar {e.id!r} not found")
            if ex.answer != e.answer:
                raise DataError(split_path(src, e.split), None, "answer",
                                f"prompt exemplar {e.id!r}: gold is {ex.answer!r}, exemplar says {e.answer!r}")
        out.append((ex, e))
    return tuple(out)


def format_query(ex: Example, mode: str = "cot") -> str:
    """The question block ending in ``"\\nA:"``; ``mode="rationalize"`` states the gold answer first."""
    base = format_input(ex)
    if mode in ("cot", "direct"):
        return base
    if mode != "rationalize":
        raise ValueError(f"unknown prompt mode {mode!r} (cot | direct | rationalize)")
    if ex.answer is None:
        raise ValueError(f"{ex.task}/{ex.id}: rationalization needs the gold answer")
    hint = RATIONALIZE_HINT.format(answer=label_to_display(ex, ex.answer))
    assert base.endswith("\nA:")
    return base[: -len("A:")] + hint + "\nA:"


def format_exemplar(ex: Example, rationale: str, label: str, mode: str = "cot") -> str:
    """One solved exemplar: the query block, then `` <rationale> So the answer is (x).``
    (``mode="direct"``: the answer sentence only — SCoTD Table 2(a) "No CoT" prompting)."""
    if mode == "direct":
        return f"{format_query(ex, mode)} {format_answer(ex, label)}"
    return f"{format_query(ex, mode)} {rationale.strip()} {format_answer(ex, label)}"


def prompt_prefix(task: str, shots: int | None = None, mode: str = "cot", exclude: str | None = None,
                  max_words: int | None = None) -> str:
    """The few-shot prefix (exemplars joined by blank lines, ending in a blank line); ``max_words``
    shortens each exemplar's input (:func:`shorten_input`), never its CoT or answer."""
    pairs = [(shorten_input(x, max_words), e) for x, e in exemplars(task) if x.id != exclude]
    if shots is not None:
        if shots < 0:
            raise ValueError(f"shots must be >= 0, got {shots}")
        pairs = pairs[:shots]
    return "".join(format_exemplar(x, e.rationale, e.answer, mode) + "\n\n" for x, e in pairs)


def build_prompt(ex: Example, shots: int | None = None, mode: str = "cot") -> str:
    """Few-shot CoT prompt for ``ex``: ``shots`` exemplars (default all) + the query, ending in ``"\\nA:"``.

    An exemplar that is ``ex`` itself is skipped (the next one takes its place). A shortened ``ex``
    (:func:`shorten_input`) gets its exemplars shortened to the same ``max_words``.
    """
    return prompt_prefix(ex.task, shots, mode, exclude=ex.id, max_words=ex.meta.get("max_words")) + format_query(ex, mode)


def exemplar_budget(task: str, tokenizer: Any, *, margin: float = 1.5) -> int:
    """A teacher's generation budget sized from its own prompt set, as :func:`helpers.protocol.decode_budget`
    sizes a student's from its targets: ``margin`` × the longest exemplar completion (rationale + answer
    sentence) in ``tokenizer``'s tokens, rounded up to a multiple of 8. The margin covers questions longer
    than the exemplars (a 5-person coin flip's chain is ≈ 1.4× a 3-person one's)."""
    import math

    from .config import UnknownName
    if task not in EXEMPLARS:
        raise UnknownName(f"no prompt set for task {task!r}; tasks with exemplars: {sorted(EXEMPLARS)}")
    if margin < 1:
        raise ValueError(f"margin must be >= 1 (the budget holds at least the longest exemplar), got {margin}")
    longest = 0
    for ex, e in exemplars(task):
        completion = f" {e.rationale} {format_answer(ex, e.answer)}"
        longest = max(longest, len(tokenizer(completion, add_special_tokens=False)["input_ids"]))
    return int(-(-math.ceil(margin * longest) // 8) * 8)


def prompt_set_hash(task: str, shots: int | None = None, mode: str = "cot") -> str:
    """A short hash of the prompt set (recorded in corpus metadata)."""
    from .provenance import stable_hash
    return stable_hash(prompt_prefix(task, shots, mode))
