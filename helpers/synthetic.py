"""Generated reasoning tasks: the course's vehicle and the suite's positive control.

The papers' own tasks (QuaRel, CSQA, …) need students of 1B+ parameters and many CoTs per question
before distillation shows; a 135M student on a 2-core laptop stays at chance. A *coin flip* question
(Wei et al. 2022) is the opposite: the answer is the parity of the number of flips, which a small
student cannot read off the question in one step (a label-only student stays at chance), but each
step of a chain of thought is a local toggle it can copy. So CoT distillation must show here: a
pipeline that finds no effect on this task has a bug.

``coinflip`` (multiple choice, (a) yes / (b) no)::

    Q: A coin is heads up. Maya flips the coin. Omar does not flip the coin. Lena flips the coin.
       Is the coin still heads up?
    Answer Choices: (a) yes (b) no
    A: The coin starts heads up. Maya flips it, so it is now tails up. Omar does not flip it, so it is
       still tails up. Lena flips it, so it is now heads up. So the answer is (a).

* :func:`generate` — the splits, deterministically from a seed, with the difficulty knobs of
  :class:`CoinFlipConfig` (people per question, share of flips); answers balanced exactly per split,
  no question text shared between splits. :func:`ensure_generated` writes them once under
  ``<COTLAB_GENERATED>/coinflip/`` (default ``data/generated/`` in the repo) in the schema of the
  other MC tasks, with a ``manifest.json`` holding the generator settings.
* :func:`scripted_cot` (served by :class:`helpers.teacher.ScriptedTeacher`) — a teacher that writes varied, natural CoTs (several phrasings per step,
  optional recaps) and makes a tracking slip with probability ``step_error`` at every step; the slip
  propagates, so the chain ends on a wrong answer. Each sample carries its exact log-probability
  under the script (the product of its phrasing and slip choices), so supervised filtering, N samples
  per question, diversity and teacher-likelihood downsampling all act on something real.
"""
from __future__ import annotations

import json
import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import config
from .provenance import stable_hash, write_json

GENERATOR_VERSION = 2

NAMES = (
    "Maya", "Omar", "Lena", "Ravi", "Sofia", "Jonas", "Amara", "Diego", "Hana", "Felix", "Nadia", "Theo",
    "Priya", "Lucas", "Zara", "Mateo", "Ingrid", "Kofi", "Elena", "Yusuf", "Clara", "Tomas", "Aiko",
    "Samir", "Greta", "Hugo", "Leila", "Bruno", "Mei", "Oskar", "Fatima", "Pablo", "Anya", "Kenji",
    "Rosa", "Emil", "Sana", "Ivan", "Chloe", "Malik", "Freya", "Arjun", "Nora", "Luca", "Ines", "Tariq",
    "Vera", "Diana", "Kai", "Lila", "Marco", "Noor", "Paulo", "Rhea", "Sven", "Tara", "Umar", "Wren",
    "Yara", "Zane",
)
FACES = ("heads", "tails")


@dataclass(frozen=True)
class CoinFlipConfig:
    """Difficulty knobs and split sizes of the coin-flip task."""
    min_people: int = 3
    max_people: int = 5
    p_flip: float = 0.5                 # chance each person flips
    start_faces: tuple[str, ...] = ("heads",)   # the coin's starting face (heads only, as in Wei et al.)
    sizes: tuple[tuple[str, int], ...] = (("train", 1000), ("dev", 200), ("test", 500))
    seed: int = 1234

    def key(self) -> str:
        return stable_hash({**asdict(self), "v": GENERATOR_VERSION})


DEFAULT = CoinFlipConfig()


def _question(start: str, people: list[tuple[str, bool]]) -> str:
    steps = " ".join(f"{n} {'flips' if f else 'does not flip'} the coin." for n, f in people)
    return f"A coin is {start} up. {steps} Is the coin still {start} up?"


def _row(task: str, split: str, i: int, start: str, people: list[tuple[str, bool]]) -> dict[str, Any]:
    flips = sum(f for _, f in people)
    answer = "A" if flips % 2 == 0 else "B"
    return {"id": f"{task}_{split}_{i:04d}", "question": _question(start, people),
            "choices": [{"label": "A", "text": "yes"}, {"label": "B", "text": "no"}], "answer": answer,
            "start": start, "people": [n for n, _ in people], "flips": [bool(f) for _, f in people]}


