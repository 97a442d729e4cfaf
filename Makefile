# The front door: every command the README shows is a target here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# `make run` and `make migrate`: requirements.txt plus uvicorn, none of the development tools.
RUN_VENV ?= .venv-run
RUN_PORT ?= 8000
ARCH ?= $(shell uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')
IMAGE ?= portfolio-backend:latest
EVENT ?= events/http-v2/get-health.json
PYTEST_ARGS ?=
# What the machine needs (Debian packages; podman unless a Docker daemon answers): see the script.
SETUP := bash scripts/setup.sh
# The quick loop: everything that needs no container engine.
FAST := not image and not sam and not arm64 and not slow
# ... on every core (pytest-xdist; JOBS=0: in one process). Each worker starts its own
# PostgreSQL cluster and S3 server; --dist loadfile keeps each file's tests in one process, in
# order, as they were written (module-level state, fixed names on a shared TEST_DATABASE_URL).
JOBS ?= auto

.PHONY: help venv run migrate seed test test-fast lint format fuzz events image base-image postgres-image local invoke bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(SETUP) run
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.txt
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## Create the virtualenv with runtime and dev dependencies

$(RUN_VENV)/.installed: requirements.txt requirements-serve.txt
	$(SETUP) run
	python3 -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install --quiet --require-hashes -r requirements.txt -r requirements-serve.txt
	touch $@

run: migrate ## Serve the API on http://127.0.0.1:8000 (SQLite unless DATABASE_URL is set)
	$(RUN_VENV)/bin/uvicorn app.main:app --host 127.0.0.1 --port $(RUN_PORT) \
		--reload --reload-dir app --reload-dir migrations

migrate: $(RUN_VENV)/.installed ## Apply migrations to DATABASE_URL (the local SQLite file by default)
	$(RUN_VENV)/bin/python -m app.migrate

seed: migrate ## Add sample projects to DATABASE_URL (the local SQLite file by default)
	$(RUN_VENV)/bin/python -m scripts.seed

test: venv lint ## Lint, then the whole suite: service, image, SAM, arm64 (sets up what it needs)
	$(SETUP) test
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv ## The suite without container builds, on every core (about a minute)
	$(SETUP) fast
	$(PY) -m pytest -m "$(FAST)" -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

lint: venv ## ruff, mypy and hadolint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check app handler.py
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile

format: venv ## Format and fix what ruff can
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format app handler.py

fuzz: venv ## Long randomized schemathesis run (FUZZ_EXAMPLES per operation, default 1000)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest tests/reliability/test_fuzz.py

events: venv ## Regenerate events/ from scripts/generate_events.py
	$(PY) scripts/generate_events.py

base-image: ## Build the offline stand-in for python:3.11-slim (ARCH=arm64 for arm64)
	ARCH=$(ARCH) bash scripts/engine.sh base-image

postgres-image: ## Offline stand-in for postgres:16-alpine (docker-compose.yml's POSTGRES_IMAGE)
	ARCH=$(ARCH) bash scripts/postgres-image.sh

image: ## Build $(IMAGE) for ARCH (host architecture by default)
	ARCH=$(ARCH) bash scripts/engine.sh build $(IMAGE)

local: venv ## Run the image under the real Lambda emulator on port 9000, on a migrated database
	ARCH=$(ARCH) MIGRATE=1 bash scripts/engine.sh run-local $(IMAGE)

invoke: ## POST EVENT (a file in events/, with or without the events/ prefix) to `make local`
	bash scripts/engine.sh invoke $(EVENT)

bench: venv ## Benchmarks (bench/): cold start, visitor latency with the database paused, HTTP host under load
	$(SETUP) test
	$(PY) bench/coldstart.py $(BENCH_ARGS)
	$(PY) bench/paused.py
	ARCH=$(ARCH) bash scripts/engine.sh build $(IMAGE)
	$(PY) bench/http_load.py --tag $(IMAGE)

clean: ## Remove the virtualenv, caches and the local SQLite file
	rm -rf $(VENV) $(RUN_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam portfolio.db
