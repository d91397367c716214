{{ config(alias='retention_campaigns') }}

-- Feedback loop: each retention play (value x churn quadrant) with the campaigns that reached
-- its customers and the uplift measured among them.
select
    cast(summary.quadrant as varchar) as quadrant,
    cast(summary.play as varchar) as play,
    cast(summary.customers as integer) as customers_now,
    cast(results.campaign_id as varchar) as campaign_id,
    cast(results.campaign_name as varchar) as campaign_name,
    cast(results.campaign_start as timestamp with time zone) as campaign_start,
    cast(results.treatment_members as integer) as treatment_members,
    cast(results.control_members as integer) as control_members,
    cast(results.conversion_uplift as double) as conversion_uplift,
    cast(results.conversion_uplift_ci_low as double) as conversion_uplift_ci_low,
    cast(results.conversion_uplift_ci_high as double) as conversion_uplift_ci_high,
    cast(results.incremental_revenue_cny as double) as incremental_revenue_cny,
    cast(results.roi as double) as roi,
    cast(results.verdict as varchar) as verdict
from {{ ref('bi_retention_summary') }} as summary
left join {{ ref('bi_campaign_results') }} as results
    on results.segment_type = 'retention_quadrant' and results.segment = summary.quadrant
