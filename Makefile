# apibehave: `make run` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params.yaml
DATA_DIR ?= datasets/default
BUNDLE ?= bundles/latest

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[enforce,workbench,dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install apibehave with all extras (pinned)

run: $(STAMP) ## the main job on embedded defaults: simulate, ingest, discover, report, train, replay, evaluate
	$(BIN)/apibehave simulate --params $(PARAMS) --out $(DATA_DIR) --force
	$(BIN)/apibehave ingest $(DATA_DIR)/access.log --format combined --out $(DATA_DIR)/ingested.parquet --force
	$(BIN)/apibehave discover --events $(DATA_DIR)/ingested.parquet --out $(DATA_DIR)/apis.discovered.yaml --force
	$(BIN)/apibehave report usage --events $(DATA_DIR)/train.parquet --apis $(DATA_DIR)/apis.yaml
	$(BIN)/apibehave train --events $(DATA_DIR)/train.parquet --apis $(DATA_DIR)/apis.yaml --params $(PARAMS) --out $(BUNDLE) --force
	$(BIN)/apibehave replay --bundle $(BUNDLE) --events $(DATA_DIR)/test.parquet --out $(DATA_DIR)/decisions.parquet --evidence $(DATA_DIR)/evidence.jsonl --force
	$(BIN)/apibehave report detection --events $(DATA_DIR)/test.parquet --decisions $(DATA_DIR)/decisions.parquet --json $(DATA_DIR)/detection.json --force

test: $(STAMP) ## lint and run the whole test suite
	$(BIN)/ruff check apibehave tests benchmarks
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check apibehave tests benchmarks
	$(BIN)/ruff format --check apibehave tests benchmarks

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix apibehave tests benchmarks
	$(BIN)/ruff format apibehave tests benchmarks

bench: $(STAMP) ## run every benchmark; figures go to benchmarks/results/*.json
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lock: ## re-resolve the pinned versions into requirements/constraints.txt
	rm -rf /tmp/apibehave-lock && $(PYTHON) -m venv /tmp/apibehave-lock
	/tmp/apibehave-lock/bin/pip install --quiet -e '.[enforce,workbench,dev]'
	/tmp/apibehave-lock/bin/pip freeze --exclude-editable | grep -v '^apibehave' > requirements/constraints.txt

clean: ## remove the virtual environment and caches (keeps datasets and mlruns)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

.PHONY: help venv run test lint format bench lock clean
