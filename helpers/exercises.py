"""Teaching mode: exercises inside the lesson notebooks 00–04, student copies, and a grader.

An exercise is a small piece of the method the student writes — a function — in a code cell of a lesson
notebook tagged ``exercise:<name>``. The committed notebook holds the solution between nbgrader-style
markers, so ``make lesson`` runs it as it is::

    # %% tags=["exercise:keep_correct"]
    def keep_correct(entry):
        \"\"\"…\"\"\"
        ### BEGIN SOLUTION
        return [s for s in entry.samples if s.label == entry.example.answer]
        ### END SOLUTION

The cell after it, tagged ``check:<name>``, calls :func:`check`, which runs the function on real data (the
coin-flip task and its scripted teacher's corpus, the replayed GPT-3 × QuaRel corpus, SmolLM2's tokenizer,
the committed course results) against the project's own implementation and prints one line: ✓, ✗ with
the input where the two differ, or · when the exercise is not done yet. It never raises for the student's
function, so a notebook with unsolved exercises still runs end to end (later cells use the helpers' own
implementations, never the student's).

* :func:`write_student_copies` (``python -m helpers exercises write --out DIR``) writes the lesson
  notebooks as ``.ipynb`` with every solution block replaced by ``raise NotImplementedError("Exercise N: …")``.
* :func:`grade_paths` (``python -m helpers exercises check PATH…``) runs only the exercise cells of each
  notebook (``.ipynb`` or ``.py``) in a fresh namespace, then each exercise's check: nothing is trained or
  decoded. One :class:`Verdict` per exercise: ``pass``, ``fail`` or ``not done`` with its one-line message.

Exercise cells must be self-contained (their imports inside), since grading runs them alone.
"""
from __future__ import annotations

import contextlib
import copy
import io
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import config
from .config import UserError

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
EXERCISE_TAG, CHECK_TAG = "exercise:", "check:"
PASS, FAIL, NOT_DONE = "pass", "fail", "not done"
MARKS = {PASS: "✓", FAIL: "✗", NOT_DONE: "·"}

#: The real data every check reads (loaded once per process): the first questions of the coin-flip train
#: split with the course profile's scripted teacher, and of QuaRel's with the replayed GPT-3 corpus.
N_QUESTIONS = 100
GPT3_QUAREL = "mario_gpt3"
#: committed course results (real student decodes) read by the per-seed exercise, whatever COTLAB_RESULTS says
COMMITTED = config.REPO_ROOT / "results"


@dataclass(frozen=True)
class Exercise:
    name: str          # the stable name: the function the student writes, and the cell tags' suffix
    notebook: str      # the lesson notebook holding it
    title: str         # what the student writes, in a few words
    teaches: str       # the piece of the method (the teacher's guide quotes it)
    reference: str     # the project's implementation the check compares with


@dataclass(frozen=True)
class Verdict:
    """One exercise's result: ``status`` is pass | fail | not done; ``message`` is one line."""
    notebook: str
    name: str
    number: int
    status: str
    message: str

    @property
    def line(self) -> str:
        return f"{MARKS[self.status]} Exercise {self.number} · {self.name}: {self.message}"


EXERCISES: dict[str, Exercise] = {e.name: e for e in [
    Exercise("coin_conclusion", "00_overview", "what a coin-flip chain of thought concludes",
             "a chain of thought is a sequence of local steps whose last state decides the answer; the suite reads "
             "it back to check whether a student's letter follows its own reasoning (rationale agreement)",
             "helpers.synthetic.conclusion"),
    Exercise("extract_letter", "01_teacher_prompting", "the answer letter of a completion",
             "the one answer convention (`So the answer is (b).`) and what counts as no answer: every accuracy in "
             "the suite is computed through it", "helpers.prompts.extract_answer"),
    Exercise("keep_correct", "02_corpus_building", "SCoTD's supervised filter",
             "the supervised setting keeps only the teacher's CoTs whose answer is the gold one (SCoTD §3.1); the "
             "discard rate is what it drops", "helpers.corpus.Corpus.correct_only"),
    Exercise("make_targets", "03_distillation", "the label-only and CoT-after training targets of a corpus row",
             "what each condition trains on: the answer sentence alone, or the answer first and the teacher's "
             "most likely correct CoT after it (Wadhwa et al. RQ1)", "helpers.targets.pairs_from_corpus"),
    Exercise("loss_mask", "03_distillation", "the completion-only loss mask of one training pair",
             "only the completion and the end-of-sequence token carry loss; the prompt is context",
             "helpers.train.loss_tokens"),
    Exercise("majority", "04_self_consistency", "self-consistency's majority vote",
             "self-consistency marginalises over sampled CoTs by voting on their answers; no-answer samples do not "
             "vote and a tie goes to the label sampled first", "helpers.decode.majority_vote"),
    Exercise("per_seed_diff", "04_self_consistency", "the per-seed paired difference of two conditions",
             "a comparison is paired: the same seed and the same questions for both conditions; the spread of the "
             "per-seed differences is the training variance the headline test honours",
             "helpers.protocol.summarize (per_seed_diff, from helpers.stats.seed_test)"),
]}


