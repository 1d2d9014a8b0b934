# Pier: build, run and check the platform on one machine.
#
#   make run        the whole platform on http://127.0.0.1:3000 (Ctrl-C stops it)
#   make test       lint, types, then every test (what CI runs through .ci/run)
#   make lint | typecheck | clean

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
TOOLS_STAMP := .tools/.installed
BUN_PACKAGE := @oven/bun-linux-x64@1.4.4
# Every Reflex variable lives in this one file; recipes source it.
REFLEX_ENV := . scripts/reflex-env.sh

.PHONY: help venv tools browser run test lint typecheck pytest clean

help:
	@echo "make run | test | lint | typecheck | clean"

# torch first and pinned: that spec takes the CPU wheel from local disk (find-links);
# anything that lets pip resolve torch itself downloads a multi-GB CUDA build.
$(VENV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV_STAMP)

# bun from the npm registry: Reflex would otherwise download it from the internet.
$(TOOLS_STAMP): Makefile
	npm install --no-save --ignore-scripts --no-audit --no-fund --prefix .tools $(BUN_PACKAGE)
	$(REFLEX_ENV) && test -x "$$REFLEX_BUN_PATH" && "$$REFLEX_BUN_PATH" --version
	touch $@

tools: $(TOOLS_STAMP)

# A check, not a stamp: the browser belongs to the machine, not to the checkout.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "The browser tests need /usr/bin/chromium and /usr/bin/chromedriver:" \
			"apt-get install chromium chromium-driver" >&2; \
		exit 1; \
	fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; }

run: $(VENV_STAMP) $(TOOLS_STAMP)
	$(REFLEX_ENV) && exec $(BIN)/pier up

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

# Exit status 5 means pytest collected nothing: a broken test tree, never a pass.
pytest: $(VENV_STAMP) $(TOOLS_STAMP) browser
	$(REFLEX_ENV); export SE_OFFLINE=true; \
	rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$rc" = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit "$$rc"

# Cheap checks first, so a lint error fails in seconds, not after the browser tests.
test: $(VENV_STAMP) $(TOOLS_STAMP) browser
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory pytest

clean:
	rm -rf .pier .web .states .mypy_cache .ruff_cache .pytest_cache .import_linter_cache $(VENV_STAMP) $(TOOLS_STAMP)
