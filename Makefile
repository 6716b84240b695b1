# Every target installs what it needs into .venv first. The install reruns only
# when pyproject.toml is newer than the stamp, so repeated runs are fast.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint bench install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(STAMP)
	exec $(VENV)/bin/one-bus dev

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Each benchmark compares against a baseline in the same run: `make bench BENCH_ARGS=--rounds=5`.
BENCH_ARGS ?=
bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks $(BENCH_ARGS)
