select
    customer_id,
    source_system,
    source_record_id,
    match_rule,
    first_seen_at
from {{ source('identity', 'customer_map') }}
