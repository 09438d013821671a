import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests run against the real data beside the checkout unless COTLAB_DATA says otherwise.
if "COTLAB_DATA" not in os.environ and SHARED_DATA.exists():
    os.environ["COTLAB_DATA"] = str(SHARED_DATA)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Under pytest-xdist (`make test`: one worker per core, at most 2) every worker computes with one thread:
# two processes with torch's default threads on 2 cores spin-wait each other 10-80x slower (README "Threads").
# The workers' subprocesses (notebook kernels, run_units' workers) inherit OMP_NUM_THREADS.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    os.environ.setdefault("COTLAB_TORCH_THREADS", "1")
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    p = Path(os.environ["COTLAB_DATA"])
    if not (p / "README.md").exists() and not (p / "quarel").exists():
        pytest.fail(f"COTLAB_DATA={p} holds no task data: put ../shared beside the checkout or run `make data`")
    return p


@pytest.fixture(scope="session")
def smollm():
    """The real SmolLM2-135M student (dequantized GGUF, converted once into the cache)."""
    from helpers.models import load_model
    return load_model("smollm2-135m")


# The two known versions of the task data: the shared copy (../shared/data, built from GitHub copies) and a
# `make data` download from the hub (data/README.md, "The shared copy versus a download"). Tests pin the
# version they find: QuaRel train has 1930 rows with synthesized ids (quarel_train_NNNN) in the shared
# copy and the official 1941 rows and ids in a download; IMDb rows carry `rating` only in the shared copy.
QUAREL_TRAIN_ROWS = {"shared": 1930, "hub": 1941}


@pytest.fixture(scope="session")
def data_version(data_dir: Path) -> str:
    """``"hub"`` for a `make data` download (it writes ``manifest.json``), else ``"shared"``."""
    return "hub" if (data_dir / "manifest.json").exists() else "shared"


@pytest.fixture(scope="session")
def quarel_train_rows(data_version: str) -> int:
    return QUAREL_TRAIN_ROWS[data_version]


@pytest.fixture
def kill_training(monkeypatch):
    """``kill_training(step)``: every training run started after this call raises ``KeyboardInterrupt`` at the end
    of optimizer step ``step`` (as a killed session would stop it); ``kill_training(None)`` lets runs finish again.
    Everything up to the kill is the real trainer."""
    import helpers.train as train
    build = train.build_trainer

    def kill_at(step):
        if step is None:
            monkeypatch.setattr(train, "build_trainer", build)
            return

        def killed(*a, **kw):
            from transformers import TrainerCallback

            class Kill(TrainerCallback):
                def on_step_end(self, args, state, control, **k):
                    if state.global_step == step:
                        raise KeyboardInterrupt(f"killed after step {step}")
            trainer = build(*a, **kw)
            trainer.add_callback(Kill())
            return trainer
        monkeypatch.setattr(train, "build_trainer", killed)
    return kill_at
