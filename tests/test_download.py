"""`data download` conversions, offline: hub-shaped rows -> schema rows -> `tasks.parse_row`, and the
source parsers reproduce the shared copy exactly. No network is touched."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import download as dl
from helpers.cli import main
from helpers.tasks import DataError, TASKS, iter_jsonl, load_task, parse_row


def _valid(task: str, row: dict, unlabeled: bool = False):
    return parse_row(TASKS[task], row, Path("hub"), 1, allow_unlabeled=unlabeled)


def _local(data_dir: Path, rel: str) -> list[dict]:
    return [r for _, r in iter_jsonl(data_dir / rel)]


# Rows shaped exactly like the HF hub features of each dataset.
HUB_CSQA = {"id": "075e483d21c29a511267ef62bedc0461",
            "question": "The sanctions against the school were a punishing blow, and they seemed to what the "
                        "efforts the school had made to change?",
            "question_concept": "punishing",
            "choices": {"label": ["A", "B", "C", "D", "E"],
                        "text": ["ignore", "enforce", "authoritarian", "yell at", "avoid"]},
            "answerKey": "A"}
HUB_OBQA = {"id": "7-980", "question_stem": "The sun is responsible for",
            "choices": {"text": ["puppies learning new tricks", "children growing up and getting old",
                                 "flowers wilting in a vase", "plants sprouting, blooming and wilting"],
                        "label": ["A", "B", "C", "D"]},
            "answerKey": "D"}
HUB_QUAREL = {"id": "QuaRel_V1_Fr_0785", "answer_index": 1,
              "logical_forms": ["(infer (speed higher world1) (friction higher world2) (friction lower world2))"],
              "logical_form_pretty": "qrel(speed, higher, world1) -> qrel(friction, higher, world2) ; ...",
              "world_literals": {"world1": ["marble floor"], "world2": ["wet floor"]},
              "question": "Tommy glided across the marble floor with ease, but slipped and fell on the wet floor "
                          "because _____ has more resistance. (A) marble floor (B) wet floor"}
HUB_SST2 = {"idx": 0, "sentence": "it 's a charming and often affecting journey . ", "label": 1}
HUB_IMDB = {"text": "I rented I AM CURIOUS-YELLOW from my video store ...", "label": 0}
HUB_ANLI = {"uid": "bf628cf5-6948-4595-a6d0-daf99beb47b9", "premise": "Linguistics is the scientific study of language.",
            "hypothesis": "Form and meaning are the only aspects of language linguistics is concerned with.",
            "label": 2, "reason": "Context is also a crucial aspect."}


def test_convert_csqa(data_dir):
    row = dl.convert_csqa(HUB_CSQA)
    assert row == _local(data_dir, "csqa/train.jsonl")[0]          # identical to the shared row, key order too
    assert list(row) == ["id", "question", "choices", "answer", "question_concept"]
    ex = _valid("csqa", row)
    assert ex.answer == "A" and ex.answer_text() == "ignore"
    test = dl.convert_csqa({**HUB_CSQA, "answerKey": ""})             # hub test split: empty answerKey
    assert test["answer"] is None and _valid("csqa", test, unlabeled=True).answer is None
    with pytest.raises(DataError, match="answer is null in a labeled split"):
        _valid("csqa", test)


def test_convert_obqa(data_dir):
    row = dl.convert_obqa(HUB_OBQA)
    assert row == _local(data_dir, "obqa/train.jsonl")[0]
    assert _valid("obqa", row).answer_text() == "plants sprouting, blooming and wilting"


def test_convert_quarel(data_dir):
    row = dl.convert_quarel(HUB_QUAREL)
    assert row == _local(data_dir, "quarel/dev.jsonl")[0]
    assert _valid("quarel", row).answer == "B"
    with pytest.raises(ValueError, match="no '\\(A\\)"):
        dl.convert_quarel({**HUB_QUAREL, "question": "Which is faster, a hen or a duck?"})


def test_quarel_split_reproduces_all_local_rows(data_dir):
    """The inline-choice parser agrees with the shared copy on every train and dev question."""
    for rel in ("quarel/train.jsonl", "quarel/dev.jsonl"):
        for r in _local(data_dir, rel):
            assert dl.split_quarel_question(r["question_raw"]) == (
                r["question"], r["choices"][0]["text"], r["choices"][1]["text"]), r["id"]
    assert dl.split_quarel_question("Which has less resistance, the (A) clay (B) sand or") == (
        "Which has less resistance, the", "clay", "sand")


def test_convert_sst2_and_imdb(data_dir):
    row = dl.convert_sst2(HUB_SST2)
    assert row == _local(data_dir, "sst2/validation.jsonl")[0]
    assert _valid("sst2", row).answer == "positive"
    imdb = dl.convert_imdb(HUB_IMDB, "train", 7)
    assert imdb == {"id": "imdb_train_00007", "text": HUB_IMDB["text"], "label": "negative", "label_id": 0}
    assert _valid("imdb", imdb).answer == "negative"


def test_convert_anli(data_dir):
    row = dl.convert_anli(HUB_ANLI)
    assert list(row) == list(_local(data_dir, "anli/r1_dev.jsonl")[0])
    ex = _valid("anli", row)
    assert ex.answer == "contradiction" and ex.text == f"Premise: {HUB_ANLI['premise']}\nHypothesis: {HUB_ANLI['hypothesis']}"
    # every local ANLI row survives a round trip through its hub shape
    for r in _local(data_dir, "anli/r1_test.jsonl"):
        hub = {"uid": r["id"], "premise": r["premise"], "hypothesis": r["hypothesis"], "label": r["label_id"],
               "reason": r["reason"]}
        assert dl.convert_anli(hub) == r


def test_round_trip_local_mc_rows(data_dir):
    """Every shared csqa/obqa row, put back into its hub shape, converts to itself."""
    for r in _local(data_dir, "csqa/dev.jsonl"):
        hub = {"id": r["id"], "question": r["question"], "question_concept": r["question_concept"],
               "choices": {"label": [c["label"] for c in r["choices"]], "text": [c["text"] for c in r["choices"]]},
               "answerKey": r["answer"]}
        assert dl.convert_csqa(hub) == r
    for r in _local(data_dir, "obqa/dev.jsonl"):
        hub = {"id": r["id"], "question_stem": r["question"], "answerKey": r["answer"],
               "choices": {"text": [c["text"] for c in r["choices"]], "label": [c["label"] for c in r["choices"]]}}
        assert dl.convert_obqa(hub) == r


# ------------------------------------------------------------------------------------------- contrast sets

# The first lines of allenai/contrast-sets IMDb/data/dev_contrast.tsv, byte for byte (the first review is
# quoted twice: one CSV layer inside another).
CONTRAST_TSV = (
    'Sentiment\tText\n'
    'Positive\t"""I had quite high hopes for this film, even though it got a bad review in the paper. I was '
    'extremely amused, and sat through the entire film. I felt quite happy by the end.<br /><br />Although I am '
    'not in the least prude or particularly sensitive to tasteless cinema--I thouroughly enjoyed both Woody '
    "Allen's 'Everything You Ever Wanted To Know About Sex,...' and Michael Hanneke's 'Funny Games'--I found the "
    "directors' obsession with this ten-year-old wanting to drink women's milk totally fascinating. And when the "
    'film climaxed in an """"orgy"""" where the boy drinks both his mother\'s milk, as well as that of the woman '
    'he has been lusting after for the whole film, I almost was surprised at the portrayal of the total '
    'perversion and sentimental moment that it is.<br /><br />Don\'t get me wrong, I enjoy the vast majority of '
    'European cinema, as well as independently made films, and that is why this flick pleased me enormously. '
    'Watch this film at all costs, it should be promoted to the exhibits of History as a lesson in good cinema."""\n'
    'Negative\t"The ""magnetism"" radiated from Elvira has no quality."\n'
    'Positive\tWritten by Stephen King, and this treatment is just as solid as most of his stories on film.\n'
)


