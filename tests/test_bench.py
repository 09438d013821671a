"""Bench runner plumbing: JSON-line protocol, table, results file with provenance, the data bench."""
from __future__ import annotations

import json
import shutil
import pytest

from helpers import bench
from helpers.config import UserError

OK_SCRIPT = """
import json
print("warming up")
print(json.dumps({"bench": "toy", "metric": "ops_per_s", "value": 12.5, "unit": "ops/s", "n": 3}))
print(json.dumps({"bench": "toy", "metric": "latency", "value": 0.25, "unit": "s"}))
"""
FAIL_SCRIPT = """
import sys
print('{"bench": "toy", "metric": "partial", "value": 1, "unit": "x"}')
sys.exit("boom: model not found")
"""


def test_parse_output():
    recs, other = bench.parse_output('progress 1/2\n{"bench": "b", "metric": "m", "value": 2, "unit": "u"}\n', "s.py")
    assert recs == [{"bench": "b", "metric": "m", "value": 2, "unit": "u", "script": "s.py"}]
    assert other == ["progress 1/2"]
    with pytest.raises(ValueError, match=r"s.py: stdout line 1: missing keys \['unit'\]"):
        bench.parse_output('{"bench": "b", "metric": "m", "value": 2}', "s.py")
    with pytest.raises(ValueError, match="'value' must be a number"):
        bench.parse_output('{"bench": "b", "metric": "m", "value": "fast", "unit": "u"}', "s.py")
    with pytest.raises(ValueError, match="line 2: invalid JSON"):
        bench.parse_output('ok\n{"bench": ', "s.py")


def test_format_table():
    t = bench.format_table([{"bench": "toy", "metric": "ops", "value": 12345.6, "unit": "ops/s", "n": 3,
                             "script": "bench_toy.py"}])
    lines = t.splitlines()
    assert lines[0].split() == ["bench", "metric", "value", "unit", "details"]
    assert lines[2].split() == ["toy", "ops", "12,346", "ops/s", "n=3"]


def test_run_benchmarks_runs_filters_and_merges(tmp_path, monkeypatch, capsys):
    bdir = tmp_path / "bench"
    bdir.mkdir()
    (bdir / "bench_toy.py").write_text(OK_SCRIPT)
    (bdir / "bench_broken.py").write_text(FAIL_SCRIPT)
    (bdir / "helper.py").write_text("raise SystemExit('not a bench')")
    monkeypatch.setattr(bench, "BENCH_DIR", bdir)
    out = tmp_path / "bench.json"

    assert bench.run_benchmarks(["toy"], out) == []
    text = capsys.readouterr().out
    assert "[bench_toy] warming up" in text and "ops_per_s" in text and "12.5" in text
    res = json.loads(out.read_text())
    assert [r["metric"] for r in res["records"]] == ["ops_per_s", "latency"]
    prov = res["scripts"]["bench_toy.py"]["provenance"]
    assert prov["git_commit"] and prov["machine"]["cpu_count"] >= 1 and prov["machine"]["torch_threads"] >= 1

    assert bench.run_benchmarks(["broken"], str(out)) == ["bench_broken.py"]
    err = capsys.readouterr().err
    assert "boom: model not found" in err and "exit code 1" in err
    res = json.loads(out.read_text())
    assert set(res["scripts"]) == {"bench_toy.py", "bench_broken.py"}          # earlier results kept
    assert res["scripts"]["bench_broken.py"]["error"].startswith("exit code 1")

    with pytest.raises(UserError, match=r"no bench scripts .* matching \['nothing'\]"):
        bench.run_benchmarks(["nothing"], out)
    from helpers.cli import main
    assert main(["bench", "--only", "nothing", "--out", str(out)]) == 2          # one-line error, exit 2
    assert main(["bench", "--only", "broken", "--out", str(out)]) == 1


def test_bench_data_script(data_dir, tmp_path, monkeypatch):
    """The real data bench, on a data dir holding two small splits (keeps the test fast)."""
    for rel in ("quarel/dev.jsonl", "sst2/validation.jsonl"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / rel, tmp_path / rel)
    monkeypatch.setenv("COTLAB_DATA", str(tmp_path))
    res = bench.run_script(bench.BENCH_DIR / "bench_data.py")
    assert res["error"] is None, res["error"]
    by_metric = {r["metric"]: r for r in res["records"]}
    assert set(by_metric) == {"load:quarel/dev", "load:sst2/validation"}
    assert by_metric["load:quarel/dev"]["rows"] == 278 and by_metric["load:quarel/dev"]["value"] > 0
    assert all(r["unit"] == "rows/s" and r["bench"] == "data" for r in res["records"])
