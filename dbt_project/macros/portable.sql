{# SQL that DuckDB and Spark spell differently, dispatched on the adapter (decision 0066).
   Models use these or dbt's cross-database macros (dbt.dateadd, dbt.datediff,
   dbt.date_trunc, dbt.type_string, dbt.bool_or, dbt.current_timestamp); no engine-specific
   syntax outside this folder. `default__` is the DuckDB spelling. #}

{# A timestamp with time zone as a plain UTC timestamp. On Spark a TIMESTAMP is an instant
   shown in the session time zone, which the Spark target pins to UTC
   (spark.sql.session.timeZone, pipelines/spark_target.py). #}
{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc')(column)) }}
{%- endmacro %}

{% macro default__to_utc(column) -%}
    cast(timezone('UTC', {{ column }}) as timestamp)
{%- endmacro %}

{% macro spark__to_utc(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{# The distinct values of `column` in a group, sorted, joined with `delimiter`. #}
{% macro distinct_sorted_list(column, delimiter) -%}
    {{ return(adapter.dispatch('distinct_sorted_list')(column, delimiter)) }}
{%- endmacro %}

{% macro default__distinct_sorted_list(column, delimiter) -%}
    string_agg(distinct {{ column }}, '{{ delimiter }}' order by {{ column }})
{%- endmacro %}

{% macro spark__distinct_sorted_list(column, delimiter) -%}
    array_join(array_sort(collect_set({{ column }})), '{{ delimiter }}')
{%- endmacro %}

{# A random UUID as text. #}
{% macro random_uuid() -%}
    {{ return(adapter.dispatch('random_uuid')()) }}
{%- endmacro %}

{% macro default__random_uuid() -%}
    cast(gen_random_uuid() as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__random_uuid() -%}
    uuid()
{%- endmacro %}

{# An order-free fingerprint of a customer's source records (an aggregate over rows with
   source_system and source_record_id): xor of 64-bit hashes on DuckDB, of Spark's 32-bit
   murmur3 there (the Spark target builds tables and never compares it). #}
{% macro record_set_hash() -%}
    {{ return(adapter.dispatch('record_set_hash')()) }}
{%- endmacro %}

{% macro default__record_set_hash() -%}
    bit_xor(hash(source_system, source_record_id))
{%- endmacro %}

{% macro spark__record_set_hash() -%}
    bit_xor(cast(hash(source_system, source_record_id) as bigint))
{%- endmacro %}
