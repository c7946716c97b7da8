# One command set for developers and CI (.ci/run calls `make test`). `make help` lists targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# Prefer the project's virtualenv when it exists, else whatever is on PATH.
BIN := $(if $(wildcard .venv/bin/python),.venv/bin/,)
PYTHON := $(if $(BIN),$(BIN)python,python3)
KAFKA_PORT ?= 9092

.PHONY: help lint types imports pytest test fmt kafka-up kafka-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

lint: ## ruff lint and format check
	$(BIN)ruff check .
	$(BIN)ruff format --check .

types: ## mypy --strict over the packages configured in pyproject.toml
	$(BIN)mypy

imports: ## import-linter contracts (architecture boundaries)
	$(BIN)lint-imports

pytest: ## the test suite; "no tests collected" (exit 5) fails too
	@rc=0; $(PYTHON) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

test: lint types imports pytest ## lint + types + imports + pytest (the README/CI command)

fmt: ## apply ruff fixes and formatting
	$(BIN)ruff check --fix .
	$(BIN)ruff format .

kafka-up: ## start the local dev broker on 127.0.0.1:$(KAFKA_PORT) (no Docker)
	$(PYTHON) -m ops.kafka start --port $(KAFKA_PORT)

kafka-down: ## stop the local dev broker
	$(PYTHON) -m ops.kafka stop
