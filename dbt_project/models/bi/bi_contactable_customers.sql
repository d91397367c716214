{{ config(alias='contactable_customers') }}

-- Who may receive the next marketing message on which channel: consent granted, an address
-- for the channel, and under the contact cap. Everyone else is in bi.contact_exclusions.
select customer_id, channel, consent_decided_at, consent_source_system, consent_captured_via,
    messages_in_window, contact_cap_messages - messages_in_window as messages_left_in_window,
    contact_cap_days, window_end
from {{ ref('bi_contact_eligibility') }}
where exclusion_reason is null
