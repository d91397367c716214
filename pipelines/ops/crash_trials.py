"""Crash trials: SIGKILL the weekly refresh at random points and check nothing is lost.

    python -m pipelines.ops.crash_trials --trials 20      (make crash-trials)

Setup: a small generated dataset; a first refresh (week 1) gives the *last good version* of
the published files. The refresh under test adds the next week's exports and runs
`python -m pipelines.demo` again. A reference copy runs it uninterrupted. Each trial starts
from a copy of the week-1 state, kills the refresh (its whole process group: Dagster, dbt)
with SIGKILL at a random moment inside one of its steps (trials cycle through the phases
ingestion, dbt, identity, ML and publish; the step is drawn at random within the phase and
the moment uniformly within the step's duration in the reference run), then checks:

1. every published file (serving DuckDB file and each Parquet file) is, as a whole, either the
   last good version or the reference's new version (the latter only when the kill came after
   publishing), and opens; and all of them are from the same version (tables the refresh
   changes are all old or all new: the set is switched at once);
2. the working warehouse opens read-write;
3. a re-run finishes and its published tables are identical to the reference's.

Prints one line per trial and a summary; exits 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.config import REPO_ROOT
from pipelines.ops.checksums import serving_checksums
from pipelines.publish import RESTRICTED_FILE

ENV_VARS = ("C360_WAREHOUSE", "C360_LANDING_DIR", "C360_SERVING_DIR", "MLFLOW_TRACKING_URI",
            "DAGSTER_HOME", "C360_MLFLOW_ARTIFACTS")
STEP = re.compile(r'Started execution of step "([^"]+)"')


def demo_cmd(customers: int, seed: int, end_date: date) -> list[str]:
    return [sys.executable, "-m", "pipelines.demo", "--customers", str(customers), "--seed",
            str(seed), "--end-date", end_date.isoformat()]


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["C360_DATA_DIR"] = str(data_dir)
    env["C360_LANDING_SETTLE_SECONDS"] = "0"  # the harness writes complete files
    return env


def run(cmd: list[str], data_dir: Path, log: Path, kill_in: tuple[str, float] | None = None
        ) -> tuple[int | None, float]:
    """Run `cmd` in its own process group; with `kill_in` = (step, seconds), SIGKILL the group
    that many seconds after the step started. Returns (exit code, or None when killed;
    seconds)."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env_for(data_dir), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        if kill_in is None:
            return proc.wait(), time.perf_counter() - t0
        step, delay = kill_in
        marker = f'Started execution of step "{step}"'
        started = None
        while proc.poll() is None:
            if started is None and marker in log.read_text(errors="replace"):
                started = time.perf_counter()
            if started is not None and time.perf_counter() - started >= delay:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return None, time.perf_counter() - t0
            time.sleep(0.02)
        return proc.returncode, time.perf_counter() - t0


def published(data_dir: Path) -> dict[str, str]:
    """Checksums of a run's analytics output, new customers' random keys compared through the
    run's own key map (pipelines.ops.checksums)."""
    return serving_checksums(data_dir / "serving", data_dir / "restricted" / RESTRICTED_FILE)


def step_durations(log: Path) -> dict[str, float]:
    """Seconds from STEP_START to the step's end, per step, from a run's log."""
    stamp = re.compile(
        r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) .*? - (\w+) - (STEP_START|STEP_SUCCESS|STEP_FAILURE) - "
    )
    start: dict[str, datetime] = {}
    out: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if m := stamp.match(line):
            t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
            if m.group(3) == "STEP_START":
                start[m.group(2)] = t
            elif m.group(2) in start:
                out[m.group(2)] = max(0.5, (t - start[m.group(2)]).total_seconds() + 0.5)
    return out


def last_step(log: Path) -> str:
    steps = STEP.findall(log.read_text(errors="replace"))
    return steps[-1] if steps else "(before the first step)"


def phase(step: str) -> str:
    if step.startswith("raw__"):
        return "ingestion"
    if "identity" in step:
        return "identity"
    if step.startswith("ml__") or "churn" in step or "segment" in step or "value" in step:
        return "ml"
    if "serving" in step:
        return "publish"
    if "dbt" in step:
        return "dbt"
    return "startup" if step.startswith("(") else step


