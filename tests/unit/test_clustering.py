"""The guarded clustering against a plain reference: a set of values per record, as the
clustering kept them before it coded them as integers (decision 0090)."""

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import OSA

from pipelines.identity.clustering import ClusterGuards, guarded_clusters
from pipelines.identity.deterministic import names_compatible


def _reference(records, edges, guards, households, compatible):
    """Union-find over the edges strongest first with one frozenset of values per record."""
    n = len(records)
    parent, size = list(range(n)), [1] * n
    values = {k: [frozenset() if pd.isna(v) else frozenset([v]) for v in records[k].tolist()]
              for k in guards.conflict_kinds if k in records}
    own = {k: list(v) for k, v in values.items()}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    def conflicting(kind, a, b):
        if a & b:
            return False
        return kind != "birth_date" or not any(
            OSA.distance(str(x)[:10], str(y)[:10]) <= 1 for x in a for y in b)

    members = {}
    for record, value, name in households.itertuples(index=False, name=None):
        members.setdefault(record, {}).setdefault(value, set()).add(name)
    ordered = edges.sort_values("strength", ascending=False, kind="stable")
    refused = []
    for i, (left, right, rule) in enumerate(ordered[["left", "right", "rule"]].itertuples(
            index=False, name=None)):
        a, b = find(left), find(right)
        if a == b:
            continue
        ma, mb = members.get(a, {}), members.get(b, {})
        reason = None
        if size[a] + size[b] > guards.max_cluster_size:
            reason = "cluster_size_limit"
        elif any(not compatible(x, y) for v in ma.keys() & mb.keys()
                 for x in ma[v] for y in mb[v]):
            reason = "different_household_member"
        else:
            for kind, held in values.items():
                if held[a] and held[b] and conflicting(kind, held[a], held[b]) and not (
                        rule in guards.scored_rules and kind in guards.scored_kinds
                        and held[a] == own[kind][left]
                        and held[b] == own[kind][right]):
                    reason = f"different_{kind}"
                    break
        if reason:
            refused.append((i, reason))
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b], size[a] = a, size[a] + size[b]
        for held in values.values():
            held[a] = held[a] | held[b]
        for value, names in members.pop(b, {}).items():
            members.setdefault(a, {}).setdefault(value, set()).update(names)
    rejected = ordered.iloc[[i for i, _ in refused]].reset_index(drop=True)
    rejected["reason"] = [r for _, r in refused]
    return np.array([find(i) for i in range(n)]), rejected


def _case(seed):
    rng = np.random.default_rng(seed)
    n = 80
    dates = pd.to_datetime(["1985-03-02", "1985-03-20", "1985-03-03", "1990-01-01",
                            "1991-01-01", "1985-02-03"])
    records = pd.DataFrame({
        "loyalty_card_number": pd.Series(
            rng.choice(["LC1", "LC2", "LC3", None, None, None], n), dtype="str"),
        "birth_date": pd.Series(
            [pd.NaT if rng.random() < 0.4 else dates[rng.integers(len(dates))]
             for _ in range(n)], dtype="datetime64[us]"),
    })
    m = int(rng.integers(60, 200))
    edges = pd.DataFrame({
        "left": rng.integers(0, n, m), "right": rng.integers(0, n, m),
        "rule": rng.choice(["email", "splink", "kept"], m),
        # few distinct strengths: ties keep their order
        "strength": rng.choice([3.0, 2.0, 0.95, 0.93, 0.91], m),
    })
    h = int(rng.integers(0, 20))
    households = pd.DataFrame({"record": rng.integers(0, n, h),
                               "value": rng.choice(["phone:1", "email:a"], h),
                               "name_key": rng.choice(["wang wei", "wang fang", "li na"], h)})
    guards = ClusterGuards(max_cluster_size=int(rng.integers(3, 13)),
                           conflict_kinds=(("loyalty_card_number", "birth_date"),
                                           ("birth_date",), ())[seed % 3])
    return records, edges, guards, households


@pytest.mark.parametrize("seed", range(40))
def test_guarded_clusters_match_the_set_reference(seed):
    records, edges, guards, households = _case(seed)
    labels, refused = guarded_clusters(records, edges, guards, households, names_compatible)
    want_labels, want_refused = _reference(records, edges, guards, households,
                                           names_compatible)
    assert labels.dtype == np.int64
    assert labels.tolist() == want_labels.tolist()
    pd.testing.assert_frame_equal(refused, want_refused)


def test_the_random_cases_reach_every_guard():
    """The cases above refuse links for each reason, and a scored link joins two card
    numbers (its own two records' values): else they would prove little."""
    reasons, joined_cards = set(), False
    for seed in range(40):
        records, edges, guards, households = _case(seed)
        labels, refused = guarded_clusters(records, edges, guards, households,
                                           names_compatible)
        reasons |= set(refused["reason"])
        if "loyalty_card_number" in guards.conflict_kinds:
            cards = records.assign(cluster=labels).groupby("cluster")["loyalty_card_number"]
            joined_cards |= bool((cards.nunique() > 1).any())
    assert reasons == {"cluster_size_limit", "different_household_member",
                       "different_birth_date", "different_loyalty_card_number"}
    assert joined_cards