def test_parse_contrast_tsv(data_dir):
    rows = dl.parse_contrast_tsv(CONTRAST_TSV, "dev", "contrast")
    local = _local(data_dir, "imdb_contrast/dev_contrast.jsonl")
    assert rows[0] == local[0]                       # the twice-quoted review decodes to the shared text
    assert rows[1]["text"] == 'The "magnetism" radiated from Elvira has no quality.'
    assert rows[2]["text"].startswith("Written by Stephen King") and rows[2]["label"] == "positive"
    assert [r["pair_id"] for r in rows] == ["dev_000", "dev_001", "dev_002"]
    for r in rows:
        _valid("imdb_contrast", r)
    with pytest.raises(DataError, match="unknown label 'Neutral'"):
        dl.parse_contrast_tsv("Sentiment\tText\nNeutral\tmeh\n", "dev", "contrast")


def test_contrast_round_trip_local(data_dir, tmp_path):
    """Shared contrast rows written as a CSV-quoted TSV parse back to themselves."""
    import csv
    import io
    for name in ("test_original", "test_contrast"):
        local = _local(data_dir, f"imdb_contrast/{name}.jsonl")
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="\t", lineterminator="\n")
        w.writerow(["Sentiment", "Text"])
        w.writerows([[r["label"].capitalize(), r["text"]] for r in local])
        part, kind = name.split("_")
        assert dl.parse_contrast_tsv(buf.getvalue(), part, kind) == local


