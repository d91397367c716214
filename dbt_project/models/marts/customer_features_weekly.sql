-- Point-in-time features per customer as of each week end (Sunday), built only from events
-- before the end of that Sunday (UTC): windows look backwards over weekly buckets, never forward.
-- One Dagster partition = one week (Monday key); vars snapshot_from / snapshot_to select the
-- weeks to (re)build; each build replaces whole weeks (delete+insert on snapshot_date).
-- On Spark (no delete+insert) the same whole-week replacement is a dynamic overwrite of the
-- snapshot_date partitions (decision 0066).
-- Each (customer, week) row is one aggregation of the customer's weekly event sums up to that
-- week: no window over a customer x week grid, whose memory grows with the whole history
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
    -- Mondays of the first and last week to build; default: the newest week with events
    select
        {% if var('snapshot_from') %}cast('{{ var("snapshot_from") }}' as date){% else %}newest{% endif %} as from_week,
        {% if var('snapshot_to') %}cast('{{ var("snapshot_to") }}' as date){% else %}newest{% endif %} as to_week
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

customer_start as (
    select customer_id, min(week_start) as first_week, min(first_event_at) as first_event_at
    from weekly
    group by 1
),

targets as (
    -- the weeks to build, for every customer with an event before the end of the week
    select
        customer_start.customer_id,
        customer_start.first_event_at,
        cast(week.week_start as date) as week_start
    from customer_start
    cross join bounds
    {{ join_weeks('greatest(customer_start.first_week, bounds.from_week)', 'bounds.to_week',
                  'week', 'week_start') }}
),

rolled as (
    -- windows of 13 and 52 weekly buckets ending with each target week, and all before it
    select
        targets.customer_id,
        targets.week_start,
        targets.first_event_at,
        {% for col in counts %}
        sum(case when weekly.week_start >= {{ dbt.dateadd('day', -84, 'targets.week_start') }}
                 then weekly.{{ col }} else 0 end) as {{ col }}_90d,
        sum(case when weekly.week_start >= {{ dbt.dateadd('day', -357, 'targets.week_start') }}
                 then weekly.{{ col }} else 0 end) as {{ col }}_365d,
        sum(weekly.{{ col }}) as {{ col }}_total,
        {% endfor %}
        max(weekly.last_order_at) as last_order_at
    from targets
    inner join weekly
        on weekly.customer_id = targets.customer_id and weekly.week_start <= targets.week_start
    group by targets.customer_id, targets.week_start, targets.first_event_at
),

categories as (
    select targets.customer_id, targets.week_start,
           sum(new_categories.new_categories) as distinct_categories_total
    from targets
    inner join new_categories
        on new_categories.customer_id = targets.customer_id
        and new_categories.week_start <= targets.week_start
    group by 1, 2
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
