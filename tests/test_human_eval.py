"""SCoTD §3.1.1's pairwise human evaluation (helpers.human_eval, notebook 09): building the pairs and the page,
importing exported judgments (bad or duplicate ones rejected with one line naming file, row and field), the
analysis (win / tie / loss, exact binomial test, Clopper–Pearson CI), the CLI — and the page itself, driven in
a real headless Chromium: load, enter an annotator, judge, reload (progress restored), export, re-import.

The browser test needs Chromium and chromedriver from Debian's packages (`make browser`, or
`apt-get install -y chromium chromium-driver`) and selenium (the dev extra). Outside CI it is skipped when
they are missing; under CI (``CI=true``, set by ``.ci/run``) it fails instead, naming the install command.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import human_eval as he
from helpers.cli import main
from helpers.config import UserError
from helpers.corpus import Corpus, CorpusEntry, Sample
from helpers.decode import Prediction
from helpers.tasks import Choice, Example

INSTALL = "`make browser` (= apt-get install -y chromium chromium-driver) and `pip install -e '.[dev]'` (selenium)"
SCRIPT_TEXT = "It says </script><b>bold</b> & so on"      # must be shown as text, never run or parsed


# ------------------------------------------------------------------------------------------ fixtures

def _questions(n: int = 5) -> list[Example]:
    return [Example(task="quarel", id=f"q{i}", text=f"Question number {i}: which one rolls farther?",
                    answer="A" if i % 2 == 0 else "B",
                    choices=(Choice("A", f"ball {i}"), Choice("B", f"cube {i}"))) for i in range(n)]


def _student_preds(qs: list[Example]) -> list[Prediction]:
    out = []
    for i, ex in enumerate(qs):
        pred = ex.answer if i != 1 else ("B" if ex.answer == "A" else "A")      # q1: the student is wrong
        text = f" First I think {i}: the {ex.choices[0].text} is round. So the answer is ({pred.lower()})."
        if i == 2:
            text = f" {SCRIPT_TEXT}. So the answer is ({pred.lower()})."
        out.append(Prediction(id=ex.id, gold=ex.answer, pred=pred, texts=[text]))
    return out


def _teacher_corpus(qs: list[Example]) -> Corpus:
    entries = []
    for i, ex in enumerate(qs):
        label = ex.answer if i != 3 else ("B" if ex.answer == "A" else "A")    # q3: the teacher is wrong
        rationale = f"Reasoning {i}: smooth things roll farther than {ex.choices[1].text}s."
        entries.append(CorpusEntry(ex, [Sample(k=0, rationale=rationale, label=label,
                                                raw=f" {rationale} So the answer is ({label.lower()}).")]))
    return Corpus(entries, {"teacher": "test-teacher", "task": "quarel"})


def _page(n: int = 5, seed: int = 0) -> he.Page:
    qs = _questions(n)
    pairs = he.build_pairs(qs, _student_preds(qs), _teacher_corpus(qs), seed=seed)
    return he.make_page(pairs, title="test page", meta={"profile": "test"})


@pytest.fixture()
def page() -> he.Page:
    return _page()


def _export(page: he.Page, annotator: str, choices: dict[str, str]) -> dict:
    """A judgments file in the page's export format (what the browser test below gets from the real page)."""
    return {"format": he.FORMAT, "version": he.VERSION, "page_id": page.page_id, "annotator": annotator,
            "exported_at": "2026-01-01T00:00:00.000Z", "n_pairs": len(page.pairs),
            "judgments": [{"pair_id": pid, "choice": c, "judged_at": "2026-01-01T00:00:00.000Z", "seconds": 3.5}
                          for pid, c in choices.items()]}


def _write(path: Path, obj) -> Path:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


# ------------------------------------------------------------------------------------------- pairs

