{# Raw tables keep every batch; staging reads the newest version of each key. A subquery with
   row_number() instead of QUALIFY, which not every engine parses; the extra column
   _version_rank stays in the `source` CTE (staging models select their columns by name).
   In an incremental build only the keys with a version newer than the model holds are read
   (macros/incremental.sql). #}
{% macro latest_per_key(relation, key_columns) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _ingested_at desc nulls last, _source_row desc nulls last
            ) as _version_rank
        from {{ relation }} as all_versions
        {%- if is_incremental() %}
        where {{ has_newer_version(relation, key_columns, 'all_versions') }}
        {%- endif %}
    ) as versions
    where _version_rank = 1
{%- endmacro %}
