"""Guarded clustering of linked records.

Edges are applied strongest first (deterministic identifier links, then probabilistic links by
descending match probability) with a union-find. A link is refused when the two clusters it
would join carry different values of a conflicting identifier (two different loyalty cards,
unless the link is the model's direct comparison of those two records, which weighed the
difference; two birth dates more than a typo apart) or when the joined cluster would exceed
`max_cluster_size`: a chain of weaker links can never join what stronger evidence keeps
apart, and the split rule of an oversized group is "the weakest links go first". Refused
links are returned with the reason, for the data steward's review queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz.distance import OSA

# Identifier kinds of which a person has at most one value.
CONFLICT_KINDS = ("loyalty_card_number", "birth_date")


@dataclass(frozen=True)
class ClusterGuards:
    max_cluster_size: int = 12  # one person rarely has more records across three sources
    # Identifiers a person has one value of: two clusters holding different values stay apart.
    # A trained model narrows this to the kinds its true matches rarely disagree on
    # (`probabilistic.cluster_guards`): where a birth date is often mistyped beyond one typo
    # (FEBRL's corrupted copies), a second date is no evidence of a second person.
    conflict_kinds: tuple[str, ...] = CONFLICT_KINDS
    # Links whose score already weighed the card numbers of their own two records: such a
    # link may join two of `scored_kinds` when they are all the two clusters hold (a card one
    # typo off, which the model compares); a chain never may. Not two birth dates: those one
    # typo apart do not conflict, and two further apart were two people in every such cluster
    # at 1M records (decision 0104).
    scored_rules: tuple[str, ...] = ("splink",)
    scored_kinds: tuple[str, ...] = ("loyalty_card_number",)


def _codes(column: pd.Series) -> tuple[list[int], Callable[[int], str]]:
    """The values of `column` as integer codes (-1: missing; equal codes, equal values) and
    the date text (first ten characters) of a code, for `_conflicting`'s typo check."""
    codes, uniques = pd.factorize(column)
    texts: dict[int, str] = {}

    def text(code: int) -> str:
        if code not in texts:
            texts[code] = str(uniques[code])[:10]
        return texts[code]

    return codes.tolist(), text


def values_apart(kind: str, a: str, b: str) -> bool:
    """Are two values of a conflict kind (a record column) ones a single person cannot both
    hold? Any two card numbers; birth dates (their date text) more than one typo apart:
    '1985-03-02' / '1985-03-20' are not confidently different."""
    if kind != "birth_date":
        return a != b
    return OSA.distance(a[:10], b[:10]) > 1


def _conflicting(kind: str, left: frozenset, right: frozenset,
                 text: Callable[[int], str]) -> bool:
    """Do two clusters hold different values (codes, see `_codes`) of an identifier a person
    has only once (`values_apart`)?"""
    if left & right:
        return False
    if kind != "birth_date":
        return True  # different codes: different values
    return all(values_apart(kind, text(x), text(y)) for x in left for y in right)


def _held(value: int | frozenset) -> frozenset:
    """A cluster's value codes as a set (see `guarded_clusters`: -1 none, a code one)."""
    if isinstance(value, frozenset):
        return value
    return frozenset() if value < 0 else frozenset((value,))


def _joined(left: int | frozenset, right: int | frozenset) -> int | frozenset:
    if right == -1 or left == right:
        return left
    if left == -1:
        return right
    return _held(left) | _held(right)


def guarded_clusters(
    records: pd.DataFrame,
    edges: pd.DataFrame,
    guards: ClusterGuards | None = None,
    households: pd.DataFrame | None = None,
    compatible: Callable[[str, str], bool] | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster labels for `records` (positional) from `edges` (left, right, rule, strength:
    higher applies first) and the refused edges with a `reason` column.

    `households` (record, value, name_key): records that carry an identifier shared by
    different people (a family phone or mailbox) and the name on each. Two clusters that
    hold the same such identifier under names `compatible` says cannot be one person's are
    two members of that household and are never joined, whatever else they share (the
    street, the postcode, a surname)."""
    guards = guards or ClusterGuards()
    n = len(records)
    parent = list(range(n))  # Python lists: the loop below indexes them per edge
    size = [1] * n
    # The values each cluster root holds, per conflict kind: -1 none, a code (`_codes`) one,
    # a frozenset of codes two or more. Integers instead of a set per record: building 1.7M
    # sets cost 3 s a kind, and most clusters hold one value or none.
    conflict, own, texts = {}, {}, {}
    for kind in guards.conflict_kinds:
        if kind in records:
            own[kind], texts[kind] = _codes(records[kind])
            conflict[kind] = list(own[kind])

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    members: dict[int, dict[str, set[str]]] = {}
    if households is not None and compatible is not None:
        for record, value, name in households[["record", "value", "name_key"]].itertuples(
                index=False, name=None):
            members.setdefault(int(record), {}).setdefault(value, set()).add(name)

    def other_member(a: int, b: int) -> bool:
        ma, mb = members.get(a), members.get(b)
        if not ma or not mb:
            return False
        return any(not compatible(x, y) for value in ma.keys() & mb.keys()
                   for x in ma[value] for y in mb[value])
    ordered = edges.sort_values("strength", ascending=False, kind="stable")
    scored = ordered["rule"].isin(guards.scored_rules).to_numpy().tolist()
    refused: list[tuple[int, str]] = []
    limit = guards.max_cluster_size
    lefts = ordered["left"].to_numpy().astype(np.int64).tolist()
    rights = ordered["right"].to_numpy().astype(np.int64).tolist()
    for i, (left, right) in enumerate(zip(lefts, rights)):
        a = left if parent[left] == left else find(left)
        b = right if parent[right] == right else find(right)
        if a == b:
            continue
        reason = None
        if size[a] + size[b] > limit:
            reason = "cluster_size_limit"
        elif a in members and b in members and other_member(a, b):
            reason = "different_household_member"
        else:
            for kind, values in conflict.items():
                va, vb = values[a], values[b]
                if va == -1 or vb == -1 or va == vb or not _conflicting(
                        kind, _held(va), _held(vb), texts[kind]):
                    continue
                direct = (scored[i] and kind in guards.scored_kinds
                          and va == own[kind][left] and vb == own[kind][right])
                if not direct:
                    reason = f"different_{kind}"
                    break
        if reason:
            refused.append((i, reason))
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        for values in conflict.values():
            values[a] = _joined(values[a], values[b])
        if b in members:
            merged = members.setdefault(a, {})
            for value, names in members.pop(b).items():
                merged.setdefault(value, set()).update(names)
    labels = np.asarray(parent, dtype=np.int64)
    while True:  # every record's root: follow the parents until nothing moves
        roots = labels[labels]
        if np.array_equal(roots, labels):
            break
        labels = roots
    rejected = ordered.iloc[[i for i, _ in refused]].reset_index(drop=True)
    rejected["reason"] = [r for _, r in refused]
    return labels, rejected
