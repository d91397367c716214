"""Prepare the persistent Dagster instance under the data directory ($DAGSTER_HOME)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.config import export_env, settings

TEMPLATE = Path(__file__).with_name("dagster.yaml")


def prepare_instance() -> Path:
    """Create $DAGSTER_HOME with the project's dagster.yaml (pool limit 1) if missing."""
    export_env()
    home = settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


if __name__ == "__main__":
    prepare_instance()
