-- Incremental: only keys with a newer raw version are re-read (macros/incremental.sql).
{{ config(
    materialized=incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='social_interaction_id',
    on_schema_change='append_new_columns',
) }}

with source as (
    {{ latest_per_key(source('raw', 'social__interactions'), ['social_interaction_id']) }}
),

renamed as (
    select
        trim(social_interaction_id) as social_interaction_id,
        trim(social_profile_id) as social_profile_id,
        lower(trim(platform)) as platform,
        lower(trim(interaction_type)) as interaction_type,
        lower(trim(sentiment)) as sentiment,
        {{ to_utc('occurred_at') }} as occurred_at,
        _source_file,
        _source_row,
        _batch_id,
        _ingested_at,
        _raw_hash
    from source
)

select * from renamed
