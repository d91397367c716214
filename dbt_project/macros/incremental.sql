{#- Incremental staging and row-wise marts (decision 0062).

    `_ingested_at` (the time a row's batch was loaded, set by pipelines/ingest/loader.py; the
    same column orders the versions of a key in `latest_per_key`) is carried from raw into
    staging and the row-wise marts. A model's watermark is the newest `_ingested_at` it holds:
    raw rows loaded after it are new. The watermark can only be lower than the newest row an
    earlier build read (rows it read but did not keep, rows erased since), never higher,
    so a lower one only re-processes rows; ingestion and dbt never overlap (DuckDB lets one
    process write the file at a time). `dbt build --full-refresh` rebuilds from raw. -#}

{#- Incremental on DuckDB; Spark's parquet tables cannot delete+insert, so a table there. #}
{% macro incremental_or_table() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{#- Does {{ this }} (the model's existing table) have `column`? #}
{% macro this_has_column(column) -%}
    {{ return(execute and column in (adapter.get_columns_in_relation(this)
                                     | map(attribute='name') | map('lower') | list)) }}
{%- endmacro %}

{#- A per-customer mart (decision 0089): incremental on DuckDB, rebuilt by whole customers
    (delete+insert on customer_id), merged-away ids deleted after each build. #}
{% macro per_customer_mart() -%}
    {{ config(
        materialized=incremental_or_table(),
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='append_new_columns',
        post_hook=["{{ delete_vanished_customers() }}"],
    ) }}
{%- endmacro %}

{#- True when `expr` (an `_ingested_at`) is newer than the newest `column` in {{ this }}, or
    when {{ this }} has no such column yet (a table built before it was added: every row is
    re-processed once, and on_schema_change='append_new_columns' adds the column). Only for
    use inside `{% if is_incremental() %}`. #}
{% macro newer_than_this(expr, column='_ingested_at') -%}
    {%- if this_has_column(column) -%}
        coalesce({{ expr }} > (select max({{ column }}) from {{ this }}), true)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The rows of CTE `joined` a row-wise mart takes on an incremental run: rows newer than
    {{ this }} holds, and rows whose customer_id changed since (identity merges and splits).
    A full build takes every row. #}
{% macro new_or_remapped_rows(key_columns) -%}
select joined.* from joined
{%- if is_incremental() %}
left join {{ this }} as existing
    on {% for key in key_columns %}{% if not loop.first %} and {% endif -%}
    existing.{{ key }} = joined.{{ key }}{% endfor %}
where {{ newer_than_this('joined._ingested_at') }}
    or (existing.{{ key_columns[0] }} is not null
        and existing.customer_id is distinct from joined.customer_id)
{%- endif %}
{%- endmacro %}

{#- Per-customer marts (decision 0089): the customers to build, with their newest record's
    `_ingested_at` and `_records_hash` (an order-free hash of their records' keys). A full
    build takes every customer. An incremental run rebuilds whole customers: those holding a
    record newer than {{ this }} holds, and those whose set of records changed (a new
    customer, a merge, a split, a record moved or erased: another `_records_hash`).
    `members`: a CTE of every current identity-map row (customer_id, source_system,
    source_record_id, _ingested_at). A table built before these columns existed rebuilds
    every customer once. -#}
{% macro customers_to_rebuild(members) -%}
select now_.*
from (
    select customer_id, max(_ingested_at) as _ingested_at, {{ record_set_hash() }} as _records_hash
    from {{ members }}
    group by customer_id
) as now_
{%- if is_incremental() and this_has_column('_records_hash') %}
left join (select distinct customer_id, _records_hash from {{ this }}) as before_
    on before_.customer_id = now_.customer_id
where before_._records_hash is null
    or before_._records_hash <> now_._records_hash
    or {{ newer_than_this('now_._ingested_at') }}
{%- endif %}
{%- endmacro %}

{#- After an incremental build of a per-customer mart: customers no longer in the identity
    map (merged into another id) lose their rows. A post-hook. -#}
{% macro delete_vanished_customers() -%}
{%- if is_incremental() -%}
delete from {{ this }} where customer_id not in
    (select customer_id from {{ source('identity', 'customer_map') }})
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- The columns of `relation` but `excluded`, each prefixed with `alias.`: a portable
    `select * exclude (...)`. -#}
{% macro columns_except(relation, excluded, alias) -%}
{%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name')
                | reject('in', excluded) | list if execute else [] -%}
{%- for name in names %}{{ alias }}.{{ adapter.quote(name) }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}
