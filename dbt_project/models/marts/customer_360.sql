-- One wide row per customer: golden profile plus lifetime behaviour.
-- Incremental (decision 0089): a weekly run rebuilds the customers marts.customers rebuilt
-- and those with a new order, service ticket, social interaction or campaign membership.
{{ per_customer_mart() }}

with rebuilt as (
    select customers.customer_id
    from {{ ref('customers') }} as customers
    {%- if is_incremental() and this_has_column('_records_hash') %}
    left join {{ this }} as existing on existing.customer_id = customers.customer_id
    where existing.customer_id is null
        or existing._records_hash <> customers._records_hash
        or {{ newer_than_this('customers._ingested_at') }}
    {%- for activity in ['orders', 'interactions', 'campaign_members'] %}
    union
    select customer_id from {{ ref(activity) }} where {{ newer_than_this('_ingested_at') }}
    {%- endfor %}
    {%- endif %}
),

order_stats as (
    select
        customer_id,
        count(case when is_paid then 1 end) as paid_orders,
        count(case when order_status = 'refunded' then 1 end) as refunded_orders,
        count(case when order_status = 'cancelled' then 1 end) as cancelled_orders,
        coalesce(sum(case when is_paid then amount_cny end), 0) as lifetime_revenue_cny,
        min(case when is_paid then ordered_at end) as first_order_at,
        max(case when is_paid then ordered_at end) as last_order_at,
        max(_ingested_at) as _ingested_at
    from {{ ref('orders') }}
    where customer_id in (select customer_id from rebuilt)
    group by customer_id
),

interaction_stats as (
    select
        customer_id,
        count(case when source_system = 'crm' then 1 end) as tickets,
        count(case when is_complaint then 1 end) as complaints,
        count(case when source_system = 'social' then 1 end) as social_interactions,
        max(occurred_at) as last_interaction_at,
        max(_ingested_at) as _ingested_at
    from {{ ref('interactions') }}
    where customer_id in (select customer_id from rebuilt)
    group by customer_id
),

campaign_stats as (
    select
        customer_id,
        count(*) as campaigns,
        count(case when has_responded then 1 end) as campaign_responses,
        max(_ingested_at) as _ingested_at
    from {{ ref('campaign_members') }}
    where customer_id in (select customer_id from rebuilt)
    group by customer_id
)

select
    {{ columns_except(ref('customers'), ['_ingested_at'], 'customers') }},
    coalesce(order_stats.paid_orders, 0) as paid_orders,
    coalesce(order_stats.refunded_orders, 0) as refunded_orders,
    coalesce(order_stats.cancelled_orders, 0) as cancelled_orders,
    coalesce(order_stats.lifetime_revenue_cny, 0) as lifetime_revenue_cny,
    order_stats.lifetime_revenue_cny / nullif(order_stats.paid_orders, 0) as avg_order_value_cny,
    order_stats.first_order_at,
    order_stats.last_order_at,
    coalesce(interaction_stats.tickets, 0) as tickets,
    coalesce(interaction_stats.complaints, 0) as complaints,
    coalesce(interaction_stats.social_interactions, 0) as social_interactions,
    interaction_stats.last_interaction_at,
    coalesce(campaign_stats.campaigns, 0) as campaigns,
    coalesce(campaign_stats.campaign_responses, 0) as campaign_responses,
    -- the newest row behind this one: the watermark of the next incremental run
    greatest(customers._ingested_at, coalesce(order_stats._ingested_at, customers._ingested_at),
        coalesce(interaction_stats._ingested_at, customers._ingested_at),
        coalesce(campaign_stats._ingested_at, customers._ingested_at)) as _ingested_at
from {{ ref('customers') }} as customers
inner join rebuilt on rebuilt.customer_id = customers.customer_id
left join order_stats on customers.customer_id = order_stats.customer_id
left join interaction_stats on customers.customer_id = interaction_stats.customer_id
left join campaign_stats on customers.customer_id = campaign_stats.customer_id