def test_imdb_overlap_recipe_reproduces_shared_ids(data_dir):
    """The 60-character normalized-prefix rule finds exactly the 10 listed IMDb test ids."""
    test_rows = _local(data_dir, "imdb/test.jsonl.gz")
    contrast = [r["text"] for n in ("dev_original", "dev_contrast", "test_original", "test_contrast")
                for r in _local(data_dir, f"imdb_contrast/{n}.jsonl")]
    listed = set((data_dir / "imdb" / "ids_overlapping_contrast_sets.txt").read_text().split())
    assert set(dl.overlapping_ids(test_rows, contrast)) == {i for i in listed if i.startswith("imdb_test")}


def test_sample_imdb_train_balanced_and_excludes():
    rows = [{"id": f"r{i}", "label": "positive" if i % 2 else "negative", "text": str(i)} for i in range(40)]
    exclude = {"r1", "r2"}
    a = dl.sample_imdb_train(rows, exclude, per_label=5, seed=0)
    assert a == dl.sample_imdb_train(rows, exclude, per_label=5, seed=0)        # seeded
    assert a != dl.sample_imdb_train(rows, exclude, per_label=5, seed=1)
    assert sum(r["label"] == "positive" for r in a) == 5 and len(a) == 10 and not exclude & {r["id"] for r in a}


# ------------------------------------------------------------------------------------------ rationale corpora

def test_convert_cose(data_dir):
    up = {"id": "080ef6941410139d6869e78122bc741e",
          "explanation": {"open-ended": "Wooden area is only the place for the beaver supplies.",
                          "selected": "their supplies come"}}
    assert dl.convert_cose(up, "dev") == _local(data_dir, "rationales/cose_v1.11/csqa_dev.jsonl")[0]


@pytest.mark.parametrize("task,rel,task_rel", [
    ("csqa", "csqa_dev.jsonl", "csqa/dev.jsonl"),
    ("anli", "anli_r1_dev.jsonl", "anli/r1_dev.jsonl"),
    ("anli", "anli_r1_test.jsonl", "anli/r1_test.jsonl"),
])
def test_palm_parse_reproduces_release(data_dir, task, rel, task_rel):
    """Distilling Step-by-Step's parse rules, applied to each raw PaLM output, give the shared rows exactly."""
    by_id = {r["id"]: r for r in _local(data_dir, task_rel)}
    for r in _local(data_dir, f"rationales/palm_distilling_step_by_step/{rel}"):
        assert dl.convert_palm(by_id[r["id"]], r["raw_output"], task, r["split"]) == r


def test_parse_palm_output_cases():
    assert dl.parse_palm_output("Dogs bark. So the answer is (b) dog.\n\nQ: next", "csqa") == ("Dogs bark.", "dog")
    assert dl.parse_palm_output("No final sentence here.", "csqa") == (None, None)
    assert dl.parse_palm_output("A is B. So the answer is neutral.\n\nPremise: x", "anli") == ("A is B.", "neutral")
    assert dl.parse_palm_output("lower case, so the answer is neutral.", "anli") == (None, None)


def test_convert_mario(data_dir):
    quarel = _local(data_dir, "quarel/train.jsonl")
    ids = {r["question_raw"]: r["id"] for r in quarel}
    shared = _local(data_dir, "rationales/mario_gpt3/quarel_train.jsonl")
    q_by_id = {r["id"]: r["question_raw"] for r in quarel}
    for r in shared[:200]:
        up = {"question": q_by_id[r["id"]], "rationale": r["rationale"], "answer": f"({r['predicted_answer']})",
              "gold_label": f"({r['gold_answer']})"}
        assert dl.convert_mario(up, ids, r["sample"]) == r
    with pytest.raises(KeyError, match="not in quarel train"):
        dl.convert_mario({"question": "?", "rationale": "x", "answer": "(A)"}, ids, 0)