def test_pairs_hide_the_answers_balance_the_sides_and_are_reproducible(page: he.Page) -> None:
    assert len(page.pairs) == 5 and len({p.pair_id for p in page.pairs}) == 5
    for p in page.pairs:
        for text in (p.student, p.teacher):
            assert "answer is" not in text.lower() and text, text      # the final prediction is removed
        assert {p.text("A"), p.text("B")} == {p.student, p.teacher}
    assert sum(p.a == "student" for p in page.pairs) == 3              # ceil(5 / 2) pairs show the student as A
    by_q = {p.question_id: p for p in page.pairs}
    assert by_q["q1"].student_answer != by_q["q1"].gold and by_q["q1"].teacher_correct
    assert by_q["q3"].student_correct and not by_q["q3"].teacher_correct
    assert by_q["q0"].question.startswith("Q: Question number 0") and "(b) cube 0" in by_q["q0"].question
    again = _page()
    assert again.page_id == page.page_id and again.pairs == page.pairs
    other = _page(seed=1)
    assert other.page_id != page.page_id
    assert [(p.pair_id, p.a) for p in other.pairs] != [(p.pair_id, p.a) for p in page.pairs]
    assert {p.pair_id for p in other.pairs} == {p.pair_id for p in page.pairs}   # same content, other order/sides


def test_a_changed_chain_changes_the_pair_and_the_page() -> None:
    qs = _questions(3)
    preds = _student_preds(qs)
    base = he.build_pairs(qs, preds, _teacher_corpus(qs))
    preds[0] = Prediction(id="q0", gold="A", pred="A", texts=[" Something else entirely. So the answer is (a)."])
    changed = he.build_pairs(qs, preds, _teacher_corpus(qs))
    assert {p.pair_id for p in base} != {p.pair_id for p in changed}
    assert he.make_page(base, title="t").page_id != he.make_page(changed, title="t").page_id


def test_a_question_without_a_teacher_chain_is_refused() -> None:
    qs = _questions(3)
    corpus = _teacher_corpus(qs)
    corpus.entries[1].samples.clear()
    with pytest.raises(ValueError, match="no chain of thought for question 'q1'"):
        he.build_pairs(qs, _student_preds(qs), corpus)


def test_question_sample_and_pool() -> None:
    pool = _questions(10)
    s = he.sample_questions(pool, 4, seed=0)
    assert len(s) == 4 and s == he.sample_questions(pool, 4, seed=0)
    assert [q.id for q in s] == sorted((q.id for q in s), key=lambda i: int(i[1:]))
    assert he.sample_questions(pool, 50) == pool
    assert he.question_pool("heldout", ["dev"], ["held"]) == ["held"]
    with pytest.raises(UserError, match="eval, heldout"):
        he.question_pool("test", [], [])


def test_the_page_is_self_contained_and_blind(page: he.Page, tmp_path: Path) -> None:
    html_path, key_path = he.write_page(page, tmp_path)
    html = html_path.read_text()
    assert page.page_id in html and "localStorage" in html
    for p in page.pairs:
        assert p.pair_id in html
    assert "http://" not in html and "https://" not in html and " src=" not in html   # no network, nothing external
    low = html.lower()
    assert "student" not in low and "teacher" not in low       # which side is the student: only in page.json
    assert "answer is" not in low
    assert html.count("</script>") == 2                          # a CoT holding </script> cannot end the data block
    assert he.load_page(key_path) == page and he.load_page(tmp_path) == page
    assert he.load_page(key_path).meta == {"profile": "test"}
    assert "{{" not in html and "%%" not in html                   # every placeholder of the template filled