def number(name: str) -> int:
    return list(EXERCISES).index(name) + 1


def lesson_notebooks() -> list[str]:
    """The notebooks that hold exercises, in order."""
    return sorted({e.notebook for e in EXERCISES.values()})


# ================================================================================ real data, loaded once

@lru_cache(maxsize=None)
def _coin_corpus() -> Any:
    """The course profile's distillation corpus on the first training questions: the scripted coin-flip
    teacher (10% slips per step), N CoTs per question — what notebooks 02–04 train on."""
    from .corpus import sample_corpus
    from .profiles import get_profile
    from .tasks import load_task
    from .teacher import teacher_from_name
    prof = get_profile("course")
    task = prof.protocol().task
    return sample_corpus(teacher_from_name(prof.teacher, task=task), load_task(task, "train", limit=N_QUESTIONS),
                         n=prof.distill.n_samples, cache=None, progress=False)


@lru_cache(maxsize=None)
def _quarel_corpus() -> Any:
    """The replayed GPT-3 × QuaRel corpus (5 released CoTs per question) on the first training questions."""
    from .corpus import sample_corpus
    from .tasks import load_task
    from .teacher import teacher_from_name
    return sample_corpus(teacher_from_name(f"replay:{GPT3_QUAREL}", task="quarel"),
                         load_task("quarel", "train", limit=N_QUESTIONS), n=5, cache=None, progress=False)


def _student() -> str:
    from .profiles import get_profile
    return get_profile("course").student


@lru_cache(maxsize=None)
def _tokenizer() -> Any:
    """The course student's tokenizer (SmolLM2; the smoke profile's tiny student shares it)."""
    from .models import load_tokenizer
    return load_tokenizer(_student())


@lru_cache(maxsize=None)
def _committed_table(name: str) -> dict[str, Any]:
    from .results import load_table
    return load_table("course", name, results_root=COMMITTED)


# ============================================================================================ checking

@dataclass
class Case:
    """One input of a check: ``where`` names it in a message, ``args`` go to the student's function."""
    where: str
    args: tuple
    expected: Any
    info: Any = None


def _short(text: Any, n: int = 60) -> str:
    s = " ".join(str(text).split())
    return repr(s if len(s) <= n else s[: n - 1] + "…")


def _tail(text: str, n: int = 50) -> str:
    s = " ".join(text.split())
    return repr(s if len(s) <= n else "…" + s[-(n - 1):])


def _call(fn: Callable, args: tuple) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):      # a student's prints would garble the report
        return fn(*args)


def _run_cases(name: str, fn: Callable, cases: Sequence[Case], *, same: Callable[[Any, Any], bool],
               explain: Callable[[Case, Any], str], unit: str, ok: str, copy_args: bool = True) -> tuple[str, str]:
    """Run ``fn`` on every case; (status, message). The first differing case is explained, the rest counted.
    ``copy_args``: hand ``fn`` deep copies, so a function that changes its input (``entry.samples.remove``)
    cannot change the data of later cases and checks."""
    if not callable(fn):
        return FAIL, f"{name} is not a function (it is {type(fn).__name__})"
    first: tuple[Case, Any] | None = None
    n_diff = 0
    for case in cases:
        try:
            got = _call(fn, copy.deepcopy(case.args) if copy_args else case.args)
        except NotImplementedError:
            return NOT_DONE, f"not done yet: {name} raises NotImplementedError — write it, then run its check again"
        except (Exception, SystemExit) as e:                # the student's bug, not the grader's
            return FAIL, f"raised {type(e).__name__}: {_short(e, 80)} for {case.where}"
        try:
            equal = same(got, case.expected)
        except Exception:
            equal = False
        if not equal:
            n_diff += 1
            if first is None:
                first = (case, got)
    if first is None:
        return PASS, ok
    case, got = first
    try:
        why = explain(case, got)
    except Exception:
        why = f"for {case.where} you return {_short(got)}, the project gives {_short(case.expected)}"
    return FAIL, f"{why} ({n_diff} of {len(cases)} {unit} differ)"


# ------------------------------------------------------------------------------------- coin_conclusion

