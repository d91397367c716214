"""Step attribution and overhead arithmetic of the scale benchmark (pipelines/ops/profiling)."""

import os
import subprocess
import sys
import time

import pytest

from pipelines.ops.profiling import (
    Sample,
    TreeSampler,
    Window,
    attribute,
    cpu_at,
    merge_windows,
    stage_of,
    usage_in,
)
from pipelines.scale_bench import step_windows

GB = 1024**3


def series():
    # CPU rises 1 s per second from t=0..10, RSS 1 GB except a 3 GB spike at t=4
    return [Sample(float(t), float(t), (3 if t == 4 else 1) * GB) for t in range(11)]


def test_cpu_is_interpolated_between_samples_and_clamped_at_the_ends():
    s = [Sample(0.0, 0.0, 0), Sample(2.0, 1.0, 0)]
    assert cpu_at(s, 1.0) == pytest.approx(0.5)
    assert cpu_at(s, -5.0) == 0.0
    assert cpu_at(s, 9.0) == 1.0
    assert cpu_at([], 1.0) == 0.0


def test_usage_of_a_window_takes_cpu_difference_and_peak_inside():
    u = usage_in(series(), 3.5, 6.0, "x")
    assert u.wall == pytest.approx(2.5)
    assert u.cpu == pytest.approx(2.5)
    assert u.peak_rss == 3 * GB
    assert u.steps == ["x"]
    # a window between two samples takes the nearest sample's memory
    assert usage_in(series(), 7.2, 7.4).peak_rss == 1 * GB


def test_overlapping_windows_are_merged():
    ws = [Window("a", 0, 2), Window("b", 1, 3), Window("c", 5, 6)]
    assert merge_windows(ws) == [(0, 3), (5, 6)]


def test_attribute_sums_steps_per_stage_and_leaves_the_gaps_as_overhead():
    steps = [
        Window("raw__crm__contacts", 1.0, 2.0),
        Window("raw__shop__orders", 2.0, 3.5),
        Window("identity__identity_resolution", 4.0, 7.0),
        Window("dbt_bi", 8.0, 9.0),
    ]
    stages, overhead = attribute(series(), steps, 0.0, 10.0)
    assert stages["ingest"].wall == pytest.approx(2.5)
    assert stages["ingest"].steps == ["raw__crm__contacts", "raw__shop__orders"]
    assert stages["identity"].peak_rss == 3 * GB
    assert stages["publish"].cpu == pytest.approx(1.0)
    # gaps: 0-1, 3.5-4, 7-8, 9-10 = 3.5 s, and wall = steps + overhead
    assert overhead.wall == pytest.approx(3.5)
    assert overhead.cpu == pytest.approx(3.5)
    assert sum(u.wall for u in stages.values()) + overhead.wall == pytest.approx(10.0)
    assert overhead.peak_rss == 3 * GB


@pytest.mark.parametrize(
    ("step", "stage"),
    [
        ("raw__social__interactions", "ingest"),
        ("dbt_staging", "staging"),
        ("identity__identity_resolution", "identity"),
        ("dbt_marts", "marts"),
        ("dbt_customer_features_weekly", "snapshots"),
        ("staging__stg_shop__orders_ge_stg_shop__orders", "quality"),
        ("raw__crm__contacts_ge_raw_crm__contacts", "quality"),
        ("identity_resolution", "identity"),
        ("cross_sell", "ML"),
        ("privacy__erasure_requests", "other"),
        ("ml__customer_churn", "ML"),
        ("dbt_bi", "publish"),
        ("serving_files", "publish"),
        ("something_new", "other"),
    ],
)
def test_stage_of_step_keys(step, stage):
    assert stage_of(step) == stage


class _Ev:
    def __init__(self, kind):
        self.event_type_value = kind


class _Entry:
    def __init__(self, step, kind, t):
        self.step_key, self.timestamp, self.dagster_event = step, t, _Ev(kind)


