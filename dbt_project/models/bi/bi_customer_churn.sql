{{ config(alias='customer_churn') }}

select * from {{ source('ml', 'customer_churn') }}
