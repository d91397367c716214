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
-- Identity changes reach the older weeks (decision 0101): on DuckDB an incremental build
-- first deletes the weeks it builds and, in all weeks, the rows of customers whose records
-- changed since (delete_snapshot_rows_to_rebuild); it then rebuilds, in the other weeks, every
-- customer with events up to them but no row in the newest of them, and appends.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite' if target.type == 'spark' else 'append',
    partition_by=['snapshot_date'] if target.type == 'spark' else none,
    pre_hook=[] if target.type == 'spark' else [
        "{{ add_snapshot_column('_records_hash', 'ubigint') }}",
        "{{ add_snapshot_column('_events_ingested_at', 'timestamptz') }}",
        "{{ delete_snapshot_rows_to_rebuild() }}"],
) }}

{%- set week_end = 'cast(' ~ dbt.dateadd('day', 7, 'rolled.week_start') ~ ' as timestamp)' %}
{%- set counts = ['paid_orders', 'revenue_cny', 'refunds', 'tickets', 'complaints', 'social',
                  'responses'] %}
{%- set weeks = feature_weeks() %}
{%- set repair = is_incremental() and target.type != 'spark' %}
{#- the aggregations: one per week built, over every customer; then (repair) one over the
    other weeks already built, for the customers to rebuild #}
{%- set parts = [] %}
{%- for week in weeks %}
    {%- do parts.append({'week': "cast('" ~ week ~ "' as date)", 'weekly': 'weekly',
                         'categories': 'new_categories', 'by': ''}) %}
{%- endfor %}
{%- if repair %}
    {%- do parts.append({'week': 'other_week', 'weekly': 'weekly_rebuilt cross join other_weeks',
                         'categories': 'new_categories_rebuilt cross join other_weeks',
                         'by': ', other_week'}) %}
{%- endif %}

with events as (
    {{ feature_events() }}
),

bounds as (
    -- Monday of the last week to build
    select cast('{{ weeks[-1] }}' as date) as to_week
),
weekly as (
    select
        customer_id,
        cast({{ dbt.date_trunc('week', 'event_at') }} as date) as week_start,
        sum(paid_orders) as paid_orders,
        sum(revenue_cny) as revenue_cny,
        sum(refunds) as refunds,
        sum(tickets) as tickets,
        sum(complaints) as complaints,
        sum(social) as social,
        sum(responses) as responses,
        max(case when paid_orders = 1 then event_at end) as last_order_at,
        min(event_at) as first_event_at
    from events
    where event_at < (select {{ dbt.dateadd('day', 7, 'to_week') }} from bounds)
    group by 1, 2
),

first_categories as (
    -- the week each customer first bought each category
    select customer_id, cast({{ dbt.date_trunc('week', 'min(ordered_at)') }} as date) as week_start
    from {{ ref('order_items') }}
    where is_paid and customer_id is not null
    group by customer_id, product_category
),

new_categories as (
    select customer_id, week_start, count(*) as new_categories
    from first_categories
    group by 1, 2
),
{%- if repair %}

other_weeks as (
    -- the weeks already built that this build does not replace (Mondays)
    select distinct cast({{ dbt.dateadd('day', -6, 'snapshot_date') }} as date) as other_week
    from {{ this }}
    where snapshot_date not in ({{ snapshot_dates(weeks) }})
),

rebuilt as (
    -- customers with events up to the newest other week but no row in it: the pre-hook deleted
    -- their rows (their records changed), or they never had any (a split-off part, late records)
    select customer_id from weekly
    where week_start <= (select max(other_week) from other_weeks)
    group by customer_id
    except
    select customer_id from {{ this }} where snapshot_date = {{ reference_snapshot(weeks) }}
),

weekly_rebuilt as (
    select * from weekly where customer_id in (select customer_id from rebuilt)
),

new_categories_rebuilt as (
    select * from new_categories where customer_id in (select customer_id from rebuilt)
),
{%- endif %}

rolled as (
    -- one aggregation per week: each customer's weekly buckets up to that week, summed over the
    -- 13 and 52 buckets ending with it and over all of them
    {%- for part in parts %}
    {% if not loop.first %}union all{% endif %}
    select
        customer_id,
        {{ part.week }} as week_start,
        min(first_event_at) as first_event_at,
        {%- for col in counts %}
        sum(case when week_start >= {{ dbt.dateadd('day', -84, part.week) }}
                 then {{ col }} else 0 end) as {{ col }}_90d,
        sum(case when week_start >= {{ dbt.dateadd('day', -357, part.week) }}
                 then {{ col }} else 0 end) as {{ col }}_365d,
        sum({{ col }}) as {{ col }}_total,
        {%- endfor %}
        max(last_order_at) as last_order_at
    from {{ part.weekly }}
    where week_start <= {{ part.week }}
    group by customer_id{{ part.by }}
    {%- endfor %}
),

categories as (
    {%- for part in parts %}
    {% if not loop.first %}union all{% endif %}
    select customer_id, {{ part.week }} as week_start,
           sum(new_categories) as distinct_categories_total
    from {{ part.categories }}
    where week_start <= {{ part.week }}
    group by customer_id{{ part.by }}
    {%- endfor %}
)


select
    rolled.customer_id,
    cast({{ dbt.dateadd('day', 6, 'rolled.week_start') }} as date) as snapshot_date,
    cast({{ dbt.datediff('first_event_at', week_end, 'day') }} as integer) as tenure_days,
    cast({{ dbt.datediff('last_order_at', week_end, 'day') }} as integer) as days_since_last_order,
    cast(paid_orders_90d as integer) as orders_90d,
    cast(paid_orders_365d as integer) as orders_365d,
    cast(paid_orders_total as integer) as orders_total,
    cast(revenue_cny_90d as double) as revenue_90d_cny,
    cast(revenue_cny_365d as double) as revenue_365d_cny,
    cast(revenue_cny_total as double) as revenue_total_cny,
    cast(revenue_cny_total / nullif(paid_orders_total, 0) as double) as avg_order_value_cny,
    cast(refunds_365d as integer) as refunds_365d,
    cast(coalesce(categories.distinct_categories_total, 0) as integer)
        as distinct_categories_total,
    cast(tickets_90d as integer) as tickets_90d,
    cast(complaints_90d as integer) as complaints_90d,
    cast(complaints_365d as integer) as complaints_365d,
    cast(social_90d as integer) as social_interactions_90d,
    cast(responses_365d as integer) as campaign_responses_365d,
    -- the customer's set of records when the row was built (decision 0101)
    customers._records_hash,
    -- the newest load of any event when the row was built: an event loaded later and dated in
    -- the row's week is late (decision 0101)
    (select max(_ingested_at) from ({{ feature_event_times() }}) as loaded) as _events_ingested_at
from rolled
left join categories
    on categories.customer_id = rolled.customer_id and categories.week_start = rolled.week_start
left join {{ ref('customers') }} as customers on customers.customer_id = rolled.customer_id
