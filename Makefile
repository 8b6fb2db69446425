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
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (apibehave)"
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install apibehave with all extras (pinned)

run: $(STAMP) ## the whole workbench on embedded defaults: apibehave pipeline (notebooks 01-07)
	$(BIN)/apibehave pipeline --params $(PARAMS) -p data.dir=$(DATA_DIR) -p export.bundle_dir=$(BUNDLE)
	@echo
	@echo "How to look:"
	@echo "  make lab        JupyterLab on the project's kernel (notebooks/, executed copies in runs/)"
	@echo "  make mlflow-ui  MLflow UI: runs, metrics, figures, the registered model (http://127.0.0.1:5000)"
	@echo "  make enforce    serve $(BUNDLE) to gateways (the sideband enforcer)"

lab: $(STAMP) ## JupyterLab on the project's kernel, loopback only
	$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser --notebook-dir .

mlflow-ui: $(STAMP) ## the MLflow UI over mlruns/ (runs, figures, registry), loopback only
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --default-artifact-root ./mlruns/artifacts --host 127.0.0.1 --port 5000

ENFORCE_HOST ?= 127.0.0.1
ENFORCE_PORT ?= 8090
ENFORCE_LOG_PORT ?= 8091

enforce: $(STAMP) ## serve $(BUNDLE) to gateways (sideband enforcer on ENFORCE_HOST:ENFORCE_PORT)
	@test -f $(BUNDLE)/manifest.json -o -f $(BUNDLE) || { echo "no bundle at $(BUNDLE): run 'make run' first, or make enforce BUNDLE=path"; exit 2; }
	$(BIN)/apibehave enforce --bundle $(BUNDLE) --host $(ENFORCE_HOST) --port $(ENFORCE_PORT) --log-udp-port $(ENFORCE_LOG_PORT) --state-dir enforce-state

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

.PHONY: help venv run lab mlflow-ui enforce test lint format bench lock clean
