"""SCoTD §3.1.1's pairwise human evaluation: the distilled student's chain of thought against the teacher's.

Li et al. (2023, §3.1.1 and Appendix A) show crowdworkers a question and two step-by-step reasoning
chains with the final prediction removed, and ask which is more likely to lead to a correct answer (more
correct and relevant facts, more fluent). Their Q2 — OPT-1.3B + SCoTD against the 100× larger teacher —
found the student's chains *comparable*: the student won 47% of a random sample (N=900) and 51% of a
sample where both answered correctly (N=659); equal preference was not rejected (p > .01).

This module is the same protocol for a person with a browser:

* :func:`build_pairs` — per question: the student's CoT and the teacher's CoT, each without its final
  answer sentence (the answers are kept, hidden, for the analysis), a stable ``pair_id``, and which of
  the two is shown as A (balanced: half the pairs show the student first, shuffled by a seed); the pairs
  are presented in a seeded random order;
* :func:`make_page` / :func:`write_page` — ``page.html``: one self-contained file (inline CSS and
  JavaScript, the pairs embedded, no network) that asks for an annotator id, shows one pair at a time
  (A better / about the same / B better), saves progress in the browser's ``localStorage`` (keyed by
  page id and annotator, so a reload or a second session resumes), and exports the judgments as a JSON
  file. The page never says which side is the student: the A/B key is ``page.json`` beside it;
* :func:`load_judgments` — reads exported files against that key: every file must be for this page,
  every row must name a pair of the page and a valid choice, and no annotator may judge one pair twice
  (also across files). A bad file is a :class:`JudgmentError`: one line naming the file, the row and
  the field. Nothing is ever guessed, filled in or dropped;
* :func:`analyse` — student better / tie / teacher better, overall and on the pairs where both answered
  correctly (the paper's correctness-controlled sample), the student's win rate among non-tied
  judgments with an exact two-sided binomial test against 50% and a Clopper–Pearson 95% interval, the
  share judged as good or better, per-annotator counts, position bias (A chosen among non-ties) and
  agreement between annotators on shared pairs; :func:`result_rows` puts the paper's numbers beside.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config import UserError
from .provenance import stable_hash, write_json

FORMAT = "cotlab-human-eval-judgments"      # the "format" field of an exported judgments file
VERSION = 1
CHOICES = ("A", "tie", "B")                   # what an annotator can answer for one pair
SYSTEMS = ("student", "teacher")
ROW_FIELDS = {"pair_id", "choice", "judged_at", "seconds"}
FILE_FIELDS = {"format", "version", "page_id", "annotator", "exported_at", "n_pairs", "judgments"}
#: an annotator id: letters, digits and ``_ . @ -``, 1–64 characters, starting with a letter or digit
ANNOTATOR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
#: where the paper's numbers are (helpers.paper_numbers), and the subsets they correspond to
PAPER_TABLE = "SCoTD §3.1.1 (human eval)"
SUBSETS = (("all pairs", "random sample"), ("both answers correct", "both correct"))
INSTRUCTIONS = (
    "You will see a question and two step-by-step reasoning chains (A and B), written by two different AI "
    "models as their best effort to answer it; each chain's final answer has been removed. You do not have to "
    "answer the question. Pick the reasoning chain you believe is better. Most important: which is more likely "
    "to lead to a correct answer? Also consider which has more relevant and correct facts and inferences, and "
    "which is more grammatical, easy to read and fluent. Be forgiving of slight grammatical errors. If both are "
    "bad, still pick the better one; choose \u201cabout the same\u201d only when you really cannot tell them apart.")


class JudgmentError(UserError, ValueError):
    """A judgments file that cannot be imported. The message (one line) names the file, the row of its
    ``judgments`` list (1-based) and the field."""

    def __init__(self, path: Path | str, row: int | None, field: str | None, problem: str):
        self.path, self.row, self.field, self.problem = str(path), row, field, problem
        where = str(path) + (f", judgments row {row}" if row is not None else "") + (
            f", field {field!r}" if field else "")
        super().__init__(f"{where}: {' '.join(problem.split())}")


# ------------------------------------------------------------------------------------------- pairs

@dataclass(frozen=True)
class Pair:
    """One question with the student's and the teacher's chain of thought (final answers removed)."""
    pair_id: str
    question_id: str
    question: str                 # as the annotator reads it (stem + answer choices)
    gold: str | None
    student: str                  # the student's CoT without its answer sentence
    teacher: str                  # the teacher's CoT without its answer sentence
    student_answer: str | None    # hidden from the annotator; for the correctness-controlled subset
    teacher_answer: str | None
    a: str                        # which system is shown as A: "student" | "teacher"

    @property
    def b(self) -> str:
        return "teacher" if self.a == "student" else "student"

    def text(self, side: str) -> str:
        """The chain shown as ``side`` ("A" or "B")."""
        return getattr(self, self.a if side == "A" else self.b)

    @property
    def student_correct(self) -> bool:
        return self.gold is not None and self.student_answer == self.gold

    @property
    def teacher_correct(self) -> bool:
        return self.gold is not None and self.teacher_answer == self.gold

    def winner(self, choice: str) -> str:
        """``"student"``, ``"teacher"`` or ``"tie"`` for an annotator's ``choice`` ("A", "B" or "tie")."""
        return "tie" if choice == "tie" else (self.a if choice == "A" else self.b)


