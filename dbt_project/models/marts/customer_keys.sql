{#- full_refresh=false: the keys are kept, `dbt build --full-refresh` leaves them (decision 0062) #}
{{ config(materialized='incremental', full_refresh=false) }}

-- The pseudonymous customer key of the analytics outputs: a random UUID per customer id
-- (current or merged), assigned once and kept. It carries nothing about the person; only this
-- table (warehouse and restricted output) links it back to the customer id.
with ids as (
    select customer_id from {{ source('identity', 'customer_map') }}
    union
    select alias_customer_id from {{ source('identity', 'customer_aliases') }}
)

select customer_id, {{ random_uuid() }} as customer_key, {{ dbt.current_timestamp() }} as assigned_at
from ids
{% if is_incremental() %}
where customer_id not in (select customer_id from {{ this }})
{% endif %}
