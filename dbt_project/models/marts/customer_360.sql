-- One wide row per customer: golden profile plus lifetime behaviour.
with order_stats as (
    select
        customer_id,
        count(case when is_paid then 1 end) as paid_orders,
        count(case when order_status = 'refunded' then 1 end) as refunded_orders,
        count(case when order_status = 'cancelled' then 1 end) as cancelled_orders,
        coalesce(sum(case when is_paid then amount_cny end), 0) as lifetime_revenue_cny,
        min(case when is_paid then ordered_at end) as first_order_at,
        max(case when is_paid then ordered_at end) as last_order_at
    from {{ ref('orders') }}
    where customer_id is not null
    group by customer_id
),

interaction_stats as (
    select
        customer_id,
        count(case when source_system = 'crm' then 1 end) as tickets,
        count(case when is_complaint then 1 end) as complaints,
        count(case when source_system = 'social' then 1 end) as social_interactions,
        max(occurred_at) as last_interaction_at
    from {{ ref('interactions') }}
    where customer_id is not null
    group by customer_id
),

campaign_stats as (
    select
        customer_id,
        count(*) as campaigns,
        count(case when has_responded then 1 end) as campaign_responses
    from {{ ref('campaign_members') }}
    where customer_id is not null
    group by customer_id
)

select
    customers.*,
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
    coalesce(campaign_stats.campaign_responses, 0) as campaign_responses
from {{ ref('customers') }} as customers
left join order_stats on customers.customer_id = order_stats.customer_id
left join interaction_stats on customers.customer_id = interaction_stats.customer_id
left join campaign_stats on customers.customer_id = campaign_stats.customer_id
