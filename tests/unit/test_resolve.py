"""The identity step on a warehouse: incremental runs match only new and changed records and
agree with a full re-cluster; unchanged customers keep their ids."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.identity.evaluate import pairwise_scores
from pipelines.identity.matcher import SplinkMatcher
from pipelines.identity.resolve import INPUT, resolve
from tests.unit.test_probabilistic import _records


def _load(con, records: pd.DataFrame) -> None:
    con.sql("create schema if not exists staging; create schema if not exists identity")
    con.register("_records", records)
    con.sql(f"create or replace table {INPUT} as select * from _records")
    con.unregister("_records")


def _partition(con) -> set[frozenset]:
    rows = con.sql("select customer_id, source_system || ':' || source_record_id "
                   "from identity.customer_map").fetchall()
    groups: dict[str, set] = {}
    for customer, record in rows:
        groups.setdefault(customer, set()).add(record)
    return {frozenset(g) for g in groups.values()}


@pytest.fixture(scope="module")
def weeks():
    records, persons = _records()
    later = records.index % 5 == 4  # every fifth record arrives a week later
    first = records[~later].reset_index(drop=True)
    second = records.copy()
    second.loc[0, "email"] = second.loc[0, "email_key"] = "zhang.wei.new@163.com"  # a change
    return first, second


@pytest.fixture(scope="module")
def model_path(weeks, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "splink_model.json"
    SplinkMatcher(path)(weeks[1])  # trained on all records: both runs below reuse it
    return path


def _run(tmp_path, weeks, model_path, full: bool):
    con = duckdb.connect(str(tmp_path / ("full.duckdb" if full else "inc.duckdb")))
    _load(con, weeks[0])
    resolve(con, matcher=SplinkMatcher(model_path))
    before = con.sql("select * from identity.customer_map").df()
    _load(con, weeks[1])
    result = resolve(con, matcher=SplinkMatcher(model_path), full=full)
    return con, result, before


def test_incremental_run_matches_only_new_and_changed_records(tmp_path, weeks, model_path):
    con, result, before = _run(tmp_path, weeks, model_path, full=False)
    assert result.mode == "incremental"
    assert result.matched_records == len(weeks[1]) - len(weeks[0]) + 1
    after = con.sql("select * from identity.customer_map").df()
    assert len(after) == len(weeks[1])
    # every unchanged customer keeps its id
    kept = before.merge(after, on=["source_system", "source_record_id"])
    unchanged = kept[kept["record_hash_x"] == kept["record_hash_y"]]
    assert len(unchanged) == len(weeks[0]) - 1
    assert (unchanged["customer_id_x"] == unchanged["customer_id_y"]).all()


def test_incremental_and_full_runs_differ_only_by_earlier_links_kept(tmp_path, weeks,
                                                                     model_path):
    """A bare social profile 'Thomas Grace' linked in week one to the only Grace Thomas
    then known; in week two a second Grace Thomas account arrives, the name counts as
    more common, and a full re-cluster no longer links the profile. The incremental run
    keeps the earlier link (docs/decisions/0005). Both agree on everything else."""
    inc, inc_result, _ = _run(tmp_path, weeks, model_path, full=False)
    full, full_result, _ = _run(tmp_path, weeks, model_path, full=True)
    assert full_result.mode == "full" and full_result.matched_records == len(weeks[1])
    incremental = _partition(inc)
    assert all(any(part <= whole for whole in incremental) for part in _partition(full))
    agreement = pairwise_scores(
        inc.sql("select * from identity.customer_map").df(),
        full.sql("select * from identity.customer_map").df().rename(
            columns={"customer_id": "person_id"}))
    assert agreement["precision"] >= 0.8 and agreement["recall"] == 1.0
    assert inc_result.customers < inc_result.records  # something was merged
    # the incremental run judged only the new and changed records' identifiers again (0084)
    # and reached the full run's demotions, read back through the warehouse's own types
    demoted = "select kind, value, records, reason from identity.demoted_identifiers order by 1, 2"
    assert len(full.sql(demoted).fetchall()) > 0
    assert inc.sql(demoted).fetchall() == full.sql(demoted).fetchall()


def test_a_new_model_reclusters_everything(tmp_path, weeks):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _load(con, weeks[0])
    resolve(con, matcher=SplinkMatcher(tmp_path / "m.json"))
    _load(con, weeks[1])
    result = resolve(con, matcher=SplinkMatcher(tmp_path / "m.json", refit=True))
    assert result.mode == "full"


def _tables(con) -> dict[str, pd.DataFrame]:
    queries = {
        "customer_map": "select * exclude (first_seen_at, resolved_at) from identity.customer_map",
        "review_queue": "select * exclude (queued_at) from identity.review_queue",
        "demoted": "select * exclude (demoted_at) from identity.demoted_identifiers",
        "aliases": "select * from identity.customer_aliases",
        "events": "select * exclude (event_at) from identity.id_events",
    }
    return {name: con.sql(f"{sql} order by all").df() for name, sql in queries.items()}


def test_kept_matching_columns_change_no_result(tmp_path, weeks, model_path, monkeypatch):
    """The weekly run reads the own matching columns of unchanged records from
    identity.match_columns and offers Splink only the known records that can block with a
    new one (decision 0075): its result equals the run that derives every column again and
    offers every known record (the code before). A street edit (not in the record
    fingerprint, in the columns' one) is derived again too."""
    from pipelines.identity import probabilistic

    first, second = (w.assign(street=w["source_record_id"].map(
        lambda r: f"{sum(map(ord, r)) % 7} High Street")) for w in weeks)
    second.loc[3, "street"] = "Flat 2, 9 Mill Lane"  # record 3 stays in the first week's rows

    def run(name: str, keep: bool) -> tuple[dict[str, pd.DataFrame], SplinkMatcher]:
        con = duckdb.connect(str(tmp_path / name))
        _load(con, first)
        resolve(con, matcher=SplinkMatcher(model_path))
        assert con.sql("select count(*) from identity.match_columns").fetchone()[0] == len(first)
        if not keep:
            con.sql("drop table identity.match_columns")
        _load(con, second)
        matcher = SplinkMatcher(model_path)
        result = resolve(con, matcher=matcher)
        assert result.mode == "incremental"
        return _tables(con), matcher

    kept, matcher = run("kept.duckdb", keep=True)
    assert matcher.derived_records == len(second) - len(first) + 2  # new, email and street edits
    everything = probabilistic._may_block_with
    monkeypatch.setattr(probabilistic, "_may_block_with",
                        lambda prepared, delta, model: np.ones(len(prepared), dtype=bool))
    derived, matcher = run("derived.duckdb", keep=False)
    assert matcher.derived_records == len(second)
    assert (kept["customer_map"]["match_rule"] == "splink").any()
    for name, frame in derived.items():
        pd.testing.assert_frame_equal(kept[name], frame, obj=name)
    # the pre-blocking left some known records out: it did something here
    records = second.reset_index(drop=True)
    delta = np.zeros(len(records), dtype=bool)
    delta[-3:] = True
    prepared = probabilistic.prepare(records)
    offered = everything(prepared, delta, probabilistic.load_model(model_path))
    assert offered[-3:].all() and not offered.all()


def test_a_week_without_changes_derives_nothing_and_changes_nothing(tmp_path, weeks, model_path):
    con = duckdb.connect(str(tmp_path / "same.duckdb"))
    _load(con, weeks[0])
    resolve(con, matcher=SplinkMatcher(model_path))
    before = _tables(con)
    matcher = SplinkMatcher(model_path)
    result = resolve(con, matcher=matcher)
    assert (result.mode, result.matched_records, matcher.derived_records) == ("incremental", 0, 0)
    after = _tables(con)
    pd.testing.assert_frame_equal(before["customer_map"], after["customer_map"])
    assert len(after["events"]) == len(before["events"])  # no merge, split or create


def test_the_record_fingerprint_covers_every_field_matching_reads():
    from pipelines.identity.deterministic import IDENTIFIER_KINDS
    from pipelines.identity.probabilistic import OWN_INPUTS
    from pipelines.identity.resolve import MATCH_INPUTS, record_hashes

    assert set(OWN_INPUTS) | set(IDENTIFIER_KINDS) <= set(MATCH_INPUTS)
    records, _ = _records()
    records["street"] = "1 High Street"
    moved = records.copy()
    moved.loc[3, "street"] = "88 Another Road"  # only the street changes
    before, after = record_hashes(records), record_hashes(moved)
    assert before[3] != after[3]
    assert (before.drop(index=3) == after.drop(index=3)).all()


def test_the_match_cache_code_version_is_the_same_in_every_process():
    """A weekly run finds the matching columns an earlier run kept only if both processes
    compute the same code version. String hashing is seeded per process, so a set's order
    (and its repr) is not the same in two processes: the version must not depend on it."""
    import os
    import subprocess
    import sys

    code = "from pipelines.identity.match_cache import _code_version; print(_code_version().hex())"
    versions = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in range(1, 5)
    }
    assert len(versions) == 1, versions
