"""A small OpenAI-compatible completions server for a local registry model (stdlib ``http.server``).

    python -m helpers serve --model smollm2-135m --port 8000      # (python -m helpers.serve … still works)
    python -m helpers sample --task quarel --limit 8 --endpoint http://127.0.0.1:8000/v1 --out c.jsonl

Endpoints: ``GET /v1/models``, ``GET /health``, ``POST /v1/completions`` with ``prompt`` (a string),
``n``, ``temperature``, ``max_tokens``, ``stop``, ``logprobs`` and ``seed``. Generation runs through
:class:`helpers.teacher.LocalTeacher` (one request at a time; the model is not thread-safe). It binds
to 127.0.0.1 by default and prints ``READY <base url>`` once it accepts requests (``--port 0`` picks a
free port).

Fault injection, for testing clients (``--faults`` or ``$COTLAB_SERVE_FAULTS``): a comma-separated
schedule applied to successive ``POST /v1/completions`` requests, after which all requests succeed.
Items: ``ok``; ``timeout`` (stall ``--fault-sleep`` seconds, then hang up); ``429`` (with
``Retry-After: 1``); ``500``; ``503``; ``malformed`` (HTTP 200 with a truncated JSON body);
``drop`` (close the connection without answering); ``kill`` (exit the process at once).
``--ignore-n`` answers with one choice whatever ``n`` is (like llama.cpp's server).
"""
from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("ok", "timeout", "429", "500", "503", "malformed", "drop", "kill")
MAX_N = 64
MAX_TOKENS = 1024


def parse_faults(spec: str | None) -> list[str]:
    items = [f.strip() for f in (spec or "").split(",") if f.strip()]
    for f in items:
        if f not in FAULT_KINDS:
            raise ValueError(f"unknown fault {f!r}; choose from {FAULT_KINDS}")
    return items


class CompletionServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, teacher, model_name: str, faults: list[str], fault_sleep: float, ignore_n: bool):
        super().__init__(addr, Handler)
        self.teacher, self.model_name = teacher, model_name
        self.faults, self.fault_sleep, self.ignore_n = list(faults), fault_sleep, ignore_n
        self.gen_lock = threading.Lock()
        self.fault_lock = threading.Lock()
        self.n_posts = 0

    def next_fault(self) -> str:
        with self.fault_lock:
            i = self.n_posts
            self.n_posts += 1
            return self.faults[i] if i < len(self.faults) else "ok"


class Handler(BaseHTTPRequestHandler):
    server: CompletionServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet; one line per request to stderr
        sys.stderr.write(f"[serve] {self.command} {self.path} {fmt % args}\n")

    def _send(self, code: int, obj: Any = None, raw: bytes | None = None, headers: dict | None = None) -> None:
        body = raw if raw is not None else json.dumps(obj).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model",
                                                          "owned_by": "cotlab"}]})
        elif self.path.rstrip("/") == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") not in ("/v1/completions", "/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        fault = self.server.next_fault()
        if fault == "kill":
            os._exit(17)
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault == "429":
            self._send(429, {"error": {"message": "rate limited (injected)"}}, headers={"Retry-After": "1"})
            return
        if fault in ("500", "503"):
            self._send(int(fault), {"error": {"message": "server error (injected)"}})
            return
        if fault == "timeout":          # stall past the client's timeout, then hang up
            time.sleep(self.server.fault_sleep)
            self.close_connection = True
            return
        if fault == "malformed":        # HTTP 200 with a cut-off JSON body
            self._send(200, raw=b'{"id": "cmpl-x", "object": "text_completion", "choices": [{"text": " Th')
            return
        try:
            req = json.loads(raw or b"{}")
            if not isinstance(req, dict) or not isinstance(req.get("prompt"), str):
                raise ValueError("body must be a JSON object with a string 'prompt'")
            n = int(req.get("n", 1))
            max_tokens = int(req.get("max_tokens", 16))
            temperature = float(req.get("temperature", 1.0))
            if not (1 <= n <= MAX_N and 1 <= max_tokens <= MAX_TOKENS and temperature >= 0):
                raise ValueError(f"need 1<=n<={MAX_N}, 1<=max_tokens<={MAX_TOKENS}, temperature>=0")
            stop = req.get("stop") or ()
            stop = (stop,) if isinstance(stop, str) else tuple(stop)
            seed = req.get("seed")
            seed = int(seed) if seed is not None else random.randrange(2 ** 31 - 1)
        except (ValueError, TypeError) as e:
            self._send(400, {"error": {"message": str(e)}})
            return
        if self.server.ignore_n:
            n = 1
        with self.server.gen_lock:
            comps = self.server.teacher.sample_batch([req["prompt"]], n, temperature, max_tokens, seed, stop)[0]
        tok = self.server.teacher.tok
        choices = []
        for i, c in enumerate(comps):
            ch: dict[str, Any] = {"index": i, "text": c.text, "finish_reason": c.finish_reason}
            if req.get("logprobs") is not None:
                toks = [tok.decode([t]) for t in (c.token_ids or [])]
                offs, acc = [], 0
                for t in toks:
                    offs.append(acc)
                    acc += len(t)
                ch["logprobs"] = {"tokens": toks, "token_logprobs": c.token_logprobs, "text_offset": offs}
            else:
                ch["logprobs"] = None
            choices.append(ch)
        out_tokens = sum(c.n_tokens or 0 for c in comps)
        body = {"id": f"cmpl-{seed}", "object": "text_completion", "created": int(time.time()),
                "model": self.server.model_name, "choices": choices,
                "usage": {"prompt_tokens": comps[0].tokens_in, "completion_tokens": out_tokens,
                          "total_tokens": comps[0].tokens_in + out_tokens}}
        self._send(200, body)


def build_server(model: str, host: str = "127.0.0.1", port: int = 8000, faults: list[str] | None = None,
                 fault_sleep: float = 5.0, ignore_n: bool = False, teacher=None) -> CompletionServer:
    from .teacher import LocalTeacher
    teacher = teacher or LocalTeacher(model)
    return CompletionServer((host, port), teacher, model, faults or [], fault_sleep, ignore_n)


if __name__ == "__main__":
    # `python -m helpers.serve …` runs `python -m helpers serve …` (the flags live in helpers.cli)
    os.execv(sys.executable, [sys.executable, "-m", "helpers", "serve", *sys.argv[1:]])
