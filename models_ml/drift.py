"""Population stability index (PSI) of model inputs and scores against the training data.

The reference is stored with the model (a JSON artifact of bin edges and shares, no customer
rows): decile edges of each feature in the training data, plus a bucket for missing values.
PSI = sum((actual - expected) * ln(actual / expected)) over the buckets, shares floored at
``EPS``. Usual reading: < 0.1 stable, 0.1-0.25 watch, >= 0.25 drift (refit recommended).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-4
WATCH = 0.1
DRIFT = 0.25
# Features that grow with the calendar for every customer. The churn model trains on snapshots
# at least 90 days (the label horizon) older than the week it scores, so their PSI is high
# even for a model trained this very run (tenure_days: 1.3 at 2,000 people): a refit cannot
# cure it, so it is reported (kind "clock") but does not recommend one (0019).
CLOCK_FEATURES = frozenset({"tenure_days"})
DRIFT_COLUMNS = ["name", "kind", "psi", "status", "reference_rows", "current_rows", "missing_share"]


def _edges(values: np.ndarray, bins: int) -> list[float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return []
    inner = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    return [float(e) for e in inner]


def _shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """Shares per bucket: (-inf, e1], (e1, e2], ..., (ek, inf), missing."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return [0.0] * (len(edges) + 2)
    missing = ~np.isfinite(values)
    idx = np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return [*(counts / n).tolist(), float(missing.sum() / n)]


def reference(frame: pd.DataFrame, columns: Sequence[str], bins: int = 10) -> dict[str, Any]:
    """{column: {"edges": [...], "shares": [...]}, "_rows": n} from the training frame."""
    out: dict[str, Any] = {"_rows": len(frame)}
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        edges = _edges(values, bins)
        out[col] = {"edges": edges, "shares": _shares(values, edges)}
    return out


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI of two bucket share vectors (same buckets)."""
    e = np.clip(np.asarray(expected, dtype=float), EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def status(value: float) -> str:
    if not np.isfinite(value):
        return "unknown"
    return "drift" if value >= DRIFT else "watch" if value >= WATCH else "stable"


def drift_table(
    ref: dict[str, Any], current: pd.DataFrame, kinds: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per referenced column present in `current`: PSI, status, sizes, missing share.

    `kinds` labels columns (e.g. "feature" / "score"); unlabeled columns are "feature".
    """
    kinds = kinds or {}
    rows = []
    for col, spec in ref.items():
        if col.startswith("_") or col not in current:
            continue
        values = pd.to_numeric(current[col], errors="coerce").to_numpy(dtype=float)
        shares = _shares(values, spec["edges"])
        value = psi(spec["shares"], shares) if len(values) else float("nan")
        rows.append(
            {
                "name": col,
                "kind": kinds.get(col, "feature"),
                "psi": value,
                "status": status(value),
                "reference_rows": int(ref.get("_rows", 0)),
                "current_rows": len(values),
                "missing_share": shares[-1],
            }
        )
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


def refit_recommended(table: pd.DataFrame) -> bool:
    """True when any input or score other than a clock feature (kind "clock") has drifted
    (PSI >= DRIFT)."""
    return bool(((table["status"] == "drift") & (table["kind"] != "clock")).any())
