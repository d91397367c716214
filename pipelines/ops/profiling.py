"""Wall time, CPU time and peak memory of a process tree, attributed to the steps of a run.

A `TreeSampler` thread polls a process and all its descendants with psutil (every 0.2 s by
default): cumulative CPU seconds (user + system of the live processes, plus the children
they already reaped, so finished dbt subprocesses still count) and resident memory (sum of
RSS over the tree). `attribute` then cuts the samples by the steps' start/end times (from
the Dagster event log): wall = end - start, CPU = cumulative CPU at the end minus at the
start (linear interpolation between samples), peak = largest tree RSS sampled inside the
step. Everything in the run's wall time that lies outside every step is orchestration
(process start, imports, loading the definitions, run start/end, events between steps).
See docs/decisions/0060-scale-benchmark-measurement.md.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

STAGES = ("generate", "ingest", "staging", "identity", "marts", "snapshots", "quality", "ML",
          "publish", "other")


@dataclass(frozen=True)
class Sample:
    t: float  # epoch seconds
    cpu: float  # cumulative CPU seconds of the tree
    rss: int  # bytes, summed over the tree


@dataclass(frozen=True)
class Window:
    name: str
    start: float
    end: float


@dataclass
class Usage:
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0
    steps: list[str] = field(default_factory=list)

    def add(self, other: Usage) -> None:
        self.wall += other.wall
        self.cpu += other.cpu
        self.peak_rss = max(self.peak_rss, other.peak_rss)
        self.steps += other.steps


def stage_of(step_key: str) -> str:
    """The benchmark stage of a Dagster step key of weekly_refresh_job."""
    if "_ge_" in step_key or step_key.startswith("ge_"):
        return "quality"  # a Great Expectations suite (an asset check step)
    if step_key.startswith("raw__"):
        return "ingest"
    if step_key == "dbt_staging":
        return "staging"
    if "identity" in step_key:
        return "identity"
    if step_key == "dbt_customer_features_weekly":
        return "snapshots"
    if step_key == "dbt_marts":
        return "marts"
    if step_key in ("dbt_bi", "serving_files") or "serving" in step_key:
        return "publish"
    if step_key.startswith("ml__") or step_key in ("cross_sell", "retention"):
        return "ML"
    return "other"


def cpu_at(samples: list[Sample], t: float) -> float:
    """Cumulative CPU at time `t`, linearly interpolated between the samples around it."""
    if not samples:
        return 0.0
    times = [s.t for s in samples]
    i = bisect.bisect_left(times, t)
    if i == 0:
        return samples[0].cpu
    if i == len(samples):
        return samples[-1].cpu
    a, b = samples[i - 1], samples[i]
    if b.t == a.t:
        return b.cpu
    return a.cpu + (b.cpu - a.cpu) * (t - a.t) / (b.t - a.t)


def usage_in(samples: list[Sample], start: float, end: float, name: str = "") -> Usage:
    """Wall, CPU and peak RSS of the tree between `start` and `end`. A window shorter than
    the sampling interval takes its peak from the nearest sample."""
    inside = [s.rss for s in samples if start <= s.t <= end]
    if not inside and samples:
        nearest = min(samples, key=lambda s: min(abs(s.t - start), abs(s.t - end)))
        inside = [nearest.rss]
    return Usage(
        wall=max(0.0, end - start),
        cpu=max(0.0, cpu_at(samples, end) - cpu_at(samples, start)),
        peak_rss=max(inside, default=0),
        steps=[name] if name else [],
    )


def merge_windows(windows: Iterable[Window]) -> list[tuple[float, float]]:
    """The union of the windows as disjoint, sorted intervals."""
    out: list[list[float]] = []
    for w in sorted(windows, key=lambda w: w.start):
        if out and w.start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], w.end)
        else:
            out.append([w.start, w.end])
    return [(a, b) for a, b in out]


def attribute(
    samples: list[Sample], steps: list[Window], start: float, end: float
) -> tuple[dict[str, Usage], Usage]:
    """Per stage (`stage_of` each step) the summed wall and CPU and the peak RSS of its
    steps; and the orchestration overhead: the part of [start, end] covered by no step,
    with the CPU spent then and the peak RSS of the whole run."""
    stages: dict[str, Usage] = {}
    for w in steps:
        stages.setdefault(stage_of(w.name), Usage()).add(usage_in(samples, w.start, w.end, w.name))
    covered = merge_windows(steps)
    gaps, last = [], start
    for a, b in covered:
        if a > last:
            gaps.append((last, min(a, end)))
        last = max(last, b)
    if end > last:
        gaps.append((last, end))
    overhead = Usage()
    for a, b in gaps:
        part = usage_in(samples, a, b)
        overhead.wall += part.wall
        overhead.cpu += part.cpu
    overhead.peak_rss = usage_in(samples, start, end).peak_rss
    return stages, overhead


class TreeSampler(threading.Thread):
    """Polls process `pid` and its descendants until `stop()`; `samples` holds the series."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[Sample] = []
        self._stop_event = threading.Event()

    def sample(self) -> Sample | None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        cpu, rss = 0.0, 0
        for p in procs:
            try:
                with p.oneshot():
                    c = p.cpu_times()
                    cpu += c.user + c.system + c.children_user + c.children_system
                    rss += p.memory_info().rss
            except psutil.Error:
                continue  # ended between the listing and the reading
        previous = self.samples[-1].cpu if self.samples else 0.0
        # a child ending between two reads can drop out for one sample: CPU never goes back
        return Sample(time.time(), max(cpu, previous), rss)

    def run(self) -> None:
        while not self._stop_event.is_set():
            s = self.sample()
            if s is not None:
                self.samples.append(s)
            self._stop_event.wait(self.interval)

    def stop(self) -> list[Sample]:
        self._stop_event.set()
        self.join()
        return self.samples
