-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key=['shop_order_id', 'line_number'],
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'shop__order_lines'), ['shop_order_id', 'line_number']) }}
),

renamed as (
    select
        trim(shop_order_id) as shop_order_id,
        line_number,
        trim(sku) as sku,
        product_name,
        coalesce(lower(trim(product_category)), 'unknown') as product_category,
        quantity,
        unit_price,
        cast(quantity * unit_price as decimal(18, 2)) as line_amount,
        _source_file,
        _source_row,
        _batch_id,
        _ingested_at,
        _raw_hash
    from source
)

select * from renamed
