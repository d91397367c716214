{#- Keeping the older weekly snapshots current on DuckDB (decision 0101): hooks of
    customer_features_weekly. Spark has none (its insert_overwrite replaces whole weeks). -#}

{#- Pre-hook: a table built before decision 0101 gets its columns, empty (its rows count
    as unchanged until rebuilt). -#}
{% macro add_snapshot_column(column, type) -%}
{%- if is_incremental() -%}
alter table {{ this }} add column if not exists {{ column }} {{ type }}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- Pre-hook: delete the weeks being built. -#}
{% macro delete_snapshot_weeks() -%}
{%- if is_incremental() -%}
delete from {{ this }} where snapshot_date in ({{ snapshot_dates(feature_weeks()) }})
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- The Mondays of the weeks already built outside `weeks`. -#}
{% macro other_snapshot_weeks(weeks) -%}
    {%- set built = run_query("select distinct snapshot_date from " ~ this ~ " where snapshot_date"
                              ~ " not in (" ~ snapshot_dates(weeks) ~ ") order by 1") %}
    {%- set mondays = [] %}
    {%- for sunday in built.columns[0].values() %}
        {%- do mondays.append((modules.datetime.date.fromisoformat((sunday | string)[:10])
                               - modules.datetime.timedelta(days=6)).isoformat()) %}
    {%- endfor %}
    {{- return(mondays) }}
{%- endmacro %}

{#- Post-hooks, after the model appended its weeks; the other weeks' rows are still as built.
    The newest other week (the reference) holds a row for every customer with an event up to
    it, so its rows say which customers the older weeks hold:
    1. temp table snapshot_rebuild: the customers whose rows in the reference are stale (the id
       is gone from marts.customers: merged away; another _records_hash: merge, split, a record
       moved; a row dated up to the reference but loaded after the row was built, that changed
       the customer's events up to it: another _events_hash, recomputed for those customers
       only, so a re-delivered export changes nothing), and those with events up to it but no
       row in it (split-off parts, customers whose first records arrived late); -#}
{% macro find_snapshot_customers_to_rebuild() -%}
{%- if is_incremental() -%}
    {%- set other = other_snapshot_weeks(feature_weeks()) %}
create or replace temp table snapshot_rebuild as
    {%- if other %}
        {%- set reference = snapshot_dates(other[-1:]) %}
        {%- set week_end = 'cast(' ~ dbt.dateadd('day', 1, reference) ~ ' as timestamp)' %}
with late as (
    select distinct loaded.customer_id, built._events_hash
    from ({{ feature_event_times() }}) as loaded
    join {{ this }} as built
        on built.customer_id = loaded.customer_id and built.snapshot_date = {{ reference }}
    where loaded._ingested_at > built._events_ingested_at
        and loaded.event_at < {{ week_end }}
        and loaded._ingested_at > (select min(_events_ingested_at) from {{ this }}
                                   where snapshot_date = {{ reference }})
),

fresh as (
    {{ customer_features(other[-1:], 'select customer_id from late') }}
)

select built.customer_id
from {{ this }} as built
left join {{ ref('customers') }} as now_ on now_.customer_id = built.customer_id
where built.snapshot_date = {{ reference }}
    and (now_.customer_id is null or now_._records_hash <> built._records_hash)
union
select late.customer_id
from late
left join fresh on fresh.customer_id = late.customer_id
where fresh._events_hash is distinct from late._events_hash
union
(select customer_id from ({{ feature_events() }}) as events
 where event_at < {{ week_end }}
 group by customer_id
 except
 select customer_id from {{ this }} where snapshot_date = {{ reference }})
    {%- else %}
select customer_id from {{ this }} where false
    {%- endif %}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- 2. temp table snapshot_rebuilt_rows: their rows of every other week, one aggregation per
    week (0068) over those customers only, in a statement of its own: a few customers, not the
    week's millions; -#}
{% macro build_rebuilt_snapshot_rows() -%}
{%- if is_incremental() -%}
    {%- set other = other_snapshot_weeks(feature_weeks()) %}
create or replace temp table snapshot_rebuilt_rows as
{% if other -%}
{{ customer_features(other, 'select customer_id from snapshot_rebuild') }}
{%- else -%}
select * from {{ this }} where false
{%- endif %}
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{#- 3. their old rows out of the other weeks; 4. the new rows in. -#}
{% macro replace_rebuilt_snapshot_rows() -%}
{%- if is_incremental() -%}
delete from {{ this }}
where customer_id in (select customer_id from snapshot_rebuild)
    and snapshot_date not in ({{ snapshot_dates(feature_weeks()) }})
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}

{% macro insert_rebuilt_snapshot_rows() -%}
{%- if is_incremental() -%}
insert into {{ this }} by name select * from snapshot_rebuilt_rows
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}
