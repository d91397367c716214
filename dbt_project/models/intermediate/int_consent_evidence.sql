-- Every consent statement a source makes about one of its records, one row per record and
-- channel: granted (true), refused or withdrawn (false), or unknown (null), with when and
-- where it was captured. Input of marts.customer_consent. A view, refs without
-- the catalog like int_customer_records_unioned (decision 0089).
with crm as (
    select 'crm' as source_system, crm_contact_id as source_record_id,
        has_email_consent, has_sms_consent, has_phone_consent,
        cast(null as boolean) as has_social_consent,
        consent_updated_at, consent_source, _ingested_at
    from {{ ref('stg_crm__contacts').include(database=False) }}
),

shop as (
    select 'shop', shop_customer_id,
        has_email_consent, has_sms_consent, cast(null as boolean), cast(null as boolean),
        consent_updated_at, consent_source, _ingested_at
    from {{ ref('stg_shop__customers').include(database=False) }}
),

social as (
    select 'social', social_profile_id,
        cast(null as boolean), cast(null as boolean), cast(null as boolean), has_social_consent,
        consent_updated_at, consent_source, _ingested_at
    from {{ ref('stg_social__profiles').include(database=False) }}
),

records as (
    select * from crm union all select * from shop union all select * from social
)

{#- one row per record and channel, nulls kept (an unpivot, spelled as a union) #}
{%- set channels = ['email', 'sms', 'phone', 'social'] %}
{% for channel in channels %}
select source_system, source_record_id, '{{ channel }}' as channel,
    has_{{ channel }}_consent as has_consent, consent_updated_at, consent_source, _ingested_at
from records
{% if not loop.last %}union all{% endif %}
{%- endfor %}
