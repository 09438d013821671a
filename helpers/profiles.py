"""Run profiles: the one place that sizes every experiment — shared settings plus one block per study.

Every notebook's papermill ``parameters`` cell names a profile; ``get_profile(name)`` returns it and
every results record stores the profile's name and all its resolved settings.

* shared: ``student``, ``seeds`` (every seed is trained and reported), ``budget_minutes`` (the runner
  records each notebook's wall time and warns when a full run exceeds it), ``notes``;
* ``prompting`` — notebook 01 (SCoTD §2, Table 2(a)) and the live samples of 02;
* ``corpus`` — notebook 02 (the replayed large-teacher corpora and their statistics);
* ``distill`` — notebooks 03–04 (SCoTD Table 2(b), 3(a), 3(b)): the task, the teacher, N, and the
  :class:`helpers.protocol.Protocol` (matched budget, held-out slice of train, full evaluation split).
* ``scaling`` — notebook 05 (SCoTD Fig. 2–4): CoTs per question, share of the training questions,
  student size; ``downsampling`` — notebook 08 (SCoTD §4, Fig. 7): strategies at a fixed CoT budget.
  Both run on the ``distill`` protocol, so the students they share with 03–04 come from the cache.
* ``human_eval`` — notebook 09 (SCoTD §3.1.1): the questions on the pairwise human-evaluation page.
* ``contrast`` — notebook 06 (SCoTD §3.4, Fig. 5): IMDb students scored on the paired original and
  contrast reviews; ``unseen`` — notebook 07 (SCoTD §3.5, Fig. 6): students trained on other tasks'
  CoT corpora, scored on SST-2. Each has its own task, teacher and matched budget (its ``protocol``).

The profiles:

* ``smoke``  — CI: every code path in seconds, with ``smollm2-tiny`` (SmolLM2's tokenizer and architecture
  at 2 layers × 64, randomly initialised); numbers meaningless.
* ``course`` — a 2-core CPU laptop, on the generated coin-flip task (:mod:`helpers.synthetic`) where
  distillation must show: the course's vehicle and the suite's positive control. The lesson — notebooks
  00–04, ``make lesson`` — takes ≤ 90 min from a clean cache (80 min measured with two workers); notebooks
  05–12 are further sessions of 15–95 min each.
* ``lab``    — a CPU for hours: the papers' task (QuaRel + the replayed GPT-3 corpus) under the same
  protocol at full size; resumable (every student and decode is cached the moment it finishes).
* ``paper``  — a GPU and a teacher endpoint at the papers' sizes (N=30, OPT-1.3B from the hub, lr 2e-5,
  batch 32, SC k=30 at T=0.7).

A teacher is named ``scripted:<step error>`` (:class:`helpers.teacher.ScriptedTeacher`),
``replay:<release>`` (:class:`helpers.teacher.ReplayTeacher`), ``endpoint`` (an OpenAI-compatible
server at ``$COTLAB_TEACHER_URL``), ``gguf:<registry model>`` (its GGUF run by llama.cpp:
:class:`helpers.teacher.GGUFTeacher`, the ``gguf`` extra) or a model (registry name, local dir or hub id).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
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
    # new tokens per completion; None: sized from the prompt set (prompts.exemplar_budget: 1.5 × the longest
    # exemplar completion in the teacher's tokens — 80 cut a 5-person coin flip's chain, ≈ 88 tokens, short)
    max_new_tokens: int | None = None
    n_live: int = 4                       # training questions sampled live (shown in 01 and 02)
    n_samples: int = 5                    # N samples per live question
    temperature: float = 1.0


@dataclass(frozen=True)
class CorpusStudy:
    """Notebook 02: the replayed large-teacher corpora (GPT-3 × QuaRel, PaLM × CSQA)."""
    n_questions: int | None = 200         # training questions per replayed corpus (None: all)


SETTINGS = ("supervised", "few_shot")     # SCoTD §3: gold-filtered CoTs with gold labels | every CoT, teacher's labels


@dataclass(frozen=True)
class Distill:
    """Notebooks 03–04: distillation under the protocol."""
    task: str = "coinflip"
    teacher: str = "scripted:0.1"
    n_samples: int = 5                    # N CoTs per question for SCoTD
    n_train: int | None = 300             # training questions (None: all but the held-out slice)
    n_heldout: int = 32                   # held-out slice of train (diagnostics / selection, never reported)
    eval_limit: int | None = None         # None = the full evaluation split (only smoke truncates)
    # every condition trained by the convergence rule (the sweep's coinflip-converge setting: its students are the
    # course's, same cache keys): an evaluation every 20 steps (32 held-out + 16 training questions decoded),
    # stop after 3 without progress ≥ 0.02 once the 40-step warm-up is over, best held-out weights kept, cap 400.
    # A fixed 40 steps left one CoT seed in three stalled (results/sweep/: coinflip-n300-s40-course); by the
    # rule Greedy-CoT stops at 100–160 steps at 98.5–99% and label-only at step 100 as a constant predictor.
    budget: Budget = Budget(steps=400, eval_every=20, patience=3, threshold=0.02, probe=True, rule="learned")
    max_seq_len: int = 256
    lora: bool = False
    max_new_tokens: int = 96
    sc_k: int = 5
    sc_temperature: float = 0.7
    n_diag_train: int = 16                # training questions decoded for the fit diagnostic
    rationale_counts: tuple[int, ...] = (1, 5)      # notebook 04: SCoTD with N CoTs per question (N=1: Greedy-CoT)
    curve_setting: str = "supervised"     # notebook 04's N curve: supervised (reuses 03's students) | few_shot (paper)
    curve_decodes: tuple[str, ...] = ("greedy", "sc")  # notebook 04's N curve: decodings per student
    sc_settings: tuple[str, ...] = ("supervised", "few_shot")   # notebook 04's Table 3(a): SCoTD settings

    def protocol(self, profile: "Profile") -> Protocol:
        """This block's protocol, with the profile's student and seeds."""
        return Protocol.from_block(self, student=profile.student, seeds=profile.seeds)

    def __post_init__(self) -> None:
        for name, values in (("sc_settings", self.sc_settings), ("curve_setting", (self.curve_setting,))):
            bad = [v for v in values if v not in SETTINGS]
            if bad:
                raise ValueError(f"distill.{name}: unknown setting(s) {bad}; valid: {list(SETTINGS)}")


@dataclass(frozen=True)
class Wadhwa:
    """Notebooks 10–12 (Wadhwa et al. 2024, RQ1–RQ3). ``distill``: their task, teacher, CoTs per question and
    protocol (a :class:`Distill` block); None: the profile's own ``distill`` block (03–04's students)."""
    distill: Distill | None = None
    # the paper's task whose numbers stand beside ours in the "paper" column (None: this block's task, where the
    # paper has it; course: QuaRel — the paper has no creatures column, and QuaRel is where it reports all three tables)
    paper_task: str | None = None
    students: tuple[str, ...] = ("smollm2-135m",)   # Table 1 students (the profile's student first)
    filler_counts: tuple[int, ...] = (4, 12, 32)    # RQ1 Fig. 3: <unk> fillers before the label (0 = label-only)
    n_lens: int = 48                      # RQ1 Fig. 2: dev questions per seed (answered right by all three students)
    lens_seeds: int = 1                   # RQ1 Fig. 2: the first this-many seeds of the profile get lenses
    tuned_lens_steps: int = 40            # translator training steps per student (tuned lens; ~4 s each on 135M, 1 thread)
    lens_tokens_per_step: int | None = 48  # positions per batch the tuned lens trains on (None: all)
    mask_fractions: tuple[int | float, ...] = (0.5, 1.0)   # RQ2 Fig. 4: share of rationale words masked
    top_k: int = 15                       # RQ3: key tokens kept per rationale (paper: 15)
    ig_steps: int = 64                    # integrated-gradients steps (captum n_steps). 4 course rationales: 0.9–8% completeness
                                          # error, top-15 = 128 steps' (48/48 words); 32 steps: 47/48, 16: 45/48
    ig_internal_batch: int = 8            # captum internal_batch_size: memory stays flat


@dataclass(frozen=True)
class HumanEval:
    """Notebook 09 (SCoTD §3.1.1): the pairwise page, 03's SCoTD student (first seed) vs the ``distill`` teacher."""
    n_questions: int = 24                 # pairs on the page: a seeded random sample of the questions (paper: 300/task)
    questions: str = "eval"               # "eval": the evaluation split | "heldout": the held-out slice of train
                                          # (a replayed release has teacher CoTs for its training split only)
    teacher_temperature: float = 1.0      # the teacher's CoT: its first sample at the corpus's temperature
    seed: int = 0                         # question sample, A/B sides and page order


