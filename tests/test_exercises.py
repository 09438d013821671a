"""Teaching mode (helpers.exercises): the lesson notebooks' exercises pass their checks with the committed
solutions, student copies hold stubs and no solution code, the grader tells pass / fail / not done apart
with one line naming the input where a function differs, and the CLI's bad input is one line (exit 2).

Everything runs on real data (the coin-flip task and its scripted teacher, the replayed GPT-3 × QuaRel
corpus, SmolLM2's tokenizer, the committed course results); nothing is trained or decoded."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import exercises as ex
from helpers.cli import main
from helpers.config import UserError

REPO = Path(__file__).resolve().parent.parent
NB_DIR = REPO / "notebooks"
LESSON = sorted(NB_DIR.glob("0[0-4]_*.py"))


# --------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def committed() -> ex.Graded:
    return ex.grade_paths(LESSON)


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("students")
    ex.write_student_copies(out)
    return out


@pytest.fixture(scope="module")
def coin():
    """The course corpus on the first coin-flip training questions, built here as notebook 03 builds it."""
    from helpers.corpus import sample_corpus
    from helpers.profiles import get_profile
    from helpers.tasks import load_task
    from helpers.teacher import teacher_from_name
    prof = get_profile("course")
    return sample_corpus(teacher_from_name(prof.teacher, task="coinflip"), load_task("coinflip", "train", limit=100),
                         n=prof.distill.n_samples, cache=None, progress=False)


@pytest.fixture(scope="module")
def quarel():
    """The replayed GPT-3 × QuaRel corpus on the first training questions."""
    from helpers.corpus import sample_corpus
    from helpers.tasks import load_task
    from helpers.teacher import teacher_from_name
    return sample_corpus(teacher_from_name("replay:mario_gpt3", task="quarel"), load_task("quarel", "train", limit=100),
                         n=5, cache=None, progress=False)


def solution_cell(name: str) -> str:
    """The committed exercise cell of ``name`` (with its solution)."""
    from helpers.runner import read_notebook
    nb = read_notebook(NB_DIR / f"{ex.EXERCISES[name].notebook}.py")
    return next(c.source for c in nb.cells if f"exercise:{name}" in c.metadata.get("tags", []))


def set_cell(path: Path, name: str, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if f"exercise:{name}" in c.metadata.get("tags", []))
    cell.source = source
    nbformat.write(nb, path)


def by_name(graded: ex.Graded) -> dict[str, ex.Verdict]:
    return {v.name: v for v in graded.verdicts}


# ------------------------------------------------------------------------------ the lesson notebooks

def test_the_lesson_has_at_least_six_exercises_spread_over_its_notebooks():
    assert len(ex.EXERCISES) >= 6
    assert ex.lesson_notebooks() == [p.stem for p in LESSON]      # every notebook 00–04 has one
    assert ex.lesson_problems() == []


def test_the_committed_solutions_pass_their_checks(committed: ex.Graded):
    assert [v.name for v in committed.verdicts] == list(ex.EXERCISES)
    failed = [v.line for v in committed.verdicts if v.status != ex.PASS]
    assert not failed, failed
    assert committed.all_pass


def test_lesson_problems_catch_a_broken_exercise(tmp_path: Path):
    for p in LESSON:
        (tmp_path / p.name).write_text(p.read_text())
    nb = tmp_path / "02_corpus_building.py"
    text = nb.read_text()
    nb.write_text(text.replace("    ### END SOLUTION\n", "", 1))               # an unmatched marker
    assert any("02_corpus_building.py keep_correct" in p and "without" in p for p in ex.lesson_problems(tmp_path))
    nb.write_text(text.replace('exercises.check("keep_correct", keep_correct)', "pass"))
    assert any("check cell must call" in p for p in ex.lesson_problems(tmp_path))
    nb.write_text(text + "\n# %%\nprint(keep_correct)\n")                       # a later cell uses the exercise
    assert any("outside its cells" in p for p in ex.lesson_problems(tmp_path))
    with pytest.raises(UserError, match="not in order"):
        ex.write_student_copies(tmp_path / "out", notebook_dir=tmp_path)


# --------------------------------------------------------------------------------- student copies

def test_student_copies_hold_no_solution_code(copies: Path):
    from helpers.runner import read_notebook
    written = sorted(p.name for p in copies.iterdir())
    assert written == [f"{s}.ipynb" for s in ex.lesson_notebooks()]
    for name, e in ex.EXERCISES.items():
        source = solution_cell(name)
        (b, end), = ex.solution_blocks(source)
        solution = [ln.strip() for ln in source.splitlines()[b + 1:end] if ln.strip()]
        assert solution
        nb = nbformat.read(copies / f"{e.notebook}.ipynb", as_version=4)
        nbformat.validate(nb)
        code = {ln.strip() for c in nb.cells if c.cell_type == "code" for ln in c.source.splitlines()}
        leaked = [ln for ln in solution if ln in code]
        assert not leaked, (name, leaked)
        assert all(ex.BEGIN not in c.source and ex.END not in c.source for c in nb.cells)
        cell = next(c for c in nb.cells if f"exercise:{name}" in c.metadata.get("tags", []))
        assert f'raise NotImplementedError("Exercise {ex.number(name)}: write {name}' in cell.source
        assert f"def {name}(" in cell.source                                   # the signature and docstring stay
        assert any(f"check:{name}" in c.metadata.get("tags", []) for c in nb.cells)
    # everything else is the committed notebook, cell for cell
    for p in LESSON:
        src, copy = read_notebook(p), nbformat.read(copies / f"{p.stem}.ipynb", as_version=4)
        assert [c.metadata.get("tags", []) for c in src.cells] == [c.metadata.get("tags", []) for c in copy.cells]
        assert [c.source for c in src.cells if not any(t.startswith("exercise:") for t in c.metadata.get("tags", []))] \
            == [c.source for c in copy.cells if not any(t.startswith("exercise:") for t in c.metadata.get("tags", []))]
        assert "jupytext" not in copy.metadata and copy.metadata["cotlab"] == src.metadata["cotlab"]


def test_every_stub_is_not_done_with_a_line_naming_its_exercise(copies: Path):
    graded = ex.grade_paths([copies])
    assert [v.name for v in graded.verdicts] == list(ex.EXERCISES)
    for v in graded.verdicts:
        assert v.status == ex.NOT_DONE, v.line
        assert "\n" not in v.line and f"Exercise {v.number} · {v.name}" in v.line and f"{v.name} raises" in v.message
    assert not graded.all_pass


def test_a_check_cell_never_stops_the_notebook(capsys: pytest.CaptureFixture):
    def stub(entry):
        raise NotImplementedError("Exercise 3: write keep_correct")
    assert ex.check("keep_correct", stub) is None
    assert capsys.readouterr().out.startswith("· Exercise 3 · keep_correct: not done yet")
    ex.check("keep_correct", lambda entry: entry.no_such_field)
    out = capsys.readouterr().out.strip()
    assert out.startswith("✗ Exercise 3 · keep_correct: raised AttributeError") and "coinflip_train_0000" in out


def test_writing_over_a_students_work_is_refused(copies: Path):
    with pytest.raises(UserError, match="exists"):
        ex.write_student_copies(copies)


# ------------------------------------------------------------------------------------- grading

def test_a_mixed_folder_is_graded_pass_fail_and_not_done(tmp_path: Path, coin):
    from helpers.decode import majority_vote
    ex.write_student_copies(tmp_path)
    set_cell(tmp_path / "02_corpus_building.ipynb", "keep_correct", solution_cell("keep_correct"))
    wrong = ("def majority(labels):\n"
             "    votes = sorted(lab for lab in labels if lab is not None)   # a tie goes to the first letter\n"
             "    return max(votes, key=votes.count) if votes else None\n")
    set_cell(tmp_path / "04_self_consistency.ipynb", "majority", wrong)
    graded = ex.grade_paths([tmp_path])
    v = by_name(graded)
    assert v["keep_correct"].status == ex.PASS
    assert v["majority"].status == ex.FAIL
    assert {n for n, x in v.items() if x.status == ex.NOT_DONE} == set(ex.EXERCISES) - {"keep_correct", "majority"}
    # the message names the first list of real teacher labels where the two votes differ: a tie, B sampled first
    e, labels = next((e, ls) for e in coin.entries for ls in ([s.label for s in e.samples], [s.label for s in e.samples][:4])
                     if majority_vote(ls)[0] != (max(sorted(ls), key=ls.count)))
    msg = v["majority"].message
    assert f"the labels {labels} (scripted coin-flip teacher, {e.example.id}" in msg, msg
    assert f"you return {max(sorted(labels), key=labels.count)!r}, decode.majority_vote gives {majority_vote(labels)[0]!r}" in msg
    assert "a tie goes to the tied label sampled first" in msg and "\n" not in msg
    # the CLI exits 1 and prints the table
    assert main(["exercises", "check", str(tmp_path)]) == 1


def test_a_wrong_filter_names_the_question_and_the_sample(coin, quarel):
    wrong = ex.grade_function("keep_correct", lambda entry: list(entry.samples))     # keeps every CoT
    e = next(e for e in coin.entries if any(s.label != e.example.answer for s in e.samples))
    s = next(s for s in e.samples if s.label != e.example.answer)
    assert wrong.status == ex.FAIL
    assert (f"for {e.example.id} (scripted coin-flip teacher) you kept the CoT k={s.k} whose label {s.label} is not the "
            f"gold {e.example.answer}") in wrong.message, wrong.message
    n_wrong = sum(any(s.label != e.example.answer for s in e.samples) for e in coin.entries + quarel.entries)
    assert wrong.message.endswith(f"({n_wrong} of 200 questions differ)"), wrong.message
    first = ex.grade_function("keep_correct", lambda entry: [s for s in entry.samples if s.label == entry.example.answer][:1])
    e = next(e for e in coin.entries if len(e.correct()) > 1)
    assert first.status == ex.FAIL
    assert f"for {e.example.id} (scripted coin-flip teacher) you dropped the CoT k={e.correct()[1].k}" in first.message


def test_a_wrong_conclusion_names_the_chain_of_thought(coin):
    from helpers.synthetic import conclusion
    import re

    def last_face(e, rationale):           # forgets that a recap "…, not heads up" names the start last
        face = re.findall(r"\b(heads|tails)\b", rationale.lower())[-1]
        return "A" if face == e.meta["start"] else "B"
    v = ex.grade_function("coin_conclusion", last_face)
    e, s = next((e, s) for e in coin.entries for s in e.samples
                if last_face(e.example, s.rationale) != conclusion(e.example, s.rationale))
    assert v.status == ex.FAIL and f"for {e.example.id} (CoT k={s.k}) you return" in v.message, v.message
    assert "synthetic.conclusion gives" in v.message and "the CoT ends" in v.message


def test_a_wrong_answer_reader_names_the_completion():
    def last_answer(e, completion):        # reads the last "(x)" instead of the first answer
        import re
        m = re.findall(r"\(([a-z])\)", completion, re.IGNORECASE)
        return m[-1].upper() if m else None
    v = ex.grade_function("extract_letter", last_answer)
    assert v.status == ex.FAIL
    assert "for coinflip_train_0000 (CoT k=0, run on past the answer) you return" in v.message, v.message


def test_a_wrong_target_names_the_row_and_the_rationale(coin):
    def first_cot(entry):                  # takes the first correct CoT, not the teacher's most likely one
        from helpers.prompts import format_answer
        ans = format_answer(entry.example, entry.example.answer)
        ok = [s for s in entry.samples if s.label == entry.example.answer]
        return {"label_only": f" {ans}", "cot_after": f" {ans} {ok[0].rationale}" if ok else None}
    v = ex.grade_function("make_targets", first_cot)
    e = next(e for e in coin.entries
             if (ok := [s for s in e.samples if s.label == e.example.answer])
             and max(ok, key=lambda s: (s.logprob, -s.k)).rationale != ok[0].rationale)
    greedy = max((s for s in e.samples if s.label == e.example.answer), key=lambda s: (s.logprob, -s.k))
    assert v.status == ex.FAIL, v.line
    assert f"for {e.example.id} (scripted coin-flip teacher) your cot_after target uses the CoT k=" in v.message
    assert f"pairs_from_corpus the CoT k={greedy.k}" in v.message, v.message

    def no_space(entry):
        d = ex_solution("make_targets")(entry)
        return dict(d, label_only=d["label_only"].lstrip())
    v = ex.grade_function("make_targets", no_space)
    assert v.status == ex.FAIL and "your label_only completion differs from pairs_from_corpus's at character 0" in v.message


def ex_solution(name: str):
    ns: dict = {}
    exec(solution_cell(name), ns)
    return ns[name]


def test_a_mask_without_eos_names_the_pair():
    def no_eos(tokenizer, pair):
        n = len(tokenizer(pair.prompt)["input_ids"])
        return [i >= n for i in range(len(tokenizer(pair.prompt + pair.completion)["input_ids"]))]
    v = ex.grade_function("loss_mask", no_eos)
    assert v.status == ex.FAIL
    assert "for the label_only pair of coinflip_train_0000 you return" in v.message
    assert "flags for its" in v.message and "tokens (prompt + completion + EOS)" in v.message

    def prompt_too(tokenizer, pair):
        return [True] * len(tokenizer(pair.prompt + pair.completion + tokenizer.eos_token)["input_ids"])
    v = ex.grade_function("loss_mask", prompt_too)
    assert v.status == ex.FAIL and "token 0" in v.message and "yours carries loss, train.loss_tokens: no loss" in v.message


def test_a_difference_paired_by_position_names_the_seed():
    def by_position(rows, condition, baseline):      # zips the rows in file order: pairs other seeds
        acc = lambda r: sum(p["correct"] for p in r["preds"]) / len(r["preds"])   # noqa: E731
        a = [acc(r) for r in rows if r["condition"] == condition]
        b = [acc(r) for r in rows if r["condition"] == baseline]
        return {i: x - y for i, (x, y) in enumerate(zip(a, b))}
    v = ex.grade_function("per_seed_diff", by_position)
    assert v.status == ex.FAIL and "for greedy_cot − label_only in table2b_distillation, seed " in v.message, v.message
    assert "protocol.summarize gives" in v.message
    solution = ex_solution("per_seed_diff")

    def every_seed(rows, condition, baseline):       # keeps a seed the baseline lacks
        d = solution(rows, condition, baseline)
        return {**{r["seed"]: 0.0 for r in rows if r["condition"] == condition}, **d}
    v = ex.grade_function("per_seed_diff", every_seed)
    assert v.status == ex.FAIL and "left out you give seeds [0, 1, 2], protocol.summarize pairs seeds [0, 1]" in v.message


def test_a_notebook_whose_exercise_cell_is_broken_or_gone(tmp_path: Path):
    ex.write_student_copies(tmp_path)
    set_cell(tmp_path / "02_corpus_building.ipynb", "keep_correct", "def keep_correct(entry)\n    return []\n")
    v = by_name(ex.grade_paths([tmp_path / "02_corpus_building.ipynb"]))["keep_correct"]
    assert v.status == ex.FAIL and v.message.startswith("the exercise cell does not run: SyntaxError") and "(line 1)" in v.message
    set_cell(tmp_path / "02_corpus_building.ipynb", "keep_correct", "def keep(entry):\n    return []\n")
    v = by_name(ex.grade_paths([tmp_path / "02_corpus_building.ipynb"]))["keep_correct"]
    assert v.status == ex.FAIL and "defines no function keep_correct" in v.message
    nb = nbformat.read(tmp_path / "03_distillation.ipynb", as_version=4)
    for c in nb.cells:
        if "exercise:loss_mask" in c.metadata.get("tags", []):
            c.metadata["tags"] = []
    nbformat.write(nb, tmp_path / "03_distillation.ipynb")
    v = by_name(ex.grade_paths([tmp_path / "03_distillation.ipynb"]))
    assert v["loss_mask"].status == ex.FAIL and "0 cells tagged exercise:loss_mask" in v["loss_mask"].message
    assert v["make_targets"].status == ex.NOT_DONE
    # a lesson notebook whose exercise tags are all gone, or that is not a notebook any more, fails its
    # exercises by name in a folder; the rest of the folder is graded
    for c in nb.cells:
        c.metadata["tags"] = [t for t in c.metadata.get("tags", []) if not t.startswith("exercise:")]
    nbformat.write(nb, tmp_path / "03_distillation.ipynb")
    (tmp_path / "04_self_consistency.ipynb").write_text("{ half a notebook")
    v = by_name(ex.grade_paths([tmp_path]))
    assert set(v) == set(ex.EXERCISES)
    for name in ("make_targets", "loss_mask"):
        assert v[name].status == ex.FAIL and f"0 cells tagged exercise:{name}" in v[name].message
    for name in ("majority", "per_seed_diff"):
        assert v[name].status == ex.FAIL and "04_self_consistency.ipynb: cannot read the notebook" in v[name].message
    assert v["coin_conclusion"].status == ex.NOT_DONE


def test_solution_markers_must_pair():
    with pytest.raises(ValueError, match="without ### END SOLUTION"):
        ex.solution_blocks("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(ValueError, match="without ### BEGIN SOLUTION"):
        ex.solution_blocks("def f():\n    return 1\n    ### END SOLUTION\n")
    stub = ex.stub_source('def majority(labels):\n    """doc"""\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n',
                          "majority")
    assert stub == ('def majority(labels):\n    """doc"""\n    raise NotImplementedError("Exercise '
                    f'{ex.number("majority")}: write majority, then run the check cell below")')


# ------------------------------------------------------------------------------------------- CLI

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))


def one_line_error(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_cli_check_of_a_missing_path_is_one_line(tmp_path: Path):
    missing = tmp_path / "no_such_notebook.ipynb"
    assert one_line_error(cli("exercises", "check", str(missing))) == f"error: {missing}: no such notebook or folder"


def test_cli_bad_inputs_are_one_line(tmp_path: Path, copies: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.ipynb").write_text("{not json")
    for args, text in ((["exercises", "check", str(tmp_path / "notes.txt")], "not a notebook"),
                       (["exercises", "check", str(tmp_path / "empty")], "no numbered notebook with exercise cells"),
                       (["exercises", "check", str(tmp_path / "broken.ipynb")], "cannot read the notebook"),
                       (["exercises", "check", str(NB_DIR / "05_scaling.py")], "no exercise cells"),
                       (["exercises", "write", "--out", str(copies)], "exists (a student's work?)")):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and text in err[0], (args, err)
    assert main(["exercises", "check"]) == 2                       # argparse: PATH is required


def test_cli_check_exit_codes_and_table(capsys: pytest.CaptureFixture, committed: ex.Graded):
    assert main(["exercises", "check", *map(str, LESSON)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["notebook", "exercise", "result", "message"]
    assert f"{len(ex.EXERCISES)} exercises: {len(ex.EXERCISES)} pass, 0 fail, 0 not done" in out
    assert main(["exercises", "check", "--json", str(NB_DIR / "02_corpus_building.py")]) == 0
    import json
    rec = json.loads(capsys.readouterr().out)
    assert rec["all_pass"] and [v["name"] for v in rec["verdicts"]] == ["keep_correct"]