def _check_coin_conclusion(fn: Callable) -> tuple[str, str]:
    from .synthetic import conclusion
    corpus = _coin_corpus()
    cases = [Case(f"{e.example.id} (CoT k={s.k})", (e.example, s.rationale), conclusion(e.example, s.rationale),
                  s.rationale) for e in corpus.entries for s in e.samples]

    def explain(c: Case, got: Any) -> str:
        return (f"for {c.where} you return {got!r}, synthetic.conclusion gives {c.expected!r}; the CoT ends "
                f"{_tail(c.info)}")
    n_slip = sum(c.expected != c.args[0].answer for c in cases)
    return _run_cases("coin_conclusion", fn, cases, same=lambda a, b: a == b, explain=explain, unit="CoTs",
                      ok=f"agrees with synthetic.conclusion on all {len(cases)} scripted-teacher CoTs of "
                         f"{len(corpus)} coin-flip questions ({n_slip} of them conclude the wrong answer: slips)")


# -------------------------------------------------------------------------------------- extract_letter

def _completions(corpus: Any, n_questions: int) -> list[Case]:
    """Completions as students and teachers write them, built from real teacher CoTs: complete; cut short
    (inside the CoT, and inside the answer's parenthesis); run on past the answer; answer first (CoT after
    the label); the letter in upper case, bare, or the choice's text in words."""
    from .prompts import extract_answer, format_answer
    out = []
    for e in corpus.entries[:n_questions]:
        ex = e.example
        for s in e.samples:
            if s.label is None:
                continue
            ans = format_answer(ex, s.label)
            other = next(o for o in ex.options if o != s.label)
            full = f" {s.rationale} {ans}"
            words = full.split()
            text = next(c.text for c in ex.choices if c.label == s.label)
            variants = {
                "complete": full,
                "cut inside the CoT": " " + " ".join(words[: len(words) // 2]),
                "cut inside the parenthesis": full[: full.rindex("(") + 2],
                "run on past the answer": f"{full} Next question. {format_answer(ex, other)}",
                "answer first": f" {ans} {s.rationale}",
                "upper-case letter": f" {s.rationale} So the answer is ({s.label.upper()}).",
                "bare letter": f" {s.rationale} So the answer is {s.label.lower()}.",
                "answer in words": f" {s.rationale} So the answer is {text}.",
            }
            for kind, completion in variants.items():
                out.append(Case(f"{ex.id} (CoT k={s.k}, {kind})", (ex, completion), extract_answer(ex, completion),
                                completion))
    return out


def _check_extract_letter(fn: Callable) -> tuple[str, str]:
    cases = _completions(_coin_corpus(), 40) + _completions(_quarel_corpus(), 40)

    def explain(c: Case, got: Any) -> str:
        return (f"for {c.where} you return {got!r}, prompts.extract_answer gives {c.expected!r}; the completion "
                f"ends {_tail(c.info)}")
    return _run_cases("extract_letter", fn, cases, same=lambda a, b: a == b, explain=explain, unit="completions",
                      ok=f"agrees with prompts.extract_answer on all {len(cases)} completions (coin flip and QuaRel: "
                         "complete, cut short, run on, answer first, other spellings)")


# ---------------------------------------------------------------------------------------- keep_correct

def _entries() -> list[tuple[str, Any]]:
    return ([("scripted coin-flip teacher", e) for e in _coin_corpus().entries]
            + [("GPT-3 × QuaRel", e) for e in _quarel_corpus().entries])


def _check_keep_correct(fn: Callable) -> tuple[str, str]:
    from .corpus import Corpus
    cases = []
    for source, e in _entries():
        kept = Corpus([e]).correct_only().entries[0].samples
        cases.append(Case(f"{e.example.id} ({source})", (e,), [s.k for s in kept], e))

    def ks(got: Any) -> list[int]:
        return [s.k for s in got]

    def explain(c: Case, got: Any) -> str:
        e = c.info
        if not isinstance(got, (list, tuple)) or not all(hasattr(s, "k") for s in got):
            return f"for {c.where} you return {_short(got)}: expected a list of the entry's samples"
        mine, gold = ks(got), c.expected
        by_k = {s.k: s for s in e.samples}
        extra = [k for k in mine if k not in gold]
        if extra:
            s = by_k.get(extra[0])
            what = "which has no answer" if s is not None and s.label is None else \
                f"whose label {getattr(s, 'label', '?')} is not the gold {e.example.answer}"
            return f"for {c.where} you kept the CoT k={extra[0]} {what}"
        missing = [k for k in gold if k not in mine]
        if missing:
            return (f"for {c.where} you dropped the CoT k={missing[0]}, whose label {by_k[missing[0]].label} is the "
                    f"gold {e.example.answer}")
        return f"for {c.where} you keep CoTs {mine}, Corpus.correct_only keeps {gold} (keep them once, in corpus order)"
    n_q = len(cases)
    n_drop = sum(len(c.info.samples) - len(c.expected) for c in cases)
    return _run_cases("keep_correct", fn, cases, same=lambda got, exp: ks(got) == exp, explain=explain,
                      unit="questions",
                      ok=f"keeps the same CoTs as Corpus.correct_only for all {n_q} questions (scripted coin flip and "
                         f"GPT-3 × QuaRel; {n_drop} CoTs dropped)")


# ---------------------------------------------------------------------------------------- make_targets

def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _check_make_targets(fn: Callable) -> tuple[str, str]:
    from .corpus import Corpus
    from .targets import pairs_from_corpus
    cases = []
    for source, e in _entries():
        one = Corpus([e])
        after = pairs_from_corpus(one, "cot_after", supervised=True)
        exp = {"label_only": pairs_from_corpus(one, "label_only", supervised=True)[0].completion,
               "cot_after": after[0].completion if after else None}
        cases.append(Case(f"{e.example.id} ({source})", (e,), exp, (e, after[0].sample_k if after else None)))

    def same(got: Any, exp: dict[str, Any]) -> bool:
        return isinstance(got, dict) and all(got.get(k) == v for k, v in exp.items())

    def explain(c: Case, got: Any) -> str:
        if not isinstance(got, dict) or not {"label_only", "cot_after"} <= set(got):
            return f"for {c.where} you return {_short(got)}: expected a dict with keys 'label_only' and 'cot_after'"
        for key, exp in c.expected.items():
            mine = got[key]
            if mine == exp:
                continue
            if exp is None:
                return (f"for {c.where} your {key} target is {_short(mine)}, but no CoT of this question is correct: "
                        "pairs_from_corpus makes no pair (None)")
            if not isinstance(mine, str):
                return f"for {c.where} your {key} target is {_short(mine)}, pairs_from_corpus gives {_short(exp)}"
            entry, greedy_k = c.info
            used = [s.k for s in entry.samples if s.rationale.strip() and mine.rstrip().endswith(s.rationale.strip())]
            if key == "cot_after" and used and greedy_k not in used:
                return (f"for {c.where} your cot_after target uses the CoT k={used[0]}, pairs_from_corpus the CoT "
                        f"k={greedy_k}: the correct CoT with the highest teacher log-prob (lowest k on a tie, or when "
                        "the corpus has no log-probs)")
            i = _first_difference(mine, exp)
            lo = max(0, i - 20)
            return (f"for {c.where} your {key} completion differs from pairs_from_corpus's at character {i}: "
                    f"yours {mine[lo:i + 30]!r}, the project's {exp[lo:i + 30]!r}")
        return f"for {c.where} you return {_short(got)}"
    n_none = sum(c.expected["cot_after"] is None for c in cases)
    return _run_cases("make_targets", fn, cases, same=same, explain=explain, unit="corpus rows",
                      ok=f"same label_only and cot_after completions as targets.pairs_from_corpus for all {len(cases)} "
                         f"corpus rows (scripted coin flip with teacher log-probs, GPT-3 × QuaRel without; {n_none} "
                         "rows without a correct CoT)")


# ------------------------------------------------------------------------------------------- loss_mask

def _check_loss_mask(fn: Callable) -> tuple[str, str]:
    from .corpus import Corpus
    from .targets import pairs_from_corpus
    from .train import loss_tokens
    tok = _tokenizer()
    cases = []
    for source, corpus, n_q in (("coin flip", _coin_corpus(), 20), ("QuaRel", _quarel_corpus(), 10)):
        part = Corpus(corpus.entries[:n_q], corpus.meta)
        for cond in ("label_only", "greedy_cot", "cot_after"):
            for p in pairs_from_corpus(part, cond, supervised=True):
                toks = loss_tokens(tok, p, max_seq_len=1 << 30)
                cases.append(Case(f"the {cond} pair of {p.example_id}", (tok, p), [b for _, b in toks], toks))

    def as_flags(got: Any) -> list[bool]:
        return [bool(x) for x in got]

    def explain(c: Case, got: Any) -> str:
        mine = as_flags(got)
        if len(mine) != len(c.expected):
            return (f"for {c.where} you return {len(mine)} flags for its {len(c.expected)} tokens "
                    "(prompt + completion + EOS)")
        i = next(j for j, (a, b) in enumerate(zip(mine, c.expected)) if a != b)
        word = lambda b: "carries loss" if b else "no loss"   # noqa: E731
        return (f"for {c.where} token {i} {c.info[i][0]!r}: yours {word(mine[i])}, train.loss_tokens: "
                f"{word(c.expected[i])}")
    return _run_cases("loss_mask", fn, cases, same=lambda got, exp: as_flags(got) == exp, explain=explain,
                      unit="pairs", copy_args=False,
                      ok=f"same mask as train.loss_tokens on all {len(cases)} pairs (label_only, greedy_cot, cot_after; "
                         f"coin flip and QuaRel) in the course student's tokens ({_student()})")


# -------------------------------------------------------------------------------------------- majority

def _is_tie(labels: Sequence[str | None]) -> bool:
    counts = [labels.count(x) for x in set(labels) if x is not None]
    return len(counts) > 1 and counts.count(max(counts)) > 1


def _check_majority(fn: Callable) -> tuple[str, str]:
    from .decode import majority_vote
    cases = []
    for source, e in _entries():
        labels = [s.label for s in sorted(e.samples, key=lambda s: s.k)]
        for what, ls in (("its N CoTs", labels), ("its first 4 CoTs", labels[:4])):
            cases.append(Case(f"the labels {ls} ({source}, {e.example.id}, {what})", (list(ls),),
                              majority_vote(ls)[0], ls))
    for ls in ([None, None, None], [None, "B", "A"], ["A", None, "B", "B", None]):   # no-answer samples
        cases.append(Case(f"the labels {ls} (samples without an answer)", (list(ls),), majority_vote(ls)[0], ls))

    def explain(c: Case, got: Any) -> str:
        if None in c.info and (got is None or c.info.count(None) >= max(c.info.count(x) for x in c.info)):
            hint = "; no-answer samples (None) do not vote"
        elif _is_tie(c.info):
            hint = "; a tie goes to the tied label sampled first"
        else:
            hint = ""
        return f"for {c.where} you return {got!r}, decode.majority_vote gives {c.expected!r}{hint}"
    n_tie = sum(_is_tie(c.info) for c in cases)
    return _run_cases("majority", fn, cases, same=lambda a, b: a == b, explain=explain, unit="label lists",
                      ok=f"votes like decode.majority_vote on all {len(cases)} label lists ({len(cases) - 3} of real "
                         f"teacher samples, 3 with no-answer samples; {n_tie} ties)")


# --------------------------------------------------------------------------------------- per_seed_diff

def _student_rows(table: str) -> list[dict[str, Any]]:
    rows = _committed_table(table).get("per_student") or []
    if not rows or not all(r.get("preds") for r in rows):
        raise ValueError(f"{COMMITTED / 'course' / (table + '.json')}: no per-student predictions to check against")
    return [{"condition": r["condition"], "seed": r["seed"], "preds": [dict(p) for p in r["preds"]]} for r in rows]


def _reference_diff(rows: list[dict[str, Any]], condition: str, baseline: str) -> dict[int, float]:
    from .decode import Prediction
    from .protocol import summarize
    scored = [{"condition": r["condition"], "seed": r["seed"],
               "preds": [Prediction(p["id"], p["gold"], p["pred"], []) for p in r["preds"]]}
              for r in rows if r["condition"] in (condition, baseline)]
    row = next(s for s in summarize(scored, baseline=baseline) if s["condition"] == condition)
    seeds = sorted(r["seed"] for r in rows if r["condition"] == condition)
    common = [x for x in seeds if any(r["seed"] == x and r["condition"] == baseline for r in rows)]
    return dict(zip(common, row.get("per_seed_diff") or []))


def _check_per_seed_diff(fn: Callable) -> tuple[str, str]:
    cases = []
    for table, pairs in (("table2b_distillation", [("greedy_cot", "label_only"), ("scotd", "label_only"),
                                                   ("scotd", "greedy_cot"), ("cot_after", "label_only")]),
                         ("table3a_self_consistency", [("sc", "greedy")]),
                         ("table3b_rationales", [("N=5", "N=1")])):
        rows = _student_rows(table)
        random.Random(table).shuffle(rows)               # pair by seed, not by position
        for cond, base in pairs:
            cases.append(Case(f"{cond} − {base} in {table}", (rows, cond, base), _reference_diff(rows, cond, base)))
        cond, base = pairs[0]
        last = max(r["seed"] for r in rows if r["condition"] == base)
        fewer = [r for r in rows if not (r["condition"] == base and r["seed"] == last)]
        cases.append(Case(f"{cond} − {base} in {table} with {base}'s seed {last} left out", (fewer, cond, base),
                          _reference_diff(fewer, cond, base)))

    def same(got: Any, exp: dict[int, float]) -> bool:
        return dict(got).keys() == exp.keys() and all(abs(float(got[k]) - v) < 1e-9 for k, v in exp.items())

    def explain(c: Case, got: Any) -> str:
        if not isinstance(got, dict):
            return f"for {c.where} you return {_short(got)}: expected a dict {{seed: difference}}"
        if sorted(got) != sorted(c.expected):
            return (f"for {c.where} you give seeds {sorted(got)}, protocol.summarize pairs seeds {sorted(c.expected)} "
                    "(the seeds both conditions have)")
        k = next(k for k, v in c.expected.items() if abs(float(got[k]) - v) >= 1e-9)
        return (f"for {c.where}, seed {k}: you give {float(got[k]):+.4f}, protocol.summarize gives "
                f"{c.expected[k]:+.4f} (accuracy of {c.args[1]} minus {c.args[2]} on the same questions)")
    return _run_cases("per_seed_diff", fn, cases, same=same, explain=explain, unit="comparisons",
                      ok=f"same per-seed differences as protocol.summarize on all {len(cases)} comparisons of the "
                         "committed course students (Tables 2(b), 3(a), 3(b))")


CHECKS: dict[str, Callable[[Callable], tuple[str, str]]] = {
    "coin_conclusion": _check_coin_conclusion, "extract_letter": _check_extract_letter,
    "keep_correct": _check_keep_correct, "make_targets": _check_make_targets, "loss_mask": _check_loss_mask,
    "majority": _check_majority, "per_seed_diff": _check_per_seed_diff,
}
assert CHECKS.keys() == EXERCISES.keys()


def grade_function(name: str, fn: Any) -> Verdict:
    """Run exercise ``name``'s check on the student's function ``fn``."""
    if name not in EXERCISES:
        raise UserError(f"unknown exercise {name!r}; exercises: {', '.join(EXERCISES)}")
    status, message = CHECKS[name](fn)
    return Verdict(EXERCISES[name].notebook, name, number(name), status, message)


def check(name: str, fn: Any) -> None:
    """A notebook's check cell: print exercise ``name``'s one-line verdict on ``fn`` (never raises for the
    student's function, so the notebook runs on with an unsolved exercise)."""
    print(grade_function(name, fn).line)


# ============================================================================== notebooks and their cells

def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _tagged(cell: Any, prefix: str) -> str | None:
    for t in _tags(cell):
        if t.startswith(prefix):
            return t[len(prefix):]
    return None


def solution_blocks(source: str) -> list[tuple[int, int]]:
    """``(begin, end)`` line indexes of every solution block; an unmatched marker is a ``ValueError``."""
    lines = source.splitlines()
    blocks, begin = [], None
    for i, line in enumerate(lines):
        s = line.strip()
        if s == BEGIN:
            if begin is not None:
                raise ValueError(f"line {i + 1}: {BEGIN} inside another solution block")
            begin = i
        elif s == END:
            if begin is None:
                raise ValueError(f"line {i + 1}: {END} without {BEGIN}")
            blocks.append((begin, i))
            begin = None
    if begin is not None:
        raise ValueError(f"line {begin + 1}: {BEGIN} without {END}")
    return blocks


def stub_source(source: str, name: str) -> str:
    """The exercise cell as a student gets it: every solution block replaced by a ``NotImplementedError``
    at the block's indentation."""
    lines = source.splitlines()
    out, prev = [], 0
    for b, e in solution_blocks(source):
        indent = lines[b][: len(lines[b]) - len(lines[b].lstrip())]
        out += lines[prev:b]
        out.append(f'{indent}raise NotImplementedError("Exercise {number(name)}: write {name}, then run the check '
                   'cell below")')
        prev = e + 1
    out += lines[prev:]
    return "\n".join(out)


def _names_used(source: str) -> set[str]:
    """Names a cell reads (not keywords, not attributes); magics and shell lines are left out."""
    import ast
    code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}


def lesson_problems(notebook_dir: str | Path | None = None) -> list[str]:
    """What is wrong with the committed lesson notebooks' exercises (empty: nothing): every exercise has
    exactly one exercise cell with one non-empty solution block and one check cell calling ``check`` in its
    notebook, and no solution marker sits outside an exercise cell."""
    from .runner import read_notebook
    folder = Path(notebook_dir) if notebook_dir else config.REPO_ROOT / "notebooks"
    problems = []
    for stem in lesson_notebooks():
        path = folder / f"{stem}.py"
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        nb = read_notebook(path)
        for ex in (e for e in EXERCISES.values() if e.notebook == stem):
            cells = [c for c in nb.cells if _tagged(c, EXERCISE_TAG) == ex.name]
            checks = [c for c in nb.cells if _tagged(c, CHECK_TAG) == ex.name]
            if len(cells) != 1 or len(checks) != 1:
                problems.append(f"{path.name}: {len(cells)} exercise and {len(checks)} check cells for {ex.name}")
                continue
            try:
                blocks = solution_blocks(cells[0].source)
            except ValueError as err:
                problems.append(f"{path.name} {ex.name}: {err}")
                continue
            lines = cells[0].source.splitlines()
            if len(blocks) != 1 or not any(ln.strip() for b, e in blocks for ln in lines[b + 1:e]):
                problems.append(f"{path.name} {ex.name}: want one non-empty solution block, found {len(blocks)}")
            if f"exercises.check({ex.name!r}, {ex.name})" not in checks[0].source.replace('"', "'"):
                problems.append(f"{path.name} {ex.name}: the check cell must call exercises.check('{ex.name}', {ex.name})")
        mine = {e.name for e in EXERCISES.values() if e.notebook == stem}
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and _tagged(c, EXERCISE_TAG) is None and _tagged(c, CHECK_TAG) is None:
                used = sorted(_names_used(c.source) & mine)
                if used:       # a student copy would break there: later cells use the helpers' own code only
                    problems.append(f"{path.name} cell {i}: uses the exercise function(s) {used} outside its cells")
            if _tagged(c, EXERCISE_TAG) is None and (BEGIN in c.source or END in c.source):
                problems.append(f"{path.name} cell {i}: a solution marker outside an exercise cell")
            name = _tagged(c, EXERCISE_TAG) or _tagged(c, CHECK_TAG)
            if name is not None and (name not in EXERCISES or EXERCISES[name].notebook != stem):
                problems.append(f"{path.name} cell {i}: exercise {name!r} is not one of this notebook's")
    return problems


def student_copy(nb: Any) -> Any:
    """A copy of notebook ``nb`` with every exercise cell's solution replaced by its stub."""
    out = copy.deepcopy(nb)
    for c in out.cells:
        name = _tagged(c, EXERCISE_TAG)
        if name is not None and c.cell_type == "code":
            c.source = stub_source(c.source, name)
    out.metadata.pop("jupytext", None)        # a plain notebook, not paired with a .py
    return out


def write_student_copies(out_dir: str | Path, *, notebook_dir: str | Path | None = None,
                         force: bool = False) -> list[Path]:
    """Write the lesson notebooks as student copies ``<out_dir>/NN_name.ipynb``. An existing copy (a
    student's work?) is refused unless ``force``."""
    import jupytext
    from .runner import read_notebook
    folder = Path(notebook_dir) if notebook_dir else config.REPO_ROOT / "notebooks"
    problems = lesson_problems(folder)
    if problems:
        raise UserError(f"the lesson notebooks' exercises are not in order: {problems[0]}"
                        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    out = Path(out_dir)
    targets = [out / f"{stem}.ipynb" for stem in lesson_notebooks()]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise UserError(f"{existing[0]} exists (a student's work?): choose another --out or pass --force to overwrite "
                        f"{len(existing)} notebook(s)")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    for stem, target in zip(lesson_notebooks(), targets):
        jupytext.write(student_copy(read_notebook(folder / f"{stem}.py")), target, fmt="ipynb")
    return targets


# ============================================================================================== grading

@dataclass(frozen=True)
class Graded:
    """The verdicts of every notebook graded, and notes (files skipped, a pair graded through its .py)."""
    verdicts: list[Verdict]
    notes: list[str]

    @property
    def all_pass(self) -> bool:
        return bool(self.verdicts) and all(v.status == PASS for v in self.verdicts)


def _read(path: Path) -> Any:
    from .runner import read_notebook
    try:
        return read_notebook(path)
    except Exception as e:                        # not JSON, not nbformat, not jupytext
        raise UserError(f"{path}: cannot read the notebook ({type(e).__name__}: {' '.join(str(e).split())[:120]})") \
            from None


def _has_exercises(nb: Any) -> bool:
    return any(_tagged(c, EXERCISE_TAG) is not None for c in nb.cells)


def _gradable(path: Path, nb: Any) -> bool:
    return _has_exercises(nb) or path.stem in lesson_notebooks()


def grade_notebook(path: str | Path, nb: Any = None) -> list[Verdict]:
    """Run the exercise cells of one notebook in a fresh namespace, then each exercise's check."""
    path = Path(path)
    nb = nb if nb is not None else _read(path)
    cells: dict[str, list[Any]] = {}
    for c in nb.cells:
        name = _tagged(c, EXERCISE_TAG)
        if name is not None:
            cells.setdefault(name, []).append(c)
    unknown = sorted(set(cells) - set(EXERCISES))
    # the notebook's exercises: those its tags name, and all of a lesson notebook's by its file name (a copy
    # whose exercise cells lost their tags is graded as such, not skipped)
    stems = sorted({EXERCISES[n].notebook for n in cells if n in EXERCISES}
                   | ({path.stem} if path.stem in lesson_notebooks() else set()))
    expected = [n for n, e in EXERCISES.items() if e.notebook in stems]
    label = str(path)
    verdicts: dict[str, Verdict] = {}
    ns: dict[str, Any] = {"__name__": "__exercise__"}
    for name in unknown:
        verdicts[name] = Verdict(label, name, 0, FAIL, f"unknown exercise tag {EXERCISE_TAG}{name} "
                                 f"(exercises: {', '.join(EXERCISES)})")
    for name in expected:
        n = number(name)
        found = cells.get(name, [])
        if len(found) != 1:
            verdicts[name] = Verdict(label, name, n, FAIL, f"{len(found)} cells tagged {EXERCISE_TAG}{name} "
                                     "(want exactly one: restore the exercise cell's tag)")
            continue
        try:
            code = compile(found[0].source, f"{path.name}, exercise {name}", "exec")
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, ns)
        except (Exception, SystemExit) as e:
            where = f" (line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
            verdicts[name] = Verdict(label, name, n, FAIL, f"the exercise cell does not run: {type(e).__name__}: "
                                     f"{_short(getattr(e, 'msg', None) or e, 80)}{where}")
    for name in expected:
        if name in verdicts:
            continue
        fn = ns.get(name)
        if fn is None:
            verdicts[name] = Verdict(label, name, number(name), FAIL,
                                     f"the exercise cell defines no function {name} (keep its name)")
            continue
        v = grade_function(name, fn)
        verdicts[name] = Verdict(label, name, v.number, v.status, v.message)
    return sorted(verdicts.values(), key=lambda v: (v.number == 0, v.number, v.name))


def _notebook_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The numbered notebooks of a folder as the runner finds them (a ``.py`` wins over its paired ``.ipynb``)."""
    from .runner import discover
    found = discover(None, folder)
    notes = []
    for p in found:
        twin = p.with_suffix(".ipynb")
        if p.suffix == ".py" and twin.exists() and twin.stat().st_mtime > p.stat().st_mtime + 1:
            notes.append(f"graded {p.name}; {twin.name} beside it is newer: save it from JupyterLab (jupytext pairs "
                         f"them) or grade the .ipynb itself")
    return found, notes


def grade_paths(paths: Iterable[str | Path]) -> Graded:
    """Grade notebooks given as files (``.ipynb`` / ``.py``) or folders (their numbered notebooks with
    exercise cells, and every lesson notebook by name). A missing path, a named file that is not a readable
    notebook with exercises, or a folder without one is a :class:`~helpers.config.UserError`; in a folder, a
    lesson notebook that cannot be read fails its exercises with the reason, and the others are graded."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError("no notebook or folder to grade")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such notebook or folder")
    verdicts: list[Verdict] = []
    notes: list[str] = []
    for p in paths:
        if not p.is_dir():
            if p.suffix not in (".ipynb", ".py"):
                raise UserError(f"{p}: not a notebook (.ipynb or jupytext .py)")
            nb = _read(p)
            if not _gradable(p, nb):
                raise UserError(f"{p}: no exercise cells (cells tagged {EXERCISE_TAG}<name>)")
            verdicts += grade_notebook(p, nb)
            continue
        found, more = _notebook_files(p)
        notes += more
        graded, skipped = 0, []
        for f in found:
            try:
                nb = _read(f)
            except UserError as e:
                if f.stem not in lesson_notebooks():
                    raise
                verdicts += [Verdict(str(f), n, number(n), FAIL, str(e)) for n, x in EXERCISES.items()
                             if x.notebook == f.stem]
                graded += 1
                continue
            if _gradable(f, nb):
                verdicts += grade_notebook(f, nb)
                graded += 1
            else:
                skipped.append(f.name)
        if not graded:
            raise UserError(f"{p}: no numbered notebook with exercise cells in this folder "
                            "(write student copies with `python -m helpers exercises write --out DIR`)")
        if skipped:
            notes.append(f"{p}: {len(skipped)} notebook(s) without exercises not graded ({', '.join(skipped)})")
    return Graded(verdicts, notes)


