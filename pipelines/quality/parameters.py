"""Values of the `{"$PARAMETER": name}` limits in the expectation suites, from the
configuration the pipeline itself uses, so a suite and the code it checks cannot disagree."""

from __future__ import annotations


def suite_parameters() -> dict:
    from models_ml.config import DEFAULTS
    from models_ml.rfm import SEGMENTS
    from pipelines.config import settings
    from pipelines.identity.clustering import ClusterGuards

    clv = DEFAULTS.clv
    tolerance = 0.02  # tiers are cut by rank: shares are exact up to rounding on small data
    return {
        "freshness_max_hours": settings().freshness_max_hours,
        "max_cluster_size": ClusterGuards().max_cluster_size,
        "top_share_min": round(clv.top_share - tolerance, 4),
        "top_share_max": round(clv.top_share + tolerance, 4),
        "middle_share_min": round(clv.middle_share - tolerance, 4),
        "middle_share_max": round(clv.middle_share + tolerance, 4),
        "base_share_min": round(1 - clv.top_share - clv.middle_share - tolerance, 4),
        "base_share_max": round(1 - clv.top_share - clv.middle_share + tolerance, 4),
        "rfm_segments": list(SEGMENTS),
    }
