"""Run profiles: the one place that sizes every experiment — shared settings plus one block per study.

Every notebook's papermill ``parameters`` cell names a profile; ``get_profile(name)`` returns it and
every results record stores the profile's name and all its resolved settings.

* shared: ``student``, ``seeds`` (every seed is trained and reported), ``budget_minutes`` (the runner
  records each notebook's wall time and warns when a full run exceeds it), ``notes``;
* ``prompting`` — notebook 01 (SCoTD §2, Table 2(a)) and the live samples of 02;
* ``corpus`` — notebook 02 (the replayed large-teacher corpora and their statistics);
* ``distill`` — notebooks 03–04 (SCoTD Table 2(b), 3(a), 3(b)): the task, the teacher, N, and the
  :class:`helpers.protocol.Protocol` (matched budget, held-out slice of train, full evaluation split).

The profiles:

* ``smoke``  — CI: every code path in seconds, with ``smollm2-tiny`` (SmolLM2's tokenizer and architecture
  at 2 layers × 64, randomly initialised); numbers meaningless.
* ``course`` — a 2-core CPU laptop, the whole suite in ≤ 90 min, on the generated coin-flip task
  (:mod:`helpers.synthetic`) where distillation must show: the course's vehicle and the suite's
  positive control.
* ``lab``    — a CPU for hours: the papers' task (QuaRel + the replayed GPT-3 corpus) under the same
  protocol at full size; resumable (every student and decode is cached the moment it finishes).
* ``paper``  — a GPU and a teacher endpoint at the papers' sizes (N=30, OPT-1.3B from the hub, lr 2e-5,
  batch 32, SC k=30 at T=0.7).

A teacher is named ``scripted:<step error>`` (:class:`helpers.teacher.ScriptedTeacher`),
``replay:<release>`` (:class:`helpers.teacher.ReplayTeacher`), ``endpoint`` (an OpenAI-compatible
server at ``$COTLAB_TEACHER_URL``) or a model (registry name, local dir or hub id).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .protocol import Budget, Protocol


@dataclass(frozen=True)
class Prompting:
    """Notebook 01: prompting the teacher and the un-distilled student (SCoTD Table 2(a))."""
    task: str = "coinflip"
    teacher: str = "qwen2.5-0.5b"        # the live local teacher (or "endpoint")
    n_questions: int | None = 48          # dev questions prompted (None: the full split)
    shots: int | None = None              # exemplars per prompt (None: all of the task's prompt set)
    sc_k: int = 3                         # prompted self-consistency samples
    max_new_tokens: int = 96
    n_live: int = 4                       # training questions sampled live (shown in 01 and 02)
    n_samples: int = 5                    # N samples per live question
    temperature: float = 1.0


@dataclass(frozen=True)
class CorpusStudy:
    """Notebook 02: the replayed large-teacher corpora (GPT-3 × QuaRel, PaLM × CSQA)."""
    n_questions: int | None = 200         # training questions per replayed corpus (None: all)


@dataclass(frozen=True)
class Distill:
    """Notebooks 03–04: distillation under the protocol."""
    task: str = "coinflip"
    teacher: str = "scripted:0.1"
    n_samples: int = 5                    # N CoTs per question for SCoTD
    n_train: int | None = 300             # training questions (None: all but the held-out slice)
    n_heldout: int = 32                   # held-out slice of train (diagnostics / selection, never reported)
    eval_limit: int | None = None         # None = the full evaluation split (only smoke truncates)
    budget: Budget = Budget(steps=40)     # 24 steps left a CoT student at chance on the coin flip (results/sweep/)
    max_seq_len: int = 256
    lora: bool = False
    max_new_tokens: int = 96
    sc_k: int = 5
    sc_temperature: float = 0.7
    n_diag_train: int = 16                # training questions decoded for the fit diagnostic
    rationale_counts: tuple[int, ...] = (1, 5)      # notebook 04: SCoTD with N CoTs per question (N=1: Greedy-CoT)
    curve_setting: str = "supervised"     # notebook 04's N curve: supervised (reuses 03's students) | few_shot (paper)


@dataclass(frozen=True)
class Profile:
    name: str
    student: str
    seeds: tuple[int, ...]
    budget_minutes: float
    notes: str
    prompting: Prompting = Prompting()
    corpus: CorpusStudy = CorpusStudy()
    distill: Distill = Distill()

    @property
    def teacher(self) -> str:
        return self.distill.teacher

    def protocol(self) -> Protocol:
        """The distillation protocol of this profile (notebooks 03–04)."""
        d = self.distill
        return Protocol(task=d.task, student=self.student, budget=d.budget, seeds=self.seeds,
                        n_train=d.n_train, n_heldout=d.n_heldout, eval_limit=d.eval_limit,
                        n_diag_train=d.n_diag_train, max_seq_len=d.max_seq_len, lora=d.lora,
                        max_new_tokens=d.max_new_tokens, sc_k=d.sc_k, sc_temperature=d.sc_temperature)

    def to_dict(self) -> dict[str, Any]:
        return _lists(asdict(self))

    def with_overrides(self, **kw: Any) -> "Profile":
        """A copy with fields replaced; a study block takes a dict of its fields
        (``with_overrides(seeds=(0,), distill={"n_train": 50, "budget": {"steps": 10}})``)."""
        kw = {k: v for k, v in kw.items() if v is not None}
        unknown = set(kw) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown profile field(s) {sorted(unknown)}; fields: {[f.name for f in fields(self)]}")
        out = {}
        for k, v in kw.items():
            cur = getattr(self, k)
            out[k] = _merge(cur, v, k) if isinstance(v, dict) else (tuple(v) if isinstance(v, list) else v)
        return replace(self, **out)


def _merge(obj: Any, upd: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(obj)}
    bad = set(upd) - names
    if bad:
        raise ValueError(f"unknown field(s) {sorted(bad)} in {where}; fields: {sorted(names)}")
    new = {}
    for k, v in upd.items():
        cur = getattr(obj, k)
        new[k] = _merge(cur, v, f"{where}.{k}") if isinstance(v, dict) else (tuple(v) if isinstance(v, list) else v)
    return replace(obj, **new)


def _lists(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _lists(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_lists(v) for v in d]
    return d


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", student="smollm2-tiny", seeds=(0, 1), budget_minutes=5,
        notes="CI only: every code path with a 3M-parameter randomly initialised SmolLM2 (smollm2-tiny); "
              "numbers meaningless.",
        prompting=Prompting(task="coinflip", teacher="smollm2-135m", n_questions=2, shots=1, sc_k=2,
                            max_new_tokens=16, n_live=2, n_samples=2),
        corpus=CorpusStudy(n_questions=8),
        distill=Distill(task="coinflip", teacher="scripted:0.1", n_samples=2, n_train=8, n_heldout=4, eval_limit=6,
                        budget=Budget(steps=2, batch_size=4, lr=1e-4), max_seq_len=256, max_new_tokens=16,
                        sc_k=2, n_diag_train=4, rationale_counts=(1, 2)),
    ),
    "course": Profile(
        name="course", student="smollm2-135m", seeds=(0, 1, 2), budget_minutes=90,
        notes="2-core CPU laptop: the generated coin-flip task with a scripted teacher (10% slips per step), "
              "SmolLM2-135M, 3 seeds, matched budgets, full dev split.",
        prompting=Prompting(task="coinflip", teacher="qwen2.5-0.5b", n_questions=24, shots=4, sc_k=3,
                            max_new_tokens=80, n_live=4, n_samples=5),
        corpus=CorpusStudy(n_questions=200),
        distill=Distill(),
    ),
    "lab": Profile(
        name="lab", student="smollm2-135m", seeds=(0, 1, 2), budget_minutes=8 * 60,
        notes="CPU for hours: QuaRel + the replayed GPT-3 corpus (5 CoTs/question) at full size under the "
              "protocol; every student and decode is cached, so a run cut off anywhere resumes.",
        prompting=Prompting(task="quarel", teacher="qwen2.5-0.5b", n_questions=None, shots=3, sc_k=5,
                            max_new_tokens=96, n_live=16, n_samples=5),
        corpus=CorpusStudy(n_questions=None),
        distill=Distill(task="quarel", teacher="replay:mario_gpt3", n_samples=5, n_train=None, n_heldout=64,
                        budget=Budget(steps=600, batch_size=8, lr=1e-4), max_seq_len=320, max_new_tokens=96,
                        sc_k=5, n_diag_train=64, rationale_counts=(1, 2, 3, 5), curve_setting="few_shot"),
    ),
    "paper": Profile(
        name="paper", student="facebook/opt-1.3b", seeds=(0, 1, 2), budget_minutes=0,
        notes="GPU + teacher endpoint at the papers' sizes (N=30 at T=1.0, OPT-1.3B, lr 2e-5, batch 32, SC k=30 T=0.7).",
        prompting=Prompting(task="quarel", teacher="endpoint", n_questions=None, shots=None, sc_k=30,
                            max_new_tokens=128, n_live=0, n_samples=30),
        corpus=CorpusStudy(n_questions=None),
        distill=Distill(task="quarel", teacher="endpoint", n_samples=30, n_train=None, n_heldout=128,
                        budget=Budget(steps=3000, batch_size=32, lr=2e-5), max_seq_len=512, max_new_tokens=128,
                        sc_k=30, n_diag_train=128, rationale_counts=(1, 5, 10, 20, 30), curve_setting="few_shot"),
    ),
}

DEFAULT_PROFILE = "course"


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    name = name or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name].with_overrides(**overrides)