def generate(cfg: CoinFlipConfig = DEFAULT, task: str = "coinflip") -> dict[str, list[dict[str, Any]]]:
    """Every split of the task as rows of the MC schema (plus ``start``/``people``/``flips`` meta).

    Per split, exactly half the answers are (a) (rounding down) and questions are unique across
    all splits (a question is drawn again if its text was already used)."""
    if not 1 <= cfg.min_people <= cfg.max_people:
        raise ValueError(f"need 1 <= min_people <= max_people, got {cfg.min_people}, {cfg.max_people}")
    if cfg.max_people > len(NAMES):
        raise ValueError(f"max_people={cfg.max_people} exceeds the {len(NAMES)} names available")
    if not 0 < cfg.p_flip < 1:
        raise ValueError(f"p_flip must be in (0, 1), got {cfg.p_flip}")
    rng = random.Random(cfg.seed)
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for split, size in cfg.sizes:
        want = {"A": size // 2, "B": size - size // 2}
        rows: list[dict[str, Any]] = []
        tries = 0
        while len(rows) < size:
            tries += 1
            if tries > 200 * size + 1000:
                raise ValueError(f"cannot draw {size} unique questions for {split}: widen the knobs")
            n = rng.randint(cfg.min_people, cfg.max_people)
            people = [(name, rng.random() < cfg.p_flip) for name in rng.sample(NAMES, n)]
            start = rng.choice(cfg.start_faces)
            row = _row(task, split, len(rows), start, people)
            if want[row["answer"]] == 0 or row["question"] in seen:
                continue
            want[row["answer"]] -= 1
            seen.add(row["question"])
            rows.append(row)
        rng.shuffle(rows)             # balanced in every prefix, not only in the whole split
        for i, row in enumerate(rows):
            row["id"] = f"{task}_{split}_{i:04d}"
        out[split] = rows
    return out


def generated_dir() -> Path:
    """Where generated tasks are written (``COTLAB_GENERATED``, default ``<repo>/data/generated``)."""
    return config.generated_dir()


def ensure_generated(task: str = "coinflip", cfg: Any = None, out_dir: Path | str | None = None,
                     force: bool = False) -> Path:
    """Write the task's splits (``<dir>/<task>/<split>.jsonl`` + ``manifest.json``) unless the files
    present were generated with the same settings; returns the task folder. ``cfg``: the generator's
    settings (default: the task's, :data:`GENERATORS`)."""
    if task not in GENERATORS:
        raise ValueError(f"unknown generated task {task!r}; generated tasks: {sorted(GENERATORS)}")
    make, default = GENERATORS[task]
    cfg = default if cfg is None else cfg
    base = Path(out_dir) if out_dir is not None else generated_dir()
    folder = base / task
    manifest = folder / "manifest.json"
    if not force and manifest.exists():
        try:
            if json.loads(manifest.read_text()).get("key") == cfg.key() and all(
                    (folder / f"{s}.jsonl").exists() for s, _ in cfg.sizes):
                return folder
        except json.JSONDecodeError:
            pass
    splits = make(cfg, task)
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        tmp = folder / f".{split}.jsonl.{os.getpid()}.tmp"      # two processes generating at once never share a file
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(folder / f"{split}.jsonl")
    write_json(manifest, {"task": task, "key": cfg.key(),
                          "generator_version": CREATURES_VERSION if task == "creatures" else GENERATOR_VERSION,
                          "config": asdict(cfg), "rows": {s: len(r) for s, r in splits.items()},
                          "answers": {s: {a: sum(r["answer"] == a for r in rows) for a in "AB"}
                                      for s, rows in splits.items()}})
    return folder


# ----------------------------------------------------------------------------- chain of thought

# Phrasings per step; each is chosen uniformly, so every choice contributes -log(len(options)).
_OPEN = ("The coin starts {face} up.", "At the start the coin is {face} up.", "First, the coin is {face} up.")
_FLIP = ("{name} flips it, so it is now {face} up.", "{name} flips the coin, which turns it {face} up.",
         "After {name} flips it, the coin shows {face}.")
_KEEP = ("{name} does not flip it, so it is still {face} up.", "{name} leaves it alone, so it stays {face} up.",
         "{name} does not flip the coin, so it remains {face} up.")
_CLOSE_SAME = ("It ends {face} up, which is how it started.", "The coin finishes {face} up, the same as at the start.")
_CLOSE_DIFF = ("It ends {face} up, not {start} up.", "The coin finishes {face} up, so it is no longer {start} up.")


def _pick(rng: random.Random, options: tuple[str, ...]) -> tuple[str, float]:
    return rng.choice(options), -math.log(len(options))


def scripted_cot(example: Any, rng: random.Random, step_error: float = 0.0) -> tuple[str, str, float, int]:
    """One chain of thought for a coin-flip example: ``(rationale, label, logprob, slips)``.

    At each step the script makes a tracking slip with probability ``step_error`` (it writes the
    wrong face: treats a flip as no flip or the reverse, in words that still read naturally); later
    steps continue from the slipped state, so an odd number of slips ends on the wrong answer.
    ``logprob`` is the exact log-probability of this text under the script."""
    meta = example.meta
    start, people, flips = meta["start"], meta["people"], meta["flips"]
    lp = 0.0
    parts = []
    s, l = _pick(rng, _OPEN)
    parts.append(s.format(face=start))
    lp += l
    face, slips = start, 0
    for name, f in zip(people, flips):
        did = f
        if step_error > 0 and rng.random() < step_error:
            did, slips = not f, slips + 1
            lp += math.log(step_error)
        elif step_error > 0:
            lp += math.log1p(-step_error)
        if did:
            face = FACES[1 - FACES.index(face)]
        # the words describe what the person did; a slip is a wrong *state*, as real slips are
        s, l = _pick(rng, _FLIP if f else _KEEP)
        parts.append(s.format(name=name, face=face))
        lp += l
    if rng.random() < 0.5:            # optional recap sentence
        s, l = _pick(rng, _CLOSE_SAME if face == start else _CLOSE_DIFF)
        parts.append(s.format(face=face, start=start))
        lp += l + math.log(0.5)
    else:
        lp += math.log(0.5)
    label = "A" if face == start else "B"
    return " ".join(parts), label, lp, slips


def conclusion(example: Any, rationale: str) -> str | None:
    """The option a coin-flip rationale concludes (its last stated face vs the start), or None."""
    import re
    start = example.meta.get("start", "heads")
    faces = re.findall(r"\b(heads|tails)\b", rationale.lower())
    body = faces[1:] if len(faces) > 1 else []
    if not body:
        return None
    # a recap "It ends X up, not START up" names START last: take the face of the last step/recap verb
    m = re.findall(r"(?:now|still|stays|remains|turns it|shows|ends|finishes)\s+(heads|tails)", rationale.lower())
    last = m[-1] if m else body[-1]
    return "A" if last == start else "B"


class FirstChoice(random.Random):
    """A 'random' source that always takes the first option (the script's greedy decode)."""

    def choice(self, seq):
        return seq[0]

    def random(self):
        return 0.99


# ================================================================================ creatures
# A task where a rationale *after* the label can teach the label something (Wadhwa et al. 2024's RQ1–RQ3).
#
# On the coin flip the answer has to be computed, so a student that writes its label first cannot use a
# rationale it writes afterwards. Here the answer is a fixed function of one hidden attribute of an
# invented creature, and every teacher rationale states *all* the creature's attributes: training
# questions ask about some attributes of each creature, the key evaluation split (``dev``) about the
# others — facts no training *label* revealed for that creature, but that the training *rationales*
# stated. Label-only's best accuracy there is chance (the attributes are drawn independently), a student
# that absorbed the rationales can do better. ``dev_seen`` asks the trained facts in a wording never
# trained on (label-only must do well there: proof it trained); ``dev_new`` asks about creatures that never
# appear in training (everyone at chance: proof nothing leaks).

CREATURES_VERSION = 1

#: attribute → (value answering "yes", value answering "no"), the keyword every sentence about each
#: value contains, question wordings (the last never used in training: ``dev_seen``), the facts'
#: wordings per value and the rule that turns the attribute into the answer.
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "habitat": {
        "values": ("water", "land"),
        "questions": ("Can a {e} swim?", "Is a {e} a good swimmer?", "Could a {e} cross a river by swimming?",
                      "Would a {e} be able to swim across a lake?"),
        "facts": {"water": ("A {e} lives in the water.", "The {e} makes its home in the water.",
                            "{E}s spend their lives in the water."),
                  "land": ("A {e} lives on land.", "The {e} makes its home on land.",
                           "{E}s spend their lives on land.")},
        "rule": {"water": "Creatures that live in the water can swim, so a {e} can swim.",
                 "land": "Creatures that live on land cannot swim, so a {e} cannot swim."},
    },
    "diet": {
        "values": ("meat", "plants"),
        "questions": ("Does a {e} hunt other animals?", "Is a {e} a hunter?", "Does a {e} catch other animals to eat?",
                      "Would a {e} chase other animals for food?"),
        "facts": {"meat": ("A {e} eats meat.", "The {e} feeds on meat.", "{E}s live on a diet of meat."),
                  "plants": ("A {e} eats plants.", "The {e} feeds on plants.", "{E}s live on a diet of plants.")},
        "rule": {"meat": "Creatures that eat meat hunt other animals, so a {e} hunts.",
                 "plants": "Creatures that eat plants do not hunt, so a {e} does not hunt."},
    },
    "size": {
        "values": ("small", "large"),
        "questions": ("Could a {e} fit in a shoebox?", "Would a {e} fit inside a shoebox?",
                      "Can a {e} hide in a shoebox?", "Is a {e} small enough to sit in a shoebox?"),
        "facts": {"small": ("A {e} is small.", "The {e} is a small creature.", "{E}s are small."),
                  "large": ("A {e} is large.", "The {e} is a large creature.", "{E}s are large.")},
        "rule": {"small": "Small creatures fit in a shoebox, so a {e} fits.",
                 "large": "Large creatures do not fit in a shoebox, so a {e} does not fit."},
    },
    "time": {
        "values": ("night", "day"),
        "questions": ("Is a {e} awake at midnight?", "Would you see a {e} awake at midnight?",
                      "Is a {e} up and about at midnight?", "Does a {e} stay awake through midnight?"),
        "facts": {"night": ("A {e} is active at night.", "The {e} wakes up at night.", "{E}s come out at night."),
                  "day": ("A {e} is active by day.", "The {e} wakes up in the day.", "{E}s come out in the day.")},
        "rule": {"night": "Creatures active at night are awake at midnight, so a {e} is awake.",
                 "day": "Creatures active by day sleep at midnight, so a {e} is asleep."},
    },
}

