-- Point-in-time features per customer as of each week end (Sunday), built only from events
-- before the end of that Sunday (UTC): windows look backwards over weekly buckets, never forward.
-- One Dagster partition = one week (Monday key); vars snapshot_from / snapshot_to select the
-- weeks to (re)build, or else the environment variables C360_SNAPSHOT_FROM / C360_SNAPSHOT_TO
-- (which Dagster sets: a changed var makes dbt parse the whole project again, a changed
-- environment variable only the files that read it; decision 0098); each build replaces whole
-- weeks (delete+insert on snapshot_date).
-- On Spark (no delete+insert) the same whole-week replacement is a dynamic overwrite of the
-- snapshot_date partitions (decision 0066).
-- Each week built is one aggregation of every customer's weekly event sums up to that week; a
-- range of weeks is a union of such weeks: no window over a customer x week grid and no join
-- of every week with every earlier one, whose memory and spill grow with the history
-- (decision 0068).
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
    unique_key='snapshot_date',
    partition_by=['snapshot_date'] if target.type == 'spark' else none,
) }}

{%- set week_end = 'cast(' ~ dbt.dateadd('day', 7, 'week_start') ~ ' as timestamp)' %}
{%- set counts = ['paid_orders', 'revenue_cny', 'refunds', 'tickets', 'complaints', 'social',
                  'responses'] %}
{#- the Mondays to build: every week from snapshot_from to snapshot_to, or the newest week #}
{%- set snapshot_from = var('snapshot_from') or env_var('C360_SNAPSHOT_FROM', '') %}
{%- set snapshot_to = var('snapshot_to') or env_var('C360_SNAPSHOT_TO', '') %}
{%- if snapshot_from and snapshot_to %}
    {%- set first = modules.datetime.date.fromisoformat(snapshot_from) %}
    {%- set count = ((modules.datetime.date.fromisoformat(snapshot_to) - first).days // 7) + 1 %}
    {%- set weeks = [] %}
    {%- for i in range(count) %}
        {%- do weeks.append("cast('" ~ (first + modules.datetime.timedelta(days=7 * i)).isoformat() ~ "' as date)") %}
    {%- endfor %}
{%- elif snapshot_from or snapshot_to %}
    {{ exceptions.raise_compiler_error("set both snapshot_from and snapshot_to, or neither") }}
{%- else %}
    {%- set weeks = ['(select to_week from bounds)'] %}
{%- endif %}

with events as (
    select customer_id, ordered_at as event_at, 1 as paid_orders, amount_cny as revenue_cny,
           0 as refunds, 0 as tickets, 0 as complaints, 0 as social, 0 as responses
    from {{ ref('orders') }} where is_paid and customer_id is not null
    union all
    select customer_id, ordered_at, 0, 0, 1, 0, 0, 0, 0
    from {{ ref('orders') }} where order_status = 'refunded' and customer_id is not null
    union all
    select customer_id, occurred_at, 0, 0, 0,
           case when source_system = 'crm' then 1 else 0 end,
           case when is_complaint then 1 else 0 end,
           case when source_system = 'social' then 1 else 0 end, 0
    from {{ ref('interactions') }} where customer_id is not null
    union all
    select customer_id, responded_at, 0, 0, 0, 0, 0, 0, 1
    from {{ ref('campaign_members') }} where has_responded and customer_id is not null
),

bounds as (
    -- Monday of the last week to build; default: the newest week with events
    select
        {% if snapshot_to %}cast('{{ snapshot_to }}' as date){% else %}newest{% endif %} as to_week
    from (
        select cast({{ dbt.date_trunc('week', 'max(event_at)') }} as date) as newest from events
    ) as latest
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

rolled as (
    -- one aggregation per week built: each customer's weekly buckets up to that week, summed
    -- over the 13 and 52 buckets ending with it and over all of them
    {%- for week in weeks %}
    {% if not loop.first %}union all{% endif %}
    select
        customer_id,
        {{ week }} as week_start,
        min(first_event_at) as first_event_at,
        {%- for col in counts %}
        sum(case when week_start >= {{ dbt.dateadd('day', -84, week) }}
                 then {{ col }} else 0 end) as {{ col }}_90d,
        sum(case when week_start >= {{ dbt.dateadd('day', -357, week) }}
                 then {{ col }} else 0 end) as {{ col }}_365d,
        sum({{ col }}) as {{ col }}_total,
        {%- endfor %}
        max(last_order_at) as last_order_at
    from weekly
    where week_start <= {{ week }}
    group by customer_id
    {%- endfor %}
),

categories as (
    {%- for week in weeks %}
    {% if not loop.first %}union all{% endif %}
    select customer_id, {{ week }} as week_start, sum(new_categories) as distinct_categories_total
    from new_categories
    where week_start <= {{ week }}
    group by customer_id
    {%- endfor %}
)

select
    customer_id,
    cast({{ dbt.dateadd('day', 6, 'week_start') }} as date) as snapshot_date,
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
    cast(responses_365d as integer) as campaign_responses_365d
from rolled
left join categories using (customer_id, week_start)
