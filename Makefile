# The front door: every command the README shows is a target here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
ARCH ?= $(shell uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')
IMAGE ?= portfolio-backend:latest
EVENT ?= events/http-v2/get-health.json
PYTEST_ARGS ?=
# Podman set-up (as root) unless a Docker daemon already answers.
CONTAINERS := docker info >/dev/null 2>&1 || bash scripts/setup-containers.sh
# The quick loop: everything that needs no container engine.
FAST := not image and not sam and not arm64 and not slow

.PHONY: help venv run migrate test test-fast lint format fuzz events image base-image local invoke bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.txt
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## Create the virtualenv with runtime and dev dependencies

run: venv migrate ## Serve the API on http://127.0.0.1:8000 (SQLite unless DATABASE_URL is set)
	$(VENV)/bin/uvicorn --factory app.main:create_app --host 127.0.0.1 --port 8000 --reload

migrate: venv ## Apply migrations to DATABASE_URL (the local SQLite file by default)
	$(PY) -m app.migrate

test: venv lint ## Lint, then the whole suite: service, image, SAM, arm64 (sets up what it needs)
	$(CONTAINERS)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv ## The suite without container builds (a minute or two)
	$(PY) -m pytest -m "$(FAST)" $(PYTEST_ARGS)

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

image: ## Build $(IMAGE) for ARCH (host architecture by default)
	ARCH=$(ARCH) bash scripts/engine.sh build $(IMAGE)

local: ## Run the image under the real Lambda emulator on port 9000
	ARCH=$(ARCH) bash scripts/engine.sh run-local $(IMAGE)

invoke: ## POST EVENT (a file in events/) to the local emulator and print the response
	bash scripts/engine.sh invoke $(EVENT)

bench: venv ## Cold-start benchmark of the image against the alternatives (bench/)
	$(CONTAINERS)
	$(PY) bench/coldstart.py $(BENCH_ARGS)

clean: ## Remove the virtualenv, caches and the local SQLite file
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam portfolio.db
