# One command per job. Every target creates what it needs (venv, dev tools) itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MATRIX ?= 3.9 3.10 3.11 3.12 3.13

.PHONY: test lint typecheck pytest matrix demo bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make test: lint, strict types, the whole test suite, then the Python version matrix
test: lint typecheck pytest matrix

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

## make matrix: the suite (without the slow tests) on every CPython 3.9-3.13 this machine has
matrix: $(STAMP)
	bash scripts/matrix.sh --skip "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" $(MATRIX)

## make demo: the bundled SSOT example, red -> diff -> green -> byte-identical revert
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## make bench: speed and memory against the anchors, written to BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python scripts/bench.py --write BENCHMARKS.md

## make docs: regenerate docs/rules.md from the rules' own metadata
docs: $(STAMP)
	$(BIN)/python -m ssot_codemod.docs > docs/rules.md

clean:
	rm -rf $(VENV) .venv-* .mypy_cache .pytest_cache .ruff_cache build src/*.egg-info
