{{ config(alias='retention_actions') }}

select
    cast(customer_id as varchar) as customer_id,
    cast(snapshot_date as date) as snapshot_date,
    cast(quadrant as varchar) as quadrant,
    cast(value_level as varchar) as value_level,
    cast(risk_level as varchar) as risk_level,
    cast(play as varchar) as play,
    cast(play_description as varchar) as play_description,
    cast(priority as integer) as priority,
    cast(predicted_clv_12m as double) as predicted_clv_12m,
    cast(value_tier as varchar) as value_tier,
    cast(churn_probability as double) as churn_probability,
    cast(risk_band as varchar) as risk_band,
    cast(value_at_risk_cny as double) as value_at_risk_cny,
    cast(reason_1 as varchar) as reason_1,
    cast(reason_2 as varchar) as reason_2,
    cast(reason_3 as varchar) as reason_3,
    cast(value_model_version as varchar) as value_model_version,
    cast(churn_model_version as varchar) as churn_model_version
from {{ source('ml', 'retention_actions') }}
