# Two commands on a fresh machine: `make test` and `make run` each do their own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One install stamp per extra set: `make run` installs what the quick study needs, `make test` the test
# extra (every extra, the test tools and the pinned torch); after `make run`, `make test` adds the rest.
EXTRAS_run := workflow,keras,modisco
EXTRAS_test := test
STAMP = $(VENV)/.installed-$(1)
CONSTRAINTS := requirements/constraints.txt
# After a pip command: drop pip's warning for each local index that lacks the package, keep pip's exit status.
PIP_FILTERED = 2>&1 | grep -v "is ignored: it is neither"; test $${PIPESTATUS[0]} -eq 0
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# uv installs without bytecode (tools/uv_install.py): Python writes it into .venv as each module is first
# imported, so it must be allowed to, even where the environment says otherwise.
unexport PYTHONDONTWRITEBYTECODE
# Workflow rules call `python -m simplexgrad`: the project's virtualenv comes first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= 2
QUICK_CONFIG ?= config/quick.yaml

.PHONY: setup setup-run lock test test-fast test-stress lint run report benchmark clean-venv bedtools docs

.PRECIOUS: $(VENV)/.installed-%

setup: $(call STAMP,test) bedtools

setup-run: $(call STAMP,run) bedtools

# pip installs uv, and uv the project (tools/uv_install.py passes it pip's settings: indexes, local wheels),
# at the versions of requirements/constraints.txt; uv unpacks TensorFlow, torch and JAX several times faster
# than pip, and leaves their bytecode to the first imports.
$(VENV)/.installed-%: pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) uv $(PIP_FILTERED)
	$(BIN)/python tools/uv_install.py --quiet --constraint $(CONSTRAINTS) -e '.[$(EXTRAS_$*)]'
	touch $@ $(if $(filter test,$*),$(call STAMP,run))

# BEDTools is a system program: install it with apt when we may, otherwise say how.
bedtools:
	@if ! command -v bedtools >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bedtools with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bedtools >/dev/null; \
	  else \
	    echo "bedtools is missing; install it with:  sudo apt-get install -y bedtools"; exit 1; \
	  fi; \
	fi

lint: setup
	$(BIN)/ruff check workflow tests benchmarks tools

# One pytest worker per core, each test module whole on one worker: a module's shared fixtures (a tiny
# workflow run, the Slurm cluster, the wheels) are made once. The modules with the longest fixtures go
# first (tests/conftest.py orders them; --no-loadscope-reorder keeps that order).
test: setup lint
	$(BIN)/python -m pytest -n $(CORES) --dist loadfile --no-loadscope-reorder

# While editing: the unit and property tests, without the tests marked slow (workflow runs, training, Slurm,
# wheels, stop signals).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# The stop-signal tests at full strength: 20 stopped training runs per backend instead of 6 (about 10 min).
test-stress: setup
	SIMPLEXGRAD_STOP_TRIES=20 $(BIN)/python -m pytest tests/test_signals.py

# The quick study end to end, then the HTML report.
run: setup-run
	$(BIN)/snakemake --cores $(CORES) --configfile $(QUICK_CONFIG)
	$(BIN)/snakemake --cores 1 --configfile $(QUICK_CONFIG) --report results/report.html
	@echo "figures: results/synthetic/figures/   tables: results/synthetic/{metrics,angles,summary}.tsv   report: results/report.html"

# The documentation site, from the library's docstrings: docs/_build/html/index.html.
docs: setup
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "documentation: docs/_build/html/index.html"

# peers.py: simplexgrad against captum, and against CREsted where .venv-crested exists (CRESTED=1 makes it
# first, with pip from PyPI; without it, one line says that part was skipped).
benchmark: setup
	$(BIN)/python benchmarks/attribution_throughput.py
	$(BIN)/python benchmarks/peers.py $(if $(CRESTED),--make-crested-venv)
	$(BIN)/python benchmarks/training_epoch.py --threads 2
	$(BIN)/python benchmarks/angle_penalty_modes.py --threads 2
	$(BIN)/python benchmarks/ensemble_training.py --members 1 10 --num-seqs 2000 --tensorflow
	$(BIN)/python benchmarks/ensemble_chip.py --threads 2
	$(BIN)/python benchmarks/correct_memory.py
	$(BIN)/python benchmarks/report.py

# requirements/constraints.txt again: the versions uv resolves today for the test extra, in a new environment
# (local version labels such as torch's +cpu dropped, so that the file holds on any machine).
lock:
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet uv $(PIP_FILTERED)
	$(VENV)-lock/bin/python tools/uv_install.py --quiet '.[test]' uv
	{ sed -n '/^#/p' $(CONSTRAINTS); $(VENV)-lock/bin/python -m uv pip freeze --python $(VENV)-lock/bin/python \
	  --exclude-editable | grep -v -e '^pip==' -e '^simplexgrad' | sed 's/+[A-Za-z0-9.]*$$//' | sort -f; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && rm -rf $(VENV)-lock

clean-venv:
	rm -rf $(VENV)
