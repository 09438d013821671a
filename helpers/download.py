"""`make data`: download the datasets from their public sources into the on-disk schema.

``python -m helpers data download --data-dir data [--task csqa quarel ...]`` writes the same files, names and
row schema as ``../shared/data`` (see ``data/README.md``):

* task splits from the Hugging Face hub with :func:`datasets.load_dataset` (commonsense_qa, openbookqa
  "main", quarel, imdb, sst2, anli round 1) — including the held-out quarel/obqa test splits;
* the IMDb contrast sets from the raw TSVs of ``allenai/contrast-sets`` (CSV quoting);
* the rationale corpora whose files are public: CoS-E v1.11 (``salesforce/cos-e``), MaRio's GPT-3
  QuaRel samples (``INK-USC/RationaleMultiRewardDistillation``) and the PaLM outputs of Distilling
  Step-by-Step (``datasets.zip`` of ``google-research/distilling-step-by-step``).

The pure ``convert_*`` / ``parse_*`` functions map one source row to one schema row and are tested
offline; only :func:`download` and the ``fetch_*`` helpers touch the network. Known differences
from the shared copy (the hub has what the shared copy could not get): quarel train has the official
1941 rows and ids, IMDb ids are hub row indices and rows carry no ``rating`` (the hub drops file names),
and ``imdb/train_5k`` is re-sampled with the same recipe (so a different 5k).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import re
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import UnknownName
from .tasks import NLI, PAREN_LETTER, SENTIMENT, TASKS, DataError, get_spec, parse_row

LETTERS = "ABCDEFGHIJ"

# hub (dataset id, config) candidates, namespaced first, then the legacy name; task split -> hub split
HUB: dict[str, tuple[tuple[tuple[str, str | None], ...], dict[str, str]]] = {
    "csqa": ((("tau/commonsense_qa", None), ("commonsense_qa", None)),
             {"train": "train", "dev": "validation", "test_unlabeled": "test"}),
    "obqa": ((("allenai/openbookqa", "main"), ("openbookqa", "main")),
             {"train": "train", "dev": "validation", "test": "test"}),
    "quarel": ((("allenai/quarel", None), ("quarel", None)), {"train": "train", "dev": "validation", "test": "test"}),
    "imdb": ((("stanfordnlp/imdb", None), ("imdb", None)), {"train": "train", "test": "test"}),
    "sst2": ((("stanfordnlp/sst2", None), ("nyu-mll/glue", "sst2"), ("glue", "sst2")), {"validation": "validation"}),
    "anli": ((("facebook/anli", None), ("anli", None)), {"r1_dev": "dev_r1", "r1_test": "test_r1"}),
}
CONTRAST_URL = "https://raw.githubusercontent.com/allenai/contrast-sets/main/IMDb/data/{name}.tsv"
COSE_URL = "https://raw.githubusercontent.com/salesforce/cos-e/master/data/v1.11/cose_{split}_v1.11.jsonl"
MARIO_URL = ("https://raw.githubusercontent.com/INK-USC/RationaleMultiRewardDistillation/main/"
             "data/quarel/gpt3/train_gpt3_responses.jsonl")
PALM_ZIP_URL = "https://github.com/google-research/distilling-step-by-step/raw/main/datasets.zip"
IMDB_TRAIN_PER_LABEL = 2500
PALM_TEACHER = "PaLM-540B (few-shot CoT, Hsieh et al. 2023)"
MARIO_TEACHER = "GPT-3 (MaRio silver rationales, Ramnath et al. 2024)"


# ------------------------------------------------------------------------------------ hub row -> schema row

def _choices(labels: Iterable[str], texts: Iterable[str]) -> list[dict[str, str]]:
    return [{"label": lab, "text": txt} for lab, txt in zip(labels, texts)]


def convert_csqa(row: dict[str, Any]) -> dict[str, Any]:
    """``commonsense_qa`` row (id, question, question_concept, choices{label,text}, answerKey)."""
    return {"id": row["id"], "question": row["question"],
            "choices": _choices(row["choices"]["label"], row["choices"]["text"]),
            "answer": row["answerKey"] or None, "question_concept": row["question_concept"]}


def convert_obqa(row: dict[str, Any]) -> dict[str, Any]:
    """``openbookqa`` "main" row (id, question_stem, choices{text,label}, answerKey)."""
    return {"id": row["id"], "question": row["question_stem"],
            "choices": _choices(row["choices"]["label"], row["choices"]["text"]),
            "answer": row["answerKey"]}


_QUAREL = re.compile(r"^(?P<stem>.*?)\s*\(A\)\s*(?P<a>.*?)\s*\(B\)\s*(?P<b>.*?)\s*$", re.S)


def split_quarel_question(raw: str) -> tuple[str, str, str]:
    """Split QuaRel's inline ``stem (A) x (B) y`` into (stem, x, y); a trailing `` or`` is dropped."""
    m = _QUAREL.match(raw)
    if not m:
        raise ValueError(f"no '(A) … (B) …' choices in {raw!r}")
    a, b = (re.sub(r"\s+or$", "", s) for s in (m["a"], m["b"]))
    return m["stem"], a, b


