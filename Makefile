# Two commands on a fresh machine: `make test` and `make run` each do their own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Workflow rules call `python -m simplexgrad`: the project's virtualenv comes first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= 2
QUICK_CONFIG ?= config/quick.yaml

.PHONY: setup test test-stress lint run report benchmark clean-venv bedtools

setup: $(INSTALLED) bedtools

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -m pip install --quiet -e '.[test]' 2>&1 | grep -v "is ignored: it is neither"; test $${PIPESTATUS[0]} -eq 0
	touch $@

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
	$(BIN)/ruff check workflow tests benchmarks

test: setup lint
	$(BIN)/python -m pytest

# The stop-signal tests at full strength: 20 stopped training runs per backend instead of 6 (about 10 min).
test-stress: setup
	SIMPLEXGRAD_STOP_TRIES=20 $(BIN)/python -m pytest tests/test_signals.py

# The quick study end to end, then the HTML report.
run: setup
	$(BIN)/snakemake --cores $(CORES) --configfile $(QUICK_CONFIG)
	$(BIN)/snakemake --cores 1 --configfile $(QUICK_CONFIG) --report results/report.html
	@echo "figures: results/synthetic/figures/   tables: results/synthetic/{metrics,angles,summary}.tsv   report: results/report.html"

benchmark: setup
	$(BIN)/python benchmarks/attribution_throughput.py
	$(BIN)/python benchmarks/training_epoch.py --threads 2
	$(BIN)/python benchmarks/angle_penalty_modes.py --threads 2
	$(BIN)/python benchmarks/ensemble_training.py --members 1 10 --num-seqs 2000 --tensorflow

clean-venv:
	rm -rf $(VENV)