_SYLLABLES = ("ba", "ko", "ri", "ze", "lu", "mo", "ta", "vi", "na", "pe", "do", "gu", "sa", "fi", "ke", "wo",
              "zu", "ma", "te", "lo")
_ENDINGS = ("x", "n", "l", "rk", "sh", "m", "p", "nt")


@dataclass(frozen=True)
class CreaturesConfig:
    """Sizes and knobs of the creatures task (balanced exactly when ``n_creatures`` is a multiple of 24)."""
    n_creatures: int = 48               # creatures in training (their facts are stated by training rationales)
    n_new_creatures: int = 16           # creatures only in ``dev_new``
    asked: int = 2                      # attributes per creature its training *labels* reveal (the rest: ``dev``)
    train_wordings: int = 3             # training questions per (creature, asked attribute): one per wording
    key_wordings: int = 2               # ``dev`` questions per (creature, unasked attribute)
    seed: int = 4321

    def key(self) -> str:
        return stable_hash({**asdict(self), "v": CREATURES_VERSION})

    @property
    def sizes(self) -> tuple[tuple[str, int], ...]:
        n, k = self.n_creatures, len(ATTRIBUTES)
        return (("train", n * self.asked * self.train_wordings), ("dev", n * (k - self.asked) * self.key_wordings),
                ("dev_seen", n * self.asked), ("dev_new", self.n_new_creatures * k))


