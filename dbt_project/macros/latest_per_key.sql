{# Raw tables keep every batch; staging reads the newest version of each key. A subquery with
   row_number() instead of QUALIFY, which not every engine parses; the extra column
   _version_rank stays in the `source` CTE (staging models select their columns by name). #}
{% macro latest_per_key(relation, key_columns) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _ingested_at desc nulls last, _source_row desc nulls last
            ) as _version_rank
        from {{ relation }}
    ) as versions
    where _version_rank = 1
{%- endmacro %}