# -------------------------------------------------------------------------------------------------- output

def test_write_jsonl_gz_round_trip(tmp_path, data_dir):
    rows = [dl.convert_sst2({**HUB_SST2, "idx": i}) for i in range(3)]
    path = tmp_path / "sst2" / "validation.jsonl"
    assert dl.write_jsonl(path, rows) == 3 and not list(tmp_path.rglob("*.tmp"))
    assert [e.id for e in load_task("sst2", "validation", tmp_path)] == ["sst2_validation_000", "sst2_validation_001",
                                                                         "sst2_validation_002"]
    gz = dl.write_jsonl(tmp_path / "x.jsonl.gz", rows)
    assert gz == 3 and [r for _, r in iter_jsonl(tmp_path / "x.jsonl.gz")] == rows


def test_validate_rows_names_row(tmp_path):
    bad = {**dl.convert_obqa(HUB_OBQA), "answer": "E"}
    with pytest.raises(DataError) as ei:
        dl.validate_rows("obqa", [dl.convert_obqa(HUB_OBQA), bad], "data/obqa/train.jsonl")
    assert (ei.value.line, ei.value.field) == (2, "answer")


def test_download_rejects_unknown_task(tmp_path, capsys):
    assert main(["data", "download", "--data-dir", str(tmp_path), "--task", "squad"]) == 2
    assert "invalid choice: 'squad'" in capsys.readouterr().err
    with pytest.raises(KeyError, match=r"unknown download \['squad'\]; choose from \['csqa'"):
        dl.download(tmp_path, ["squad"])
    assert not list(tmp_path.iterdir())                     # nothing written


# ------------------------------------------------------------------ end to end, sources served from file://