@dataclass(frozen=True)
class Scaling:
    """Notebook 05 (SCoTD Fig. 2–4, supervised, greedy) under the ``distill`` block's task, teacher and
    protocol. N = 1 is Greedy-CoT (as in 04); N = ``distill.n_samples`` at fraction 1.0 with the profile's
    student is 03's SCoTD student, and label-only at 1.0 is 03's — reused from the cache."""
    rationale_counts: tuple[int, ...] = (1, 5)      # Fig. 2: SCoTD on the first N CoTs per question, beside label-only
    data_fractions: tuple[float, ...] = (0.2, 1.0)  # Fig. 3: share of the training questions (nested: first f·n_train)
    fraction_counts: tuple[int, ...] = (5,)         # Fig. 3: SCoTD lines (N per question) beside label-only
    students: tuple[str, ...] = ("smollm2-135m",)   # Fig. 4: students (registry names, local dirs or hub ids)
    student_counts: tuple[int, ...] = (5,)          # Fig. 4: SCoTD (N per question) beside label-only, per student


@dataclass(frozen=True)
class Downsampling:
    """Notebook 08 (SCoTD §4, Fig. 7): the supervised corpus C' cut to ``budget`` CoTs per question by each
    strategy, against all of C' (03's SCoTD student), at the ``distill`` protocol's budget."""
    budget: int = 2                       # CoTs kept per question on average (paper: 5 of 30)
    strategies: tuple[str, ...] = ("random", "diversity")   # of helpers.downsample.STRATEGIES
    likelihood_scorer: str | None = None  # None: the teacher's own log-probs; a model: every CoT scored under it
                                          # (replayed corpora have none: a local stand-in for the teacher)
    likelihood_shots: int = 0             # exemplars in the scorer's prompt (0: the question alone)


