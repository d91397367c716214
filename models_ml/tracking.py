"""MLflow logging and registration for the customer360 models.

Registered names used by the pipeline: customer_segmentation, customer_value, customer_churn.
Every registration gets the alias ``champion`` (``models:/<name>@champion``).
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.base import BaseEstimator

from models_ml.clv import ClvModel, load_clv, predict_from_summary, save_clv

log = logging.getLogger(__name__)

CHAMPION = "champion"
MODEL_NAME_IN_RUN = "model"
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|dsn|uri", re.I)
_PARAM_MAX = 6000  # MLflow's limit on a param value
# skops refuses unknown types on load; these roots only hold data and pure functions here.
_TRUSTED_ROOTS = ("numpy.", "scipy.", "sklearn.")

_SKLEARN_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas", "scipy")
_CLV_PACKAGES = (
    "pymc-marketing", "pymc", "pytensor", "arviz", "xarray", "h5netcdf", "pandas", "numpy",
    "scipy", "scikit-learn", "mlflow",
)  # fmt: skip


def configure(
    tracking_uri: str, experiment: str, artifact_location: str | Path | None = None
) -> str:
    """Point MLflow (tracking and registry) at `tracking_uri`; create/select `experiment`.

    `artifact_location` (a local folder or URI) is only used when the experiment is created.
    MLflow also exports MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI / MLFLOW_EXPERIMENT_ID to the
    process environment (for subprocesses). Returns the experiment id.
    """
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient()
    existing = client.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = existing.experiment_id
    else:
        location = None
        if artifact_location is not None:
            location = str(artifact_location)
            if "://" not in location:
                Path(location).mkdir(parents=True, exist_ok=True)
                location = Path(location).resolve().as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _pins(packages: tuple[str, ...]) -> list[str]:
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Scalars only, no secret-looking keys, values cut to MLflow's limit."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if _SECRET_KEY.search(key):
            log.warning("not logging param %r: looks like a secret", key)
            continue
        if value is None or isinstance(value, str | int | float | bool | date | datetime):
            out[key] = str(value)[:_PARAM_MAX]
        else:
            log.warning("not logging param %r: %s is not a scalar", key, type(value).__name__)
    return out


def _split_metrics(metrics: Mapping[str, Any] | None) -> tuple[dict[str, float], dict[str, str]]:
    """(numeric metrics, text values); texts go to tags (short) or text artifacts (long)."""
    numbers: dict[str, float] = {}
    texts: dict[str, str] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool | int | float | np.integer | np.floating):
            numbers[key] = float(value)
        elif value is not None:
            texts[key] = str(value)
    return numbers, texts


def _check_artifacts(artifacts: Mapping[str, Any] | None) -> None:
    for name, value in (artifacts or {}).items():
        if isinstance(value, pd.DataFrame) and "customer_id" in value.columns:
            raise ValueError(f"artifact {name!r} holds per-customer rows; not logging it")


def _log_artifacts(artifacts: Mapping[str, Any] | None, tmp: Path) -> None:
    """Files (paths), frames (CSV/Parquet by name), dicts (JSON), matplotlib figures or text."""
    for name, value in (artifacts or {}).items():
        if isinstance(value, pd.DataFrame):
            target = tmp / name
            if name.endswith(".parquet"):
                value.to_parquet(target, index=False)
            else:
                value.to_csv(target, index=False)
            mlflow.log_artifact(str(target))
        elif isinstance(value, os.PathLike) or (isinstance(value, str) and os.path.isfile(value)):
            mlflow.log_artifact(str(value))
        elif isinstance(value, dict | list):
            mlflow.log_dict(value, name if name.endswith((".json", ".yaml")) else f"{name}.json")
        elif hasattr(value, "savefig"):  # a matplotlib Figure (models_ml.plots)
            mlflow.log_figure(value, name if name.endswith((".png", ".svg")) else f"{name}.png")
            import matplotlib.pyplot as plt

            plt.close(value)
        else:
            mlflow.log_text(str(value), name)


def _safe_example(example: pd.DataFrame | None) -> pd.DataFrame | None:
    """One row of column medians as float: the schema without any real customer's values."""
    if example is None or len(example) == 0:
        return None
    cols = [c for c in example.columns if c != "customer_id"]
    numeric = example[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    return numeric.median().fillna(0.0).to_frame().T.reset_index(drop=True)


def _trusted_types(estimator: BaseEstimator) -> list[str]:
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
    unknown = [t for t in untrusted if not t.startswith(_TRUSTED_ROOTS)]
    if unknown:
        raise ValueError(f"model references types skops cannot safely load: {unknown}")
    return list(untrusted)


def _log_sklearn(model: Any, input_example: pd.DataFrame | None, name: str, tmp: Path) -> Any:
    estimator = model if isinstance(model, BaseEstimator) else getattr(model, "estimator", None)
    if not isinstance(estimator, BaseEstimator):
        raise TypeError(f"model_kind 'sklearn' needs an sklearn estimator, got {type(model)}")
    if hasattr(model, "reference") and hasattr(model, "feature_cols"):  # churn.ChurnModel
        mlflow.log_dict(
            {"feature_cols": list(model.feature_cols), "reference": model.reference},
            "churn_reference.json",
        )
    example = _safe_example(input_example)
    if example is not None and hasattr(model, "feature_cols"):
        example = example.reindex(columns=list(model.feature_cols), fill_value=0.0)
    with warnings.catch_warnings():  # cluster labels are ints; nothing is missing there
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        return mlflow.sklearn.log_model(
            estimator,
            name=MODEL_NAME_IN_RUN,
            registered_model_name=name,
            serialization_format="skops",
            skops_trusted_types=_trusted_types(estimator),
            pyfunc_predict_fn="predict_proba" if hasattr(estimator, "predict_proba") else "predict",
            input_example=example,
            pip_requirements=_pins(_SKLEARN_PACKAGES),
        )


class ClvPyfunc(mlflow.pyfunc.PythonModel):
    """Pyfunc over rfm-summary rows -> expected purchases, P(alive), spend and CLV.

    Input columns: customer_id, frequency, recency, T (weeks), monetary_value (CNY). The
    pymc-marketing models are reloaded from the logged NetCDF artifacts.
    """

    def __init__(self, horizon_weeks: float = 52, discount_rate_monthly: float = 0.0) -> None:
        self.horizon_weeks = horizon_weeks
        self.discount_rate_monthly = discount_rate_monthly
        self._model: ClvModel | None = None

    def load_context(self, context: Any) -> None:
        """Reload the purchase model and Gamma-Gamma from the artifacts."""
        self._model = load_clv(dict(context.artifacts))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """CLV columns for each input row; params may override horizon_weeks."""
        if self._model is None:
            self.load_context(context)
        params = params or {}
        return predict_from_summary(
            self._model,
            model_input,
            float(params.get("horizon_weeks", self.horizon_weeks)),
            float(params.get("discount_rate_monthly", self.discount_rate_monthly)),
        )


def _clv_example() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["example_repeat", "example_one_time"],
            "frequency": [3.0, 0.0],
            "recency": [30.0, 0.0],
            "T": [52.0, 10.0],
            "monetary_value": [250.0, 0.0],
        }
    )


