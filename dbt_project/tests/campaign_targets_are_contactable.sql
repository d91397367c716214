-- The target list (treatment and control) never holds a customer who may not be contacted on
-- the campaign's channel: consent denied or unknown, no address, or the contact cap reached.
select targets.customer_id, targets.channel, eligibility.exclusion_reason,
    eligibility.messages_in_window, eligibility.contact_cap_messages
from {{ ref('bi_campaign_targets') }} as targets
left join {{ ref('bi_contact_eligibility') }} as eligibility
    on eligibility.customer_id = targets.customer_id and eligibility.channel = targets.channel
where eligibility.customer_id is null
    or eligibility.exclusion_reason is not null
    or eligibility.consent_status <> 'granted'
    or eligibility.messages_in_window >= eligibility.contact_cap_messages
