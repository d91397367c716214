"""The staging, intermediate and marts models stay portable (decision 0066): DuckDB-only
spellings live only in adapter-dispatched macros (dbt_project/macros/portable.sql). The
build on Spark itself is the opt-in tests/e2e/test_spark_target.py (`make dbt-spark`)."""

import re

import pytest

from pipelines.config import DBT_PROJECT_DIR

PORTABLE_LAYERS = ("staging", "intermediate", "marts")
# DuckDB spellings that Spark (or most other engines) reject or read differently
DUCKDB_ONLY = {
    "qualify": r"\bqualify\b",
    "aggregate filter": r"\bfilter\s*\(\s*where\b",
    ":: cast": r"::",
    "group by all": r"\bgroup\s+by\s+all\b",
    "unpivot": r"\bunpivot\b",
    "string_agg": r"\bstring_agg\s*\(",
    "generate_series": r"\bgenerate_series\s*\(",
    "gen_random_uuid": r"\bgen_random_uuid\s*\(",
    "now()": r"\bnow\s*\(\s*\)",
    "date_diff": r"\bdate_diff\s*\(",
    "date_trunc (use dbt.date_trunc)": r"(?<!dbt\.)\bdate_trunc\s*\(",
    "timezone()": r"\btimezone\s*\(",
    "varchar (use dbt.type_string)": r"\bvarchar\b",
    "list functions": r"\blist_\w+\s*\(",
    "regexp_matches / regexp_full_match": r"\bregexp_(matches|full_match)\s*\(",
    "strftime / epoch": r"\b(strftime|epoch)\s*\(",
    "arg_max / arg_min": r"\barg_(max|min)\s*\(",
    "two-argument ltrim/rtrim (argument order differs)": r"\b[lr]trim\s*\([^()]*,",
    "date + integer": r"\b\w*(week_start|_week|_date)\s*[+-]\s*\d+\b",
    "window order without explicit nulls": r"order by [^)]*\b(asc|desc)\b(?!\s+nulls)",
}


def _models():
    for layer in PORTABLE_LAYERS:
        yield from sorted((DBT_PROJECT_DIR / "models" / layer).rglob("*.sql"))
    yield DBT_PROJECT_DIR / "macros/features.sql"  # the body of customer_features_weekly


def _sql(path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)  # jinja comments
    return re.sub(r"--[^\n]*", "", text).lower()  # SQL comments


@pytest.mark.parametrize("path", list(_models()), ids=lambda p: p.name)
def test_model_has_no_duckdb_only_syntax(path):
    sql = _sql(path)
    found = [name for name, pattern in DUCKDB_ONLY.items() if re.search(pattern, sql)]
    assert found == [], f"{path.name}: use dbt cross-database or portable.sql macros for {found}"


def test_the_check_catches_duckdb_spellings():
    samples = [
        "select * from t qualify row_number() over (order by a) = 1",
        "select count(*) filter (where x) from t",
        "select x::date from t",
        "select cast(null as varchar)",
        "select ltrim(handle, '@')",
        "select week_start + 7",
        "select row_number() over (order by a desc) from t",
    ]
    for sample in samples:
        assert any(re.search(p, sample) for p in DUCKDB_ONLY.values()), sample


def test_dispatched_macros_have_a_spark_spelling():
    text = (DBT_PROJECT_DIR / "macros" / "portable.sql").read_text(encoding="utf-8")
    for macro in re.findall(r"adapter\.dispatch\('(\w+)'\)", text):
        assert f"macro default__{macro}(" in text and f"macro spark__{macro}(" in text, macro
