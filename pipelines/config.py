"""All configuration of customer360, read from environment variables in one place.

Every variable is listed in `.env.example`. Paths default to folders under the repository's
`data/` directory so the embedded demo needs no configuration at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    serving_dir: Path
    truth_dir: Path
    contracts_dir: Path
    mlflow_tracking_uri: str
    mlflow_artifacts_dir: Path
    dagster_home: Path
    dbt_target: str
    snapshot_start: str
    duckdb_memory_limit: str
    duckdb_threads: int
    # Splink's own in-memory DuckDB: below the warehouse's limit, because the identity step
    # holds the records in pandas beside it (1.7M records: ~4.5 GB) (decision 0082)
    matcher_memory_limit: str
    default_phone_region: str
    match_threshold: float
    restricted_dir: Path
    landing_settle_seconds: float
    retention_plays_file: Path | None = None  # YAML over models_ml.config.RetentionConfig
    # a source whose newest export was loaded longer ago than this is stale (quality warning)
    freshness_max_hours: float = 192.0
    # the churn model trains on a repeatable sample of customers when the weekly snapshots
    # hold more rows than this; the newest week is always scored in full
    churn_max_train_rows: int = 2_000_000
    # a backfill of weekly snapshots builds at most this many customer-weeks per dbt run: one
    # statement for 60 weeks of 1M customers spilled 54 GB to disk (decision 0081)
    snapshot_rows_per_build: int = 10_000_000
    # model assets train a challenger only when asked (C360_REFIT=1), when the champion is
    # this many weeks old or more, drifted, or cannot score; otherwise they reuse it (0019)
    refit: bool = False
    refit_every_weeks: int = 4
    # the backend Splink matches on: an in-memory DuckDB, or Spark (the `spark` extra and
    # Java 17+; decision 0105) on `spark_master` unless the process already runs in Spark
    splink_backend: str = "duckdb"
    spark_master: str = "local[2]"

    @property
    def privacy_dir(self) -> Path:
        """Suppression list and erasure log (hashes and counts only, no erased values)."""
        return self.data_dir / "privacy"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def quality_dir(self) -> Path:
        return self.data_dir / "quality"


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


SPLINK_BACKENDS = ("duckdb", "spark")


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: must be one of {', '.join(allowed)}")
    return value


@cache
def settings() -> Settings:
    data = _path("C360_DATA_DIR", REPO_ROOT / "data")
    mlflow_dir = data / "mlflow"
    return Settings(
        data_dir=data,
        landing_dir=_path("C360_LANDING_DIR", data / "landing"),
        warehouse_path=_path("C360_WAREHOUSE", data / "warehouse" / "customer360.duckdb"),
        serving_dir=_path("C360_SERVING_DIR", data / "serving"),
        truth_dir=data / "truth",
        contracts_dir=_path("C360_CONTRACTS_DIR", REPO_ROOT / "pipelines" / "contracts"),
        mlflow_tracking_uri=os.environ.get(
            "MLFLOW_TRACKING_URI", f"sqlite:///{mlflow_dir / 'mlflow.db'}"
        ),
        mlflow_artifacts_dir=_path("C360_MLFLOW_ARTIFACTS", mlflow_dir / "artifacts"),
        dagster_home=_path("DAGSTER_HOME", data / "dagster"),
        # with an encryption key the warehouse is an encrypted file: dbt attaches it
        dbt_target=os.environ.get(
            "C360_DBT_TARGET", "encrypted" if os.environ.get("C360_ENCRYPTION_KEY") else "dev"
        ),
        # Monday of the first weekly snapshot partition.
        snapshot_start=os.environ.get("C360_SNAPSHOT_START", "2024-11-18"),
        duckdb_memory_limit=os.environ.get("C360_DUCKDB_MEMORY_LIMIT", "8GB"),
        duckdb_threads=int(os.environ.get("C360_DUCKDB_THREADS", "2")),
        matcher_memory_limit=os.environ.get("C360_MATCHER_MEMORY_LIMIT", "6GB"),
        default_phone_region=os.environ.get("C360_DEFAULT_PHONE_REGION", "CN"),
        # Splink match probability from which two records are linked
        match_threshold=float(os.environ.get("C360_MATCH_THRESHOLD", "0.9")),
        # the full profile with names and contacts, for authorised staff only
        restricted_dir=_path("C360_RESTRICTED_DIR", data / "restricted"),
        retention_plays_file=_path("C360_RETENTION_PLAYS", None) if os.environ.get(
            "C360_RETENTION_PLAYS"
        ) else None,
        # landing files modified more recently than this are left for the next run (a writer
        # may still be writing them)
        landing_settle_seconds=float(os.environ.get("C360_LANDING_SETTLE_SECONDS", "2")),
        # weekly exports plus a day of slack
        freshness_max_hours=float(os.environ.get("C360_FRESHNESS_MAX_HOURS", "192")),
        churn_max_train_rows=int(os.environ.get("C360_CHURN_MAX_TRAIN_ROWS", "2000000")),
        snapshot_rows_per_build=int(os.environ.get("C360_SNAPSHOT_ROWS_PER_BUILD", "10000000")),
        refit=os.environ.get("C360_REFIT", "").strip().lower() in ("1", "true", "yes", "on"),
        refit_every_weeks=int(os.environ.get("C360_REFIT_EVERY_WEEKS", "4")),
        splink_backend=_choice("C360_SPLINK_BACKEND", "duckdb", SPLINK_BACKENDS),
        spark_master=os.environ.get("C360_SPARK_MASTER", "local[2]"),
    )


def export_env() -> None:
    """Expose the resolved settings to subprocesses (dbt reads them through env_var())."""
    s = settings()
    os.environ.setdefault("C360_DATA_DIR", str(s.data_dir))
    os.environ.setdefault("C360_WAREHOUSE", str(s.warehouse_path))
    os.environ.setdefault("C360_DBT_TARGET", s.dbt_target)
    os.environ.setdefault("C360_DUCKDB_MEMORY_LIMIT", s.duckdb_memory_limit)
    os.environ.setdefault("C360_DUCKDB_THREADS", str(s.duckdb_threads))
    os.environ.setdefault("C360_DEFAULT_PHONE_REGION", s.default_phone_region)
    os.environ.setdefault("MLFLOW_TRACKING_URI", s.mlflow_tracking_uri)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no phoning home from GE
    if os.environ.get("C360_ENCRYPTION_KEY"):
        from pipelines.warehouse import extension_directory

        os.environ.setdefault("C360_DUCKDB_EXTENSION_DIR", extension_directory())
