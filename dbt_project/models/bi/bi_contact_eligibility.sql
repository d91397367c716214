{{ config(alias='contact_eligibility') }}

-- Every customer x channel with the verdict for the next marketing message and, when not
-- contactable, the reason. Reasons in order: consent denied, consent unknown, no address for
-- the channel, contact cap reached (var contact_cap_messages marketing messages in the
-- var contact_cap_days days before the as-of time: var contact_as_of, else the newest send).
{%- set cap = var('contact_cap_messages') | int %}
{%- set days = var('contact_cap_days') | int %}

with as_of as (
    select coalesce(
        {% if var('contact_as_of') %}cast('{{ var("contact_as_of") }}' as timestamptz){% else %}null{% endif %},
        (select max(sent_at) from {{ ref('campaign_members') }}),
        now()
    ) as as_of
),

sends as (
    -- marketing messages: treatment members of a campaign that was sent
    select members.customer_id, count(*) as messages_in_window,
        max(members.sent_at) as last_message_at
    from {{ ref('campaign_members') }} as members, as_of
    where members.is_treatment and members.sent_at is not null
        and members.customer_id is not null
        and members.sent_at > as_of.as_of - interval {{ days }} day
        and members.sent_at <= as_of.as_of
    group by all
),

channels as (
    select unnest(['email', 'sms', 'phone', 'social']) as channel
),

grid as (
    select customers.customer_id, channels.channel,
        case channels.channel
            when 'email' then customers.email is not null
            when 'sms' then customers.phone_e164 is not null
            when 'phone' then customers.phone_e164 is not null
            when 'social' then customers.source_systems like '%social%'
        end as has_address
    from {{ ref('customers') }} as customers
    cross join channels
)

select
    grid.customer_id,
    grid.channel,
    coalesce(consent.consent_status, 'unknown') as consent_status,
    consent.consent_decided_at,
    consent.consent_source_system,
    consent.consent_captured_via,
    coalesce(sends.messages_in_window, 0) as messages_in_window,
    sends.last_message_at,
    {{ cap }} as contact_cap_messages,
    {{ days }} as contact_cap_days,
    as_of.as_of as window_end,
    case
        when consent.consent_status = 'denied' then 'consent_denied'
        when coalesce(consent.consent_status, 'unknown') = 'unknown' then 'consent_unknown'
        when not grid.has_address then 'no_address_for_channel'
        when coalesce(sends.messages_in_window, 0) >= {{ cap }} then 'contact_cap_reached'
    end as exclusion_reason
from grid
cross join as_of
left join {{ ref('customer_consent') }} as consent
    on grid.customer_id = consent.customer_id and grid.channel = consent.channel
left join sends on grid.customer_id = sends.customer_id
