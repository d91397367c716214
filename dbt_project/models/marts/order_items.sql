select
    lines.shop_order_id as order_id,
    lines.line_number,
    orders.customer_id,
    lines.sku,
    lines.product_name,
    lines.product_category,
    lines.quantity,
    lines.unit_price,
    lines.line_amount,
    cast(round(lines.line_amount * orders.amount_cny / nullif(orders.total_amount, 0), 2)
        as decimal(18, 2)) as line_amount_cny,
    orders.is_paid,
    orders.ordered_at
from {{ ref('stg_shop__order_lines') }} as lines
inner join {{ ref('orders') }} as orders
    on lines.shop_order_id = orders.order_id
