-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='shop_order_id',
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'shop__orders'), ['shop_order_id']) }}
),

rates as (
    select currency, rate_month, rate_to_cny from {{ ref('fx_rates') }}
),

renamed as (
    select
        trim(source.shop_order_id) as shop_order_id,
        nullif(trim(source.shop_customer_id), '') as shop_customer_id,
        c360_email_key(source.email) as email_key,
        lower(trim(source.financial_status)) as order_status,
        upper(trim(source.currency)) as currency,
        lower(trim(source.sales_channel)) as sales_channel,
        source.store_code,
        source.total_amount,
        cast(round(source.total_amount * rates.rate_to_cny, 2) as decimal(18, 2)) as amount_cny,
        lower(trim(source.financial_status)) = 'paid' as is_paid,
        {{ to_utc('source.ordered_at') }} as ordered_at,
        source._source_file,
        source._source_row,
        source._batch_id,
        source._ingested_at,
        source._raw_hash
    from source
    left join rates
        on upper(trim(source.currency)) = rates.currency
        and cast({{ dbt.date_trunc('month', to_utc('source.ordered_at')) }} as date) = rates.rate_month
)

select * from renamed