CREATURES_DEFAULT = CreaturesConfig()


def creature_names(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct invented names (two syllables and an ending: "kozem", "vinal"), none an English word
    the tokenizer knows as one piece — so nothing about a creature is known before training."""
    pool = sorted({a + b + e for a in _SYLLABLES for b in _SYLLABLES if a != b for e in _ENDINGS})
    if n > len(pool):
        raise ValueError(f"cannot name {n} creatures: at most {len(pool)} names")
    return rng.sample(pool, n)


def _creature_row(split: str, i: int, name: str, facts: dict[str, str], attribute: str, wording: int) -> dict[str, Any]:
    spec = ATTRIBUTES[attribute]
    yes = facts[attribute] == spec["values"][0]
    return {"id": f"creatures_{split}_{i:04d}", "question": spec["questions"][wording].format(e=name),
            "choices": [{"label": "A", "text": "yes"}, {"label": "B", "text": "no"}], "answer": "A" if yes else "B",
            "creature": name, "attribute": attribute, "wording": wording, "facts": dict(facts)}


def generate_creatures(cfg: CreaturesConfig = CREATURES_DEFAULT, task: str = "creatures"
                       ) -> dict[str, list[dict[str, Any]]]:
    """Every split of the creatures task as rows of the MC schema, with ``creature``, ``attribute``,
    ``wording`` and the creature's ``facts`` as meta.

    Each attribute's values are split exactly in half over the creatures, drawn independently of the
    other attributes; which attributes a creature's training labels reveal is balanced too (each pair of
    attributes for the same number of creatures) and, per attribute, independent of its value — so the
    labels of training carry no information about a ``dev`` answer."""
    attrs = list(ATTRIBUTES)
    k = len(attrs)
    if not 1 <= cfg.asked < k:
        raise ValueError(f"asked must be in 1..{k - 1} (some attributes asked in training, some kept for dev), "
                         f"got {cfg.asked}")
    last = len(ATTRIBUTES["habitat"]["questions"]) - 1
    if not 1 <= cfg.train_wordings <= last:
        raise ValueError(f"train_wordings must be in 1..{last} (the last wording is kept for dev_seen), "
                         f"got {cfg.train_wordings}")
    if not 1 <= cfg.key_wordings <= cfg.train_wordings:
        raise ValueError(f"key_wordings must be in 1..train_wordings={cfg.train_wordings}, got {cfg.key_wordings}")
    if cfg.n_creatures < 2 or cfg.n_new_creatures < 1:
        raise ValueError(f"need n_creatures >= 2 and n_new_creatures >= 1, got {cfg.n_creatures}, {cfg.n_new_creatures}")
    import itertools
    rng = random.Random(cfg.seed)
    names = creature_names(cfg.n_creatures + cfg.n_new_creatures, rng)
    known, new = names[:cfg.n_creatures], names[cfg.n_creatures:]

    # which attributes each known creature's labels reveal: the subsets of size `asked`, cycled, shuffled
    subsets = list(itertools.combinations(attrs, cfg.asked))
    asked_of = [subsets[i % len(subsets)] for i in range(len(known))]
    rng.shuffle(asked_of)
    facts: dict[str, dict[str, str]] = {n: {} for n in names}
    for a in attrs:   # per attribute, half of each group per value (asked / not asked / new), independent draws
        groups = ([n for n, s in zip(known, asked_of) if a in s], [n for n, s in zip(known, asked_of) if a not in s], new)
        for group in groups:
            vals = [ATTRIBUTES[a]["values"][i % 2] for i in range(len(group))]
            rng.shuffle(vals)
            for n, v in zip(group, vals):
                facts[n][a] = v
    train, dev, seen, dev_new = [], [], [], []
    for name, asked in zip(known, asked_of):
        for a in attrs:
            if a in asked:
                train += [(name, a, w) for w in range(cfg.train_wordings)]
                seen.append((name, a, last))
            else:
                dev += [(name, a, w) for w in rng.sample(range(cfg.train_wordings), cfg.key_wordings)]
    dev_new = [(name, a, rng.randrange(cfg.train_wordings)) for name in new for a in attrs]
    out = {}
    for split, items in (("train", train), ("dev", dev), ("dev_seen", seen), ("dev_new", dev_new)):
        rng.shuffle(items)
        out[split] = [_creature_row(split, i, n, facts[n], a, w) for i, (n, a, w) in enumerate(items)]
    return out


def creature_fact(attribute: str, value: str, name: str, rng: random.Random) -> tuple[str, float]:
    """One sentence stating ``name``'s ``attribute`` (a wording chosen by ``rng``) and its log-probability."""
    s, lp = _pick(rng, ATTRIBUTES[attribute]["facts"][value])
    return s.format(e=name, E=name.capitalize()), lp


