"""Defaults for the customer360 ML models (plain dataclasses, no environment reading)."""

from __future__ import annotations

from dataclasses import dataclass, field

SEED = 42


@dataclass(frozen=True)
class SegmentConfig:
    """K-means behavioural clusters."""

    k_min: int = 3
    k_max: int = 8
    seed: int = SEED
    n_init: int = 10
    silhouette_sample: int = 5000  # silhouette is O(n^2): score k on at most this many rows
    skew_threshold: float = 1.0  # non-negative columns more skewed than this get log1p
    min_abs_z: float = 0.5  # a cluster trait is worth mentioning from |z| >= this
    max_traits: int = 3
    surrogate_max_depth: int = 3
    n_threads: int | None = None  # OpenMP cap for KMeans; None = all cores

    @property
    def k_range(self) -> range:
        return range(self.k_min, self.k_max + 1)


@dataclass(frozen=True)
class ClvConfig:
    """BG/NBD + Gamma-Gamma customer lifetime value."""

    horizon_weeks: int = 52
    discount_rate_monthly: float = 0.0  # 0 = undiscounted; e.g. 0.01 = 1 % per month
    seed: int = SEED
    map_maxeval: int = 5000
    min_repeat_customers: int = 20  # fewer repeat buyers than this: no Gamma-Gamma fit
    top_share: float = 0.2
    middle_share: float = 0.3


@dataclass(frozen=True)
class ChurnConfig:
    """Calibrated churn classifier on weekly feature snapshots."""

    horizon_days: int = 90
    train_fraction: float = 0.7  # share of (older) labeled snapshot dates used for training
    calibration_fraction: float = 0.2  # latest share of the training dates held out to calibrate
    embargo_days: int = 0  # optional gap between the last training and first validation date
    refit_on_all: bool = True  # after validating, refit on every labeled date for scoring
    isotonic_min_rows: int = 1000  # below this many calibration rows use sigmoid (Platt)
    seed: int = SEED
    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 31
    l2_regularization: float = 1.0
    # Monotonic hints applied to features that are present (+1 = more means more churn).
    monotonic: dict[str, int] = field(
        default_factory=lambda: {"days_since_last_order": 1, "orders_90d": -1}
    )
    high_risk: float = 0.6
    medium_risk: float = 0.3
    n_reasons: int = 3
    min_reason_delta: float = 0.005  # ignore contributions smaller than this probability
    n_threads: int | None = None  # OpenMP cap for the booster; None = all cores


@dataclass(frozen=True)
class MlConfig:
    """All model defaults in one object."""

    segments: SegmentConfig = field(default_factory=SegmentConfig)
    clv: ClvConfig = field(default_factory=ClvConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)


DEFAULTS = MlConfig()