def test_download_contrast_and_rationales_from_local_sources(data_dir, tmp_path, monkeypatch, capsys):
    """The real download code paths, with each upstream file rebuilt in its upstream format from the shared
    rows and served by file:// URLs; the written files must equal the shared ones."""
    import csv
    import io
    import zipfile
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    # task splits the rationale joins need (a few rows of each)
    subset = {"csqa/train.jsonl": 30, "csqa/dev.jsonl": 30, "quarel/train.jsonl": 10,
              "anli/r1_dev.jsonl": 20, "anli/r1_test.jsonl": 20}
    for rel, n in subset.items():
        dl.write_jsonl(out / rel, _local(data_dir, rel)[:n])
    ids = {rel: [r["id"] for r in _local(out, rel)] for rel in subset}

    def shared(rel: str, task_rel: str) -> list[dict]:
        keep = set(ids[task_rel])
        return [r for r in _local(data_dir, rel) if r["id"] in keep]

    # contrast sets: upstream TSVs
    for name in ("dev_original", "dev_contrast", "test_original", "test_contrast"):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="\t", lineterminator="\n")
        w.writerow(["Sentiment", "Text"])
        w.writerows([[r["label"].capitalize(), r["text"]] for r in _local(data_dir, f"imdb_contrast/{name}.jsonl")])
        (src / f"{name}.tsv").write_text(buf.getvalue())
    monkeypatch.setattr(dl, "CONTRAST_URL", (src / "{name}.tsv").as_uri().replace("%7B", "{").replace("%7D", "}"))
    # CoS-E: upstream jsonl (plus one row for an id we do not have, which must be dropped)
    for split in ("train", "dev"):
        rows = shared(f"rationales/cose_v1.11/csqa_{split}.jsonl", f"csqa/{split}.jsonl")
        up = [{"id": r["id"], "explanation": {"open-ended": r["explanation_open_ended"],
                                              "selected": r["explanation_selected"]}} for r in rows]
        up.append({"id": "not-in-split", "explanation": {"open-ended": "x", "selected": "y"}})
        (src / f"cose_{split}_v1.11.jsonl").write_text("".join(json.dumps(r) + "\n" for r in up))
    monkeypatch.setattr(dl, "COSE_URL", (src / "cose_SPLIT_v1.11.jsonl").as_uri().replace("SPLIT", "{split}"))
    # MaRio: one JSON object keyed "0", "1", ... with inline-choice questions and "(B)" answers
    q_raw = {r["id"]: r["question_raw"] for r in _local(out, "quarel/train.jsonl")}
    mario = shared("rationales/mario_gpt3/quarel_train.jsonl", "quarel/train.jsonl")
    (src / "mario.json").write_text(json.dumps({str(i): {
        "question": q_raw[r["id"]], "rationale": r["rationale"], "answer": f"({r['predicted_answer']})",
        "gold_label": f"({r['gold_answer']})"} for i, r in enumerate(mario)}))
    monkeypatch.setattr(dl, "MARIO_URL", (src / "mario.json").as_uri())
    # Distilling Step-by-Step datasets.zip: HF-json inputs + lists of raw PaLM outputs
    by_id = {r["id"]: r for rel in subset for r in _local(out, rel)}
    with zipfile.ZipFile(src / "datasets.zip", "w") as zf:
        for split, n_files, rel, task_rel in (("train", 10, "csqa_train.jsonl.gz", "csqa/train.jsonl"),
                                              ("test", 2, "csqa_dev.jsonl", "csqa/dev.jsonl")):
            palm = shared(f"rationales/palm_distilling_step_by_step/{rel}", task_rel)
            zf.writestr(f"datasets/cqa/cqa_{split}.json", "".join(json.dumps(
                {"id": r["id"], "question": by_id[r["id"]]["question"],
                 "choices": [c["text"] for c in by_id[r["id"]]["choices"]],
                 "answer": next(c["text"] for c in by_id[r["id"]]["choices"] if c["label"] == by_id[r["id"]]["answer"]),
                 "abstractive_explanation": "", "extractive_explanation": ""}) + "\n" for r in palm))
            for i in range(n_files):
                zf.writestr(f"datasets/cqa/llm/{split}_CoT_{i}.json", json.dumps([r["raw_output"] for r in palm] if i == 0 else []))
        for split, rel in (("valid", "r1_dev"), ("test", "r1_test")):
            palm = shared(f"rationales/palm_distilling_step_by_step/anli_{rel}.jsonl", f"anli/{rel}.jsonl")
            zf.writestr(f"datasets/anli1/anli1_{split}.json", "".join(json.dumps(
                {"uid": r["id"], "premise": by_id[r["id"]]["premise"], "hypothesis": by_id[r["id"]]["hypothesis"],
                 "label": by_id[r["id"]]["label_id"], "reason": by_id[r["id"]]["reason"]}) + "\n" for r in palm))
            zf.writestr(f"datasets/anli1/llm/{split}_CoT_0.json", json.dumps([r["raw_output"] for r in palm]))
    monkeypatch.setattr(dl, "PALM_ZIP_URL", (src / "datasets.zip").as_uri())

    assert main(["data", "download", "--data-dir", str(out), "--task", "imdb_contrast", "rationales"]) == 0
    for name in ("dev_original", "dev_contrast", "test_original", "test_contrast"):
        assert _local(out, f"imdb_contrast/{name}.jsonl") == _local(data_dir, f"imdb_contrast/{name}.jsonl")
    assert _local(out, "rationales/mario_gpt3/quarel_train.jsonl") == mario and len(mario) == 50
    for rel, task_rel in (("cose_v1.11/csqa_train.jsonl", "csqa/train.jsonl"),
                          ("cose_v1.11/csqa_dev.jsonl", "csqa/dev.jsonl"),
                          ("palm_distilling_step_by_step/csqa_train.jsonl.gz", "csqa/train.jsonl"),
                          ("palm_distilling_step_by_step/csqa_dev.jsonl", "csqa/dev.jsonl"),
                          ("palm_distilling_step_by_step/anli_r1_dev.jsonl", "anli/r1_dev.jsonl"),
                          ("palm_distilling_step_by_step/anli_r1_test.jsonl", "anli/r1_test.jsonl")):
        assert _local(out, f"rationales/{rel}") == shared(f"rationales/{rel}", task_rel), rel
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["imdb_contrast/test_contrast.jsonl"]["rows"] == 488
    assert manifest["files"]["rationales/mario_gpt3/quarel_train.jsonl"]["rows"] == 50
    # and the result validates (counts differ from the full files: exit code 1, no bad row)
    capsys.readouterr()
    assert main(["data", "check", "--data-dir", str(out)]) == 1
    assert "error:" not in capsys.readouterr().err
