# Every target installs what it needs into .venv first: `run` only the runtime and the
# embedded servers (`.[embedded]`), the others the dev toolchain too (`.[dev]`). An
# install reruns only when pyproject.toml is newer than its stamp, so repeated runs are
# fast; pip's output goes to $(PIP_LOG) and is shown only if the install fails.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
PIP_LOG := $(VENV)/pip-install.log
PYTEST_ARGS ?=

.PHONY: run test lint bench install

# $(call pip_install,EXTRA): a quiet `pip install -e .[EXTRA]`, its log printed on failure.
define pip_install
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing .[$(1)] into $(VENV) (pip log: $(PIP_LOG))"
	@$(VENV)/bin/python -m pip install --disable-pip-version-check -e '.[$(1)]' \
		>$(PIP_LOG) 2>&1 || { cat $(PIP_LOG); echo "pip install failed: $(PIP_LOG)" >&2; exit 1; }
endef

install: $(STAMP)

$(STAMP): pyproject.toml
	$(call pip_install,dev)
	@touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	$(call pip_install,embedded)
	@touch $@

run: $(RUN_STAMP)
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
