-- Every source customer record in one shape: the input of identity resolution and of the
-- golden record. A view: a union of staging tables, read in full by both (decision 0089).
-- Its refs leave out the catalog: DuckDB keeps a view's query as written and binds names
-- without one in the view's own database, so a copy of the warehouse under another file
-- name (a backup, the tests' copies) still reads it.
with crm as (
    select
        'crm' as source_system,
        crm_contact_id as source_record_id,
        first_name, last_name, full_name, name_key,
        email, email_key, is_role_mailbox, phone_e164,
        loyalty_card_number, weibo_handle, cast(null as {{ dbt.type_string() }}) as social_handle,
        street, city, postcode, country_code, birth_date,
        has_email_consent, has_sms_consent, has_phone_consent,
        created_at, updated_at, _ingested_at
    from {{ ref('stg_crm__contacts').include(database=False) }}
),

shop as (
    select
        'shop' as source_system,
        shop_customer_id as source_record_id,
        first_name, last_name, full_name, name_key,
        email, email_key, is_role_mailbox, phone_e164,
        loyalty_card_number, cast(null as {{ dbt.type_string() }}) as weibo_handle,
        cast(null as {{ dbt.type_string() }}) as social_handle,
        street, city, postcode, country_code, cast(null as date) as birth_date,
        has_email_consent, has_sms_consent, cast(null as boolean) as has_phone_consent,
        created_at, updated_at, _ingested_at
    from {{ ref('stg_shop__customers').include(database=False) }}
),

social as (
    select
        'social' as source_system,
        social_profile_id as source_record_id,
        cast(null as {{ dbt.type_string() }}) as first_name, cast(null as {{ dbt.type_string() }}) as last_name,
        full_name, name_key,
        email, email_key, is_role_mailbox, phone_e164,
        cast(null as {{ dbt.type_string() }}) as loyalty_card_number,
        case when platform = 'weibo' then handle end as weibo_handle,
        -- the profile's handle on any platform: it may spell the full name a short display
        -- name leaves out ('Sophia G.' / @sophia.green); matching reads it (decision 0092)
        handle as social_handle,
        cast(null as {{ dbt.type_string() }}) as street, city, cast(null as {{ dbt.type_string() }}) as postcode,
        cast(null as {{ dbt.type_string() }}) as country_code, cast(null as date) as birth_date,
        cast(null as boolean) as has_email_consent, cast(null as boolean) as has_sms_consent,
        cast(null as boolean) as has_phone_consent,
        created_at, updated_at, _ingested_at
    from {{ ref('stg_social__profiles').include(database=False) }}
)

select * from crm
union all
select * from shop
union all
select * from social
