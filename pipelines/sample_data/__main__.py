"""`python -m pipelines.sample_data --customers 20000 --seed 7 [--out data] [--increment]`"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from pipelines.sample_data.generator import generate, generate_increment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the sample exports and ground truth.")
    parser.add_argument("--customers", type=int, default=20000, help="number of people")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 15),
                        help="last day (a Sunday) of the base export")
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--increment", action="store_true",
                        help="write one more week after the latest export under --out")
    args = parser.parse_args(argv)
    if args.end_date.weekday() != 6:
        parser.error("--end-date must be a Sunday")
    if args.customers < 1 or args.weeks < 15:
        parser.error("need --customers >= 1 and --weeks >= 15")
    run = generate_increment if args.increment else generate
    counts = run(args.out, customers=args.customers, seed=args.seed, end_date=args.end_date,
                 weeks=args.weeks)
    sys.stdout.write(json.dumps(counts, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
