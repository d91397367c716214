"""What the operator reads: offline Data Docs pages, dbt test descriptions, the docs index,
and descriptions on every asset, check, job, schedule and sensor of the Dagster definitions."""

import re

import pandas as pd

from pipelines.quality.data_docs import make_offline, write_validation_page
from pipelines.quality.dbt_tests import describe_dbt_test


def test_offline_page_has_no_remote_stylesheets_scripts_or_images():
    page = ('<html><head><link rel="stylesheet" href="https://cdn.example/b.css"/>'
            '<script src="https://cdn.example/j.js"></script><style>.x{}</style></head>'
            '<body><img src="https://s3.example/logo.png"><table></table></body></html>')
    out = make_offline(page)
    assert "cdn.example" not in out and "s3.example" not in out
    assert "<style>.x{}</style>" in out and "border-collapse" in out


def test_validation_result_renders_to_a_self_contained_page(tmp_path):
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("p").add_dataframe_asset("a")
             .add_batch_definition_whole_dataframe("w")
             .get_batch(batch_parameters={"dataframe": pd.DataFrame({"a": [1, None, 3]})}))
    suite = gx.ExpectationSuite(name="demo_suite", expectations=[
        gx.expectations.ExpectColumnValuesToNotBeNull(column="a")])
    page = write_validation_page(batch.validate(suite), tmp_path / "demo.html")
    text = page.read_text(encoding="utf-8")
    assert "demo_suite" in text and "Unsuccessful Expectations" in text
    assert "Failed" in text  # the suite failed: one null in column a
    assert not re.search(r"<(?:link|script|img)\b[^>]*(?:href|src)=[\"']https?://", text)


def test_numpy_observed_values_render(tmp_path, caplog):
    """GE's renderer writes observed values with repr(): numpy 2 scalars (a column's max) read
    'np.float64(...)', fail to render and leave the cell empty with an error in the log."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("p").add_dataframe_asset("a")
             .add_batch_definition_whole_dataframe("w")
             .get_batch(batch_parameters={"dataframe": pd.DataFrame({"share": [0.125, 0.3]})}))
    suite = gx.ExpectationSuite(name="floats", expectations=[
        gx.expectations.ExpectColumnMaxToBeBetween(column="share", max_value=0.5)])
    text = write_validation_page(batch.validate(suite), tmp_path / "f.html").read_text("utf-8")
    assert "0.3" in text and "np.float64" not in text
    assert "num_to_str" not in caplog.text


def test_dbt_tests_are_described_in_words():
    def test(name, severity="ERROR", **kwargs):
        return {"test_metadata": {"name": name, "kwargs": {"model": "x", **kwargs}},
                "config": {"severity": severity}}

    assert describe_dbt_test(test("unique", column_name="customer_id")).startswith(
        "dbt test: `customer_id` is unique; a failure blocks")
    rel = describe_dbt_test(test("relationships", column_name="order_id",
                                 to="ref('orders')", field="order_id"))
    assert "every `order_id` exists in `orders.order_id`" in rel
    assert "top, middle, base" in describe_dbt_test(
        test("accepted_values", column_name="tier", values=["top", "middle", "base"]))
    count = describe_dbt_test(test("count_matches", severity="warn",
                                   compare_sql="select count(*) from {{ ref('stg_x') }}"))
    assert "`select count(*) from stg_x`" in count and "only warns" in count


def test_docs_index_links_what_exists(tmp_path, monkeypatch):
    from pipelines import docs

    page = docs.index_page(True, ["customer_360.html"])
    assert 'href="dbt/index.html"' in page and 'href="data_docs/customer_360.html"' in page
    assert "No Data Docs yet" in docs.index_page(False, [])


def test_every_asset_check_job_schedule_and_sensor_explains_itself():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description and len(node.description) > 20, name
        assert node.owners, name
        assert node.group_name in {"raw", "reference", "staging", "identity", "marts", "ml",
                                   "bi", "serving", "privacy"}, name
        assert node.kinds, name
    checks = [spec for a in graph.assets_defs for spec in a.check_specs]
    assert len(checks) > 50
    for spec in checks:
        assert spec.description, spec.key
    for job in defs.jobs or []:
        assert getattr(job, "description", None), job.name
    for item in [*(defs.schedules or []), *(defs.sensors or [])]:
        assert item.description, item.name
