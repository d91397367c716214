-- One wide row per customer: golden profile plus lifetime behaviour.
with order_stats as (
    select
        customer_id,
        count(*) filter (where is_paid) as paid_orders,
        count(*) filter (where order_status = 'refunded') as refunded_orders,
        count(*) filter (where order_status = 'cancelled') as cancelled_orders,
        coalesce(sum(amount_cny) filter (where is_paid), 0) as lifetime_revenue_cny,
        min(ordered_at) filter (where is_paid) as first_order_at,
        max(ordered_at) filter (where is_paid) as last_order_at
    from {{ ref('orders') }}
    where customer_id is not null
    group by customer_id
),

interaction_stats as (
    select
        customer_id,
        count(*) filter (where source_system = 'crm') as tickets,
        count(*) filter (where is_complaint) as complaints,
        count(*) filter (where source_system = 'social') as social_interactions,
        max(occurred_at) as last_interaction_at
    from {{ ref('interactions') }}
    where customer_id is not null
    group by customer_id
),

campaign_stats as (
    select
        customer_id,
        count(*) as campaigns,
        count(*) filter (where has_responded) as campaign_responses
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
