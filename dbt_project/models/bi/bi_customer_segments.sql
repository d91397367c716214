{{ config(alias='customer_segments') }}

select * from {{ source('ml', 'customer_segments') }}