def convert_quarel(row: dict[str, Any]) -> dict[str, Any]:
    """``quarel`` row (id, question with inline choices, answer_index, logical_forms, ...)."""
    stem, a, b = split_quarel_question(row["question"])
    return {"id": row["id"], "question": stem, "choices": _choices("AB", (a, b)),
            "answer": "AB"[row["answer_index"]], "question_raw": row["question"]}


def convert_sentiment(row: dict[str, Any], ex_id: str, text_key: str = "text") -> dict[str, Any]:
    """``imdb`` (text, label) or ``sst2`` (idx, sentence, label) row; label 1 = positive."""
    return {"id": ex_id, "text": row[text_key].strip(), "label": SENTIMENT[row["label"]],
            "label_id": row["label"]}


def convert_sst2(row: dict[str, Any]) -> dict[str, Any]:
    return convert_sentiment(row, f"sst2_validation_{row['idx']:03d}", text_key="sentence")


def convert_imdb(row: dict[str, Any], split: str, index: int) -> dict[str, Any]:
    return convert_sentiment(row, f"imdb_{split}_{index:05d}")


def convert_anli(row: dict[str, Any]) -> dict[str, Any]:
    """``anli`` row (uid, premise, hypothesis, label 0/1/2, reason)."""
    return {"id": row["uid"], "text": f"Premise: {row['premise']}\nHypothesis: {row['hypothesis']}",
            "premise": row["premise"], "hypothesis": row["hypothesis"], "label": NLI[row["label"]],
            "label_id": row["label"], "reason": row["reason"]}


CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "csqa": convert_csqa, "obqa": convert_obqa, "quarel": convert_quarel, "sst2": convert_sst2,
    "anli": convert_anli,
}


# ---------------------------------------------------------------------------------------- contrast sets

def _unquote_twice(text: str) -> str:
    """Some contrast-set cells are CSV-quoted twice (``\"\"\"text \"\"\"\"x\"\"\"\" …\"\"\"``); undo the second layer."""
    if len(text) >= 2 and text[0] == text[-1] == '"' and '"' not in text[1:-1].replace('""', ""):
        return text[1:-1].replace('""', '"')
    return text


def parse_contrast_tsv(tsv: str, part: str, kind: str) -> list[dict[str, Any]]:
    """Rows of ``allenai/contrast-sets`` ``IMDb/data/{part}_{kind}.tsv`` (header ``Sentiment\\tText``)."""
    reader = csv.reader(io.StringIO(tsv), delimiter="\t", quotechar='"')
    header = next(reader)
    if [h.strip() for h in header] != ["Sentiment", "Text"]:
        raise DataError(f"{part}_{kind}.tsv", 1, None, f"unexpected header {header}")
    out = []
    for i, rec in enumerate(reader):
        if not rec:
            continue
        if len(rec) != 2:
            raise DataError(f"{part}_{kind}.tsv", reader.line_num, None, f"expected 2 columns, got {len(rec)}")
        label = rec[0].strip().lower()
        if label not in SENTIMENT:
            raise DataError(f"{part}_{kind}.tsv", reader.line_num, "Sentiment", f"unknown label {rec[0]!r}")
        out.append({"id": f"imdb_contrast_{part}_{kind}_{i:03d}", "pair_id": f"{part}_{i:03d}",
                    "text": _unquote_twice(rec[1]).strip(), "label": label,
                    "label_id": SENTIMENT.index(label)})
    return out


# ------------------------------------------------------------------------------------------------- IMDb

def norm_prefix(text: str, n: int = 60) -> str:
    """Lower-cased text without ``<br />``, spaces and punctuation, first ``n`` characters."""
    return re.sub(r"[\W_]+", "", text.lower().replace("<br />", " "))[:n]


