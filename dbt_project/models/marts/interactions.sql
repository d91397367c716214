-- Service tickets and social interactions of each customer, one row per event.
with tickets as (
    select
        'crm:' || tickets.crm_ticket_id as interaction_id,
        map.customer_id,
        'crm' as source_system,
        'ticket_' || coalesce(tickets.ticket_type, 'unknown') as interaction_type,
        tickets.channel,
        case when tickets.is_complaint then 'negative' end as sentiment,
        tickets.is_complaint,
        tickets.opened_at as occurred_at
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
        social.occurred_at
    from {{ ref('stg_social__interactions') }} as social
    left join {{ source('identity', 'customer_map') }} as map
        on map.source_system = 'social'
        and map.source_record_id = social.social_profile_id
)

select * from tickets
union all
select * from social
