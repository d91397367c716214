{{ config(alias='cross_sell_offers') }}

select
    cast(customer_id as varchar) as customer_id,
    cast(snapshot_date as date) as snapshot_date,
    cast(offer_rank as integer) as offer_rank,
    cast(sku as varchar) as sku,
    cast(product_name as varchar) as product_name,
    cast(product_category as varchar) as product_category,
    cast(score as double) as score,
    cast(basis as varchar) as basis,
    cast(because_of_sku as varchar) as because_of_sku,
    cast(because_of_name as varchar) as because_of_name,
    cast(rule_confidence as double) as rule_confidence,
    cast(rule_lift as double) as rule_lift,
    cast(model_run_id as varchar) as model_run_id
from {{ source('ml', 'cross_sell_offers') }}
