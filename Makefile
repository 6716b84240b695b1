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

# ONE Bus against the raw limits of its servers, same run (docs/benchmarks.md); writes
# bench-out/bench.json and bench-out/bench.png. `make bench BENCH_ARGS='--rounds 5'`;
# external servers: ONE_NATS_URL=... ONE_MONGODB_URI=... make bench.
BENCH_ARGS ?=
bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks $(BENCH_ARGS)
