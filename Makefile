# The two commands of the README: `make run` and `make test` (the full suite, what CI runs). Each works on a
# fresh machine: it creates .venv, installs torch==2.13.0 (CPU build) first, then the project, pinned.
# `make quick`: the unit and api tiers only (no subprocess kills, browser, Postgres or llama.cpp).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test quick install lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/qa serve --samples examples/docs

test: $(STAMP)
	$(BIN)/python -m pytest -q

quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests/unit tests/api

lint: $(STAMP)
	$(BIN)/ruff check qa tests evals
	$(BIN)/mypy qa

clean:
	rm -rf $(VENV) index/default