def _log_clv(model: ClvModel, input_example: pd.DataFrame | None, name: str, tmp: Path) -> Any:
    mlflow.log_metrics({f"map_{k}": v for k, v in model.params().items() if math.isfinite(v)})
    mlflow.log_metrics({k: v for k, v in model.selection.items() if math.isfinite(v)})
    mlflow.set_tag("purchase_model", model.purchase_model)
    mlflow.log_metrics(
        {
            "fit_seconds": model.fit_seconds,
            "n_customers": model.n_customers,
            "n_repeat_customers": model.n_repeat_customers,
        }
    )
    paths = save_clv(model, tmp / "clv")
    example = _clv_example()  # synthetic rows: never a real customer's summary
    signature = infer_signature(
        example, predict_from_summary(model, example), params={"horizon_weeks": 52.0}
    )
    return mlflow.pyfunc.log_model(
        name=MODEL_NAME_IN_RUN,
        python_model=ClvPyfunc(),
        artifacts=paths,
        registered_model_name=name,
        signature=signature,
        input_example=example,
        code_paths=[str(Path(__file__).resolve().parent)],
        pip_requirements=_pins(_CLV_PACKAGES),
    )


def log_and_register(
    name: str,
    model_kind: str,
    model: Any,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Any] | None = None,
    input_example: pd.DataFrame | None = None,
    set_champion: bool = True,
) -> int:
    """Log one run (params, metrics, artifacts, model), register it as `name`, alias champion.

    With ``set_champion=False`` the version is registered as a challenger only; call
    `promote_if_better` to decide.

    model_kind: "sklearn" (an estimator or an object with ``.estimator`` such as ChurnModel;
    skops format), "clv" (a ClvModel, logged as a pyfunc) or "pyfunc" (a PythonModel).
    Only scalar params are logged and secret-looking keys are dropped; numeric metrics are
    metrics, text metrics become tags (or text files when long). Input examples are reduced to
    one row of column medians. Returns the registered version number.
    """
    if model_kind not in ("sklearn", "clv", "pyfunc"):
        raise ValueError(f"unknown model_kind {model_kind!r}")
    _check_artifacts(artifacts)
    numbers, texts = _split_metrics(metrics)
    with tempfile.TemporaryDirectory() as tmp_dir, mlflow.start_run(run_name=name):
        tmp = Path(tmp_dir)
        mlflow.set_tags({"model_kind": model_kind, "registered_model": name})
        mlflow.log_params(_clean_params(params))
        finite = {k: v for k, v in numbers.items() if math.isfinite(v)}
        if finite:
            mlflow.log_metrics(finite)
        for key, text in texts.items():
            if "\n" in text or len(text) > 250:
                mlflow.log_text(text, f"{key}.txt")
            else:
                mlflow.set_tag(key, text)
        _log_artifacts(artifacts, tmp)
        if model_kind == "sklearn":
            info = _log_sklearn(model, input_example, name, tmp)
        elif model_kind == "clv":
            info = _log_clv(model, input_example, name, tmp)
        else:
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME_IN_RUN,
                python_model=model,
                registered_model_name=name,
                input_example=_safe_example(input_example),
                pip_requirements=_pins(("mlflow", "pandas", "numpy")),
            )
    model_version = int(info.registered_model_version)
    if set_champion:
        MlflowClient().set_registered_model_alias(name, CHAMPION, str(model_version))
    return model_version


