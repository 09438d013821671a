"""HTTP teacher against a real OpenAI-compatible server (helpers.serve running SmolLM2-135M on 127.0.0.1)
with injected faults: 429 + Retry-After, 500, malformed JSON, a dropped connection, the server killed
mid-run (restarted on the same port, now ignoring `n` like llama-server) and a request timeout."""
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.corpus import save_corpus
from helpers.sample_cache import cache_path_for
from helpers.tasks import load_task
from helpers.teacher import HTTPTeacher
from helpers.corpus import sample_corpus

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-cotlab-test-secret-do-not-store"


def start_server(port: int, *extra: str, log: Path) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "helpers.serve", "--model", "smollm2-135m", "--host", "127.0.0.1",
           "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                            stderr=open(log, "ab"), text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if sel.select(timeout=1.0):
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return proc, int(line.strip().rsplit(":", 1)[1].split("/")[0])
    proc.kill()
    raise RuntimeError("server did not become ready in 300 s")


def test_http_teacher_survives_faults_and_a_server_death(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_API_KEY", SECRET)
    log = tmp_path / "serve.log"
    # server 1: POSTs 1-4 fail (429 + Retry-After, 500, malformed JSON, dropped connection), then it works
    proc, port = start_server(0, "--faults", "429,500,malformed,drop", log=log)
    servers = [proc]
    killed = threading.Event()
    cache_dir = tmp_path / "cache"

    def kill_mid_run_and_restart():
        # once the first samples are on disk, SIGKILL the server; restart it on the same port, now
        # ignoring `n` and stalling its first request past the client's timeout
        cache_file = cache_path_for("http:smollm2-135m", cache_dir)
        deadline = time.time() + 400
        while time.time() < deadline:
            if cache_file.exists() and len(cache_file.read_text().splitlines()) >= 3:
                servers[0].kill()
                servers[0].wait()
                killed.set()
                servers.append(start_server(port, "--ignore-n", "--faults", "timeout", "--fault-sleep", "32",
                                            log=log)[0])
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=kill_mid_run_and_restart, daemon=True)
    watcher.start()
    try:
        teacher = HTTPTeacher(f"http://127.0.0.1:{port}/v1", concurrency=2, timeout=30, backoff=0.2,
                              max_backoff=2.0, max_retries=80)
        assert teacher.model == "smollm2-135m" and SECRET not in repr(teacher)
        exs = load_task("quarel", "train", limit=3)
        with pytest.warns(UserWarning, match="ignored n=2"):
            corpus = sample_corpus(teacher, exs, n=2, temperature=1.0, max_new_tokens=6, shots=1, seed=0,
                                   cache=cache_dir, progress=False)
    finally:
        watcher.join(timeout=400)
        for p in servers:
            p.kill()
            p.wait()
    assert killed.is_set() and len(servers) == 2
    assert [len(e.samples) for e in corpus.entries] == [2, 2, 2]
    assert all(s.label in (None, *e.example.options) for e in corpus.entries for s in e.samples)
    retries = teacher.stats["retries"]
    for kind in ("timeout", "429", "500", "malformed_json", "connection"):
        assert retries.get(kind, 0) >= 1, (kind, retries)
    assert teacher.ignores_n                                      # the restarted server ignored n=2
    cache_file = cache_path_for(teacher.teacher_id, cache_dir)
    recs = [json.loads(line) for line in cache_file.read_text().splitlines()[1:]]
    assert len(recs) == 6 and len({(r["key"], r["k"]) for r in recs}) == 6   # none lost, none twice
    assert corpus.meta["usage"]["samples"] == 6 and corpus.meta["usage"]["tokens_out"] > 0
    out = save_corpus(corpus, tmp_path / "c.jsonl")
    for f in (cache_file, out, log):
        assert SECRET not in f.read_text()
    assert all(s.logprob is not None and s.logprob < 0 for e in corpus.entries for s in e.samples)
