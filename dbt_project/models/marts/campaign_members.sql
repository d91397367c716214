-- Incremental (macros/incremental.sql): members newer than the table holds, and members whose
-- CRM contact now maps to another customer (identity merges and splits).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key=['campaign_id', 'crm_contact_id'],
    on_schema_change='append_new_columns',
) }}

with joined as (
    select
        members.campaign_id,
        members.campaign_name,
        map.customer_id,
        members.crm_contact_id,
        members.member_group,
        members.is_treatment,
        members.channel,
        members.has_responded,
        members.has_converted,
        members.cost_cny,
        members.sent_at,
        members.responded_at,
        members.converted_at,
        members._ingested_at
    from {{ ref('stg_crm__campaign_members') }} as members
    left join {{ source('identity', 'customer_map') }} as map
        on map.source_system = 'crm'
        and map.source_record_id = members.crm_contact_id
)

select joined.* from joined
{%- if is_incremental() %}
left join {{ this }} as existing
    on existing.campaign_id = joined.campaign_id
    and existing.crm_contact_id = joined.crm_contact_id
where {{ newer_than_this('joined._ingested_at') }}
    or (existing.campaign_id is not null
        and existing.customer_id is distinct from joined.customer_id)
{%- endif %}
