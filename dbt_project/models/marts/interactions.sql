-- Service tickets and social interactions of each customer, one row per event.
-- Incremental (macros/incremental.sql): events newer than the table holds, and events whose
-- source record now maps to another customer (identity merges and splits).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='interaction_id',
    on_schema_change='append_new_columns',
) }}

with tickets as (
    select
        'crm:' || tickets.crm_ticket_id as interaction_id,
        map.customer_id,
        'crm' as source_system,
        'ticket_' || coalesce(tickets.ticket_type, 'unknown') as interaction_type,
        tickets.channel,
        case when tickets.is_complaint then 'negative' end as sentiment,
        tickets.is_complaint,
        tickets.opened_at as occurred_at,
        tickets._ingested_at
    from {{ ref('stg_crm__tickets') }} as tickets
    left join {{ source('identity', 'customer_map') }} as map
        on map.source_system = 'crm'
        and map.source_record_id = tickets.crm_contact_id
),

social as (
    select
        'social:' || social.social_interaction_id as interaction_id,
        map.customer_id,
        'social' as source_system,
        social.interaction_type,
        social.platform as channel,
        social.sentiment,
        false as is_complaint,
        social.occurred_at,
        social._ingested_at
    from {{ ref('stg_social__interactions') }} as social
    left join {{ source('identity', 'customer_map') }} as map
        on map.source_system = 'social'
        and map.source_record_id = social.social_profile_id
),

joined as (
    select * from tickets
    union all
    select * from social
)

{{ new_or_remapped_rows(['interaction_id']) }}