def warehouse_opens(data_dir: Path) -> bool:
    try:
        with duckdb.connect(str(data_dir / "warehouse/customer360.duckdb")) as con:
            con.sql("select count(*) from raw.file_registry").fetchone()
        return True
    except duckdb.Error:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 8))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/c360-crash-trials"))
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the week-1 state of an earlier invocation")
    parser.add_argument("--reuse-reference", action="store_true",
                        help="also keep its reference run")
    parser.add_argument("--first-trial", type=int, default=0,
                        help="start at this trial number (same kill points as a full series)")
    args = parser.parse_args(argv)
    rng = random.Random(args.random_seed)
    work = args.workdir
    reuse = args.reuse and (work / "week1/serving").exists()
    if not reuse:
        shutil.rmtree(work, ignore_errors=True)
    keep_ref = reuse and args.reuse_reference and (work / "reference/serving").exists()
    for old in [*([] if keep_ref else [work / "reference"]), work / "trial",
                *work.glob("trial*.log")]:
        if old.name.startswith("trial") and old.name[5:7].isdigit() and int(
            old.name[5:7]
        ) < args.first_trial:
            continue  # logs of the earlier trials of this series
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    week2 = args.end_date + timedelta(days=7)

    # the last good version: week 1 refreshed completely
    base = work / "week1"
    code, secs = 0, 0.0
    if not reuse:
        code, secs = run(demo_cmd(args.customers, args.seed, args.end_date), base,
                         work / "week1.log")
    if code != 0:
        print(f"week-1 refresh failed, see {work / 'week1.log'}")
        return 1
    good = published(base)
    print(f"week 1 refresh: {secs:.0f} s, {len(good)} published tables")

    def prepare(target: Path) -> None:
        from pipelines.sample_data import generate_increment

        shutil.copytree(base, target, symlinks=True)  # the serving links stay links
        generate_increment(target, customers=args.customers, seed=args.seed,
                           end_date=args.end_date)

    ref = work / "reference"
    ref_secs = 0.0
    if not keep_ref:
        prepare(ref)
        code, ref_secs = run(demo_cmd(args.customers, args.seed, week2), ref,
                             work / "reference.log")
    if code != 0:
        print(f"reference refresh failed, see {work / 'reference.log'}")
        return 1
    new = published(ref)
    print(f"reference week-2 refresh: {ref_secs:.0f} s; tables changed by it: "
          f"{sum(good.get(k) != v for k, v in new.items())} of {len(new)}")

    durations = step_durations(work / "reference.log")
    by_phase: dict[str, list[str]] = {}
    for step in durations:
        by_phase.setdefault(phase(step), []).append(step)
    phases = [p for p in ("ingestion", "dbt", "identity", "ml", "publish") if p in by_phase]
    print("reference steps per phase: " + ", ".join(f"{p} {len(by_phase[p])}" for p in phases))

    results = []
    for i in range(args.trials):
        target = rng.choice(by_phase[phases[i % len(phases)]])
        t_kill = rng.uniform(0, durations[target])
        if i < args.first_trial:
            continue
        trial = work / "trial"
        shutil.rmtree(trial, ignore_errors=True)
        prepare(trial)
        log = work / f"trial{i:02d}.log"
        code, _ = run(demo_cmd(args.customers, args.seed, week2), trial, log,
                      kill_in=(target, t_kill))
        step = last_step(log)
        after_kill = published(trial)
        versions = {
            "last good" if after_kill.get(k) == good.get(k) else
            "new" if after_kill.get(k) == new.get(k) else "CORRUPT"
            for k in good
        }
        # among the tables the refresh changes, all old or all new: never a mix of versions
        mixed = len({
            "last good" if after_kill.get(k) == good[k] else "new"
            for k in good if good[k] != new.get(k)
        }) > 1
        stray = sorted(p.name for p in (trial / "serving").rglob(".*.tmp"))
        opens = warehouse_opens(trial)
        code2, rerun_secs = run(demo_cmd(args.customers, args.seed, week2), trial,
                                work / f"trial{i:02d}.rerun.log")
        final = published(trial)
        identical = final == new
        diff = sorted(k for k in new if final.get(k) != new[k])
        ok = "CORRUPT" not in versions and not mixed and opens and code2 == 0 and identical
        results.append({
            "trial": i, "target_step": target, "kill_after_step_start_s": round(t_kill, 2),
            "killed": code is None,
            "step": step, "phase": phase(step), "published_after_kill": sorted(versions),
            "mixed_versions": mixed,
            "stray_tmp_files": stray, "warehouse_opens": opens, "rerun_ok": code2 == 0,
            "rerun_s": round(rerun_secs), "identical_to_reference": identical,
            "differs": diff, "ok": ok,
        })
        print(f"trial {i:2d}: {'killed' if code is None else 'NOT killed (finished)'} "
              f"{t_kill:5.1f} s into {phase(step):9s} ({step}); "
              f"published: {'+'.join(sorted(versions))}{' MIXED' if mixed else ''}; "
              f"warehouse opens: {opens}; "
              f"re-run: {'ok' if code2 == 0 else 'FAILED'} in {rerun_secs:.0f} s, identical: "
              f"{identical}{'' if identical else ' ' + str(diff)}")
    (work / "results.json").write_text(json.dumps(results, indent=1))
    kills: dict[str, int] = {}
    for r in results:
        kills[r["phase"]] = kills.get(r["phase"], 0) + 1
    passed = sum(r["ok"] for r in results)
    print(f"{passed}/{len(results)} trials passed; kills by phase: {kills}; "
          f"details in {work / 'results.json'}")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
