"""Pairwise and B-cubed precision and recall of a clustering against known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd


def pair_count(sizes: pd.Series) -> int:
    """Record pairs within groups of these sizes."""
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """`predicted`: source_system, source_record_id, customer_id; `truth`: the same key and
    person_id. Scores over records present in both."""
    key = ["source_system", "source_record_id"]
    both = predicted[key + ["customer_id"]].merge(truth[key + ["person_id"]], on=key)
    predicted_pairs = pair_count(both.groupby("customer_id").size())
    true_pairs = pair_count(both.groupby("person_id").size())
    correct = pair_count(both.groupby(["customer_id", "person_id"]).size())
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # B-cubed: per record, the share of its cluster that is its person and vice versa
    overlap = both.groupby(["customer_id", "person_id"])["customer_id"].transform("size")
    cluster_size = both.groupby("customer_id")["customer_id"].transform("size")
    person_size = both.groupby("person_id")["person_id"].transform("size")
    b_precision = float((overlap / cluster_size).mean()) if len(both) else 1.0
    b_recall = float((overlap / person_size).mean()) if len(both) else 1.0
    b_f1 = (2 * b_precision * b_recall / (b_precision + b_recall)
            if b_precision + b_recall else 0.0)
    return {
        "records": len(both),
        "customers": int(both["customer_id"].nunique()),
        "persons": int(both["person_id"].nunique()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_merge_pairs": predicted_pairs - correct,
        "missed_pairs": true_pairs - correct,
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": b_f1,
    }


def false_merges_sharing(
    predicted: pd.DataFrame, truth: pd.DataFrame, records: pd.DataFrame,
    identifiers: tuple[str, ...] = ("phone_e164", "email_key"),
) -> pd.DataFrame:
    """Pairs of records of different people put in one customer that share one of
    `identifiers` (a family phone, a team mailbox): the over-merges the guards must stop.
    `records` holds the key and the identifier columns."""
    key = ["source_system", "source_record_id"]
    both = predicted[key + ["customer_id"]].merge(truth[key + ["person_id"]], on=key).merge(
        records[key + list(identifiers)], on=key)
    both = both[both.groupby("customer_id")["person_id"].transform("nunique") > 1]
    pairs = both.merge(both, on="customer_id", suffixes=("_l", "_r"))
    pairs = pairs[(pairs["person_id_l"] < pairs["person_id_r"])]
    shared = np.zeros(len(pairs), dtype=bool)
    for column in identifiers:
        left, right = pairs[f"{column}_l"], pairs[f"{column}_r"]
        shared |= (left.notna() & (left == right)).to_numpy()
    return pairs[shared].reset_index(drop=True)