def overlapping_ids(rows: Iterable[dict[str, Any]], contrast_texts: Iterable[str]) -> list[str]:
    """Ids of rows whose normalized 60-character prefix equals that of a contrast-set text."""
    prefixes = {norm_prefix(t) for t in contrast_texts}
    return [r["id"] for r in rows if norm_prefix(r["text"]) in prefixes]


def sample_imdb_train(rows: list[dict[str, Any]], exclude: set[str], per_label: int = IMDB_TRAIN_PER_LABEL,
                      seed: int = 0) -> list[dict[str, Any]]:
    """``per_label`` positive + ``per_label`` negative rows, contrast-overlapping ids excluded,
    drawn with ``random.Random(seed)``; returned shuffled."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for label in SENTIMENT:
        pool = [r for r in rows if r["label"] == label and r["id"] not in exclude]
        out += rng.sample(pool, per_label)
    rng.shuffle(out)
    return out


# ------------------------------------------------------------------------------------ rationale corpora

def convert_cose(row: dict[str, Any], split: str) -> dict[str, Any]:
    """CoS-E v1.11 row (id, explanation{open-ended, selected})."""
    return {"id": row["id"], "split": split, "explanation_open_ended": row["explanation"]["open-ended"],
            "explanation_selected": row["explanation"]["selected"]}


def parse_palm_output(output: str, task: str) -> tuple[str | None, str | None]:
    """Distilling Step-by-Step's own parse of one PaLM generation: ``(rationale, answer text)``.

    CSQA: cut at the next ``Q:``, split on ``So the answer is``, answer = text after ``(x)``.
    ANLI: cut at the next ``Premise:``; when the split fails both are ``None``.
    """
    if task == "csqa":
        parts = output.split("Q:")[0].rstrip().split("So the answer is")
        if len(parts) != 2:
            return None, None
        rationale, label = parts[0].rstrip(), parts[1]
        pieces = re.split(r"\(.\)", label)
        if len(pieces) < 2 or not pieces[1].strip():
            return rationale, None
        label = pieces[1].strip()
        return rationale, label[:-1] if label.endswith(".") else label
    parts = output.split("Premise:")[0].rstrip().split("So the answer is")
    if len(parts) != 2:
        return None, None
    return parts[0].rstrip(), parts[1].lstrip()[:-1]


def convert_palm(ex_row: dict[str, Any], output: str, task: str, split: str) -> dict[str, Any]:
    """One schema row of ``rationales/palm_distilling_step_by_step`` from a task row and a PaLM output."""
    rationale, ans = parse_palm_output(output, task)
    if task == "csqa":
        by_text = {c["text"]: c["label"] for c in ex_row["choices"]}
        pred = by_text.get(ans) if ans is not None else None
        gold_key, pred_key, gold = "gold_answer", "predicted_answer", ex_row["answer"]
    else:
        pred = ans if ans in NLI else None
        gold_key, pred_key, gold = "gold_label", "predicted_label", ex_row["label"]
    return {"id": ex_row["id"], "split": split, "teacher": PALM_TEACHER, "rationale": rationale,
            pred_key: pred, gold_key: gold, "correct": pred is not None and pred == gold, "raw_output": output}


def convert_mario(rec: dict[str, Any], ids_by_question: dict[str, str], k: int) -> dict[str, Any]:
    """One MaRio GPT-3 response (question with inline choices, rationale, answer "(B)", gold_label)."""
    q = rec["question"]
    if q not in ids_by_question:
        raise KeyError(f"MaRio question not in quarel train: {q[:80]!r}")

    def letter(v: Any) -> str | None:
        if isinstance(v, int):
            return "AB"[v]
        m = PAREN_LETTER.match(str(v).strip()) if v is not None else None
        return m.group(1).upper() if m else None
    pred = letter(rec.get("answer", rec.get("predicted_answer")))
    gold = letter(rec.get("gold_label", rec.get("gold_answer")))
    return {"id": ids_by_question[q], "sample": k, "teacher": MARIO_TEACHER, "rationale": rec["rationale"].strip(),
            "predicted_answer": pred, "gold_answer": gold, "correct": pred is not None and pred == gold}


# ------------------------------------------------------------------------------------------------ output

def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (tmp + fsync + rename); ``.gz`` paths are gzip-compressed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with (gzip.open(tmp, "wt", encoding="utf-8") if path.suffix == ".gz" else open(tmp, "w", encoding="utf-8")) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        fh.flush()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)
    return n


def validate_rows(task: str, rows: list[dict[str, Any]], where: str) -> None:
    """Run every converted row through :func:`helpers.tasks.parse_row` before anything is written."""
    spec = get_spec(task)
    for i, row in enumerate(rows, start=1):
        parse_row(spec, row, Path(where), i, allow_unlabeled="unlabeled" in where)


# ----------------------------------------------------------------------------------------------- network

def _load_hub(candidates: tuple[tuple[str, str | None], ...], split: str):
    """``(dataset, id, config)`` for the first (id, config) candidate that ``datasets.load_dataset`` loads."""
    import datasets
    errors = []
    for name, config in candidates:
        try:
            return datasets.load_dataset(name, config, split=split), name, config
        except Exception as e:                 # try the next candidate before giving up
            errors.append(f"{name}: {type(e).__name__}: {e}")
    raise RuntimeError(f"could not load split {split!r} from the hub: " + " | ".join(errors))


def fetch_text(url: str, timeout: float = 60) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8")


def fetch_bytes(url: str, timeout: float = 300) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def download_task(task: str, out: Path, manifest: dict[str, Any]) -> None:
    candidates, split_map = HUB[task]
    spec = TASKS[task]
    for split, hub_split in split_map.items():
        rel = f"{spec.folder}/{spec.splits[split]}"
        ds, name, config = _load_hub(candidates, hub_split)
        if task == "imdb":
            rows = [convert_imdb(r, split, i) for i, r in enumerate(ds)]
            if split == "train":
                contrast = [r["text"] for part in ("dev", "test") for kind in ("original", "contrast")
                            for r in parse_contrast_tsv(fetch_text(CONTRAST_URL.format(name=f"{part}_{kind}")),
                                                        part, kind)]
                overlap = overlapping_ids(rows, contrast)
                manifest.setdefault("imdb_overlap", []).extend(overlap)
                rows = sample_imdb_train(rows, set(overlap))
            else:
                test_contrast = [r["text"] for kind in ("original", "contrast")
                                 for r in parse_contrast_tsv(fetch_text(CONTRAST_URL.format(name=f"test_{kind}")),
                                                             "test", kind)]
                manifest.setdefault("imdb_overlap", []).extend(overlapping_ids(rows, test_contrast))
        else:
            rows = [CONVERTERS[task](r) for r in ds]
        validate_rows(task, rows, str(out / rel))
        n = write_jsonl(out / rel, rows)
        manifest["files"][rel] = {"rows": n, "source": f"hf:{name}" + (f"/{config}" if config else "")
                                  + f" [{hub_split}]"}
        print(f"  {rel}: {n} rows")
    if task == "imdb" and manifest.get("imdb_overlap"):
        p = out / "imdb" / "ids_overlapping_contrast_sets.txt"
        p.write_text("".join(i + "\n" for i in sorted(set(manifest.pop("imdb_overlap")))))


def download_contrast(out: Path, manifest: dict[str, Any]) -> None:
    for part in ("dev", "test"):
        for kind in ("original", "contrast"):
            name = f"{part}_{kind}"
            rows = parse_contrast_tsv(fetch_text(CONTRAST_URL.format(name=name)), part, kind)
            rel = f"imdb_contrast/{name}.jsonl"
            validate_rows("imdb_contrast", rows, str(out / rel))
            manifest["files"][rel] = {"rows": write_jsonl(out / rel, rows), "source": CONTRAST_URL.format(name=name)}
            print(f"  {rel}: {len(rows)} rows")


def download_rationales(out: Path, manifest: dict[str, Any]) -> None:
    from .tasks import iter_jsonl

    def task_rows(rel: str) -> list[dict[str, Any]]:
        return [r for _, r in iter_jsonl(out / rel)] if (out / rel).exists() else []

    csqa = {s: task_rows(f"csqa/{s}.jsonl") for s in ("train", "dev")}
    if csqa["train"]:
        for split, hub in (("train", "train"), ("dev", "dev")):
            if not csqa[split]:
                continue
            url = COSE_URL.format(split=hub)
            ids = {r["id"] for r in csqa[split]}
            rows = [convert_cose(json.loads(line), split) for line in fetch_text(url).splitlines() if line.strip()]
            rows = [r for r in rows if r["id"] in ids]
            rel = f"rationales/cose_v1.11/csqa_{split}.jsonl"
            manifest["files"][rel] = {"rows": write_jsonl(out / rel, rows), "source": url}
            print(f"  {rel}: {len(rows)} rows")
    quarel = task_rows("quarel/train.jsonl")
    if quarel:
        ids_by_q = {r["question_raw"]: r["id"] for r in quarel}
        text = fetch_text(MARIO_URL)
        try:                                        # one JSON object keyed "0", "1", ... or JSON lines
            obj = json.loads(text)
            recs = [obj[k] for k in sorted(obj, key=int)] if isinstance(obj, dict) else list(obj)
        except json.JSONDecodeError:
            recs = [json.loads(line) for line in text.splitlines() if line.strip()]
        counter: dict[str, int] = {}
        rows = []
        for rec in recs:
            k = counter.get(rec["question"], 0)
            counter[rec["question"]] = k + 1
            rows.append(convert_mario(rec, ids_by_q, k))
        rel = "rationales/mario_gpt3/quarel_train.jsonl"
        manifest["files"][rel] = {"rows": write_jsonl(out / rel, rows), "source": MARIO_URL}
        print(f"  {rel}: {len(rows)} rows")
    anli = {s: task_rows(f"anli/r1_{s}.jsonl") for s in ("dev", "test")}
    if csqa["train"] or anli["dev"]:
        zf = zipfile.ZipFile(io.BytesIO(fetch_bytes(PALM_ZIP_URL)))

        def member(suffix: str) -> str:
            hits = [n for n in zf.namelist() if n.endswith(suffix)]
            if len(hits) != 1:
                raise RuntimeError(f"{PALM_ZIP_URL}: expected one member ending {suffix!r}, found {hits}")
            return hits[0]

        def outputs(prefix: str, n: int) -> list[str]:
            return [o for i in range(n) for o in json.loads(zf.read(member(f"{prefix}_CoT_{i}.json")))]
        jobs = []
        if csqa["train"]:
            jobs += [("csqa", "train", "cqa/llm/train", 10, "cqa/cqa_train.json", csqa["train"]),
                     ("csqa", "dev", "cqa/llm/test", 2, "cqa/cqa_test.json", csqa["dev"])]
        if anli["dev"]:
            jobs += [("anli", "r1_dev", "anli1/llm/valid", 1, "anli1/anli1_valid.json", anli["dev"]),
                     ("anli", "r1_test", "anli1/llm/test", 1, "anli1/anli1_test.json", anli["test"])]
        for task, split, prefix, n, inputs, ours in jobs:
            if not ours:                            # the task split itself was not downloaded
                continue
            outs = outputs(prefix, n)
            src_ids = [json.loads(line).get("id") or json.loads(line).get("uid")
                       for line in zf.read(member(inputs)).decode().splitlines() if line.strip()]
            if len(src_ids) != len(outs):
                raise RuntimeError(f"{prefix}: {len(outs)} outputs for {len(src_ids)} inputs")
            by_id = {r["id"]: r for r in ours}
            rows = [convert_palm(by_id[i], o, task, split) for i, o in zip(src_ids, outs) if i in by_id]
            fname = "csqa_train.jsonl.gz" if (task, split) == ("csqa", "train") else f"{task}_{split}.jsonl"
            rel = f"rationales/palm_distilling_step_by_step/{fname}"
            manifest["files"][rel] = {"rows": write_jsonl(out / rel, rows), "source": PALM_ZIP_URL}
            print(f"  {rel}: {len(rows)} rows")


#: What :func:`download` fetches, in order: the hub tasks, the contrast sets, the public rationale corpora.
UNITS: tuple[str, ...] = (*HUB, "imdb_contrast", "rationales")


def download(out: Path | str, names: Iterable[str] | None = None) -> list[str]:
    """Download ``names`` (default: every one of :data:`UNITS`) into ``out``, updating
    ``out/manifest.json`` after each; return the names that could not be downloaded (no network, the hub
    unreachable, an upstream format change), after printing why."""
    from .provenance import write_json

    out = Path(out)
    wanted = list(names or UNITS)
    unknown = sorted(set(wanted) - set(UNITS))
    if unknown:
        raise UnknownName(f"unknown download {unknown}; choose from {list(UNITS)}")
    mpath = out / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    manifest.setdefault("files", {})
    failed = []
    for name in wanted:
        print(f"{name}:")
        try:
            if name == "imdb_contrast":
                download_contrast(out, manifest)
            elif name == "rationales":
                download_rationales(out, manifest)
            else:
                download_task(name, out, manifest)
        except (OSError, RuntimeError, KeyError, ValueError) as e:
            print(f"  FAILED: {e}", file=sys.stderr)
            failed.append(name)
        write_json(mpath, manifest)
    print(f"{out}: {len(manifest['files'])} files in the manifest")
    return failed
