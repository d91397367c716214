{{ config(alias='campaign_targets') }}

-- Target list of the next campaign: highest uplift scores among the customers contactable on
-- the campaign's channel (consent, address, contact cap: bi.contactable_customers); the seeded
-- random draw of ml.campaign_scores holds a share out as the control group.
{%- set share = var('campaign_target_share') | float %}

with eligible as (
    select scores.*, contactable.channel, contactable.messages_left_in_window,
        row_number() over (order by scores.uplift_score desc, scores.customer_id) as target_rank,
        count(*) over () as eligible_customers
    from {{ source('ml', 'campaign_scores') }} as scores
    inner join {{ ref('bi_contactable_customers') }} as contactable
        on contactable.customer_id = scores.customer_id
        and contactable.channel = '{{ var("campaign_channel") }}'
)

select
    cast(eligible.customer_id as varchar) as customer_id,
    cast(eligible.channel as varchar) as channel,
    cast(case when eligible.held_out then 'control' else 'treatment' end as varchar) as member_group,
    cast(eligible.holdout_reason as varchar) as holdout_reason,
    cast(eligible.target_rank as integer) as target_rank,
    cast(eligible.uplift_score as double) as uplift_score,
    cast(eligible.p_convert_treated as double) as p_convert_treated,
    cast(eligible.p_convert_untreated as double) as p_convert_untreated,
    cast(actions.quadrant as varchar) as retention_quadrant,
    cast(actions.play as varchar) as retention_play,
    cast(eligible.messages_left_in_window as integer) as messages_left_in_window,
    cast(eligible.snapshot_date as date) as snapshot_date,
    cast(eligible.control_share as double) as control_share,
    cast(eligible.holdout_seed as integer) as holdout_seed,
    cast(eligible.model_version as varchar) as model_version
from eligible
left join {{ ref('bi_retention_actions') }} as actions
    on actions.customer_id = eligible.customer_id
where eligible.target_rank <= ceil({{ share }} * eligible.eligible_customers)
