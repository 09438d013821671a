"""The command line speaks one language: `--help` shows every choice and default, and a user error (unknown
name, missing file, bad row, unreachable endpoint) is one line on stderr with exit code 2, never a traceback.
Only cheap commands run here (no model is loaded)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.cli import build_parser, main
from helpers.config import UnknownName, UserError

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def one_line_error(r: subprocess.CompletedProcess) -> str:
    """Exit code 2 and exactly one line on stderr (no traceback, no usage block); returns that line."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------------- --help

def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, (*prefix, name))


def test_every_option_of_every_command_shows_its_default():
    commands = dict(_subcommands(build_parser()))
    assert {" ".join(k) for k in commands} >= {"data check", "data download", "models", "models check", "sample",
                                                "train", "evaluate", "run", "bench", "serve"}
    for path, parser in commands.items():
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS or action.required \
                    or isinstance(action, argparse._HelpAction):
                continue
            text = " ".join(parser._get_formatter()._format_action(action).split())
            assert "default" in text, (" ".join(path), text)

def test_help_lists_the_registries():
    from helpers.models import REGISTRY
    from helpers.profiles import PROFILES
    from helpers.rationales import CORPORA
    from helpers.targets import CONDITIONS
    from helpers.tasks import TASKS

    causal = [n for n, s in REGISTRY.items() if s.kind == "causal"]
    out = {cmd: " ".join(cli(*cmd.split(), "--help").stdout.split()) for cmd in
           ("sample", "train", "evaluate", "models check", "data download", "run")}
    for cmd in ("sample", "train", "evaluate"):
        assert all(t in out[cmd] for t in TASKS), cmd
        assert all(m in out[cmd] for m in causal), cmd
        assert "--data-dir" in out[cmd] and "--seed" in out[cmd] and "(default: 0)" in out[cmd]
    assert all(c in out["sample"] for c in CORPORA)
    assert "--n N samples per question (paper: 30) (default: 4)" in out["sample"]
    assert "{supervised,few_shot}" in out["sample"] and "(default: few_shot)" in out["sample"]
    assert "(default: train)" in out["sample"] and "(default: dev)" in out["evaluate"]
    assert all(c in out["train"] for c in CONDITIONS) and "(default: scotd)" in out["train"]
    assert "(default: supervised)" in out["train"]
    for cmd in ("train", "evaluate", "run"):
        assert "{" + ",".join(sorted(PROFILES)) + "}" in out[cmd] and "(default: course)" in out[cmd]
    assert "--n N samples per question for --decode sc" in out["evaluate"]
    assert all(m in out["models check"] for m in REGISTRY)
    assert "imdb_contrast, rationales" in out["data download"] and "(default: data)" in out["data download"]


