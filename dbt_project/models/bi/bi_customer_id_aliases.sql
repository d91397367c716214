{{ config(alias='customer_id_aliases') }}

-- Old customer ids (merged into another customer) and the id they resolve to now, plus every
-- current id mapping to itself: join on this to keep old ids in BI reports working.
select alias_customer_id as customer_id_seen, customer_id
from {{ source('identity', 'customer_aliases') }}
union all
select distinct customer_id, customer_id
from {{ source('identity', 'customer_map') }}
