"""Value x churn matrix: quadrants, plays from config/YAML, totals per quadrant."""

import pandas as pd
import pytest

from models_ml.config import RetentionConfig
from models_ml.retention import QUADRANTS, load_config, retention_actions

VALUE = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e"],
        "predicted_clv_12m": [1000.0, 800.0, 50.0, 20.0, 10.0],
        "value_tier": ["top", "top", "middle", "base", "base"],
    }
)
CHURN = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "x"],
        "churn_probability": [0.9, 0.1, 0.7, 0.2, 0.99],
        "risk_band": ["high", "low", "high", "low", "high"],
        "reason_1": ["no order for 200 days", "", "", "", ""],
    }
)


def test_quadrants_plays_and_value_at_risk():
    actions, summary = retention_actions(VALUE, CHURN)
    a = actions.set_index("customer_id")
    assert list(a.index) == ["a", "b", "c", "d"]  # e has no churn score, x no value
    assert a.loc["a", "quadrant"] == "high_value_high_risk"
    assert a.loc["a", "play"] == "personal_outreach"
    assert a.loc["b", "quadrant"] == "high_value_low_risk"
    assert a.loc["b", "play"] == "recognise_and_refer"
    assert a.loc["c", "quadrant"] == "low_value_high_risk"
    assert a.loc["d", "quadrant"] == "low_value_low_risk"
    assert a.loc["a", "value_at_risk_cny"] == pytest.approx(900.0)
    assert a.loc["a", "priority"] == 1 and a.loc["a", "reason_1"] == "no order for 200 days"
    s = summary.set_index("quadrant")
    assert list(s.index) == list(QUADRANTS)
    assert s["customers"].sum() == 4
    assert s.loc["high_value_low_risk", "value_at_risk_cny"] == pytest.approx(80.0)
    assert s["share_of_value_at_risk"].sum() == pytest.approx(1.0)
    assert s.loc["high_value_high_risk", "share_of_customers"] == pytest.approx(0.25)


def test_thresholds_are_configurable():
    cfg = RetentionConfig(high_value_tiers=("top", "middle"), high_risk_min_probability=0.05)
    actions, _ = retention_actions(VALUE, CHURN, cfg)
    a = actions.set_index("customer_id")
    assert a.loc["c", "quadrant"] == "high_value_high_risk"
    assert a.loc["b", "risk_level"] == "high"


def test_yaml_overrides_one_play_and_rejects_typos(tmp_path):
    path = tmp_path / "plays.yaml"
    path.write_text(
        "high_risk_min_probability: 0.8\n"
        "plays:\n  low_value_high_risk: {play: do_nothing, description: Let them go.}\n"
    )
    cfg = load_config(path)
    assert cfg.high_risk_min_probability == 0.8
    assert cfg.plays["low_value_high_risk"]["play"] == "do_nothing"
    assert cfg.plays["high_value_high_risk"]["play"] == "personal_outreach"  # kept default
    actions, _ = retention_actions(VALUE, CHURN, cfg)
    assert actions.set_index("customer_id").loc["c", "risk_level"] == "low"  # 0.7 < 0.8
    path.write_text("high_risk_probability: 0.8\n")
    with pytest.raises(ValueError, match="unknown retention settings"):
        load_config(path)
    path.write_text("plays:\n  high_value_medium_risk: {play: x}\n")
    with pytest.raises(ValueError, match="unknown quadrant"):
        load_config(path)


def test_renaming_a_customer_changes_no_result():
    actions, _ = retention_actions(VALUE, CHURN)
    renamed, _ = retention_actions(
        VALUE.replace({"customer_id": {"c": "zz"}}), CHURN.replace({"customer_id": {"c": "zz"}})
    )
    renamed["customer_id"] = renamed["customer_id"].replace({"zz": "c"})
    pd.testing.assert_frame_equal(actions, renamed)


def test_shipped_example_yaml_loads():
    from pathlib import Path

    import models_ml

    cfg = load_config(Path(models_ml.__file__).parent / "retention_plays.example.yaml")
    assert set(cfg.plays) == set(QUADRANTS)
    assert cfg.high_value_tiers == ("top",)


def test_churn_watch_list_keeps_high_risk_sorted_by_value_at_risk():
    from models_ml.retention import churn_watch_list

    value = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "predicted_clv_12m": [100.0, 1000.0, 500.0, 5000.0],
            "value_tier": ["base", "top", "middle", "top"],
        }
    )
    churn = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.7, 0.8, 0.1],
            "risk_band": ["high", "high", "high", "low"],
            "reason_1": ["no order for 200 days", "", "", ""],
        }
    )
    actions, _ = retention_actions(value, churn)
    watch = churn_watch_list(actions)
    assert list(watch["customer_id"]) == ["b", "c", "a"]  # d is low risk
    assert list(watch["rank"]) == [1, 2, 3]
    assert watch["value_at_risk_cny"].tolist() == pytest.approx([700.0, 400.0, 90.0])
    assert watch.loc[watch["customer_id"] == "a", "reason_1"].item() == "no order for 200 days"
    top1 = churn_watch_list(actions, RetentionConfig(watch_list_size=1))
    assert list(top1["customer_id"]) == ["b"]
    wider = churn_watch_list(actions, RetentionConfig(watch_list_bands=("high", "low")))
    assert list(wider["customer_id"]) == ["b", "d", "c", "a"]  # d: 5000 x 0.1 = 500
