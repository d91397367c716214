{# Raw tables keep every batch; staging reads the newest version of each key. #}
{% macro latest_per_key(relation, key_columns) -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _ingested_at desc, _source_row desc
    ) = 1
{%- endmacro %}

{# A timestamptz as a UTC timestamp. #}
{% macro to_utc(column) -%}
    cast(timezone('UTC', {{ column }}) as timestamp)
{%- endmacro %}