def question_text(ex: Any) -> str:
    """The question as the annotator reads it: the prompt's input without the trailing ``A:``."""
    from .prompts import format_input
    return format_input(ex).rsplit("\nA:", 1)[0]


QUESTION_POOLS = ("eval", "heldout")


def question_pool(which: str, eval_examples: Sequence[Any], heldout: Sequence[Any]) -> list[Any]:
    """The questions the page samples from: ``"eval"`` (the evaluation split, as in the paper) or
    ``"heldout"`` (the held-out slice of train: never trained on, and covered by a replayed release)."""
    if which not in QUESTION_POOLS:
        raise UserError(f"human_eval.questions must be one of {', '.join(QUESTION_POOLS)}, got {which!r}")
    return list(eval_examples if which == "eval" else heldout)


def sample_questions(pool: Sequence[Any], n: int, *, seed: int = 0) -> list[Any]:
    """A seeded random sample of ``n`` questions of ``pool`` (all of them when it has fewer), in pool order."""
    if n < 1:
        raise ValueError(f"n_questions must be at least 1, got {n}")
    idx = sorted(random.Random(f"human-eval-questions:{seed}").sample(range(len(pool)), min(n, len(pool))))
    return [pool[i] for i in idx]


def build_pairs(examples: Sequence[Any], student_preds: Sequence[Any], teacher_corpus: Any, *,
                seed: int = 0) -> list[Pair]:
    """One :class:`Pair` per example: the student's decode (``student_preds``, :class:`helpers.decode.Prediction`,
    its first text) and the teacher's first sample for the question (``teacher_corpus``, a
    :class:`helpers.corpus.Corpus`), each cut before its answer sentence as in the paper. A/B: exactly
    ``ceil(n/2)`` pairs show the student as A, which ones drawn with ``seed``; the returned order is a
    seeded shuffle (the order of the page)."""
    from .prompts import split_rationale
    preds = {p.id: p for p in student_preds}
    teach = {e.example.id: e for e in teacher_corpus.entries}
    pairs = []
    for ex in examples:
        if ex.id not in preds:
            raise ValueError(f"no student decode for question {ex.id!r}")
        entry = teach.get(ex.id)
        if entry is None or not entry.samples:
            raise ValueError(f"the teacher has no chain of thought for question {ex.id!r} (a replayed corpus "
                             "covers only its released split: use the held-out slice of train)")
        s = entry.samples[0]
        student, _ = split_rationale(ex, preds[ex.id].text)
        teacher, _ = split_rationale(ex, s.rationale)
        pid = "p" + stable_hash({"question": ex.id, "student": student, "teacher": teacher}, n=10)
        pairs.append(dict(pair_id=pid, question_id=ex.id, question=question_text(ex), gold=ex.answer,
                          student=student.strip(), teacher=teacher.strip(), student_answer=preds[ex.id].pred,
                          teacher_answer=s.label))
    rng = random.Random(f"human-eval:{seed}")
    firsts = ["student"] * ((len(pairs) + 1) // 2) + ["teacher"] * (len(pairs) // 2)
    rng.shuffle(firsts)
    out = [Pair(**p, a=a) for p, a in zip(pairs, firsts)]
    rng.shuffle(out)
    if len({p.pair_id for p in out}) != len(out):
        raise ValueError("two pairs share a pair id (the same question twice?)")
    return out


@dataclass(frozen=True)
class Page:
    """The pairs of one evaluation page and what produced them. ``page_id`` hashes the pairs (texts,
    order and A/B sides): judgments made on another page can never be mistaken for judgments of this one."""
    page_id: str
    title: str
    pairs: tuple[Pair, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def pair(self, pair_id: str) -> Pair:
        return self._by_id[pair_id]

    @property
    def _by_id(self) -> dict[str, Pair]:
        return {p.pair_id: p for p in self.pairs}

    def to_dict(self) -> dict[str, Any]:
        return {"format": "cotlab-human-eval-page", "version": VERSION, "page_id": self.page_id,
                "title": self.title, "meta": self.meta, "pairs": [asdict(p) for p in self.pairs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Page":
        return cls(d["page_id"], d["title"], tuple(Pair(**p) for p in d["pairs"]), dict(d.get("meta") or {}))


def make_page(pairs: Sequence[Pair], *, title: str, meta: dict[str, Any] | None = None) -> Page:
    if not pairs:
        raise ValueError("a page needs at least one pair")
    pid = stable_hash([asdict(p) for p in pairs], n=12)
    return Page(pid, title, tuple(pairs), dict(meta or {}))


def _public(page: Page) -> dict[str, Any]:
    """What the browser gets: texts by side, never which side is the student or the answers."""
    return {"page_id": page.page_id, "title": page.title, "instructions": INSTRUCTIONS,
            "format": FORMAT, "version": VERSION,
            "pairs": [{"pair_id": p.pair_id, "question": p.question, "A": p.text("A"), "B": p.text("B")}
                      for p in page.pairs]}


def _script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    return (json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def page_html(page: Page) -> str:
    """The self-contained evaluation page (inline CSS and JavaScript; no network access), rendered from
    :data:`TEMPLATE` with jinja2."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(TEMPLATE.name).render(title=page.title, n=len(page.pairs), instructions=INSTRUCTIONS,
                                                 data=_script_json(_public(page)))


def write_page(page: Page, folder: str | Path) -> tuple[Path, Path]:
    """``<folder>/page.html`` (for the annotators) and ``<folder>/page.json`` (the key: pairs, sides,
    answers, provenance; for the import). Returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / "page.html"
    tmp = html_path.with_name(".page.html.tmp")
    tmp.write_text(page_html(page), encoding="utf-8")
    tmp.replace(html_path)
    return html_path, write_json(folder / "page.json", page.to_dict())


def load_page(path: str | Path) -> Page:
    """A page key written by :func:`write_page` (``page.json``, or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "page.json"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such page key (write the page first: notebook 09)") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(d, dict) or d.get("format") != "cotlab-human-eval-page":
        raise UserError(f"{path}: not a human-eval page key (format 'cotlab-human-eval-page')")
    try:
        page = Page.from_dict(d)
    except (KeyError, TypeError) as e:
        raise UserError(f"{path}: a malformed page key ({e.__class__.__name__}: {e}); write the page again") from None
    if make_page(page.pairs, title=page.title).page_id != page.page_id:
        raise UserError(f"{path}: its pairs do not hash to its page id {page.page_id!r} (edited by hand?); "
                        "write the page again")
    return page


def pair_frame(page: Page, n: int = 1) -> Any:
    """The first ``n`` pairs as the analyst sees them: side, which system, its answer, whether correct, the CoT."""
    import pandas as pd
    rows = []
    for p in page.pairs[:n]:
        for side in ("A", "B"):
            who = p.a if side == "A" else p.b
            ans = getattr(p, f"{who}_answer")
            rows.append({"pair": p.pair_id, "question": p.question, "side": side, "system": who,
                         "answer (hidden)": ans, "gold": p.gold, "✓": ans is not None and ans == p.gold,
                         "chain of thought (as shown)": p.text(side)})
    return pd.DataFrame(rows)


def pair_stats(page: Page) -> list[dict[str, Any]]:
    """Per pair: the length in words of both chains and whether each system's (hidden) answer is correct."""
    return [{"pair_id": p.pair_id, "question_id": p.question_id, "student_words": len(p.student.split()),
             "teacher_words": len(p.teacher.split()), "student_correct": p.student_correct,
             "teacher_correct": p.teacher_correct, "student_shown_as": "A" if p.a == "student" else "B"}
            for p in page.pairs]


# --------------------------------------------------------------------------------------- judgments

@dataclass(frozen=True)
class Judgment:
    """One annotator's judgment of one pair, mapped back to the systems."""
    file: str
    row: int                      # 1-based row of the file's ``judgments`` list
    annotator: str
    pair_id: str
    choice: str                   # as clicked: "A", "tie" or "B"
    winner: str                   # "student", "teacher" or "tie"
    seconds: float | None = None
    judged_at: str | None = None


def judgment_files(folder: str | Path) -> list[Path]:
    """The exported judgments files in ``folder`` (``*.json``, sorted); none when it does not exist."""
    folder = Path(folder)
    return sorted(p for p in folder.glob("*.json") if p.is_file()) if folder.is_dir() else []


def load_judgments(paths: Iterable[str | Path], page: Page) -> list[Judgment]:
    """Read and check exported judgments files against ``page``; raises :class:`JudgmentError` (one line:
    file, row, field) on the first problem: not JSON, another format or version, judgments of another
    page, a missing or malformed annotator id, a row that is not an object, an unknown field, an unknown
    pair id, a choice other than ``A``/``tie``/``B``, a negative or non-numeric time, or a pair judged
    twice by one annotator (within a file or across files)."""
    by_id = page._by_id
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    out: list[Judgment] = []
    for path in paths:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise JudgmentError(path, None, None, f"not valid JSON (line {e.lineno}: {e.msg})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise JudgmentError(path, None, None, f"cannot read it ({e.__class__.__name__}: {e})") from None
        if not isinstance(d, dict):
            raise JudgmentError(path, None, None, "expected a JSON object exported by the evaluation page")
        extra = sorted(set(d) - FILE_FIELDS)
        if extra:
            raise JudgmentError(path, None, extra[0], f"unknown field (a file has {sorted(FILE_FIELDS)})")
        if d.get("format") != FORMAT:
            raise JudgmentError(path, None, "format", f"{d.get('format')!r} is not {FORMAT!r} (export it from the page)")
        if d.get("version") != VERSION:
            raise JudgmentError(path, None, "version", f"unsupported version {d.get('version')!r} (want {VERSION})")
        if d.get("page_id") != page.page_id:
            raise JudgmentError(path, None, "page_id", f"judgments of page {d.get('page_id')!r}, but this page is "
                                f"{page.page_id!r} (its pairs changed since; judge the current page.html)")
        ann = d.get("annotator")
        if not isinstance(ann, str) or not ANNOTATOR_RE.match(ann):
            raise JudgmentError(path, None, "annotator", f"{ann!r} is not an annotator id (1-64 letters, digits, "
                                "'_', '.', '@', '-')")
        rows = d.get("judgments")
        if not isinstance(rows, list):
            raise JudgmentError(path, None, "judgments", "expected a list of {pair_id, choice, ...}")
        for i, r in enumerate(rows, start=1):
            if not isinstance(r, dict):
                raise JudgmentError(path, i, None, f"expected an object {{pair_id, choice, ...}}, got {r!r}"[:200])
            extra = sorted(set(r) - ROW_FIELDS)
            if extra:
                raise JudgmentError(path, i, extra[0], f"unknown field (a row has {sorted(ROW_FIELDS)})")
            pid = r.get("pair_id")
            if not isinstance(pid, str) or pid not in by_id:
                raise JudgmentError(path, i, "pair_id", f"{pid!r} is not a pair of page {page.page_id}")
            choice = r.get("choice")
            if choice not in CHOICES:
                raise JudgmentError(path, i, "choice", f"{choice!r} is not a judgment (one of {', '.join(CHOICES)})")
            sec = r.get("seconds")
            if sec is not None and (isinstance(sec, bool) or not isinstance(sec, (int, float)) or not sec >= 0):
                raise JudgmentError(path, i, "seconds", f"{sec!r} is not a non-negative number of seconds")
            when = r.get("judged_at")
            if when is not None and not isinstance(when, str):
                raise JudgmentError(path, i, "judged_at", f"{when!r} is not a time stamp (a string)")
            if (ann, pid) in seen:
                f0, r0 = seen[(ann, pid)]
                raise JudgmentError(path, i, "pair_id", f"duplicate: annotator {ann!r} already judged pair {pid} "
                                    f"({f0}, judgments row {r0}); keep one export per annotator (the latest holds all)")
            seen[(ann, pid)] = (str(path), i)
            out.append(Judgment(str(path), i, ann, pid, choice, by_id[pid].winner(choice),
                                None if sec is None else float(sec), when))
    return out


# ----------------------------------------------------------------------------------------- analysis

def binomial(k: int, n: int) -> dict[str, float | None]:
    """``k`` of ``n``: the share, the exact two-sided binomial test against 1/2, and its Clopper–Pearson
    95% interval (all None when ``n`` is 0)."""
    if n == 0:
        return {"rate": None, "p_value": None, "ci_low": None, "ci_high": None}
    from scipy.stats import binomtest
    r = binomtest(k, n, 0.5)
    ci = r.proportion_ci(confidence_level=0.95, method="exact")
    return {"rate": k / n, "p_value": float(r.pvalue), "ci_low": float(ci.low), "ci_high": float(ci.high)}


def _counts(js: Sequence[Judgment]) -> dict[str, Any]:
    w = sum(j.winner == "student" for j in js)
    t = sum(j.winner == "tie" for j in js)
    lo = sum(j.winner == "teacher" for j in js)
    win = binomial(w, w + lo)
    gob = binomial(w + t, len(js))
    return {"judgments": len(js), "pairs": len({j.pair_id for j in js}),
            "annotators": len({j.annotator for j in js}), "student_better": w, "tie": t, "teacher_better": lo,
            "student_win_rate": win["rate"], "ci_low": win["ci_low"], "ci_high": win["ci_high"],
            "p_value": win["p_value"], "good_or_better_rate": gob["rate"], "gob_ci_low": gob["ci_low"],
            "gob_ci_high": gob["ci_high"]}


def analyse(judgments: Sequence[Judgment], page: Page) -> dict[str, Any]:
    """Win / tie / loss of the student against the teacher (see the module doc). ``subsets``: one entry
    per :data:`SUBSETS` (all pairs; pairs where both answered correctly) with the counts, the student's
    win rate among non-tied judgments (exact binomial p against 50%, Clopper–Pearson 95% CI) and the
    share judged as good or better (CI). Judgments are pooled over annotators, as in the paper."""
    both = {p.pair_id for p in page.pairs if p.student_correct and p.teacher_correct}
    subsets = []
    for name, paper_variant in SUBSETS:
        js = [j for j in judgments if name == "all pairs" or j.pair_id in both]
        subsets.append({"subset": name, "pairs_on_page": len(page.pairs) if name == "all pairs" else len(both),
                        **_counts(js)})
    per_annotator = []
    for ann in sorted({j.annotator for j in judgments}):
        js = [j for j in judgments if j.annotator == ann]
        c = _counts(js)
        non_tie = [j for j in js if j.choice != "tie"]
        secs = sorted(j.seconds for j in js if j.seconds is not None)
        per_annotator.append({"annotator": ann, "judgments": c["judgments"], "of_pairs": len(page.pairs),
                              "student_better": c["student_better"], "tie": c["tie"],
                              "teacher_better": c["teacher_better"], "student_win_rate": c["student_win_rate"],
                              "chose_a_rate": (sum(j.choice == "A" for j in non_tie) / len(non_tie)) if non_tie else None,
                              "median_seconds": secs[len(secs) // 2] if secs else None})
    non_tie = [j for j in judgments if j.choice != "tie"]
    pos = binomial(sum(j.choice == "A" for j in non_tie), len(non_tie))
    by_pair: dict[str, list[str]] = {}
    for j in judgments:
        by_pair.setdefault(j.pair_id, []).append(j.winner)
    agree = total = 0
    for ws in by_pair.values():
        for i in range(len(ws)):
            for k in range(i + 1, len(ws)):
                total += 1
                agree += ws[i] == ws[k]
    return {"page_id": page.page_id, "files": sorted({Path(j.file).name for j in judgments}), "subsets": subsets,
            "per_annotator": per_annotator,
            "position": {"non_tie": len(non_tie), "chose_a_rate": pos["rate"], "p_value": pos["p_value"],
                         "ci_low": pos["ci_low"], "ci_high": pos["ci_high"]},
            "agreement": {"pairs_judged_twice_or_more": sum(len(ws) > 1 for ws in by_pair.values()),
                          "annotator_pairs": total, "rate": agree / total if total else None}}


def paper_rows() -> list[dict[str, Any]]:
    """SCoTD §3.1.1 Q2 (student vs teacher) from :mod:`helpers.paper_numbers`, one row per subset."""
    from .paper_numbers import PAPER_NUMBERS
    return [r for r in PAPER_NUMBERS if r["table"] == PAPER_TABLE and r["condition"] == "student_vs_teacher"]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def result_rows(analysis: dict[str, Any] | None, page: Page) -> list[dict[str, Any]]:
    """One results row per subset: our counts and win rate (95% CI, binomial p) beside the paper's.
    ``analysis`` None (no judgments imported) gives rows with the paper's numbers and no result of ours."""
    paper = {r["variant"]: r for r in paper_rows()}
    empty = analyse([], page)["subsets"]
    out = []
    for i, (name, variant) in enumerate(SUBSETS):
        s = (analysis or {"subsets": empty})["subsets"][i]
        pr = paper.get(variant)
        n = s["judgments"]
        row = {"comparison": "SCoTD student vs teacher", **s}
        row["student / tie / teacher"] = (f"{s['student_better']} / {s['tie']} / {s['teacher_better']}" if n else
                                          "no judgments imported" if analysis is None else
                                          "no pairs in this subset" if not s["pairs_on_page"] else
                                          "no judgments in this subset")
        row["student win % (95% CI)"] = (f"{_pct(s['student_win_rate'])} ({_pct(s['ci_low'])}–{_pct(s['ci_high'])})"
                                         if n and s.get("student_win_rate") is not None else "–")
        row["p (binomial)"] = "–" if not n or s.get("p_value") is None else f"{s['p_value']:.3g}"
        row["good or better % (95% CI)"] = (f"{_pct(s['good_or_better_rate'])} ({_pct(s['gob_ci_low'])}–"
                                            f"{_pct(s['gob_ci_high'])})" if n else "–")
        row["paper"] = pr["value"] if pr else None
        row["paper_n"] = pr.get("n") if pr else None
        row["paper %"] = f"{pr['value']:.0f} (N={pr['n']}, {pr['p_text']})" if pr else "–"
        out.append(row)
    return out


RESULT_COLUMNS = ["comparison", "subset", "pairs_on_page", "judgments", "annotators", "student / tie / teacher",
                  "student win % (95% CI)", "p (binomial)", "good or better % (95% CI)", "paper %"]


# ------------------------------------------------------------------------------------------- the page

#: The page: a jinja2 template beside this module (``templates/human_eval.html``; autoescaped, the data JSON is
#: made safe for a ``<script>`` element by :func:`_script_json`).
TEMPLATE = Path(__file__).resolve().parent / "templates" / "human_eval.html"
