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
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

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


def ensure_generated(task: str = "coinflip", cfg: CoinFlipConfig = DEFAULT, out_dir: Path | str | None = None,
                     force: bool = False) -> Path:
    """Write the task's splits (``<dir>/<task>/<split>.jsonl`` + ``manifest.json``) unless the files
    present were generated with the same settings; returns the task folder."""
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
    splits = generate(cfg, task)
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        tmp = folder / f".{split}.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(folder / f"{split}.jsonl")
    write_json(manifest, {"task": task, "key": cfg.key(), "generator_version": GENERATOR_VERSION,
                          "config": asdict(cfg), "rows": {s: len(r) for s, r in splits.items()},
                          "answers": {s: {a: sum(r["answer"] == a for r in rows) for a in "AB"}
                                      for s, rows in splits.items()}})
    return folder


# ----------------------------------------------------------------------------- chain of thought

def state_after(start: str, flips: list[bool]) -> list[str]:
    """The coin's face after each person (the ground truth a CoT tracks)."""
    face, out = start, []
    for f in flips:
        face = FACES[1 - FACES.index(face)] if f else face
        out.append(face)
    return out


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
