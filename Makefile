SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# Expanded when a recipe runs, i.e. after the bootstrap prerequisite may have installed uv.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN = $(UV) run --frozen
# pytest-xdist workers for `make test` (tests/conftest.py: the tests sharing an expensive
# session fixture share a worker); `make test TEST_WORKERS=0` runs in one process
TEST_WORKERS ?= 2

.PHONY: help bootstrap bootstrap-demo bootstrap-test demo test test-fast lint fmt bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

bootstrap:  ## uv and the locked virtualenv
	bash scripts/bootstrap.sh

bootstrap-demo:
	bash scripts/bootstrap.sh demo

bootstrap-test:
	bash scripts/bootstrap.sh test

demo: bootstrap-demo  ## the whole pipeline on embedded defaults
	$(RUN) aircarbon demo

test: bootstrap-test  ## tests, lint, format check and types: what CI runs
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadgroup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

test-fast: bootstrap  ## the inner loop: tests not marked slow or integration; no lint (tests/README.md)
	$(RUN) pytest -q -m "not slow and not integration"

lint: bootstrap  ## ruff and mypy, no tests
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

fmt: bootstrap  ## fix what ruff can fix and format
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: bootstrap  ## run every benchmark, writing its section of docs/benchmarks.md
	@# as modules (python -m benchmarks.NAME): run as scripts, benchmarks/ingest.py and
	@# benchmarks/transforms.py would shadow the ingest and transforms packages
	@for script in benchmarks/[a-z]*.py; do \
		name=$$(basename "$$script" .py); echo "== benchmarks.$$name"; \
		$(RUN) python -m "benchmarks.$$name" --write || exit 1; \
	done

clean:  ## remove caches and build output (not .venv, not data)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
	find . -path ./.venv -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 \
		| xargs -0 rm -rf
