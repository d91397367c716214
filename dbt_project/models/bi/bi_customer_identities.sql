{{ config(alias='customer_identities') }}

select customer_id, source_system, source_record_id, match_rule
from {{ ref('customer_identities') }}