def test_python_m_helpers_serve_is_the_serve_command():
    r = subprocess.run([sys.executable, "-m", "helpers.serve", "--help"], cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert r.returncode == 0 and "python -m helpers serve" in r.stdout and "(default: smollm2-135m)" in r.stdout
    assert "invalid choice" not in r.stderr
    line = one_line_error(cli("serve", "--faults", "429,boom"))
    assert "unknown fault 'boom'" in line


# ---------------------------------------------------------------------------------------- unknown names

@pytest.mark.parametrize("args,needles", [
    (("sample", "--task", "squad", "--replay", "mario", "--out", "x"), ["--task", "'squad'", "quarel", "csqa"]),
    (("sample", "--task", "quarel", "--split", "validaton", "--replay", "mario", "--out", "x"),
     ["--split", "'validaton'", "validation", "r1_dev"]),
    (("sample", "--task", "sst2", "--split", "train", "--replay", "mario", "--out", "x"),
     ["task 'sst2' has no split 'train'", "['validation']"]),
    (("sample", "--task", "quarel", "--replay", "gpt4", "--out", "x"), ["'gpt4'", "mario_gpt3", "cose_v1.11"]),
    (("sample", "--task", "quarel", "--split", "dev", "--replay", "mario", "--out", "x"),
     ["'mario_gpt3' has no rationales for quarel/dev", "quarel/train"]),
    (("sample", "--task", "quarel", "--model", "gpt-5", "--out", "x"), ["unknown model 'gpt-5'", "smollm2-135m"]),
    (("train", "--task", "quarel", "--target", "cot_sideways", "--out", "x"), ["--target", "scotd", "label_only"]),
    (("train", "--task", "quarel", "--profile", "huge", "--out", "x"), ["--profile", "'huge'", "course", "smoke"]),
    (("train", "--task", "quarel", "--model", "opt-1.3b", "--out", "x"), ["'opt-1.3b'", "smollm2-135m", "hub id"]),
    (("evaluate", "--task", "quarel", "--model", "nope", "--out", "x"), ["unknown model 'nope'", "qwen2.5-0.5b"]),
    (("evaluate", "--task", "quarel", "--split", "tset", "--model", "smollm2-135m", "--out", "x"), ["'tset'", "dev"]),
    (("models", "check", "--model", "gpt2"), ["'gpt2'", "smollm2-135m", "minilm"]),
    (("run", "--profile", "huge"), ["'huge'", "smoke"]),
    (("data", "download", "--task", "squad"), ["'squad'", "imdb_contrast", "rationales"]),
    (("sweep", "--grid", "coinflip-converge-confirm", "--conditions", "scotd"),
     ["unknown condition(s) ['scotd']", "'coinflip-converge-confirm'", "greedy_cot", "label_only"]),
    (("sweep", "--grid", "creatures-screen", "--seeds", "3"), ["unknown seed(s) [3]", "valid: [0]"]),
])
def test_unknown_names_are_one_line_errors_naming_the_valid_ones(args, needles):
    line = one_line_error(cli(*args))
    assert all(n in line for n in needles), line


@pytest.mark.parametrize("old,new", [(("sample", "--teacher", "smollm2-135m"), "--model"),
                                     (("sample", "--filter", "supervised"), "--setting"),
                                     (("train", "--student", "smollm2-135m"), "--model"),
                                     (("evaluate", "--k", "5"), "--n"),
                                     (("data", "download", "--tasks", "quarel"), "--task"),
                                     (("data", "download", "--out", "data"), "--data-dir")])
def test_renamed_flags_name_the_new_one(old, new):
    line = one_line_error(cli(*old))
    assert f"use {new}" in line


def test_lookups_raise_user_errors_that_stay_key_and_value_errors():
    from helpers import rationales, targets, tasks
    for call in (lambda: tasks.get_spec("squad"), lambda: tasks.split_path("sst2", "train"),
                 lambda: rationales.get_corpus("gpt4"), lambda: targets.get_condition("cot_sideways")):
        with pytest.raises(UnknownName) as ei:
            call()
        assert isinstance(ei.value, (KeyError, ValueError, UserError)) and "\n" not in str(ei.value)
        assert not str(ei.value).startswith("'")            # the plain message, not KeyError's repr
    assert issubclass(tasks.DataError, UserError) and issubclass(tasks.DataError, ValueError)


# --------------------------------------------------------------------------------- files, rows, endpoints

def test_missing_files_are_one_line_errors(tmp_path):
    line = one_line_error(cli("train", "--task", "quarel", "--corpus", str(tmp_path / "nope.jsonl"), "--out", "x"))
    assert "file not found" in line and "nope.jsonl" in line
    line = one_line_error(cli("data", "check", "--data-dir", str(tmp_path / "nowhere")))
    assert "does not exist" in line and "nowhere" in line
    line = one_line_error(cli("sample", "--task", "quarel", "--replay", "mario", "--data-dir", str(tmp_path),
                              "--out", str(tmp_path / "c.jsonl")))
    assert "quarel/train.jsonl: file not found" in line


def test_data_check_bad_row_is_one_line_data_error(tmp_path):
    bad = tmp_path / "quarel" / "dev.jsonl"
    bad.parent.mkdir(parents=True)
    row = {"id": "q1", "question": "Which?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}],
           "answer": "B"}
    bad.write_text(json.dumps(row) + "\n" + json.dumps({**row, "id": "q2", "answer": "Z"}) + "\n")
    r = cli("data", "check", "--data-dir", str(tmp_path))
    line = one_line_error(r)
    assert line == f"error: {bad}, line 2, field 'answer': answer 'Z' is not among the choices ['A', 'B']"
    assert "MISSING" in r.stdout                             # the table still lists every file
    # the same row through a command that loads it: the same one-line DataError
    line = one_line_error(cli("sample", "--task", "quarel", "--split", "dev", "--model", "smollm2-135m",
                              "--data-dir", str(tmp_path), "--out", str(tmp_path / "c.jsonl")))
    assert f"{bad}, line 2, field 'answer'" in line


def test_unreachable_endpoint_is_a_quick_one_line_error(tmp_path):
    t0 = time.monotonic()
    r = cli("sample", "--task", "quarel", "--limit", "2", "--endpoint", "http://127.0.0.1:9/v1", "--retries", "0",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "c.jsonl"), timeout=60)
    line = one_line_error(r)
    assert "cannot reach http://127.0.0.1:9/v1" in line and "connection failed (1 attempt)" in line
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "c.jsonl").exists()


