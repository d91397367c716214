"""`make bench-campaigns`: do the campaign uplift intervals cover the generator's true uplift?

Not a test: a simulation that prints figures. For each seed the sample-data generator's
people, behaviour and CRM records are derived and `n_campaigns` campaigns are drawn with the
generator's own campaign code (`pipelines.sample_data.activity.campaigns`, which also gives
the true uplift of every campaign; about a quarter have none). Each campaign is evaluated with
`models_ml.campaigns.proportion_uplift` exactly as the pipeline does, and the share of
intervals that cover the truth and the share of zero-uplift campaigns reported significant are
printed.
"""
# ruff: noqa: T201

from __future__ import annotations

import argparse
import io
import time
from contextlib import redirect_stderr
from datetime import date

import numpy as np
import pandas as pd

from models_ml.campaigns import proportion_uplift, verdict


def simulate(customers: int, seed: int, n_campaigns: int, alpha: float = 0.05
             ) -> pd.DataFrame:
    """One row per campaign: true and estimated uplift (response, conversion), intervals."""
    from pipelines.progress import Progress
    from pipelines.sample_data import activity as act
    from pipelines.sample_data.generator import derive

    with redirect_stderr(io.StringIO()):  # the generator's progress lines
        w = derive(customers, seed, date(2026, 11, 29), 104, 0, Progress("sample_data"))
    c = act.campaigns(w.pop, w.tr, w.sim, w.recs, w.tl, w.seed, n_campaigns=n_campaigns)
    rows = []
    for k in range(len(c.id)):
        m = c.member_campaign == k
        treat = c.treatment[m]
        row = {"seed": seed, "campaign": k, "members": int(m.sum())}
        for metric, hit, truth in (("response", c.responded[m] >= 0, c.uplift_response[k]),
                                   ("conversion", c.converted[m] >= 0, c.uplift_conversion[k])):
            res = proportion_uplift(int(hit[treat].sum()), int(treat.sum()),
                                    int(hit[~treat].sum()), int((~treat).sum()), alpha)
            row |= {
                f"{metric}_true": truth,
                f"{metric}_uplift": res["uplift"],
                f"{metric}_covered": res["uplift_ci_low"] <= truth <= res["uplift_ci_high"],
                f"{metric}_verdict": verdict(res["uplift_ci_low"], res["uplift_ci_high"]),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> dict[str, float]:
    zero = df[df["conversion_true"] == 0]
    return {
        "campaigns": len(df),
        "zero_uplift_campaigns": len(zero),
        "response_coverage": float(df["response_covered"].mean()),
        "conversion_coverage": float(df["conversion_covered"].mean()),
        "zero_uplift_reported_significant": float(
            (zero["conversion_verdict"] != "not_significant").mean()) if len(zero) else np.nan,
        "nonzero_detected": float(
            (df.loc[df["conversion_true"] > 0, "conversion_verdict"] == "significant_positive"
             ).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--campaigns", type=int, default=40)
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = pd.concat([simulate(args.customers, s, args.campaigns) for s in range(args.seeds)],
                   ignore_index=True)
    print(f"{args.seeds} seeds x {args.campaigns} campaigns, {args.customers} people each, "
          f"{time.perf_counter() - t0:.1f} s; members per campaign median "
          f"{df['members'].median():.0f}")
    for key, value in summarise(df).items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
