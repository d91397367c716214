{#- marts.customer_features_weekly (decisions 0068, 0101). -#}

{#- Every dated event a snapshot counts, with its resolved customer_id and the time it was
    loaded. -#}
{% macro feature_events() -%}
    select customer_id, ordered_at as event_at, 1 as paid_orders, amount_cny as revenue_cny,
           0 as refunds, 0 as tickets, 0 as complaints, 0 as social, 0 as responses, _ingested_at
    from {{ ref('orders') }} where is_paid and customer_id is not null
    union all
    select customer_id, ordered_at, 0, 0, 1, 0, 0, 0, 0, _ingested_at
    from {{ ref('orders') }} where order_status = 'refunded' and customer_id is not null
    union all
    select customer_id, occurred_at, 0, 0, 0,
           case when source_system = 'crm' then 1 else 0 end,
           case when is_complaint then 1 else 0 end,
           case when source_system = 'social' then 1 else 0 end, 0, _ingested_at
    from {{ ref('interactions') }} where customer_id is not null
    union all
    select customer_id, responded_at, 0, 0, 0, 0, 0, 0, 1, _ingested_at
    from {{ ref('campaign_members') }} where has_responded and customer_id is not null
{%- endmacro %}

{#- customer_id, event_at, _ingested_at of every event and paid order line a snapshot reads. -#}
{% macro feature_event_times() -%}
    select customer_id, event_at, _ingested_at from ({{ feature_events() }}) as events
    union all
    select customer_id, ordered_at, _ingested_at
    from {{ ref('order_items') }} where is_paid and customer_id is not null
{%- endmacro %}

{#- The Mondays (ISO dates) of the weeks a build makes: every week from `snapshot_from` to
    `snapshot_to` (vars, else the environment variables C360_SNAPSHOT_FROM / _TO, which Dagster
    sets), or else the newest week with events (looked up when the build runs). -#}
{% macro feature_weeks() -%}
    {%- set first = var('snapshot_from') or env_var('C360_SNAPSHOT_FROM', '') %}
    {%- set last = var('snapshot_to') or env_var('C360_SNAPSHOT_TO', '') %}
    {%- if first and last %}
        {%- set start = modules.datetime.date.fromisoformat(first) %}
        {%- set count = ((modules.datetime.date.fromisoformat(last) - start).days // 7) + 1 %}
        {%- set weeks = [] %}
        {%- for i in range(count) %}
            {%- do weeks.append((start + modules.datetime.timedelta(days=7 * i)).isoformat()) %}
        {%- endfor %}
        {{- return(weeks) }}
    {%- elif first or last %}
        {{- exceptions.raise_compiler_error("set both snapshot_from and snapshot_to, or neither") }}
    {%- elif execute %}
        {%- set newest = run_query("select cast(" ~ dbt.date_trunc('week', 'max(event_at)')
                                   ~ " as date) from (" ~ feature_events() ~ ") as events")
                         .columns[0].values()[0] %}
        {%- if newest is none %}
            {{- exceptions.raise_compiler_error("no events: no weekly snapshot to build") }}
        {%- endif %}
        {{- return([modules.datetime.date.fromisoformat(newest | string).isoformat()]) }}
    {%- else %}
        {{- return(['1970-01-05']) }}  {#- parsing: any Monday #}
    {%- endif %}
{%- endmacro %}

{#- The snapshot dates (Sundays) of `weeks` (Mondays), as a SQL list. -#}
{% macro snapshot_dates(weeks) -%}
    {%- for week in weeks -%}
        cast('{{ (modules.datetime.date.fromisoformat(week) + modules.datetime.timedelta(days=6)).isoformat() }}' as date)
        {%- if not loop.last %}, {% endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The newest snapshot date already built outside `weeks`: its rows say which customers the
    older weeks hold (every customer with an event up to a week has a row in it). -#}
{% macro reference_snapshot(weeks) -%}
    (select max(snapshot_date) from {{ this }} where snapshot_date not in ({{ snapshot_dates(weeks) }}))
{%- endmacro %}

{#- Pre-hooks of an incremental build on DuckDB: a table built before decision 0101 gets its
    two columns, empty (its rows count as unchanged until rebuilt). -#}
{% macro add_snapshot_column(column, type) -%}
{%- if is_incremental() -%}
alter table {{ this }} add column if not exists {{ column }} {{ type }}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental build on DuckDB (decision 0101): delete the weeks being built,
    and in every week the rows of customers whose records changed since their rows were built
    (merged away, split, a record moved: gone from marts.customers or another _records_hash)
    or who have a late event (dated up to the newest other week, loaded after its row was
    built). The build then rebuilds those customers in the other weeks and appends. -#}
{% macro delete_snapshot_rows_to_rebuild() -%}
{%- if is_incremental() -%}
    {%- set weeks = feature_weeks() %}
delete from {{ this }}
where snapshot_date in ({{ snapshot_dates(weeks) }})
    or customer_id in (
        select built.customer_id
        from {{ this }} as built
        left join {{ ref('customers') }} as now_ on now_.customer_id = built.customer_id
        where built.snapshot_date = {{ reference_snapshot(weeks) }}
            and (now_.customer_id is null or now_._records_hash <> built._records_hash)
        union all
        select late.customer_id
        from ({{ feature_event_times() }}) as late
        join {{ this }} as built
            on built.customer_id = late.customer_id
            and built.snapshot_date = {{ reference_snapshot(weeks) }}
        where late._ingested_at > built._events_ingested_at
            and late.event_at < cast({{ dbt.dateadd('day', 1, reference_snapshot(weeks)) }} as timestamp)
            and late._ingested_at > (select min(_events_ingested_at) from {{ this }})
    )
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}
