{# Reconciliation: the model has exactly as many rows as `compare_sql` returns in its single value. #}
{% test count_matches(model, compare_sql) %}
with actual as (select count(*) as n from {{ model }}),
expected as ({{ compare_sql }})
select actual.n as actual_rows, expected.n as expected_rows
from actual cross join expected
where actual.n <> expected.n
{% endtest %}
