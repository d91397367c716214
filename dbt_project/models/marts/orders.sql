select
    orders.shop_order_id as order_id,
    map.customer_id,
    orders.shop_customer_id,
    orders.order_status,
    orders.is_paid,
    orders.currency,
    orders.total_amount,
    orders.amount_cny,
    orders.sales_channel,
    orders.store_code,
    orders.ordered_at
from {{ ref('stg_shop__orders') }} as orders
left join {{ source('identity', 'customer_map') }} as map
    on map.source_system = 'shop'
    and map.source_record_id = orders.shop_customer_id
