"""The settings sweep (helpers/sweep.py) on a real tiny student: one stamped record per condition and seed,
the generated table, and a second run that reuses every record instead of training again."""
import json

from helpers import sweep
from helpers.protocol import Budget


def test_a_setting_records_each_run_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COTLAB_RESULTS", str(tmp_path / "results"))
    s = sweep.Setting("tiny-coinflip", "coinflip", "scripted:0.1", student="smollm2-tiny", n_train=16, n_samples=2,
                      budget=Budget(steps=2, batch_size=4), conditions=("label_only", "greedy_cot"), eval_limit=6,
                      max_seq_len=128, max_new_tokens=24)
    said = []
    out = sweep.run_setting(s, log=said.append)
    assert [(r["condition"], r["seed"]) for r in out] == [("label_only", 0), ("greedy_cot", 0)]
    assert len(said) == 2 and all(r["train_steps"] == 2 and r["n"] == 6 for r in out)
    runs = sorted((tmp_path / "results" / "sweep" / "runs").glob("*.json"))
    assert [p.name for p in runs] == ["tiny-coinflip__greedy_cot__s0.json", "tiny-coinflip__label_only__s0.json"]
    rec = json.loads(runs[0].read_text())
    assert rec["provenance"]["models"]["student"] == "smollm2-tiny" and rec["setting"]["budget"]["steps"] == 2
    table = (tmp_path / "results" / "sweep" / "README.md").read_text()
    assert "| tiny-coinflip | coinflip | scripted:0.1 | 16 | 2 | greedy_cot |" in table
    students = sorted((tmp_path / "cache" / "students").iterdir())
    said.clear()
    assert sweep.run_setting(s, log=said.append) == out and said == []       # resumed: nothing trained again
    assert sorted((tmp_path / "cache" / "students").iterdir()) == students
