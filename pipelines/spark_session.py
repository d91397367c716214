"""A SparkSession for this project's two Spark uses: dbt on Spark (`spark_target`) and
Splink's Spark backend (`identity.probabilistic`). Needs the optional `spark` extra."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def spark_session(app: str, scratch: Path, master: str = "local[2]",
                  conf: dict[str, str] | None = None):
    """The active SparkSession, or a new one on `master` named `app`, with Spark's own files
    under `scratch`, UTC, no UI and the settings `conf`. In local mode one shuffle partition
    per core instead of a cluster's 200. Nothing is downloaded: the jars are in the wheels."""
    from pyspark.sql import SparkSession

    # the Python workers that run Python UDFs use this interpreter (its venv), not `python3`
    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.warehouse.dir", str(scratch / "spark-warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if spark.sparkContext.master.startswith("local"):
        spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    return spark
