-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='social_profile_id',
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'social__profiles'), ['social_profile_id']) }}
),

renamed as (
    select
        trim(social_profile_id) as social_profile_id,
        lower(trim(platform)) as platform,
        nullif(lower(trim(leading '@' from trim(handle))), '') as handle,
        trim(display_name) as display_name,
        trim(display_name) as full_name,
        c360_name_key(display_name, null) as name_key,
        c360_normalize_email(email) as email,
        c360_email_key(email) as email_key,
        coalesce(c360_is_role_mailbox(email), false) as is_role_mailbox,
        c360_phone_e164(
            phone,
            case when lower(trim(platform)) in ('weibo', 'wechat') then 'CN' else 'US' end
        ) as phone_e164,
        trim(city) as city,
        followers,
        messaging_opt_in as has_social_consent,
        {{ to_utc('coalesce(opt_in_at, created_at)') }} as consent_updated_at,
        lower(trim(platform)) || ' profile' as consent_source,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('created_at') }} as updated_at,
        _source_file,
        _source_row,
        _batch_id,
        _ingested_at,
        _raw_hash
    from source
)

select * from renamed
