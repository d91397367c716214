"""dbt-duckdb plugin: makes the standardisation functions available to dbt models."""

from dbt.adapters.duckdb.plugins import BasePlugin

from pipelines.standardise import register_udfs


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        register_udfs(conn)
