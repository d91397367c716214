-- Consent per customer and channel (email, sms, phone, social) across all their source
-- records. Most restrictive wins: one refusal or withdrawal anywhere -> denied (dated by the
-- newest refusal); else one grant -> granted (the newest grant); no statement -> unknown,
-- which is never contactable.
-- Incremental like marts.customers (decision 0089): whole customers are rebuilt.
{{ per_customer_mart() }}

with members as (
    select map.customer_id, map.source_system, map.source_record_id, records._ingested_at
    from {{ source('identity', 'customer_map') }} as map
    inner join {{ ref('int_customer_records_unioned') }} as records
        on map.source_system = records.source_system
        and map.source_record_id = records.source_record_id
),

rebuilt as (
    {{ customers_to_rebuild('members') }}
),

evidence as (
    select rebuilt.customer_id, ev.*
    from {{ ref('int_consent_evidence') }} as ev
    inner join members
        on members.source_system = ev.source_system
        and members.source_record_id = ev.source_record_id
    inner join rebuilt on rebuilt.customer_id = members.customer_id
),

channels as (
    select distinct customer_id, channel from evidence
),

ranked as (
    -- the statement that decides: refusals before grants, newest first
    select customer_id, channel, has_consent, consent_updated_at, consent_source,
        source_system, source_record_id,
        row_number() over (
            partition by customer_id, channel
            order by has_consent asc nulls last, consent_updated_at desc nulls last,
                source_system asc nulls last, source_record_id asc nulls last
        ) as decision_rank
    from evidence
    where has_consent is not null
),

decisive as (
    select customer_id, channel, has_consent, consent_updated_at, consent_source,
        source_system, source_record_id
    from ranked
    where decision_rank = 1
),

counts as (
    select customer_id, channel,
        count(case when has_consent then 1 end) as sources_granting,
        count(case when not has_consent then 1 end) as sources_refusing
    from evidence
    group by customer_id, channel
)

select
    channels.customer_id,
    channels.channel,
    case when decisive.has_consent then 'granted'
         when not decisive.has_consent then 'denied'
         else 'unknown' end as consent_status,
    coalesce(decisive.has_consent, false) as has_consent,
    decisive.consent_updated_at as consent_decided_at,
    decisive.source_system as consent_source_system,
    decisive.consent_source as consent_captured_via,
    decisive.source_record_id as consent_source_record_id,
    counts.sources_granting,
    counts.sources_refusing,
    rebuilt._ingested_at,
    rebuilt._records_hash
from channels
inner join rebuilt on rebuilt.customer_id = channels.customer_id
left join decisive on decisive.customer_id = channels.customer_id
    and decisive.channel = channels.channel
left join counts on counts.customer_id = channels.customer_id
    and counts.channel = channels.channel