@dataclass(frozen=True)
class ContrastSet:
    """Notebook 06 (SCoTD §3.4, Fig. 5): label-only vs SCoTD students trained on IMDb (supervised), scored on
    the IMDb contrast set's paired original and contrast reviews. IMDb has no released CoTs: ``teacher``
    samples them. Reviews are long: every review *input* — training questions, the teacher's prompt
    exemplars, the evaluation reviews — is cut to its first and last words (``max_review_words``,
    :func:`helpers.prompts.shorten_input`); labels and CoTs are never cut."""
    teacher: str = "qwen2.5-0.5b"         # a local model, "endpoint", … (helpers.teacher.teacher_from_name)
    n_train: int | None = 32              # IMDb training questions (imdb/train_5k, exemplars left out; None: all)
    n_samples: int = 4                    # N CoTs per question (SCoTD: every correct one)
    shots: int = 2                        # IMDb exemplars in the teacher's prompt
    temperature: float = 1.0
    teacher_max_new_tokens: int | None = None   # the teacher's CoT + answer sentence; None: sized from the IMDb
                                          # exemplars in the teacher's tokens (helpers.teacher.prompt_budget)
    max_review_words: int | None = 64     # first ⌈w/2⌉ + last ⌊w/2⌋ words, "[…]" between (None: whole reviews)
    eval_part: str = "dev"                # contrast set part: "dev" (100 pairs) | "test" (488 pairs, the paper's)
    eval_limit: int | None = None         # pairs scored (None: the whole part; only smoke truncates)
    budget: Budget = Budget(steps=24)
    max_seq_len: int = 256
    max_new_tokens: int = 64              # student decode (greedy)
    decode_batch_size: int = 16

    def protocol(self, profile: "Profile") -> Protocol:
        return Protocol.from_block(self, student=profile.student, seeds=profile.seeds, task="imdb", n_heldout=0,
                                   eval_split=f"imdb_contrast {self.eval_part}", n_diag_train=0)


