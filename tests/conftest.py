import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from pathlib import Path

# No telemetry or analytics calls from the libraries under test (no network here).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@functools.cache
def _migrated_mlflow_store() -> Path:
    """An empty MLflow SQLite store, created once per test process by MLflow itself."""
    from mlflow import MlflowClient

    folder = tempfile.mkdtemp(prefix="mlflow-store-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    store = Path(folder) / "mlflow.db"
    MlflowClient(f"sqlite:///{store}").search_experiments()
    return store


def empty_mlflow_store(tracking_uri: str) -> str:
    """A copy of an empty, migrated MLflow store at the SQLite `tracking_uri` (returned):
    MLflow's schema migrations of a new store take about 5 s, and many tests need their own."""
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_migrated_mlflow_store(), db)
    return tracking_uri


@contextlib.contextmanager
def throwaway_mlflow(tmp_path, experiment: str):
    """A throwaway SQLite MLflow store; MLflow's globals and env vars are restored afterwards.
    Yields the experiment id."""
    import mlflow

    from models_ml import tracking

    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")
    saved = {k: os.environ.get(k) for k in keys}
    store = empty_mlflow_store(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        yield tracking.configure(store, experiment, tmp_path / "artifacts")
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
    empty_mlflow_store(config.settings().mlflow_tracking_uri)
    try:
        yield tmp_path
    finally:
        config.settings.cache_clear()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)

