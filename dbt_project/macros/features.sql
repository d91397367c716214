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

{#- customer_id, a date and _ingested_at of every row a snapshot reads, whether it counts as an
    event now or not (an order whose status changed, a campaign member's response): the rows
    loaded after a snapshot row was built that may have changed it (decision 0101). -#}
{% macro feature_event_times() -%}
    select customer_id, ordered_at as event_at, _ingested_at
    from {{ ref('orders') }} where customer_id is not null
    union all
    select customer_id, occurred_at, _ingested_at
    from {{ ref('interactions') }} where customer_id is not null
    union all
    select customer_id, coalesce(responded_at, sent_at), _ingested_at
    from {{ ref('campaign_members') }} where customer_id is not null
    union all
    select customer_id, ordered_at, _ingested_at
    from {{ ref('order_items') }} where customer_id is not null
{%- endmacro %}

{#- An order-free fingerprint of rows (decision 0101): the sum of a hash of `columns` per row,
    each below 1e9 so that sums fit a bigint on every engine. -#}
{% macro content_hash(columns) -%}
    sum(cast(hash({{ columns | join(', ') }}) % 1000000007 as bigint))
{%- endmacro %}

{#- The feature rows of `weeks` (Mondays, ISO dates): one aggregation per week of each
    customer's weekly event sums up to that week (decision 0068); of the customers the SQL
    `customers` selects (ids), or of all. -#}
{% macro customer_features(weeks, customers=none) -%}
    {%- set week_end = 'cast(' ~ dbt.dateadd('day', 7, 'rolled.week_start') ~ ' as timestamp)' %}
    {%- set counts = ['paid_orders', 'revenue_cny', 'refunds', 'tickets', 'complaints', 'social',
                      'responses'] %}
    with events as (
        select * from ({{ feature_events() }}) as events
        {%- if customers %}
        where customer_id in ({{ customers }})
        {%- endif %}
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
            min(event_at) as first_event_at,
            {{ content_hash(['event_at'] + counts) }} as events_hash
        from events
        -- up to the end of the last week to build
        where event_at < cast({{ dbt.dateadd('day', 7, "cast('" ~ weeks[-1] ~ "' as date)") }} as timestamp)
        group by 1, 2
    ),

    first_categories as (
        -- the week each customer first bought each category
        select customer_id, product_category,
               cast({{ dbt.date_trunc('week', 'min(ordered_at)') }} as date) as week_start
        from {{ ref('order_items') }}
        where is_paid and customer_id is not null
        {%- if customers %}
            and customer_id in ({{ customers }})
        {%- endif %}
        group by customer_id, product_category
    ),

    new_categories as (
        select customer_id, week_start, count(*) as new_categories,
               {{ content_hash(['product_category', 'week_start']) }} as categories_hash
        from first_categories
        group by 1, 2
    ),

    rolled as (
        -- one aggregation per week: each customer's weekly buckets up to that week, summed over the
        -- 13 and 52 buckets ending with it and over all of them
        {%- for monday in weeks %}
        {%- set week = "cast('" ~ monday ~ "' as date)" %}
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
            max(last_order_at) as last_order_at,
            sum(events_hash) as events_hash
        from weekly
        where week_start <= {{ week }}
        group by customer_id
        {%- endfor %}
    ),

    categories as (
        {%- for monday in weeks %}
        {%- set week = "cast('" ~ monday ~ "' as date)" %}
        {% if not loop.first %}union all{% endif %}
        select customer_id, {{ week }} as week_start,
               sum(new_categories) as distinct_categories_total,
               sum(categories_hash) as categories_hash
        from new_categories
        where week_start <= {{ week }}
        group by customer_id
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
        -- the newest load of any row read when the row was built: a row loaded later and dated up to
        -- the row's week may be late (decision 0101)
        (select max(_ingested_at) from ({{ feature_event_times() }}) as loaded) as _events_ingested_at,
        -- the events and first categories up to the row's week: a late row that leaves it unchanged
        -- (a re-delivered export) changes no week up to this one (decision 0101)
        cast(rolled.events_hash + coalesce(categories.categories_hash, 0) as bigint) as _events_hash
    from rolled
    left join categories
        on categories.customer_id = rolled.customer_id and categories.week_start = rolled.week_start
    left join {{ ref('customers') }} as customers on customers.customer_id = rolled.customer_id
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