def test_the_page_template_escapes_the_title() -> None:
    """The page is rendered from helpers/templates/human_eval.html by jinja2 with autoescaping: markup in a title
    is shown, not run."""
    qs = _questions(3)
    page = he.make_page(he.build_pairs(qs, _student_preds(qs), _teacher_corpus(qs), seed=0),
                        title="<script>alert(1)</script> & co")
    html = he.page_html(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html and "<script>alert(1)" not in html
    assert he.TEMPLATE.exists() and he.TEMPLATE.suffix == ".html"


def test_an_edited_page_key_is_refused(page: he.Page, tmp_path: Path) -> None:
    _, key = he.write_page(page, tmp_path)
    d = json.loads(key.read_text())
    d["pairs"][0]["a"] = "teacher" if d["pairs"][0]["a"] == "student" else "student"   # swap one pair's sides
    key.write_text(json.dumps(d))
    with pytest.raises(UserError, match="do not hash to its page id"):
        he.load_page(key)
    del d["pairs"][0]["gold"]
    key.write_text(json.dumps(d))
    with pytest.raises(UserError, match="malformed page key"):
        he.load_page(key)


# --------------------------------------------------------------------------------------- judgments

def test_judgments_map_back_to_student_and_teacher(page: he.Page, tmp_path: Path) -> None:
    ids = [p.pair_id for p in page.pairs]
    f = _write(tmp_path / "ana.json", _export(page, "ana", {ids[0]: "A", ids[1]: "B", ids[2]: "tie"}))
    js = he.load_judgments([f], page)
    assert [(j.pair_id, j.choice, j.row, j.annotator) for j in js] == [(ids[0], "A", 1, "ana"), (ids[1], "B", 2, "ana"),
                                                                       (ids[2], "tie", 3, "ana")]
    assert js[0].winner == page.pairs[0].a and js[1].winner == page.pairs[1].b and js[2].winner == "tie"
    assert js[0].seconds == 3.5


def _bad(page: he.Page, how: str):
    """A judgments file broken in one way; returns (content, expected row, expected field, words in the message)."""
    ids = [p.pair_id for p in page.pairs]
    good = _export(page, "ana", {ids[0]: "A", ids[1]: "B", ids[2]: "tie"})
    d = copy.deepcopy(good)
    if how == "choice":
        d["judgments"][1]["choice"] = "C"
        return d, 2, "choice", ["'C' is not a judgment"]
    if how == "unknown pair":
        d["judgments"][2]["pair_id"] = "p0000000000"
        return d, 3, "pair_id", ["'p0000000000' is not a pair of page"]
    if how == "duplicate":
        d["judgments"].append(dict(d["judgments"][0], choice="B"))
        return d, 4, "pair_id", ["duplicate", "'ana'", ids[0], "judgments row 1"]
    if how == "page":
        d["page_id"] = "000000000000"
        return d, None, "page_id", ["'000000000000'", page.page_id]
    if how == "annotator":
        d["annotator"] = ""
        return d, None, "annotator", ["not an annotator id"]
    if how == "annotator spaces":
        d["annotator"] = "ana smith"
        return d, None, "annotator", ["not an annotator id"]
    if how == "seconds":
        d["judgments"][0]["seconds"] = -1
        return d, 1, "seconds", ["non-negative"]
    if how == "unknown row field":
        d["judgments"][2]["choise"] = "A"
        return d, 3, "choise", ["unknown field"]
    if how == "row type":
        d["judgments"][1] = "A"
        return d, 2, None, ["expected an object"]
    if how == "judgments type":
        d["judgments"] = {"a": 1}
        return d, None, "judgments", ["expected a list"]
    if how == "format":
        d["format"] = "something-else"
        return d, None, "format", ["'something-else'"]
    if how == "version":
        d["version"] = 99
        return d, None, "version", ["unsupported version 99"]
    if how == "missing choice":
        del d["judgments"][0]["choice"]
        return d, 1, "choice", ["None is not a judgment"]
    if how == "not json":
        return '{"format": "cotlab-human-eval-judgments", ', None, None, ["not valid JSON"]
    if how == "not an object":
        return [1, 2], None, None, ["expected a JSON object"]
    raise AssertionError(how)


BAD = ["choice", "unknown pair", "duplicate", "page", "annotator", "annotator spaces", "seconds", "unknown row field",
       "row type", "judgments type", "format", "version", "missing choice", "not json", "not an object"]


@pytest.mark.parametrize("how", BAD)
def test_a_bad_judgments_file_is_one_line_naming_file_row_and_field(page: he.Page, tmp_path: Path, how: str) -> None:
    content, row, field, words = _bad(page, how)
    f = _write(tmp_path / f"bad-{how.replace(' ', '-')}.json", content)
    with pytest.raises(he.JudgmentError) as e:
        he.load_judgments([f], page)
    msg = str(e.value)
    assert isinstance(e.value, UserError) and "\n" not in msg
    assert msg.startswith(str(f)), msg
    assert e.value.row == row and e.value.field == field, msg
    if row is not None:
        assert f"judgments row {row}" in msg
    if field is not None:
        assert f"field {field!r}" in msg
    for w in words:
        assert w in msg, (w, msg)


def test_the_same_annotator_twice_across_files_is_rejected_but_two_annotators_are_not(page: he.Page,
                                                                                      tmp_path: Path) -> None:
    ids = [p.pair_id for p in page.pairs]
    a1 = _write(tmp_path / "a1.json", _export(page, "ana", {ids[0]: "A", ids[1]: "B"}))
    a2 = _write(tmp_path / "a2.json", _export(page, "ana", {ids[2]: "A", ids[1]: "tie"}))
    b = _write(tmp_path / "b.json", _export(page, "bob", {ids[0]: "A", ids[1]: "A"}))
    assert len(he.load_judgments([a1, b], page)) == 4
    with pytest.raises(he.JudgmentError) as e:
        he.load_judgments([a1, b, a2], page)
    assert e.value.path == str(a2) and e.value.row == 2 and e.value.field == "pair_id"
    assert f"{a1}, judgments row 2" in str(e.value)


def test_judgment_files_lists_json_only(tmp_path: Path) -> None:
    assert he.judgment_files(tmp_path / "absent") == []
    for name in ("b.json", "a.json", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in he.judgment_files(tmp_path)] == ["a.json", "b.json"]


# ---------------------------------------------------------------------------------------- analysis

def _judgments(page: he.Page, annotator: str, winners: dict[str, str]) -> list[he.Judgment]:
    """Judgments whose winners are given (``student``/``teacher``/``tie``): the choice is the side that shows it."""
    out = []
    for i, (pid, w) in enumerate(winners.items(), start=1):
        p = page.pair(pid)
        choice = "tie" if w == "tie" else ("A" if p.a == w else "B")
        out.append(he.Judgment("f.json", i, annotator, pid, choice, p.winner(choice)))
    assert [j.winner for j in out] == list(winners.values())
    return out


def test_binomial_test_and_clopper_pearson_interval() -> None:
    r = he.binomial(9, 10)
    assert r["rate"] == 0.9
    assert r["p_value"] == pytest.approx(22 / 1024)              # 2 * P(X >= 9), X ~ Bin(10, 1/2)
    assert r["ci_low"] == pytest.approx(0.554984, abs=1e-5)       # Beta(9, 2) 2.5% quantile
    assert r["ci_high"] == pytest.approx(0.997471, abs=1e-5)      # Beta(10, 1) 97.5% quantile
    r = he.binomial(5, 10)
    assert r["p_value"] == pytest.approx(1.0) and r["ci_low"] < 0.5 < r["ci_high"]
    assert he.binomial(0, 0) == {"rate": None, "p_value": None, "ci_low": None, "ci_high": None}


def test_analyse_counts_wins_ties_losses_subsets_annotators_and_agreement() -> None:
    page = _page(n=12)
    ids = [p.pair_id for p in page.pairs]
    ana = _judgments(page, "ana", {ids[i]: w for i, w in enumerate(["student"] * 9 + ["teacher"] + ["tie"] * 2)})
    bob = _judgments(page, "bob", {ids[0]: "student", ids[1]: "teacher", ids[10]: "tie"})
    a = he.analyse(ana + bob, page)
    allp, both = a["subsets"]
    assert allp["subset"] == "all pairs" and allp["pairs_on_page"] == 12
    assert (allp["student_better"], allp["tie"], allp["teacher_better"]) == (10, 3, 2)
    assert allp["judgments"] == 15 and allp["annotators"] == 2 and allp["pairs"] == 12
    assert allp["student_win_rate"] == pytest.approx(10 / 12)
    assert allp["p_value"] == pytest.approx(he.binomial(10, 12)["p_value"])
    assert allp["good_or_better_rate"] == pytest.approx(13 / 15)
    correct = {p.pair_id for p in page.pairs if p.student_correct and p.teacher_correct}
    assert both["pairs_on_page"] == len(correct) and 0 < len(correct) < 12
    assert both["judgments"] == sum(j.pair_id in correct for j in ana + bob)
    per = {r["annotator"]: r for r in a["per_annotator"]}
    assert (per["ana"]["student_better"], per["ana"]["tie"], per["ana"]["teacher_better"]) == (9, 2, 1)
    assert (per["bob"]["student_better"], per["bob"]["tie"], per["bob"]["teacher_better"]) == (1, 1, 1)
    assert a["agreement"] == {"pairs_judged_twice_or_more": 3, "annotator_pairs": 3, "rate": pytest.approx(2 / 3)}
    n_a = sum(j.choice == "A" for j in ana + bob)
    assert a["position"]["non_tie"] == 12 and a["position"]["chose_a_rate"] == pytest.approx(n_a / 12)


def test_result_rows_put_the_paper_beside_ours_and_invent_nothing(page: he.Page) -> None:
    empty = he.result_rows(None, page)
    assert [r["subset"] for r in empty] == ["all pairs", "both answers correct"]
    assert [r["paper"] for r in empty] == [47.0, 51.0] and [r["paper_n"] for r in empty] == [900, 659]
    for r in empty:
        assert r["judgments"] == 0 and r["student_win_rate"] is None and r["p_value"] is None
        assert r["student / tie / teacher"] == "no judgments imported" and r["student win % (95% CI)"] == "–"
        assert set(he.RESULT_COLUMNS) <= set(r)
    ids = [p.pair_id for p in page.pairs]
    rows = he.result_rows(he.analyse(_judgments(page, "ana", {ids[0]: "student", ids[1]: "teacher"}), page), page)
    assert rows[0]["student / tie / teacher"] == "1 / 0 / 1" and rows[0]["student win % (95% CI)"].startswith("50.0 (")


def test_cli_checks_and_summarises_judgments(page: he.Page, tmp_path: Path, capsys) -> None:
    _, key = he.write_page(page, tmp_path / "human_eval")
    ids = [p.pair_id for p in page.pairs]
    folder = tmp_path / "human_eval" / "judgments"
    folder.mkdir()
    _write(folder / "ana.json", _export(page, "ana", {ids[0]: "A", ids[1]: "B"}))
    assert main(["human-eval", "--page", str(key)]) == 0
    out = capsys.readouterr().out
    assert f"page {page.page_id}" in out and "2 judgments" in out and "annotator ana: 2 of 5 pairs" in out
    assert main(["human-eval", "--page", str(key), "--json", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out)["analysis"]["subsets"][0]["judgments"] == 2
    bad = _write(tmp_path / "bad.json", dict(_export(page, "ana", {ids[0]: "maybe"})))
    assert main(["human-eval", "--page", str(key), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "judgments row 1" in err[0] and "'choice'" in err[0]
    assert main(["human-eval", "--page", str(tmp_path / "nope.json")]) == 2
    assert "no such page key" in capsys.readouterr().err


# ------------------------------------------------------------------------------- a real browser

def _browser_or_skip() -> tuple[str, str]:
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver")
    missing = [n for n, p in (("chromium", chromium), ("chromedriver", driver)) if p is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        msg = f"the page's browser test needs {', '.join(missing)}: install with {INSTALL}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return chromium, driver


@pytest.fixture()
def browser(tmp_path: Path, monkeypatch):
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    monkeypatch.setenv("SE_OFFLINE", "true")          # never let selenium-manager look for a driver online
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900",
              f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False,
                                           "download.directory_upgrade": True,
                                           "safebrowsing.enabled": False})
    d = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    d.implicitly_wait(0)
    d.downloads = downloads
    try:
        yield d
    finally:
        d.quit()


def _wait(cond, what: str, timeout: float = 15.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(300)
def test_the_page_in_headless_chromium(browser, page: he.Page, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    html_path, _ = he.write_page(page, tmp_path / "human_eval")
    d = browser
    by_id = lambda i: d.find_element(By.ID, i)          # noqa: E731
    text = lambda i: by_id(i).text                      # noqa: E731

    def current() -> he.Pair:
        return page.pairs[int(text("position")) - 1]

    d.get(html_path.as_uri())
    assert d.title == "test page" and text("page-id") == page.page_id
    assert by_id("login").is_displayed() and not by_id("task").is_displayed()
    by_id("start").click()                                                 # no annotator id yet
    assert "annotator id" in text("login-error") and not by_id("task").is_displayed()
    by_id("annotator").send_keys("ana")
    by_id("start").click()
    assert by_id("task").is_displayed() and text("annotator-name") == "ana"
    assert text("position") == "1" and text("progress") == "0 / 5 judged"
    p0 = page.pairs[0]
    assert text("question") == p0.question and text("text-A") == p0.text("A") and text("text-B") == p0.text("B")

    made: dict[str, str] = {}                                              # pair_id -> choice, as clicked
    for choice in ("A", "B", "tie"):
        p = current()
        by_id(f"choose-{choice}").click()
        made[p.pair_id] = choice
    assert text("progress") == "3 / 5 judged" and text("position") == "4"
    script_pair = next(p for p in page.pairs if p.question_id == "q2")     # the chain holding "</script>"
    d.find_elements(By.CSS_SELECTOR, ".dot")[page.pairs.index(script_pair)].click()
    side = "A" if script_pair.a == "student" else "B"
    assert SCRIPT_TEXT in text(f"text-{side}") and not d.find_elements(By.CSS_SELECTOR, ".chain b")

    # reload: the same annotator resumes with the judgments made so far, at the pair last shown
    d.refresh()
    _wait(lambda: by_id("task").is_displayed(), "the page to resume")
    assert text("annotator-name") == "ana" and text("progress") == "3 / 5 judged"
    d.find_elements(By.CSS_SELECTOR, ".dot")[0].click()
    assert text("position") == "1" and "A is better" in text("status")
    assert "chosen" in by_id("choose-A").get_attribute("class")

    # another annotator starts from nothing; switching back restores ana's progress
    by_id("switch").click()
    by_id("annotator").send_keys("bob", Keys.ENTER)
    assert text("annotator-name") == "bob" and text("progress") == "0 / 5 judged"
    bob_pair = current()
    by_id("choose-B").click()
    by_id("export").click()
    bob_file = _wait(lambda: next(iter(d.downloads.glob("*-bob.json")), None), "bob's export")
    by_id("switch").click()
    by_id("annotator").send_keys("ana")
    by_id("start").click()
    assert text("progress") == "3 / 5 judged"

    # change a judgment (the same pair, not a second judgment), then finish with the keyboard
    d.find_elements(By.CSS_SELECTOR, ".dot")[0].click()
    by_id("choose-B").click()
    made[page.pairs[0].pair_id] = "B"
    assert text("progress") == "3 / 5 judged"
    body = d.find_element(By.TAG_NAME, "body")
    for key, choice in (("1", "A"), ("3", "B")):
        p = current()
        assert p.pair_id not in made
        body.send_keys(key)
        made[p.pair_id] = choice
    assert text("progress") == "5 / 5 judged" and by_id("done").is_displayed()

    by_id("export").click()
    ana_file = _wait(lambda: next((f for f in d.downloads.glob("*-ana.json")
                                   if not f.name.endswith(".crdownload") and f.stat().st_size), None), "ana's export")
    assert ana_file.name == f"judgments-{page.page_id}-ana.json"
    exported = json.loads(ana_file.read_text())
    assert exported["page_id"] == page.page_id and exported["annotator"] == "ana" and exported["n_pairs"] == 5
    assert {r["pair_id"]: r["choice"] for r in exported["judgments"]} == made
    assert json.loads(by_id("export-json").get_attribute("value")) == exported
    assert all(r["seconds"] >= 0 and r["judged_at"].endswith("Z") for r in exported["judgments"])

    # re-import what the browser exported, and analyse it
    js = he.load_judgments([ana_file, bob_file], page)
    assert len(js) == 6 and {j.annotator for j in js} == {"ana", "bob"}
    want = {pid: page.pair(pid).winner(c) for pid, c in made.items()}
    assert {j.pair_id: j.winner for j in js if j.annotator == "ana"} == want
    a = he.analyse(js, page)
    allp = a["subsets"][0]
    bob_w = bob_pair.winner("B")
    winners = list(want.values()) + [bob_w]
    assert (allp["student_better"], allp["tie"], allp["teacher_better"]) == (
        winners.count("student"), winners.count("tie"), winners.count("teacher"))
    assert {r["annotator"]: r["judgments"] for r in a["per_annotator"]} == {"ana": 5, "bob": 1}
    assert a["agreement"]["annotator_pairs"] == 1

    # tampered copies of the browser's export are rejected with one line naming file, row and field
    dup = dict(exported, judgments=exported["judgments"] + [dict(exported["judgments"][0])])
    f = _write(tmp_path / "dup.json", dup)
    with pytest.raises(he.JudgmentError, match=r"dup\.json, judgments row 6, field 'pair_id': duplicate"):
        he.load_judgments([f], page)
    bad = copy.deepcopy(exported)
    bad["judgments"][1]["choice"] = "both"
    f = _write(tmp_path / "bad.json", bad)
    with pytest.raises(he.JudgmentError, match=r"bad\.json, judgments row 2, field 'choice': 'both' is not"):
        he.load_judgments([f], page)
    twice = _write(tmp_path / "again.json", exported)                    # the same export dropped in twice
    with pytest.raises(he.JudgmentError, match="duplicate"):
        he.load_judgments([ana_file, twice], page)
