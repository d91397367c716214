-- The golden record: per attribute group, the value of the record with the best
-- trust x recency score (seed source_trust; a record loses half its trust for every
-- var('trust_half_life_days') it is older than the customer's newest record).
-- Consent per channel is the most restrictive value seen in any source.
-- Incremental (macros/incremental.sql, decision 0089): a weekly run rebuilds the customers
-- with a new or changed record or a changed set of records, and deletes merged-away ids.
{%- set groups = {
    'name': {'present': 'full_name', 'fields': ['full_name', 'first_name', 'last_name', 'name_key']},
    'email': {'present': 'email', 'trust_group': 'contact', 'fields': ['email']},
    'phone': {'present': 'phone_e164', 'trust_group': 'contact', 'fields': ['phone_e164']},
    'address': {'present': 'city', 'fields': ['street', 'city', 'postcode', 'country_code']},
    'birth_date': {'present': 'birth_date', 'fields': ['birth_date']},
} %}

{{ per_customer_mart() }}
with members as (
    select map.customer_id, records.*
    from {{ source('identity', 'customer_map') }} as map
    inner join {{ ref('int_customer_records_unioned') }} as records
        on map.source_system = records.source_system
        and map.source_record_id = records.source_record_id
),

records as (
    select
        members.*,
        {{ dbt.datediff(
            'members.updated_at',
            'max(members.updated_at) over (partition by members.customer_id)',
            'day'
        ) }} as age_days
    from members
    {%- if is_incremental() %}
    where members.customer_id in (
        select customer_id from ({{ customers_to_rebuild('members') }}) as rebuilt)
    {%- endif %}
),

{% for group, spec in groups.items() %}
{{ group }}_ranked as (
    select
        records.customer_id,
        {% for field in spec['fields'] %}records.{{ field }},
        {% endfor %}records.source_system as {{ group }}_source,
        row_number() over (
            partition by records.customer_id
            order by
                trust.trust * power(0.5, coalesce(records.age_days, 0) / {{ var('trust_half_life_days') }}) desc nulls last,
                records.updated_at desc nulls last,
                records.source_system asc nulls last,
                records.source_record_id asc nulls last
        ) as {{ group }}_rank
    from records
    inner join {{ ref('source_trust') }} as trust
        on records.source_system = trust.source_system
        and trust.attribute_group = '{{ spec.get("trust_group", group) }}'
    where records.{{ spec['present'] }} is not null
        and not (records.is_role_mailbox and '{{ group }}' = 'email')
),

{{ group }}_winner as (
    select * from {{ group }}_ranked where {{ group }}_rank = 1
),
{% endfor %}

per_customer as (
    select
        customer_id,
        count(*) as source_record_count,
        {{ distinct_sorted_list('source_system', ',') }} as source_systems,
        min(created_at) as first_seen_at,
        max(updated_at) as last_updated_at,
        -- most restrictive consent: any "no" wins; unknown stays null (not contactable)
        case when {{ dbt.bool_or('not has_email_consent') }} then false
             when {{ dbt.bool_or('has_email_consent') }} then true end as has_email_consent,
        case when {{ dbt.bool_or('not has_sms_consent') }} then false
             when {{ dbt.bool_or('has_sms_consent') }} then true end as has_sms_consent,
        case when {{ dbt.bool_or('not has_phone_consent') }} then false
             when {{ dbt.bool_or('has_phone_consent') }} then true end as has_phone_consent,
        max(loyalty_card_number) as loyalty_card_number,
        max(_ingested_at) as _ingested_at,
        {{ record_set_hash() }} as _records_hash
    from records
    group by customer_id
)

select
    per_customer.customer_id,
    {% for group, spec in groups.items() %}
    {% for field in spec['fields'] %}{{ group }}_winner.{{ field }},
    {% endfor %}{{ group }}_winner.{{ group }}_source,
    {% endfor %}
    per_customer.loyalty_card_number,
    per_customer.has_email_consent,
    per_customer.has_sms_consent,
    per_customer.has_phone_consent,
    per_customer.source_record_count,
    per_customer.source_systems,
    per_customer.first_seen_at,
    per_customer.last_updated_at,
    per_customer._ingested_at,
    per_customer._records_hash
from per_customer
{% for group in groups %}
left join {{ group }}_winner on per_customer.customer_id = {{ group }}_winner.customer_id
{% endfor %}
