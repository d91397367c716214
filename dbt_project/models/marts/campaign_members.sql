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

{{ new_or_remapped_rows(['campaign_id', 'crm_contact_id']) }}
