{{ config(alias='customer_value') }}

select * from {{ source('ml', 'customer_value') }}
