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