def test_sample_needs_exactly_one_teacher(tmp_path):
    assert "no teacher" in one_line_error(cli("sample", "--task", "quarel", "--out", "x"))
    assert "not allowed with argument" in one_line_error(
        cli("sample", "--task", "quarel", "--endpoint", "http://127.0.0.1:9/v1", "--replay", "mario", "--out", "x"))
    assert "takes no --model" in one_line_error(
        cli("sample", "--task", "quarel", "--replay", "mario", "--model", "smollm2-135m", "--out", "x"))
    # llama.cpp runs a registry model's GGUF here: not a server, not a replay, not a hub id
    for extra in (("--endpoint", "http://127.0.0.1:9/v1"), ("--model", "HuggingFaceTB/SmolLM2-135M")):
        line = one_line_error(cli("sample", "--task", "quarel", "--engine", "llama.cpp", *extra, "--out", "x"))
        assert "--engine llama.cpp runs a registry model's GGUF locally" in line and "smollm2-135m" in line


def test_main_returns_exit_codes_in_process(capsys):
    assert main(["train", "--task", "quarel", "--target", "nope", "--out", "x"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert main(["sample", "--task", "sst2", "--replay", "mario", "--out", "x"]) == 2
    assert capsys.readouterr().err == "error: task 'sst2' has no split 'train'; splits: ['validation']\n"
    assert main(["models", "check", "--help"]) == 0


@pytest.mark.parametrize("args, expected", [
    (("sample", "--task", "quarel", "--replay", "mario", "--n", "-1", "--out", "x"), "argument --n: -1 is out of range: must be ≥ 1"),
    (("sample", "--task", "quarel", "--replay", "mario", "--n", "0", "--out", "x"), "argument --n: 0 is out of range: must be ≥ 1"),
    (("sample", "--task", "quarel", "--replay", "mario", "--limit", "-5", "--out", "x"), "argument --limit: -5 is out of range"),
    (("sample", "--task", "quarel", "--replay", "mario", "--n", "two", "--out", "x"), "argument --n: 'two' is not a whole number"),
    (("sample", "--task", "quarel", "--endpoint", "localhost:8000", "--out", "x"), "'localhost:8000' is not an http(s) URL"),
    (("sample", "--task", "quarel", "--replay", "mario", "--temperature", "-0.5", "--out", "x"), "must be ≥ 0"),
    (("sample", "--task", "quarel", "--replay", "mario", "--shots", "-1", "--out", "x"), "argument --shots: -1 is out of range"),
    (("train", "--task", "quarel", "--target", "label_only", "--max-steps", "0", "--out", "x"), "--max-steps: 0 is out of range"),
    (("train", "--task", "quarel", "--target", "label_only", "--lr", "0", "--out", "x"), "--lr: 0 is out of range: must be > 0"),
    (("train", "--task", "quarel", "--target", "masked_after", "--mask-p", "1.5", "--out", "x"), "must be ≥ 0 and ≤ 1"),
    (("serve", "--port", "70000"), "--port: 70000 is out of range"),
    (("cache", "prune", "--what", "weights", "--older-than", "-1"), "--older-than: -1 is out of range"),
])
def test_counts_sizes_and_urls_are_validated_in_one_line(args, expected):
    """Every count and size is checked before anything runs: one line, exit code 2 (never an empty corpus
    written for --n 0, never --limit -5 read as "all but the last 5", never a requests traceback)."""
    assert expected in one_line_error(cli(*args))


def test_an_endpoint_without_a_scheme_is_a_clear_error_in_the_teacher_too():
    from helpers.config import UserError
    from helpers.teacher import HTTPTeacher
    with pytest.raises(UserError, match="not an http\\(s\\) URL"):
        HTTPTeacher("localhost:8000")
