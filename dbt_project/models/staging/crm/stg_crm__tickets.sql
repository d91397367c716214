-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='crm_ticket_id',
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'crm__tickets'), ['crm_ticket_id']) }}
),

renamed as (
    select
        trim(crm_ticket_id) as crm_ticket_id,
        trim(crm_contact_id) as crm_contact_id,
        lower(trim(ticket_type)) as ticket_type,
        lower(trim(priority)) as priority,
        lower(trim(status)) as ticket_status,
        lower(trim(channel)) as channel,
        subject,
        lower(trim(ticket_type)) = 'complaint' as is_complaint,
        {{ to_utc('opened_at') }} as opened_at,
        {{ to_utc('closed_at') }} as closed_at,
        _source_file,
        _source_row,
        _batch_id,
        _ingested_at,
        _raw_hash
    from source
)

select * from renamed