def test_step_windows_from_event_log_entries():
    events = [
        _Entry(None, "RUN_START", 0.0),
        _Entry("a", "STEP_START", 1.0),
        _Entry("a", "STEP_SUCCESS", 2.0),
        _Entry("b", "STEP_START", 2.5),
        _Entry("b", "STEP_FAILURE", 4.0),
        _Entry(None, "RUN_FAILURE", 4.5),
    ]
    windows, end = step_windows(events)
    assert windows == [Window("a", 1.0, 2.0), Window("b", 2.5, 4.0)]
    assert end == 4.5


def test_tree_sampler_sees_a_childs_cpu_and_memory():
    code = "import time; b = bytearray(300 * 2**20); t = time.process_time()\n" \
           "while time.process_time() - t < 0.6: pass"
    proc = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run("
                             f"[sys.executable, '-c', {code!r}])"], env=os.environ)
    sampler = TreeSampler(proc.pid, interval=0.05)
    sampler.start()
    proc.wait()
    time.sleep(0.1)
    samples = sampler.stop()
    assert max(s.rss for s in samples) > 250 * 2**20  # the grandchild's buffer
    assert samples[-1].cpu >= 0.4  # the grandchild's busy loop, counted once reaped
    assert all(b.cpu >= a.cpu for a, b in zip(samples, samples[1:]))


class _Meta:
    def __init__(self, value):
        self.value = value


class _Mat:
    def __init__(self, meta):
        self.materialization = type("M", (), {"metadata": meta})()
        self.metadata = meta


class _DbtEntry:
    def __init__(self, step, kind, node, seconds):
        self.step_key, self.timestamp = step, 0.0
        ev = _Ev(kind)
        ev.event_specific_data = _Mat({"Execution Duration": _Meta(seconds),
                                       "unique_id": _Meta(node)})
        self.dagster_event = ev


def test_dbt_split_counts_each_node_once_across_partitions():
    from pipelines.scale_bench import dbt_split

    events = [
        # one incremental model materialised for three weekly partitions
        *[_DbtEntry("dbt_customer_features_weekly", "ASSET_MATERIALIZATION", "model.f", 3.0)
          for _ in range(3)],
        _DbtEntry("dbt_customer_features_weekly", "ASSET_CHECK_EVALUATION", "test.t1", 0.5),
        _DbtEntry("dbt_bi", "ASSET_MATERIALIZATION", "model.a", 1.0),
        _DbtEntry("dbt_bi", "ASSET_MATERIALIZATION", "model.b", 2.0),
        _DbtEntry("identity_resolution", "ASSET_MATERIALIZATION", "x", 9.0),  # not dbt
    ]
    assert dbt_split(events) == {
        "dbt_customer_features_weekly": {"models": 3.0, "tests": 0.5},
        "dbt_bi": {"models": 3.0, "tests": 0.0},
    }


def test_report_lists_the_slowest_steps_with_their_peak_memory():
    from pipelines.scale_bench import GB, report

    usage = {"wall": 10.0, "cpu": 9.0, "peak_rss": GB}
    phase = {"wall": 30.0, "cpu": 25.0, "peak_rss": 3 * GB, "dbt_fixed": 1.0, "dbt_tests": 0.5,
             "stages": {"ML": {**usage, "wall": 25.0, "steps": ["a", "b"]}},
             "overhead": {**usage, "wall": 2.0},
             "steps": {"ml__customer_churn": {**usage, "wall": 20.0, "peak_rss": 3 * GB},
                       "cross_sell": usage}}
    text = report({"customers": 10, "load_before": [0.1], "full_refresh": phase})
    lines = text.splitlines()
    first = lines.index("slowest steps:")
    assert "ml__customer_churn" in lines[first + 1] and "3.00 GB" in lines[first + 1]
    assert "cross_sell" in lines[first + 2]