def champion_version(name: str) -> Any | None:
    """The ModelVersion holding the `champion` alias of `name`, or None."""
    client = MlflowClient()
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None


def champion_summary(name: str, features_param: str | None = "features") -> Any | None:
    """The champion of `name` as a `models_ml.refit.Champion` (version, the snapshot_date
    param of its run, its feature list from the run param `features_param`), or None."""
    from models_ml.refit import Champion, parse_date

    current = champion_version(name)
    if current is None:
        return None
    params = MlflowClient().get_run(current.run_id).data.params if current.run_id else {}
    listed = params.get(features_param) if features_param else None
    return Champion(
        version=int(current.version),
        snapshot_date=parse_date(params.get("snapshot_date")),
        features=tuple(listed.split(",")) if listed else None,
        run_id=current.run_id,
    )


def promote_if_better(
    name: str,
    version: int,
    metric: str,
    challenger: float,
    champion: float | None,
    higher_is_better: bool = True,
    backtest: str = "",
    refit_reason: str | None = None,
) -> dict[str, Any]:
    """Give `version` the champion alias only if it is at least as good as the champion.

    Both scores must come from the same backtest (same rows, both models unseen on them).
    No champion yet, or no comparable champion score (None), promotes; so does a
    `refit_reason` (e.g. the champion's inputs drifted, 0015). The decision is written as tags
    on the challenger's version and its run, and returned.
    """
    client = MlflowClient()
    current = champion_version(name)
    if current is None:
        promote, why = True, "no champion yet"
    elif refit_reason:
        promote, why = True, f"refit: {refit_reason}"
    elif int(current.version) == int(version):
        promote, why = True, "already champion"
    elif champion is None or not math.isfinite(champion):
        promote, why = True, "champion could not be scored on this backtest"
    elif not math.isfinite(challenger):
        promote, why = False, "challenger could not be scored on this backtest"
    else:
        better = challenger >= champion if higher_is_better else challenger <= champion
        promote = bool(better)
        why = (
            f"challenger {metric} {challenger:.4f} "
            f"{'>=' if higher_is_better else '<='} champion {champion:.4f}"
            if better
            else f"challenger {metric} {challenger:.4f} worse than champion {champion:.4f}"
        )
    decision = {
        "promoted": promote,
        "reason": why,
        "metric": metric,
        "challenger_version": int(version),
        "challenger_score": challenger,
        "champion_version": int(current.version) if current is not None else None,
        "champion_score": champion,
        "backtest": backtest,
    }
    if promote:
        client.set_registered_model_alias(name, CHAMPION, str(version))
    tags = {f"promotion_{k}": str(v)[:250] for k, v in decision.items()}
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)
    run_id = client.get_model_version(name, str(version)).run_id
    if run_id:
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        if math.isfinite(challenger):
            client.log_metric(run_id, f"backtest_{metric}", challenger)
        if champion is not None and math.isfinite(champion):
            client.log_metric(run_id, f"backtest_champion_{metric}", champion)
    log.info("%s v%s: %s (%s)", name, version, "promoted" if promote else "not promoted", why)
    return decision


def load_clv_champion(name: str = "customer_value") -> tuple[ClvModel | None, int | None]:
    """(the champion ClvModel, its version) from the registry, or (None, None)."""
    current = champion_version(name)
    if current is None:
        return None, None
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{current.version}")
    wrapper = pyfunc.unwrap_python_model()
    if wrapper._model is None:
        raise RuntimeError(f"{name} v{current.version} did not load its CLV artifacts")
    return wrapper._model, int(current.version)


def load_champion(name: str) -> Any:
    """The `champion` version of a registered model as a pyfunc."""
    return mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")


def log_run(
    name: str,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Any] | None = None,
) -> str:
    """One MLflow run without a registered model (e.g. cross-sell rules); returns its run id.

    Same rules as `log_and_register`: scalar params only, no secret-looking keys, no
    per-customer artifacts.
    """
    _check_artifacts(artifacts)
    numbers, texts = _split_metrics(metrics)
    with tempfile.TemporaryDirectory() as tmp_dir, mlflow.start_run(run_name=name) as run:
        mlflow.set_tag("model_name", name)
        mlflow.log_params(_clean_params(params))
        finite = {k: v for k, v in numbers.items() if math.isfinite(v)}
        if finite:
            mlflow.log_metrics(finite)
        for key, text in texts.items():
            mlflow.set_tag(key, text[:250])
        _log_artifacts(artifacts, Path(tmp_dir))
        return run.info.run_id
