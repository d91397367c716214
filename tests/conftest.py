import contextlib
import os

# No telemetry or analytics calls from the libraries under test (no network here).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@contextlib.contextmanager
def throwaway_mlflow(tmp_path, experiment: str):
    """A throwaway SQLite MLflow store; MLflow's globals and env vars are restored afterwards.
    Yields the experiment id."""
    import mlflow

    from models_ml import tracking

    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        yield tracking.configure(f"sqlite:///{tmp_path}/mlflow.db", experiment,
                                 tmp_path / "artifacts")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def fresh_data_dir(tmp_path, monkeypatch):
    """Settings pointing at an empty data folder `tmp_path` (warehouse, MLflow store, ...),
    with no outside env var choosing another warehouse, store, target or refit policy;
    the settings cache and MLflow's globals are reset afterwards."""
    import mlflow

    from pipelines import config

    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID",
                "C360_WAREHOUSE", "C360_MLFLOW_ARTIFACTS", "C360_ENCRYPTION_KEY",
                "C360_DBT_TARGET", "C360_REFIT", "C360_REFIT_EVERY_WEEKS"):
        monkeypatch.delenv(var, raising=False)  # fmt: skip
    config.settings.cache_clear()
    try:
        yield tmp_path
    finally:
        config.settings.cache_clear()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)