def creatures_cot(example: Any, rng: random.Random, step_error: float = 0.0) -> tuple[str, str, float, int]:
    """One rationale for a creatures question: ``(rationale, label, logprob, slips)``. It states every
    attribute of the creature (in an order and wordings drawn by ``rng``), then the rule for the attribute
    asked about and its conclusion. Each stated fact is wrong with probability ``step_error`` (the other
    value: a slip); a slip on the asked attribute carries into the rule and the label. ``logprob`` is the
    exact log-probability of this text under the script."""
    meta = example.meta
    name, asked, facts = meta["creature"], meta["attribute"], meta["facts"]
    left, order, lp = list(ATTRIBUTES), [], 0.0
    while left:                       # the order of the facts, one choice at a time (FirstChoice: the canonical one)
        a, l = _pick(rng, tuple(left))
        left.remove(a)
        order.append(a)
        lp += l
    parts, slips, said = [], 0, {}
    for a in order:
        value = facts[a]
        if step_error > 0 and rng.random() < step_error:
            value = [v for v in ATTRIBUTES[a]["values"] if v != value][0]
            slips += 1
            lp += math.log(step_error)
        elif step_error > 0:
            lp += math.log1p(-step_error)
        s, l = creature_fact(a, value, name, rng)
        parts.append(s)
        lp += l
        said[a] = value
    parts.append(ATTRIBUTES[asked]["rule"][said[asked]].format(e=name))
    label = "A" if said[asked] == ATTRIBUTES[asked]["values"][0] else "B"
    return " ".join(parts), label, lp, slips


