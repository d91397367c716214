"""`make bench SIZE=N`: the weekly refresh at scale, per stage (issue 7).

Not a test: a benchmark that prints figures (docs/benchmarks.md, "Scale (issue 7)").

Under `data/bench/scale<N>/` (a data folder of its own: warehouse, Dagster instance, MLflow):

1. generate the sample exports of N people unless they are there (`pipelines.sample_data`);
2. ratio 1, its plain side: a plain DuckDB `read_csv`/`read_json`/`read_parquet` of the
   landing files into tables, right before the full refresh's ingest stage reads them;
3. the full refresh: `pipelines.demo` (weekly_refresh_job in one in-process Dagster run) on
   an empty warehouse, with the weekly snapshots the churn model needs (`--weeks`, the
   one-off backfill, reported as its own stage "snapshots");
4. ratio 2: a plain Splink run with the same blocking rules on the same records (with
   standard library comparisons), against the identity stage, with both F1s on the truth;
5. the next week: `generate_increment`, then the incremental weekly refresh (newest
   snapshot partition only).

Every phase runs in a subprocess sampled with psutil (pipelines/ops/profiling.py); the
Dagster steps' start and end times come from the run's event log. Results: a table on
stdout and `results.json` in the bench folder.
"""
# A command-line benchmark talks to the terminal:
# ruff: noqa: T201

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines.config import REPO_ROOT
from pipelines.ops.profiling import (
    STAGES,
    Sample,
    TreeSampler,
    Window,
    attribute,
    stage_of,
    usage_in,
)

END_DATE = date(2026, 11, 15)  # the sample generator's default base export end (a Sunday)
ENV_VARS = ("C360_WAREHOUSE", "C360_LANDING_DIR", "C360_SERVING_DIR", "MLFLOW_TRACKING_URI",
            "DAGSTER_HOME", "C360_MLFLOW_ARTIFACTS", "C360_RESTRICTED_DIR")
GB = 1024**3


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["C360_DATA_DIR"] = str(data_dir)
    env["C360_LANDING_SETTLE_SECONDS"] = "0"  # the bench writes complete files
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def measured(cmd: list[str], data_dir: Path, log: Path) -> dict[str, Any]:
    """Run `cmd` with its process tree sampled. Returns wall, CPU (all of the tree, from the
    kernel's accounting of reaped children), peak tree RSS, the samples and the output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env_for(data_dir), stdout=out,
                                stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        code = proc.wait()
    t1 = time.time()
    samples = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # the last sample: the tree's CPU as the kernel counted it once everything was reaped
    samples.append(Sample(t1, max(cpu, samples[-1].cpu if samples else 0.0), 0))
    return {"code": code, "start": t0, "end": t1, "wall": t1 - t0, "cpu": cpu,
            "peak_rss": max((s.rss for s in samples), default=0), "samples": samples,
            "output": log.read_text(errors="replace")}


def run_events(data_dir: Path, run_id: str) -> list[Any]:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(data_dir / "dagster"))
    return list(instance.all_logs(run_id))


def step_windows(events: list[Any]) -> tuple[list[Window], float | None]:
    """(start, end) of every step of a run and the run's end, from its event log entries."""
    starts: dict[str, float] = {}
    windows, run_end = [], None
    for e in events:
        ev = e.dagster_event
        if ev is None:
            continue
        kind = ev.event_type_value
        if kind == "STEP_START":
            starts[e.step_key] = e.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and e.step_key in starts:
            windows.append(Window(e.step_key, starts.pop(e.step_key), e.timestamp))
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE", "PIPELINE_SUCCESS", "PIPELINE_FAILURE"):
            run_end = e.timestamp
    return windows, run_end


def dbt_split(events: list[Any]) -> dict[str, dict[str, float]]:
    """Per dbt step: seconds dbt spent in models and in tests (dbt's own node timings, each
    node once); the rest of the step is dbt's fixed cost (start, parse, adapter) and
    Dagster's event handling."""
    out: dict[str, dict[str, float]] = {}
    seen: set[tuple[str, str, str]] = set()
    for e in events:
        ev = e.dagster_event
        if ev is None or not (e.step_key or "").startswith("dbt_"):
            continue
        data = ev.event_specific_data
        if ev.event_type_value == "ASSET_MATERIALIZATION":
            meta, kind = data.materialization.metadata, "models"
        elif ev.event_type_value == "ASSET_CHECK_EVALUATION":
            meta, kind = getattr(data, "metadata", {}) or {}, "tests"
        else:
            continue
        value = meta.get("Execution Duration")
        seconds = getattr(value, "value", value)
        # a partition range materialises each partition of one dbt node: count the node once
        node = meta.get("unique_id")
        key = (e.step_key, kind, str(getattr(node, "value", node) or id(e)))
        if key in seen:
            continue
        seen.add(key)
        if isinstance(seconds, int | float):
            step = out.setdefault(e.step_key, {"models": 0.0, "tests": 0.0})
            step[kind] += float(seconds)
    return out


