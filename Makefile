# The two everyday commands are `make run` and `make test`; see README.md.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
PORT ?= 5000
export PORT

PYTEST := pytest --junitxml=test-artifacts

.PHONY: help run test lint db-check bench bench-quick clean

help:
	@echo "make run       start the portal, a Celery worker and beat (http://127.0.0.1:$(PORT))"
	@echo "make test      lint, then the tests on SQLite (and on DATABASE_URL when it is set)"
	@echo "make lint      ruff check and ruff format --check"
	@echo "make db-check  prove the migrations match the models (throwaway SQLite database)"
	@echo "make bench     the benchmarks at full size on PostgreSQL (minutes; see bench/RESULTS.md)"
	@echo "make bench-quick  the same benchmarks at small sizes (seconds; CI runs it)"
	@echo "make clean     remove caches and test artefacts (keeps .venv and instance/)"

$(VENV)/bin/python:
	python3 -m venv $(VENV)

# Reinstall only when the dependencies may have changed.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	python -m pip install --quiet --progress-bar off -e '.[test]'
	touch $@

run: $(STAMP)
	flask --app app db upgrade
	flask --app app portal seed-demo
	honcho start

lint: $(STAMP)
	ruff check .
	ruff format --check .

test: lint
	mkdir -p test-artifacts
	env -u DATABASE_URL -u REDIS_URL $(PYTEST)/junit-sqlite.xml
	if [ -n "$${DATABASE_URL:-}" ]; then $(PYTEST)/junit-database-url.xml; fi

db-check: $(STAMP)
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export DATABASE_URL="sqlite:///$$tmp/check.sqlite"; \
	flask --app app db upgrade; \
	flask --app app db check

# The benchmarks need PostgreSQL (DATABASE_URL, else the local server): they compare with COPY.
bench: $(STAMP)
	mkdir -p bench/out
	python -m bench | tee bench/out/latest.md

bench-quick: $(STAMP)
	python -m bench --quick

clean:
	rm -rf test-artifacts .pytest_cache .ruff_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
