-- Incremental (macros/incremental.sql): lines whose line or order is newer than the table
-- holds, and lines whose order now belongs to another customer. `_ingested_at` is the newer
-- of the two.
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key=['order_id', 'line_number'],
    on_schema_change='append_new_columns',
) }}

with joined as (
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
        orders.ordered_at,
        greatest(lines._ingested_at, orders._ingested_at) as _ingested_at
    from {{ ref('stg_shop__order_lines') }} as lines
    inner join {{ ref('orders') }} as orders
        on lines.shop_order_id = orders.order_id
)

{{ new_or_remapped_rows(['order_id', 'line_number']) }}
