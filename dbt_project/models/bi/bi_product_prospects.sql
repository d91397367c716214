{{ config(alias='product_prospects') }}

select
    cast(sku as varchar) as sku,
    cast(product_name as varchar) as product_name,
    cast(product_category as varchar) as product_category,
    cast(snapshot_date as date) as snapshot_date,
    cast(prospect_rank as integer) as prospect_rank,
    cast(customer_id as varchar) as customer_id,
    cast(score as double) as score,
    cast(because_of_sku as varchar) as because_of_sku,
    cast(because_of_name as varchar) as because_of_name,
    cast(rule_confidence as double) as rule_confidence,
    cast(rule_lift as double) as rule_lift,
    cast(model_run_id as varchar) as model_run_id
from {{ source('ml', 'product_prospects') }}
