import json

import pandas as pd
import pytest

from pipelines.config import EXPECTATIONS_DIR
from pipelines.quality.suites import load_suites, validate


def suite_file(tmp_path, expectations, blocking=True):
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "name": "t",
                "expectations": expectations,
                "meta": {"customer360": {"table": "marts.t", "blocking": blocking}},
            }
        )
    )
    return load_suites(tmp_path)[0]


def test_every_shipped_suite_builds_completely():
    import great_expectations as gx

    suites = load_suites(EXPECTATIONS_DIR)
    assert {s.asset_key[0] for s in suites} >= {"raw", "staging", "marts"}
    assert any(s.blocking for s in suites)
    for suite in suites:
        built = gx.ExpectationSuite(name=suite.name, expectations=suite.data["expectations"])
        assert len(built.expectations) == len(suite.data["expectations"]), suite.path


def test_validation_reports_failures_with_severity(tmp_path):
    suite = suite_file(
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {
                "type": "expect_column_values_to_be_between",
                "severity": "warning",
                "kwargs": {"column": "a", "min_value": 0, "max_value": 5},
            },
        ],
    )
    passed, outcomes = validate(suite, pd.DataFrame({"a": [1.0, 2.0, 9.0]}))
    assert not passed
    assert [(o.success, o.severity) for o in outcomes] == [(True, "critical"), (False, "warning")]
    passed, _ = validate(suite, pd.DataFrame({"a": [1.0, 2.0]}))
    assert passed


def test_an_unknown_expectation_fails_loudly(tmp_path):
    suite = suite_file(tmp_path, [{"type": "expect_nonsense", "kwargs": {"column": "a"}}])
    with pytest.raises(ValueError, match="only 0 could be built"):
        validate(suite, pd.DataFrame({"a": [1]}))


def test_every_expectation_has_a_severity_and_block_suites_are_blocking_checks():
    suites = load_suites(EXPECTATIONS_DIR, contracts=["crm__contacts"])
    layers = {s.asset_key[0] for s in suites}
    assert layers >= {"raw", "staging", "identity", "marts", "ml"}
    for suite in suites:
        severities = {e.get("severity") for e in suite.expectations}
        assert severities <= {"critical", "warning"}, suite.path  # explicit, never defaulted
        assert suite.blocking == ("critical" in severities)


def test_per_contract_suites_are_instantiated_per_contract():
    suites = [s for s in load_suites(EXPECTATIONS_DIR, contracts=["a__b", "c__d"])
              if s.path.name == "raw_ingest.json"]
    assert [(s.name, s.asset_key) for s in suites] == [
        ("raw_ingest__a__b", ("raw", "a__b")), ("raw_ingest__c__d", ("raw", "c__d"))]
    assert "contract = 'c__d'" in suites[1].query and "{contract}" not in json.dumps(
        suites[1].data)


def test_parameters_fill_configured_limits(tmp_path):
    from pipelines.quality.parameters import suite_parameters

    params = suite_parameters()
    assert params["top_share_min"] < 0.2 < params["top_share_max"]
    assert "champions" in params["rfm_segments"]
    suite = suite_file(tmp_path, [{
        "type": "expect_column_max_to_be_between", "severity": "critical",
        "kwargs": {"column": "n", "max_value": {"$PARAMETER": "max_cluster_size"}}}])
    ok, _ = validate(suite, pd.DataFrame({"n": [params["max_cluster_size"]]}))
    bad, outcomes = validate(suite, pd.DataFrame({"n": [params["max_cluster_size"] + 1]}))
    assert ok and not bad
    assert outcomes[0].expected == f"max_value={float(params['max_cluster_size'])}"


def test_failure_message_names_expectation_column_observed_expected_and_why(tmp_path):
    from pipelines.quality.suites import SuiteRun

    suite = suite_file(tmp_path, [
        {"type": "expect_column_values_to_be_between", "severity": "critical",
         "meta": {"why": "a probability outside [0, 1] is a scoring bug"},
         "kwargs": {"column": "p", "min_value": 0, "max_value": 1}},
        {"type": "expect_column_pair_values_to_be_equal", "severity": "warning",
         "kwargs": {"column_A": "rows_in", "column_B": "rows_out"}},
    ])
    _, outcomes = validate(suite, pd.DataFrame({"p": [0.5, 1.5], "rows_in": [3, 3],
                                                "rows_out": [3, 2]}))
    block, warn = outcomes
    assert block.level == "block" and warn.level == "warn"
    assert block.message == (
        "[BLOCK] expect_column_values_to_be_between on column `p`: observed 1 of 2 rows "
        "unexpected (e.g. [1.5]), expected min_value=0.0, max_value=1.0 (a probability "
        "outside [0, 1] is a scoring bug)")
    assert "columns `rows_in` vs `rows_out`" in warn.message and "rows_in = rows_out" in (
        warn.message)
    run = SuiteRun(suite, outcomes, 2, 10, tmp_path / "t.html")
    assert run.blocked and not run.passed
    assert "a sample of 2 of 10 rows" in run.summary and str(tmp_path / "t.html") in run.summary
    assert "not materialised" in run.summary


def test_large_tables_are_validated_on_a_repeatable_sample(tmp_path):
    import duckdb

    from pipelines.quality.suites import read_frame, run_suite

    path = tmp_path / "t.json"
    path.write_text(json.dumps({
        "name": "t", "expectations": [{"type": "expect_column_values_to_be_between",
                                       "severity": "critical",
                                       "kwargs": {"column": "a", "min_value": 0}}],
        "meta": {"customer360": {"table": "main.t", "sample_rows": 1000}}}))
    suite = load_suites(tmp_path)[0]
    con = duckdb.connect()
    con.sql("create table t as select range as a, 'x' as unused from range(50000)")
    df, total = read_frame(con, suite)
    assert (len(df), total, list(df.columns)) == (1000, 50000, ["a"])
    assert df["a"].sum() == read_frame(con, suite)[0]["a"].sum()  # repeatable
    run = run_suite(suite, docs_dir=tmp_path, con=con, parameters={})
    assert run.passed and (tmp_path / "t.html").exists()


def test_failure_messages_never_quote_personal_data(tmp_path):
    suite = suite_file(tmp_path, [{
        "type": "expect_column_values_to_match_regex", "severity": "critical",
        "kwargs": {"column": "email", "regex": "^[a-z]+@[a-z]+\\.[a-z]+$"}}])
    _, (outcome,) = validate(suite, pd.DataFrame({"email": ["ok@x.cn", "Jane.Doe@x.cn"]}))
    assert not outcome.success and "Jane" not in outcome.message
    assert "1 of 2 rows unexpected" in outcome.message
