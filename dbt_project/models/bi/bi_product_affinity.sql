{{ config(alias='product_affinity') }}

select
    cast(level as varchar) as level,
    cast(snapshot_date as date) as snapshot_date,
    cast(antecedent as varchar) as antecedent,
    cast(antecedent_name as varchar) as antecedent_name,
    cast(consequent as varchar) as consequent,
    cast(consequent_name as varchar) as consequent_name,
    cast(baskets_with_both as integer) as baskets_with_both,
    cast(baskets_with_antecedent as integer) as baskets_with_antecedent,
    cast(support as double) as support,
    cast(confidence as double) as confidence,
    cast(lift as double) as lift,
    cast(model_run_id as varchar) as model_run_id
from {{ source('ml', 'product_affinity') }}
