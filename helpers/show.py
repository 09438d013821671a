"""What the notebooks display: tables of the data, models, prompts, corpora and students' generations.

Pure presentation (pandas DataFrames built from the stages' objects); the numbers themselves come from
the stages and :mod:`helpers.protocol` / :mod:`helpers.results`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from . import config

#: Fraction correct by guessing, per task (uniform over the options).
CHANCE = {"quarel": 1 / 2, "csqa": 1 / 5, "obqa": 1 / 4, "imdb": 1 / 2, "sst2": 1 / 2, "anli": 1 / 3, "coinflip": 1 / 2, "creatures": 1 / 2}
#: The released corpora shown in notebook 02 (SCoTD's own 30x corpus is not public).
GPT3_QUAREL = "mario_gpt3"
PALM_CSQA = "palm_distilling_step_by_step"


def profile_table(profile: Any) -> "Any":
    """The profile's settings as a one-column DataFrame."""
    import pandas as pd

    def flat(d: dict[str, Any], pre: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{pre}{k}.") if isinstance(v, dict) else {f"{pre}{k}": v})
        return out
    d = flat(profile.to_dict())
    return pd.DataFrame({"value": [str(v) for v in d.values()]}, index=list(d.keys()))


def corpus_table(corpora: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`helpers.corpus.corpus_stats` of each corpus, one row each (``corpus`` = its display name)."""
    from .corpus import corpus_stats
    return [{"corpus": name, **corpus_stats(c)} for name, c in corpora.items()]


def rationale_lengths(corpora: dict[str, Any]) -> dict[str, list[int]]:
    """Rationale lengths in words, per corpus (for the statistics figure)."""
    return {name: [len(s.rationale.split()) for e in c.entries for s in e.samples] for name, c in corpora.items()}


def exemplar_table(task: str) -> Any:
    """The prompt set P of ``task``: id, question, gold answer and the hand-written CoT."""
    import pandas as pd
    from .prompts import exemplars, label_to_display
    return pd.DataFrame([{"id": ex.id, "question": ex.text, "answer": label_to_display(ex, e.answer),
                          "chain of thought": e.rationale} for ex, e in exemplars(task)])


def samples_table(corpus: Any, n_questions: int = 2) -> Any:
    """The samples of the first questions: k, parsed answer, per-token log-likelihood, rationale."""
    import pandas as pd
    rows = []
    for e in corpus.entries[:n_questions]:
        for s in e.samples:
            rows.append({"question": e.example.text[:80], "gold": e.example.answer, "k": s.k, "answer": s.label,
                         "✓": s.label == e.example.answer,
                         "logprob/token": None if s.mean_logprob is None else round(s.mean_logprob, 3),
                         "rationale": s.rationale})
    return pd.DataFrame(rows)


def gallery(corpora: dict[str, Any], per_corpus: int = 2, max_chars: int = 300) -> Any:
    """A Table-1-style gallery: per corpus, the first questions and each CoT the teacher wrote."""
    import pandas as pd
    from .prompts import format_choices
    rows = []
    for name, c in corpora.items():
        for e in c.entries[:per_corpus]:
            ex = e.example
            q = ex.text + ("  " + format_choices(ex) if ex.is_mc else "")
            for s in e.samples[:3]:
                rows.append({"corpus": name, "question": q[:max_chars], "gold": ex.answer, "k": s.k,
                             "teacher answer": s.label, "✓": s.label == ex.answer, "CoT": s.rationale[:max_chars]})
    return pd.DataFrame(rows)


def data_table(profile: Any) -> Any:
    """Every task split and released corpus in the data directory with its row count, and how many
    rows this profile's notebooks 01–04 use."""
    import pandas as pd
    from . import rationales
    from .tasks import TASKS, available_splits, load_task
    d, c = profile.distill, profile.corpus.n_questions
    used: dict[tuple[str, str], Any] = {("quarel", "train"): c, ("csqa", "train"): c}
    used[(d.task, "train")] = None if d.n_train is None else d.n_train + d.n_heldout
    used[(d.task, "dev")] = d.eval_limit
    used.setdefault((profile.prompting.task, "dev"), profile.prompting.n_questions)
    rows = []
    for name, spec in TASKS.items():
        for split in available_splits(name):
            n = len(load_task(name, split))
            u = used.get((name, split), "–")
            rows.append({"kind": "task", "name": name, "split": split, "rows": n,
                         "used here": (n if u is None else min(n, u)) if u != "–" else "–"})
    for corpus, task, split in rationales.available():
        recs = rationales.load_rationales(corpus, task, split)
        n_r, n_ok = rationales.count(recs)
        u = used.get((task, split), "–") if corpus in (GPT3_QUAREL, PALM_CSQA) else "–"
        rows.append({"kind": "rationales", "name": f"{corpus}", "split": f"{task}/{split}", "rows": n_r,
                     "used here": (len(recs) if u is None else min(len(recs), u)) if u != "–" else "–",
                     "teacher correct %": round(100 * n_ok / n_r, 1) if n_r else None})
    return pd.DataFrame(rows).set_index(["kind", "name", "split"])


def models_table(profile: Any) -> Any:
    """The model registry with each model's role in this profile and whether it is installed."""
    import pandas as pd
    from .models import REGISTRY, converted_dir, installed
    live = profile.prompting.teacher
    roles = {profile.student: "student", live: "live teacher"}
    if live == profile.student:
        roles[profile.student] = "student + live teacher"
    rows = []
    for s in REGISTRY.values():
        rows.append({"name": s.name, "kind": s.kind, "role here": roles.get(s.name, "–"),
                     "installed": installed(s.name),
                     "converted": s.kind == "causal" and (converted_dir(s.name) / "cotlab_model.json").exists(),
                     "stands in for": s.stands_in_for, "hub id": s.hub_id, "license": s.license})
    return pd.DataFrame(rows).set_index("name")


def paper_map(notebook_dir: Path | None = None) -> Any:
    """notebook ↔ paper result, read from each notebook's ``metadata.cotlab`` (title, reproduces, figures):
    the jupytext header of ``notebooks/NN_*.py`` (see :func:`helpers.runner.discover`)."""
    import pandas as pd

    from .runner import discover, read_notebook
    nb_dir = Path(notebook_dir or config.REPO_ROOT / "notebooks")
    rows = []
    for p in discover(None, nb_dir):
        meta = read_notebook(p).metadata.get("cotlab", {})
        rows.append({"notebook": p.stem, "title": meta.get("title", ""),
                     "reproduces": "; ".join(meta.get("reproduces", [])),
                     "figures": ", ".join(meta.get("figures", []))})
    return pd.DataFrame(rows).set_index("notebook")


def student_gallery(rows: Sequence[dict[str, Any]], examples: Sequence[Any], *, n: int = 3, seed: int | None = None,
                    max_chars: int = 300) -> Any:
    """The students' generations on the first ``n`` questions: one row per question × condition (rows of
    :func:`helpers.protocol.score`, which keep their predictions; ``seed``: only that seed's students)."""
    import pandas as pd
    from .prompts import format_choices
    out = []
    for ex in list(examples)[:n]:
        for r in rows:
            if seed is not None and r["seed"] != seed:
                continue
            p = next(p for p in r["preds"] if p.id == ex.id)
            out.append({"question": (ex.text + ("  " + format_choices(ex) if ex.is_mc else ""))[:max_chars], "gold": ex.answer,
                        "student": r["condition"], "seed": r["seed"], "answer": p.pred, "✓": p.correct,
                        "generation": p.text[:max_chars]})
    return pd.DataFrame(out)


def loss_table(tokens: Sequence[tuple[str, bool]]) -> Any:
    """One training sequence's tokens (:func:`helpers.train.loss_tokens`) as a two-row table: the token
    and whether it carries loss."""
    import pandas as pd
    return pd.DataFrame({"token": [t for t, _ in tokens], "loss": ["✓" if b else "" for _, b in tokens]}).T
