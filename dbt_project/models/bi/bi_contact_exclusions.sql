{{ config(alias='contact_exclusions') }}

-- Customers not contactable on a channel, with the reason (consent_denied, consent_unknown,
-- no_address_for_channel, contact_cap_reached).
select customer_id, channel, exclusion_reason, consent_status, consent_decided_at,
    consent_source_system, messages_in_window, contact_cap_messages, contact_cap_days,
    window_end
from {{ ref('bi_contact_eligibility') }}
where exclusion_reason is not null
