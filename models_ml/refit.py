"""When a weekly run trains a challenger and when it only scores with the champion (0019).

Fitting is the expensive part of every model asset (the churn booster on all weekly snapshots,
the CLV purchase-model selection, k-means over k = 3..8). Most weeks the registered champion
is still good: the run loads it from the MLflow registry and scores this week's customers.
A challenger is trained, backtested against the champion and maybe promoted (decisions 0012,
0017) only when one of these holds, checked in this order:

1. there is no champion yet;
2. a refit was asked for (Dagster run config ``refit: true`` or ``C360_REFIT=1``);
3. the champion cannot score this week's inputs (its feature list differs from the asset's,
   or it does not load);
4. the champion's inputs drifted (``ml.model_drift``, decision 0015);
5. the champion was trained on a snapshot ``refit_every_weeks`` or more weeks before this
   run's snapshot (``C360_REFIT_EVERY_WEEKS``, default 4; 0 = refit every run), or on a
   snapshot after it (the champion has seen this week's future), or its snapshot date is
   unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

DEFAULT_EVERY_WEEKS = 4


@dataclass(frozen=True)
class Champion:
    """What the policy needs to know about a registered champion."""

    version: int
    snapshot_date: date | None  # the snapshot its run was trained on (run param)
    features: tuple[str, ...] | None = None  # its input columns (None: not recorded/needed)
    run_id: str | None = None


@dataclass(frozen=True)
class RefitDecision:
    refit: bool
    why: str  # the reason to refit, or what was reused
    champion: Champion | None = None
    # the champion cannot stay (it cannot score, or drifted): the challenger replaces it
    # without the backtest gate (promote_if_better's refit_reason)
    replaces_champion: bool = False
    # False when the champion cannot even be loaded or fed this week's columns: the refit
    # path then skips the champion's side of the backtest
    champion_usable: bool = True

    @property
    def reason(self) -> str:
        """'refit: <why>' or 'reused champion vN trained <date>' (metadata and the log)."""
        return f"refit: {self.why}" if self.refit else self.why


def parse_date(value: object) -> date | None:
    """A run param such as '2026-11-08' (or a timestamp string) as a date; None if absent."""
    if value is None or value == "" or value == "None":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def decide(
    champion: Champion | None,
    snapshot: date,
    *,
    every_weeks: int = DEFAULT_EVERY_WEEKS,
    forced: bool = False,
    features: Sequence[str] | None = None,
    drift_reason: str | None = None,
    unusable: str | None = None,
) -> RefitDecision:
    """Refit or reuse, with the reason (see the module docstring for the order of the checks).

    `features`: the columns this run would train on; a champion recorded with other columns
    cannot score them. `unusable`: why the champion cannot be used otherwise (e.g. it failed to
    load). `drift_reason`: the champion's drift verdict (None = no drift).
    """
    if champion is None:
        return RefitDecision(True, "no champion yet")
    if forced:
        return RefitDecision(True, "asked for (run config refit or C360_REFIT)", champion)
    if unusable:
        return RefitDecision(
            True, f"champion v{champion.version} unusable: {unusable}", champion, True, False
        )
    if features is not None and champion.features is not None:
        if tuple(features) != tuple(champion.features):
            added = sorted(set(features) - set(champion.features))
            dropped = sorted(set(champion.features) - set(features))
            return RefitDecision(
                True,
                f"feature list changed since champion v{champion.version} "
                f"(added {added or 'none'}, dropped {dropped or 'none'}"
                f"{', order' if not added and not dropped else ''})",
                champion,
                True,
                False,
            )
    if drift_reason:
        return RefitDecision(True, drift_reason, champion, True)
    trained = champion.snapshot_date
    if trained is None:
        return RefitDecision(True, f"champion v{champion.version} has no snapshot_date", champion)
    if trained > snapshot:
        return RefitDecision(
            True,
            f"champion v{champion.version} was trained on {trained}, after this run's "
            f"snapshot {snapshot}",
            champion,
        )
    age_days = (snapshot - trained).days
    if age_days >= 7 * every_weeks:
        return RefitDecision(
            True,
            f"champion v{champion.version} trained {trained} is {age_days // 7} week(s) old "
            f"(refit every {every_weeks})",
            champion,
        )
    return RefitDecision(
        False, f"reused champion v{champion.version} trained {trained}", champion
    )


def load_champion(decision: RefitDecision, load: Callable[[], Any]) -> tuple[Any, RefitDecision]:
    """(the loaded champion, `decision`) when the decision is to reuse it; (None, a refit
    decision) when it says refit or the champion fails to load (it cannot score: check 3)."""
    if decision.refit:
        return None, decision
    try:
        return load(), decision
    except Exception as exc:  # noqa: BLE001 - any failure to load means: train a new one
        version = decision.champion.version if decision.champion else "?"
        why = f"champion v{version} unusable: it did not load ({type(exc).__name__}: {exc})"
        return None, RefitDecision(True, why[:500], decision.champion, True, False)
