-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='crm_contact_id',
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'crm__contacts'), ['crm_contact_id']) }}
),

renamed as (
    select
        -- ids
        trim(crm_contact_id) as crm_contact_id,
        -- strings
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        case
            when c360_pinyin(last_name) <> last_name or c360_pinyin(first_name) <> first_name
                then concat(coalesce(trim(last_name), ''), coalesce(trim(first_name), ''))
            else trim(concat_ws(' ', trim(first_name), trim(last_name)))
        end as full_name,
        c360_name_key(first_name, last_name) as name_key,
        c360_normalize_email(email) as email,
        c360_email_key(email) as email_key,
        coalesce(c360_is_role_mailbox(email), false) as is_role_mailbox,
        coalesce(
            c360_phone_e164(mobile_phone, coalesce(country_code, '{{ var("default_phone_region") }}')),
            c360_phone_e164(phone, coalesce(country_code, '{{ var("default_phone_region") }}'))
        ) as phone_e164,
        trim(street) as street,
        trim(city) as city,
        upper(replace(trim(postcode), ' ', '')) as postcode,
        upper(trim(country_code)) as country_code,
        upper(trim(loyalty_card_number)) as loyalty_card_number,
        nullif(lower(trim(leading '@' from trim(social_handle))), '') as weibo_handle,
        -- booleans (consent: an opt-out flag means no consent)
        not email_opt_out as has_email_consent,
        not sms_opt_out as has_sms_consent,
        not do_not_call as has_phone_consent,
        {{ to_utc('coalesce(consent_updated_at, updated_at, created_at)') }} as consent_updated_at,
        coalesce(trim(consent_source), 'crm') as consent_source,
        -- dates and timestamps
        birth_date,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('coalesce(updated_at, created_at)') }} as updated_at,
        -- lineage
        _source_file,
        _source_row,
        _batch_id,
        _ingested_at,
        _raw_hash
    from source
)

select * from renamed
