{{ config(alias='customer_360') }}

select
    {{ columns_except(ref('customer_360'), ['_ingested_at', '_records_hash'], 'c360') }},
    segments.rfm_segment,
    segments.cluster,
    value.predicted_clv_12m,
    value.value_tier,
    churn.churn_probability,
    churn.risk_band
from {{ ref('customer_360') }} as c360
left join {{ ref('bi_customer_segments') }} as segments on c360.customer_id = segments.customer_id
left join {{ ref('bi_customer_value') }} as value on c360.customer_id = value.customer_id
left join {{ ref('bi_customer_churn') }} as churn on c360.customer_id = churn.customer_id
