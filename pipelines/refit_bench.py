"""ML step times when the weekly run reuses the champions versus when it refits (0019).

Four demo runs into a fresh data directory: the full refresh (no champions: every model is
trained), one weekly increment (champions reused), the same week again with C360_REFIT=1
(every model asset trains and gates a challenger) and once more without it (reuse). Prints
each run's wall time, the ML steps' durations from its Dagster event log and each model
asset's refit decision. Usage (niced on a shared machine):

    nice python -m pipelines.refit_bench --customers 2000 --data-dir /tmp/refit_bench
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

END = date(2026, 11, 8)  # a past Sunday: the increment's week is a complete partition
DECISION = re.compile(r" - ml__(\w+) - (\w+): ((?:refit: |reused ).*)$", re.M)


def ml_steps(data_dir: Path, run_id: str) -> dict[str, float]:
    from pipelines.scale_bench import run_events, step_windows

    windows, _ = step_windows(run_events(data_dir, run_id))
    return {
        w.name.removeprefix("ml__"): w.end - w.start
        for w in windows
        if (w.name.startswith("ml__") and "_ge_" not in w.name)
        or w.name in ("cross_sell", "retention")
    }


def demo(data_dir: Path, customers: int, end: date, weeks: int, refit: bool) -> str:
    env = {**os.environ, "C360_DATA_DIR": str(data_dir), "C360_REFIT": "1" if refit else "0"}
    for var in ("C360_WAREHOUSE", "MLFLOW_TRACKING_URI", "DAGSTER_HOME", "C360_LANDING_DIR"):
        env.pop(var, None)
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.demo", "--customers", str(customers),
         "--end-date", end.isoformat(), "--weeks", str(weeks)],
        env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-4000:])
    return out.stdout + out.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, required=True, help="emptied first")
    args = parser.parse_args(argv)
    from pipelines.sample_data import generate_increment

    data_dir = args.data_dir.resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    week = END + timedelta(days=7)
    runs = [("full refresh, no champions", END, 60, False, None),
            ("weekly increment", week, 1, False, "increment"),
            ("same week, C360_REFIT=1", week, 1, True, None),
            ("same week again", week, 1, False, None)]
    for label, end, weeks, refit, before in runs:
        if before == "increment":
            generate_increment(data_dir, customers=args.customers, seed=7, end_date=END)
        log = demo(data_dir, args.customers, end, weeks, refit)
        run = re.search(r"Dagster run (\S+): success in (\d+) s", log)
        steps = ml_steps(data_dir, run.group(1))
        lines = [f"{label}: run {run.group(2)} s, ML steps {sum(steps.values()):.1f} s",
                 "   " + ", ".join(f"{k} {v:.1f} s" for k, v in
                                   sorted(steps.items(), key=lambda kv: -kv[1])),
                 *(f"   {asset}: {why}" for asset, _, why in DECISION.findall(log))]
        print("\n".join(lines), flush=True)  # noqa: T201 - a benchmark prints its figures
    return 0


if __name__ == "__main__":
    sys.exit(main())