@dataclass(frozen=True)
class UnseenTask:
    """Notebook 07 (SCoTD §3.5, Fig. 6): students trained on the CoT corpora of *other* tasks, scored on
    SST-2 (never seen in training), beside the un-distilled student prompted in context. ``sources``:
    ``"<task>/<split>@<teacher>"`` (a replayed release, ``endpoint``, a model); the paper trains on
    ANLI, CSQA and OBQA — no OBQA corpus was released, so QuaRel's GPT-3 corpus stands in off ``paper``."""
    sources: tuple[str, ...] = ("anli/r1_dev@replay:palm", "csqa/train@replay:palm", "quarel/train@replay:mario")
    n_per_task: int | None = 64           # questions per source task (its first rows, exemplars left out; None: all)
    n_samples: int = 5                    # CoTs per question at most (a release has what it has: PaLM 1, GPT-3 5)
    supervised: bool = True               # §3.5 trains "a supervised SCoTD model": gold filter and gold labels;
                                          # False: every answered CoT with the teacher's own label (few-shot)
    eval_task: str = "sst2"
    eval_split: str = "validation"
    eval_limit: int | None = None         # None: the full split (only smoke truncates)
    shots: int = 4                        # SST-2 exemplars when the un-distilled student is prompted in context
    prompt_modes: tuple[str, ...] = ("no_cot", "greedy")   # of helpers.evaluate.PROMPT_MODES
    student_shots: int = 0                # > 0: the students are also scored with this many SST-2 exemplars in
                                          # context (MetaICL-style: the paper's "few-shot accuracy")
    budget: Budget = Budget(steps=24)
    max_seq_len: int = 320
    max_new_tokens: int = 48              # student decode and CoT prompting (source CoTs: ~24 words)
    decode_batch_size: int = 16

    def source_list(self) -> list[tuple[str, str, str]]:
        """``(task, split, teacher)`` per source; a malformed entry raises naming it."""
        out = []
        for src in self.sources:
            head, sep, teacher = src.partition("@")
            task, slash, split = head.partition("/")
            if not (sep and slash and task and split and teacher):
                raise ValueError(f"unseen.sources entry {src!r}: expected '<task>/<split>@<teacher>', "
                                 "e.g. 'csqa/train@replay:palm'")
            if task == self.eval_task:
                raise ValueError(f"unseen.sources entry {src!r}: the evaluation task {task!r} must stay unseen")
            out.append((task, split, teacher))
        if not out:
            raise ValueError("unseen.sources is empty")
        return out

    def protocol(self, profile: "Profile") -> Protocol:
        return Protocol.from_block(self, student=profile.student, seeds=profile.seeds, task=self.eval_task,
                                   n_train=None, n_heldout=0, n_diag_train=0)


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
    scaling: Scaling = Scaling()
    downsampling: Downsampling = Downsampling()
    wadhwa: Wadhwa = Wadhwa()
    human_eval: HumanEval = HumanEval()
    contrast: ContrastSet = ContrastSet()
    unseen: UnseenTask = UnseenTask()

    @property
    def teacher(self) -> str:
        return self.distill.teacher

    def protocol(self) -> Protocol:
        """The distillation protocol of this profile (notebooks 03–09)."""
        return self.distill.protocol(self)

    @property
    def wadhwa_distill(self) -> Distill:
        """The task, teacher and protocol block of notebooks 10–12 (the ``wadhwa`` block's, else ``distill``)."""
        return self.wadhwa.distill or self.distill

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
            if k == "wadhwa" and isinstance(v, dict) and isinstance(v.get("distill"), dict) and cur.distill is None:
                cur = replace(cur, distill=self.distill)     # 10–12 on 03's block until told otherwise
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