def run_id_of(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("Dagster run "):
            return line.split()[2].rstrip(":")
    raise RuntimeError("no Dagster run id in the output:\n" + output[-3000:])


def dagster_phase(name: str, cmd: list[str], data_dir: Path) -> dict[str, Any]:
    m = measured(cmd, data_dir, data_dir / "bench" / f"{name}.log")
    if m["code"] != 0:
        raise RuntimeError(f"{name} failed (exit {m['code']}), see "
                           f"{data_dir / 'bench' / f'{name}.log'}:\n{m['output'][-3000:]}")
    events = run_events(data_dir, run_id_of(m["output"]))
    windows, run_end = step_windows(events)
    end = run_end or m["end"]  # the summary printed after the run is not part of it
    stages, overhead = attribute(m["samples"], windows, m["start"], end)
    from pipelines.defs.common import SNAPSHOT_BUILD_LOG

    split = dbt_split(events)
    # a snapshot backfill in several dbt runs (decision 0081) streams only the last run's
    # node timings: its step cannot be split into SQL and fixed cost, so it is left out
    ranges: dict[str, int] = {}
    for e in events:
        if (e.user_message or "").startswith(SNAPSHOT_BUILD_LOG):
            ranges[e.step_key] = ranges.get(e.step_key, 0) + 1
    dbt_fixed = sum(
        w.end - w.start - split[w.name]["models"] - split[w.name]["tests"]
        for w in windows if w.name in split and ranges.get(w.name, 1) == 1
    )
    wall = end - m["start"]
    return {
        "wall": wall, "cpu": m["cpu"], "peak_rss": m["peak_rss"],
        "stages": {k: asdict(v) for k, v in stages.items()},
        "overhead": asdict(overhead),
        "dbt": split, "dbt_tests": sum(s["tests"] for s in split.values()),
        "dbt_fixed": dbt_fixed,
        # per step: the peak is the process tree's RSS while the step ran (in-process steps
        # share one process, so it includes what earlier steps left allocated)
        "steps": {w.name: asdict(usage_in(m["samples"], w.start, w.end))
                  for w in windows if stage_of(w.name) != "quality"},
    }


def simple_phase(name: str, cmd: list[str], data_dir: Path) -> dict[str, Any]:
    m = measured(cmd, data_dir, data_dir / "bench" / f"{name}.log")
    if m["code"] != 0:
        raise RuntimeError(f"{name} failed (exit {m['code']}):\n{m['output'][-3000:]}")
    return {"wall": m["wall"], "cpu": m["cpu"], "peak_rss": m["peak_rss"],
            "output": m["output"][-2000:]}


def py(module: str, *args: Any) -> list[str]:
    return [sys.executable, "-m", module, *map(str, args)]


# --------------------------------------------------------------------------- report


def fmt_usage(u: dict[str, Any]) -> str:
    return f"{u['wall']:8.1f} s {u['cpu']:8.1f} s {u['peak_rss'] / GB:6.2f} GB"


def report(results: dict[str, Any]) -> str:
    lines = [f"customers {results['customers']:,}  (load average before: "
             f"{results['load_before']})"]
    gen = results.get("generate")
    if gen:
        lines.append(f"{'generate':<28}{fmt_usage(gen)}")
    for phase in ("full_refresh", "incremental"):
        p = results.get(phase)
        if not p:
            continue
        lines.append(f"--- {phase}: wall {p['wall']:.1f} s, CPU {p['cpu']:.1f} s, "
                     f"peak RSS {p['peak_rss'] / GB:.2f} GB")
        lines.append(f"{'stage':<28}{'wall':>10} {'CPU':>10} {'peak RSS':>9}")
        for stage in STAGES:
            if stage in p["stages"]:
                lines.append(f"{stage:<28}{fmt_usage(p['stages'][stage])}")
        o = p["overhead"]
        lines.append(f"{'orchestration (outside steps)':<28}{o['wall']:8.1f} s {o['cpu']:8.1f} s"
                     f"   ({o['wall'] / p['wall']:.0%} of wall)")
        lines.append(f"{'  + dbt fixed cost in steps':<28}{p['dbt_fixed']:8.1f} s"
                     f"   (together {(o['wall'] + p['dbt_fixed']) / p['wall']:.0%} of wall)")
        lines.append(f"{'  dbt tests (in dbt steps)':<28}{p['dbt_tests']:8.1f} s")
        # results.json files written before the per-step figures hold the wall time only
        steps = {k: u for k, u in p.get("steps", {}).items() if isinstance(u, dict)}
        slow = sorted(steps.items(), key=lambda kv: -kv[1]["wall"])[:8]
        if slow:
            lines.append("slowest steps:")
            lines += [f"  {name:<26}{fmt_usage(u)}" for name, u in slow]
    r = results.get("ingest_ratio")
    if r:
        lines.append(f"ingest {r['pipeline']:.1f} s vs plain DuckDB read {r['plain']:.1f} s "
                     f"({r['rows']:,} rows): {r['ratio']:.2f}x")
    r = results.get("identity_ratio")
    if r:
        lines.append(f"identity {r['pipeline']:.1f} s (F1 {r['pipeline_f1']:.4f}) vs plain "
                     f"Splink {r['plain']:.1f} s (F1 {r['plain_f1']:.4f}, of which Splink "
                     f"{r['plain_splink']:.1f} s): {r['ratio']:.2f}x")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The per-stage tables of one results.json, as in docs/benchmarks.md."""
    phases = [p for p in ("full_refresh", "incremental") if results.get(p)]
    head = "| stage | " + " | ".join(f"{p} wall / CPU / peak" for p in phases) + " |"
    lines = [head, "|---|" + "---|" * len(phases)]

    def cell(u: dict[str, Any] | None) -> str:
        if not u:
            return ""
        return f"{u['wall']:.1f} s / {u['cpu']:.1f} s / {u['peak_rss'] / GB:.2f} GB"

    gen = results.get("generate")
    inc = results.get("generate_increment")
    if gen or inc:
        lines.append("| generate | " + " | ".join([cell(gen), cell(inc)][: len(phases)]) + " |")
    for stage in STAGES:
        if any(stage in results[p]["stages"] for p in phases):
            lines.append(f"| {stage} | " + " | ".join(
                cell(results[p]["stages"].get(stage)) for p in phases) + " |")
    lines.append("| orchestration outside steps | " + " | ".join(
        f"{results[p]['overhead']['wall']:.1f} s / {results[p]['overhead']['cpu']:.1f} s "
        f"({results[p]['overhead']['wall'] / results[p]['wall']:.0%})" for p in phases) + " |")
    lines.append("| dbt fixed cost inside dbt steps | " + " | ".join(
        f"{results[p]['dbt_fixed']:.1f} s ({results[p]['dbt_fixed'] / results[p]['wall']:.0%})"
        for p in phases) + " |")
    lines.append("| **run** | " + " | ".join(
        f"**{results[p]['wall']:.1f} s / {results[p]['cpu']:.1f} s / "
        f"{results[p]['peak_rss'] / GB:.2f} GB**" for p in phases) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def plain_baseline(kind: str, label: str, data_dir: Path) -> tuple[dict, dict]:
    """Run `pipelines.ops.plain_baselines <kind>` as a measured phase; (phase, its JSON line)."""
    print(f"{label} ...", flush=True)
    plain = simple_phase(f"plain_{kind}", py("pipelines.ops.plain_baselines", kind, data_dir),
                         data_dir)
    return plain, json.loads(plain["output"].strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--weeks", type=int, default=60,
                        help="weekly snapshots of the first run (the churn model's history)")
    parser.add_argument("--skip", default="", help="comma list: ingest_ratio,identity_ratio,"
                        "incremental")
    parser.add_argument("--incremental-only", action="store_true",
                        help="only the incremental week, on the run folder of an earlier "
                        "full refresh (its results.json gets the figures)")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="print the tables of an earlier results.json and stop")
    args = parser.parse_args(argv)
    if args.markdown:
        results = json.loads(args.markdown.read_text())
        print(report(results))
        print(markdown(results))
        return 0
    skip = set(filter(None, args.skip.split(",")))
    data_dir = (args.data_dir or REPO_ROOT / "data" / "bench" / f"scale{args.customers}").resolve()
    (data_dir / "bench").mkdir(parents=True, exist_ok=True)
    out = data_dir / "bench" / "results.json"  # kept beside the exports
    results: dict[str, Any] = {"customers": args.customers, "seed": args.seed,
                               "load_before": [round(x, 2) for x in os.getloadavg()],
                               "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.incremental_only:
        results = json.loads(out.read_text()) | {"incremental_started":
                                                  time.strftime("%Y-%m-%d %H:%M:%S")}
        skip |= {"ingest_ratio", "identity_ratio"}

    def save() -> None:
        out.write_text(json.dumps(results, indent=2, default=str))

    # the generated exports are kept (exports/) and copied into a fresh run folder (run/)
    exports, base = data_dir / "exports", data_dir
    data_dir = base / "run"
    if not (exports / "truth" / "person_map.csv").exists():
        print(f"generating {args.customers:,} people under {exports} ...", flush=True)
        results["generate"] = simple_phase("generate", py(
            "pipelines.sample_data", "--customers", args.customers, "--seed", args.seed,
            "--out", exports, "--end-date", END_DATE), base)
        save()
    if not args.incremental_only:
        shutil.rmtree(data_dir, ignore_errors=True)
        for part in ("landing", "truth"):
            shutil.copytree(exports / part, data_dir / part)
        (data_dir / "bench").mkdir(parents=True)
        if "ingest_ratio" not in skip:
            # right before the full refresh, whose first steps load the same files: the two
            # sides of the ratio a minute apart, not half an hour (the machine's speed drifts)
            plain, plain_info = plain_baseline(
                "read", "plain DuckDB read of the landing files", data_dir)
        print("full refresh ...", flush=True)
        results["full_refresh"] = dagster_phase("full_refresh", py(
            "pipelines.demo", "--customers", args.customers, "--seed", args.seed,
            "--end-date", END_DATE, "--weeks", args.weeks), data_dir)
        if "ingest_ratio" not in skip:
            pipe = results["full_refresh"]["stages"]["ingest"]["wall"]
            results["ingest_ratio"] = {"pipeline": pipe, "plain": plain_info["seconds"],
                                       "plain_process": plain, "rows": plain_info["rows"],
                                       "ratio": pipe / plain_info["seconds"]}
        save()
        print(report(results), flush=True)
    if "identity_ratio" not in skip:
        plain, info = plain_baseline("splink", "plain Splink on the same records", data_dir)
        pipe = results["full_refresh"]["stages"]["identity"]["wall"]
        results["identity_ratio"] = {
            "pipeline": pipe, "plain": info["seconds"], "plain_splink": info["splink_seconds"],
            "plain_process": plain, "pipeline_f1": info["pipeline"]["f1"],
            "plain_f1": info["plain"]["f1"], "scores": info, "ratio": pipe / info["seconds"]}
        save()
    if "incremental" not in skip:
        from pipelines.sample_data.generator import latest_increment

        # a week must be over before its exports are read: later rows are future-dated and
        # the ingestion quarantines them (the week would hold hardly any new data)
        week_end = END_DATE + timedelta(days=7 * (latest_increment(data_dir, END_DATE) + 1))
        if week_end >= date.today():
            print(f"the next week ends {week_end}, not before today ({date.today()}): its "
                  "rows would be quarantined as future-dated. A new --data-dir starts again "
                  f"with the first week after {END_DATE}.", file=sys.stderr)
            return 2
        print("next week's exports ...", flush=True)
        results["generate_increment"] = simple_phase("generate_increment", py(
            "pipelines.sample_data", "--customers", args.customers, "--seed", args.seed,
            "--out", data_dir, "--end-date", END_DATE, "--increment"), data_dir)
        # each --incremental-only run adds the next week (1, 2, ...) after the base export
        week = latest_increment(data_dir, END_DATE)
        print(f"incremental weekly refresh (week {week} after the full refresh) ...", flush=True)
        results["incremental"] = dagster_phase(f"incremental_week{week}", py(
            "pipelines.demo", "--customers", args.customers, "--seed", args.seed,
            "--end-date", END_DATE + timedelta(days=7 * week), "--weeks", 1), data_dir)
        results["incremental"]["week"] = week
        results[f"incremental_week{week}"] = results["incremental"]
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    save()
    print(report(results))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
