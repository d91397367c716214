{{ config(alias='retention_summary') }}

select
    cast(quadrant as varchar) as quadrant,
    cast(snapshot_date as date) as snapshot_date,
    cast(play as varchar) as play,
    cast(play_description as varchar) as play_description,
    cast(customers as integer) as customers,
    cast(share_of_customers as double) as share_of_customers,
    cast(predicted_clv_12m as double) as predicted_clv_12m,
    cast(value_at_risk_cny as double) as value_at_risk_cny,
    cast(share_of_value_at_risk as double) as share_of_value_at_risk,
    cast(mean_churn_probability as double) as mean_churn_probability,
    cast(value_model_version as varchar) as value_model_version,
    cast(churn_model_version as varchar) as churn_model_version
from {{ source('ml', 'retention_summary') }}
