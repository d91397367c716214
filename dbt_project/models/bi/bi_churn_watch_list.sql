{{ config(alias='churn_watch_list') }}

select
    cast(rank as integer) as rank,
    cast(snapshot_date as date) as snapshot_date,
    cast(customer_id as varchar) as customer_id,
    cast(churn_probability as double) as churn_probability,
    cast(risk_band as varchar) as risk_band,
    cast(predicted_clv_12m as double) as predicted_clv_12m,
    cast(value_tier as varchar) as value_tier,
    cast(value_at_risk_cny as double) as value_at_risk_cny,
    cast(reason_1 as varchar) as reason_1,
    cast(reason_2 as varchar) as reason_2,
    cast(reason_3 as varchar) as reason_3,
    cast(play as varchar) as play,
    cast(value_model_version as varchar) as value_model_version,
    cast(churn_model_version as varchar) as churn_model_version
from {{ source('ml', 'churn_watch_list') }}
