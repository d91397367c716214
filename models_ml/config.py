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
    n_threads: int | None = None  # OpenMP cap for KMeans; None = C360_ML_THREADS (1)

    @property
    def k_range(self) -> range:
        return range(self.k_min, self.k_max + 1)


@dataclass(frozen=True)
class ClvConfig:
    """Purchase model (BG/NBD family or Pareto/NBD) + Gamma-Gamma customer lifetime value."""

    horizon_weeks: int = 52
    discount_rate_monthly: float = 0.0  # 0 = undiscounted; e.g. 0.01 = 1 % per month
    seed: int = SEED
    map_maxeval: int = 5000
    min_repeat_customers: int = 20  # fewer repeat buyers than this: no Gamma-Gamma fit
    # HalfFlat priors on r, alpha, a, b make the MAP fit the maximum-likelihood fit of the
    # papers (CDNOW parameters to 0.1 %); the library's default priors shrink a and b (0013)
    flat_priors: bool = False
    # purchase model: "bgnbd", "mbgnbd", "paretonbd" or "auto" = the candidate with the lowest
    # per-customer MAE on a holdout inside the history (backtest_purchase_models, 0016)
    purchase_model: str = "auto"
    candidates: tuple[str, ...] = ("bgnbd", "mbgnbd", "paretonbd")
    backtest_share: float = 1 / 3  # the last third of the history is the backtest holdout...
    backtest_max_weeks: float = 52.0  # ...at most this long
    min_backtest_weeks: float = 4.0  # a shorter history: no backtest, the fallback model
    fallback_model: str = "bgnbd"
    # the models have 4 (purchases) + 3 (spend) population parameters: fitted (and backtested)
    # on a seeded sample of at most this many customers, then every customer is scored (0080)
    max_fit_customers: int | None = 200_000
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
        default_factory=lambda: {
            "days_since_last_order": 1,
            "orders_90d": -1,
            "complaints_90d": 1,  # more complaints never lower the risk
            "complaints_365d": 1,
        }
    )
    high_risk: float = 0.6
    medium_risk: float = 0.3
    n_reasons: int = 3
    # a reason needs a SHAP value (log-odds of churn) of at least this: 0.05 ~ 1 point of
    # probability near p = 0.5 (0014)
    min_reason_shap: float = 0.05
    n_threads: int | None = None  # OpenMP cap for the booster; None = C360_ML_THREADS (1)


@dataclass(frozen=True)
class CrossSellConfig:
    """Basket affinity rules and cross-sell offers (models_ml/cross_sell.py)."""

    basket: str = "customer"  # "customer" = all a customer bought; "order" = one paid order (0010)
    min_pair_baskets: int = 5  # a pair seen in fewer baskets makes no rule (noise)
    min_lift: float = 1.0  # rules need lift above this (bought together more than by chance)
    active_days: int = 365  # only products sold in this many days before the snapshot are offered
    offers_per_customer: int = 5
    prospects_per_product: int = 5
    score_cells: int = 20_000_000  # customers x products scored per chunk (memory bound)


DEFAULT_PLAYS: dict[str, dict[str, str]] = {
    "high_value_high_risk": {
        "play": "personal_outreach",
        "description": "Personal outreach and service recovery: a named contact calls within a "
        "week, resolves open complaints and offers a tailored incentive.",
    },
    "high_value_low_risk": {
        "play": "recognise_and_refer",
        "description": "Recognition and referral: VIP perks, early access, ask for referrals "
        "and reviews; no discount needed.",
    },
    "low_value_high_risk": {
        "play": "low_cost_winback",
        "description": "Low-cost automated win-back: reminder with a modest time-limited "
        "voucher; stop after no response.",
    },
    "low_value_low_risk": {
        "play": "nurture_and_grow",
        "description": "Nurture and grow: cross-sell offers and loyalty prompts to raise order "
        "frequency.",
    },
}


@dataclass(frozen=True)
class RetentionConfig:
    """Value x churn quadrants and the retention play for each (models_ml/retention.py).

    Override from YAML with ``models_ml.retention.load_config(path)`` (env C360_RETENTION_PLAYS
    in the pipeline); keys as here, ``plays`` entries may replace single quadrants.
    """

    high_value_tiers: tuple[str, ...] = ("top",)  # value tiers that count as high value
    high_risk_min_probability: float = 0.5  # churn probability from which risk is high
    plays: dict[str, dict[str, str]] = field(default_factory=lambda: dict(DEFAULT_PLAYS))
    watch_list_bands: tuple[str, ...] = ("high",)  # churn risk bands on the churn watch list
    watch_list_size: int | None = None  # keep the largest value at risk only; None = all


@dataclass(frozen=True)
class MlConfig:
    """All model defaults in one object."""

    segments: SegmentConfig = field(default_factory=SegmentConfig)
    clv: ClvConfig = field(default_factory=ClvConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    cross_sell: CrossSellConfig = field(default_factory=CrossSellConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)


DEFAULTS = MlConfig()