def report(graded: Graded) -> str:
    """The grading table: notebook / exercise / result / the one-line message, and a count."""
    vs = graded.verdicts
    w_nb = max([len("notebook")] + [len(v.notebook) for v in vs])
    w_ex = max([len("exercise")] + [len(f"{v.number} {v.name}") for v in vs])
    lines = [f"{'notebook':<{w_nb}}  {'exercise':<{w_ex}}  {'result':<8}  message"]
    for v in vs:
        lines.append(f"{v.notebook:<{w_nb}}  {f'{v.number} {v.name}':<{w_ex}}  {v.status:<8}  "
                     f"{MARKS[v.status]} {v.message}")
    counts = {s: sum(v.status == s for v in vs) for s in (PASS, FAIL, NOT_DONE)}
    lines.append(f"{len(vs)} exercises: {counts[PASS]} pass, {counts[FAIL]} fail, {counts[NOT_DONE]} not done")
    lines += [f"note: {n}" for n in graded.notes]
    return "\n".join(lines)


__all__ = ["EXERCISES", "Exercise", "Verdict", "Graded", "check", "grade_function", "grade_notebook", "grade_paths",
           "report", "student_copy", "stub_source", "solution_blocks", "lesson_problems", "write_student_copies",
           "lesson_notebooks", "number"]
