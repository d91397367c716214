{# Raw tables keep every batch; staging reads the newest version of each key, with the lineage
   of the delivery that first brought its content (decision 0102). A subquery with window
   functions instead of QUALIFY, which not every engine parses; the extra columns
   (_raw_hash, _arrived, _newest_content) stay in the `source` CTE: staging models select
   their columns by name, and keep `_raw_hash`.

   - `_raw_hash`: a hash of the raw row's contract columns (lineage left out).
   - Versions are ordered newest first. A version `_arrived` when its content differs from
     the version loaded before it; it has `_newest_content` when it and every newer version
     have the same content. The one row with both is kept: the newest content, with the
     lineage and `_ingested_at` of the delivery that first brought it. An export delivered
     again therefore changes no staging row, and the models downstream, which take rows newer
     than they hold, do not re-process it.
   - Incremental (macros/incremental.sql): only raw rows loaded after the newest row the model
     holds are read; every earlier raw row was read by an earlier build, whose kept row (its
     `_raw_hash`) stands for the versions before. A key none of whose new rows arrived is left
     out, so its stored row stays: the same row a full build keeps. Keys compare as staging
     writes them (trimmed text). #}
{% macro latest_per_key(relation, key_columns) -%}
    {%- set lineage = ['_source_file', '_source_row', '_batch_id', '_ingested_at'] -%}
    {%- set compare = is_incremental() and this_has_column('_raw_hash') -%}
    {%- set newest_first -%}
        partition by {% for key in key_columns %}hashed.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
        order by hashed._ingested_at desc nulls last, hashed._source_row desc nulls last
    {%- endset -%}
    {%- set up_to_here = newest_first ~ ' rows between unbounded preceding and current row' -%}
    select *
    from (
        select
            hashed.*,
            hashed._raw_hash is distinct from coalesce(
                lead(hashed._raw_hash) over ({{ newest_first }}),
                {{ 'stored._raw_hash' if compare else 'null' }}
            ) as _arrived,
            min(hashed._raw_hash) over ({{ up_to_here }})
                = max(hashed._raw_hash) over ({{ up_to_here }}) as _newest_content
        from (
            select
                all_versions.*,
                hash({{ columns_except(relation, lineage, 'all_versions') }}) as _raw_hash
            from {{ relation }} as all_versions
            {%- if is_incremental() %}
            where {{ newer_than_this('all_versions._ingested_at') }}
            {%- endif %}
        ) as hashed
        {%- if compare %}
        left join {{ this }} as stored
            on {% for key in key_columns %}{% if not loop.first %} and {% endif -%}
            cast(stored.{{ key }} as {{ dbt.type_string() }})
                = trim(cast(hashed.{{ key }} as {{ dbt.type_string() }})){% endfor %}
        {%- endif %}
    ) as versions
    where _arrived and _newest_content
{%- endmacro %}
