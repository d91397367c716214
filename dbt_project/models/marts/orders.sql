-- Incremental (macros/incremental.sql): orders newer than the table holds, and orders whose
-- shop customer now maps to another customer (identity merges and splits).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='order_id',
    on_schema_change='append_new_columns',
) }}

with joined as (
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
        orders.ordered_at,
        orders._ingested_at
    from {{ ref('stg_shop__orders') }} as orders
    left join {{ source('identity', 'customer_map') }} as map
        on map.source_system = 'shop'
        and map.source_record_id = orders.shop_customer_id
)

{{ new_or_remapped_rows(['order_id']) }}
