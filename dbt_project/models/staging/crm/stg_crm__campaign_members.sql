-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key=['campaign_id', 'crm_contact_id'],
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'crm__campaign_members'), ['campaign_id', 'crm_contact_id']) }}
),

renamed as (
    select
        trim(campaign_id) as campaign_id,
        trim(crm_contact_id) as crm_contact_id,
        campaign_name,
        lower(trim(member_group)) as member_group,
        lower(trim(channel)) as channel,
        lower(trim(member_group)) = 'treatment' as is_treatment,
        responded_at is not null as has_responded,
        converted_at is not null as has_converted,
        coalesce(cost_cny, 0) as cost_cny,
        {{ to_utc('sent_at') }} as sent_at,
        {{ to_utc('responded_at') }} as responded_at,
        {{ to_utc('converted_at') }} as converted_at,
        _source_file,
        _source_row,
        _batch_id,
        _ingested_at,
        _raw_hash
    from source
)

select * from renamed