#: the course's block for notebooks 10–12: the creatures task, the scripted teacher, one CoT per question, 03's rule
#: with one requirement more: patience counts only once a student answers 90% of its own training questions right.
#: By 03's rule alone the CoT-after student of seed 1 stopped at step 100 as a constant predictor (train slice 56%);
#: replayed on the recorded curves the requirement changes no student that had learned (creatures seed 0, the coin
#: flip's Greedy-CoT seeds 0–2: same stop, same kept step — `train.same_student_under_rule` reuses them).
CREATURES = Distill(task="creatures", teacher="scripted:0.1", n_samples=1, n_train=None, n_heldout=32,
                    budget=Budget(steps=400, eval_every=20, patience=3, threshold=0.02, probe=True, rule="learned",
                                  min_train_accuracy=0.9),
                    n_diag_train=16)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", student="smollm2-tiny", seeds=(0, 1), budget_minutes=5,
        notes="CI only: every code path with a 3M-parameter randomly initialised SmolLM2 (smollm2-tiny); "
              "numbers meaningless.",
        prompting=Prompting(task="coinflip", teacher="smollm2-135m", n_questions=2, shots=1, sc_k=2,
                            max_new_tokens=16, n_live=2, n_samples=2),
        corpus=CorpusStudy(n_questions=8),
        # the convergence rule exercised end to end: an evaluation every 2 steps, and a threshold no evaluation
        # can meet, so every student stops by patience at step 4 (converged by the rule; numbers meaningless)
        distill=Distill(task="coinflip", teacher="scripted:0.1", n_samples=2, n_train=8, n_heldout=4, eval_limit=6,
                        budget=Budget(steps=6, batch_size=4, lr=1e-4, eval_every=2, patience=1, threshold=1.01,
                                      rule="learned"), max_seq_len=256, max_new_tokens=16,
                        sc_k=2, n_diag_train=4, rationale_counts=(1, 2)),
        scaling=Scaling(rationale_counts=(1, 2), data_fractions=(0.5, 1.0), fraction_counts=(2,),
                        students=("smollm2-tiny", "smollm2-135m"), student_counts=(2,)),
        downsampling=Downsampling(budget=1, strategies=("random", "diversity", "likelihood", "open_endedness"),
                                  likelihood_scorer="smollm2-tiny"),
        wadhwa=Wadhwa(distill=Distill(task="creatures", teacher="scripted:0.1", n_samples=1, n_train=8, n_heldout=4,
                                      eval_limit=6, budget=Budget(steps=6, batch_size=4, lr=1e-4, eval_every=2,
                                                                  patience=1, threshold=1.01, rule="learned"),
                                      max_seq_len=256, max_new_tokens=16, sc_k=2, n_diag_train=4),
                      students=("smollm2-tiny",), filler_counts=(2,), n_lens=4, tuned_lens_steps=4,
                      lens_tokens_per_step=16, mask_fractions=(0.5,), top_k=5, ig_steps=4, ig_internal_batch=4),
        human_eval=HumanEval(n_questions=4),
        contrast=ContrastSet(teacher="smollm2-135m", n_train=6, n_samples=2, shots=1, temperature=0.0,
                             teacher_max_new_tokens=40,
                             max_review_words=24, eval_part="dev", eval_limit=3,
                             budget=Budget(steps=2, batch_size=4, lr=1e-4), max_seq_len=192, max_new_tokens=16),
        unseen=UnseenTask(n_per_task=3, n_samples=2, eval_limit=4, shots=1, student_shots=1,
                          budget=Budget(steps=2, batch_size=4, lr=1e-4), max_new_tokens=16),
    ),
    "course": Profile(
        name="course", student="smollm2-135m", seeds=(0, 1, 2), budget_minutes=90,
        notes="2-core CPU laptop: the generated coin-flip task with a scripted teacher (10% slips per step), "
              "SmolLM2-135M, 3 seeds, matched budgets, full dev split.",
        prompting=Prompting(task="coinflip", teacher="qwen2.5-0.5b", n_questions=24, shots=4, sc_k=3,
                            n_live=4, n_samples=5),
        corpus=CorpusStudy(n_questions=200),
        # the N curve greedy only: self-consistency is Table 3(a)'s question, and one SC decode of the 200
        # dev questions costs 12–20 min here (≈ 69k generated tokens)
        # and Table 3(a) on the supervised students only (03's): the few-shot setting adds 3 students and 3 SC
        # decodes, ~25 min of the lesson's 90 (measured with it in commit 780673f: SC −9.5 points, p = 5e-5)
        distill=Distill(curve_decodes=("greedy",), sc_settings=("supervised",)),
        scaling=Scaling(),            # 05: 6 new students (20% of the questions), the rest is 03's (≈ 25 min)
        downsampling=Downsampling(),  # 08: 6 new students (2 strategies × 3 seeds), full C' is 03's (≈ 40 min)
        contrast=ContrastSet(),       # 06: 128 qwen2.5-0.5b CoTs + 6 students, 200 dev reviews each (≈ 30–40 min)
        unseen=UnseenTask(),          # 07: 6 students on replayed corpora + prompting, 872 SST-2 rows each (≈ 40–45 min)
        # 12: IG on 300 rationales is most of the notebook's time (64 steps ≈ 75 min with 2 workers); 32 steps keep
        # the top-15 words of 128 steps (47/48 on 4 rationales) at half the cost. Measured on all 300 at 32 steps
        # (≈ 38 min): median error 0.021 nats, 3.9% on the rationales that move log p(gold) by ≥ 0.1 nats
        # 10–12 on the creatures task (helpers.synthetic): rationales state facts the label needs, so a rationale
        # *after* the label can teach something (on the coin flip the answer must be computed, and CoT-after cannot
        # help by construction). One CoT per question, as in Wadhwa et al.; the protocol of 03 (the rule
        # "learned"); these are the sweep's creatures-screen students (same cache keys)
        wadhwa=Wadhwa(distill=CREATURES, paper_task="quarel", ig_steps=32),
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
        scaling=Scaling(rationale_counts=(1, 2, 3, 5), data_fractions=(0.2, 0.4, 0.6, 0.8, 1.0), fraction_counts=(1, 5),
                        students=("smollm2-135m", "gemma-3-270m", "qwen2.5-0.5b"), student_counts=(1, 5)),
        downsampling=Downsampling(budget=2, strategies=("random", "diversity", "likelihood", "open_endedness"),
                                  likelihood_scorer="qwen2.5-0.5b"),
        wadhwa=Wadhwa(students=("smollm2-135m", "gemma-3-270m"), filler_counts=(1, 5, 11, 20, 40), n_lens=100,
                      lens_seeds=3, tuned_lens_steps=300, mask_fractions=(0.1, 0.25, 0.5, 0.75, 0.9)),
        human_eval=HumanEval(n_questions=24, questions="heldout"),
        contrast=ContrastSet(teacher="qwen2.5-0.5b", n_train=400, n_samples=5, shots=3,
                             max_review_words=160, eval_part="test", budget=Budget(steps=300, batch_size=8, lr=1e-4),
                             max_seq_len=384),
        unseen=UnseenTask(n_per_task=600, n_samples=5, shots=4, student_shots=4,
                          budget=Budget(steps=600, batch_size=8, lr=1e-4), max_new_tokens=64),
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
        scaling=Scaling(rationale_counts=(1, 5, 10, 20, 30), data_fractions=(0.2, 0.4, 0.6, 0.8, 1.0),
                        fraction_counts=(1, 5, 10, 20, 30),
                        students=("facebook/opt-125m", "facebook/opt-350m", "facebook/opt-1.3b"), student_counts=(1, 5, 30)),
        downsampling=Downsampling(budget=5, strategies=("random", "diversity", "likelihood", "open_endedness")),
        # Wadhwa et al.'s students: their "GPT-2" is gpt2-xl (1.5B; the lens figures read layers 27–40)
        wadhwa=Wadhwa(students=("facebook/opt-1.3b", "openai-community/gpt2-xl", "microsoft/phi-1_5",
                                "google/gemma-2b"),
                      filler_counts=(1, 5, 11, 20, 40), n_lens=200, lens_seeds=3, tuned_lens_steps=1000,
                      lens_tokens_per_step=None, mask_fractions=(0.1, 0.2, 0.35, 0.5, 0.6, 0.75, 0.9),
                      ig_internal_batch=16),
        human_eval=HumanEval(n_questions=300),
        contrast=ContrastSet(teacher="endpoint", n_train=None, n_samples=30, shots=8, teacher_max_new_tokens=128,
                             max_review_words=500, eval_part="test", budget=Budget(steps=3000, batch_size=32, lr=2e-5),
                             max_seq_len=1024, max_new_tokens=128, decode_batch_size=32),
        unseen=UnseenTask(sources=("anli/r1_dev@endpoint", "csqa/train@endpoint", "obqa/train@endpoint"),
                          n_per_task=None, n_samples=30, shots=4, student_shots=4,
                          budget=Budget(steps=3000, batch_size=32, lr=2e-5), max_seq_len=512, max_new_tokens=128,
                          decode_batch_size=32),
    ),
}

DEFAULT_PROFILE = "course"


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    name = name or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name].with_overrides(**overrides)
