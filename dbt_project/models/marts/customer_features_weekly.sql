-- Point-in-time features per customer as of each week end (Sunday), built only from events
-- before the end of that Sunday (UTC): windows look backwards over weekly buckets, never forward.
-- One Dagster partition = one week (Monday key); vars snapshot_from / snapshot_to select the
-- weeks to (re)build, or else the environment variables C360_SNAPSHOT_FROM / C360_SNAPSHOT_TO
-- (which Dagster sets: a changed var makes dbt parse the whole project again, a changed
-- environment variable only the files that read it; decision 0098); each build replaces whole
-- weeks.
-- On Spark (no delete) the whole-week replacement is a dynamic overwrite of the snapshot_date
-- partitions (decision 0066).
-- Each week built is one aggregation of every customer's weekly event sums up to that week; a
-- range of weeks is a union of such weeks: no window over a customer x week grid and no join
-- of every week with every earlier one, whose memory and spill grow with the history
-- (decision 0068).
-- Identity changes and late events reach the older weeks (decision 0101): on DuckDB an
-- incremental build deletes the weeks it builds and appends them; its post-hooks then rebuild,
-- in the other weeks, the customers whose rows went stale (macros/snapshot_repair.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite' if target.type == 'spark' else 'append',
    partition_by=['snapshot_date'] if target.type == 'spark' else none,
    pre_hook=[] if target.type == 'spark' else [
        "{{ add_snapshot_column('_records_hash', 'ubigint') }}",
        "{{ add_snapshot_column('_events_ingested_at', 'timestamptz') }}",
        "{{ add_snapshot_column('_events_hash', 'bigint') }}",
        "{{ delete_snapshot_weeks() }}"],
    post_hook=[] if target.type == 'spark' else [
        "{{ find_snapshot_customers_to_rebuild() }}",
        "{{ build_rebuilt_snapshot_rows() }}",
        "{{ replace_rebuilt_snapshot_rows() }}",
        "{{ insert_rebuilt_snapshot_rows() }}"],
) }}

{{ customer_features(feature_weeks()) }}