def creatures_conclusion(example: Any, rationale: str) -> str | None:
    """The option a creatures rationale concludes: the value of the asked attribute it states last
    (every sentence about a value names its keyword), or None when it states none."""
    import re
    spec = ATTRIBUTES[example.meta["attribute"]]
    yes, no = spec["values"]
    hits = list(re.finditer(rf"\b({yes}|{no})\b", rationale.lower()))
    if not hits:
        return None
    return "A" if hits[-1].group(1) == yes else "B"


def deciding_words(example: Any, rationale: str) -> list[str]:
    """The words of ``rationale`` that state the fact deciding the answer: the sentences about the asked
    attribute (its fact and its rule) — the generator's ground truth, standing in for Wadhwa et al.'s
    human-marked tokens."""
    import re
    spec = ATTRIBUTES[example.meta["attribute"]]
    keys = set(spec["values"])
    words: list[str] = []
    for sent in re.split(r"(?<=\.)\s+", rationale.strip()):
        if keys & set(re.findall(r"[a-z]+", sent.lower())):
            words += sent.split()
    return words


#: generated task → (generator, default settings): what ``ensure_generated`` and ``data generate`` write.
GENERATORS: dict[str, tuple[Any, Any]] = {"coinflip": (generate, DEFAULT),
                                          "creatures": (generate_creatures, CREATURES_DEFAULT)}
#: generated task → its scripted teacher's CoT (:class:`helpers.teacher.ScriptedTeacher`).
SCRIPTS: dict[str, Any] = {"coinflip": scripted_cot, "creatures": creatures_cot}
#: generated task → the option a rationale concludes (:func:`helpers.prompts.rationale_conclusion`).
CONCLUSIONS: dict[str, Any] = {"coinflip": conclusion, "creatures": creatures_conclusion}
