"""Deterministic identity resolution: link records that share a strong identifier.

Strong identifiers are a normalised email, an E.164 phone, a loyalty card number and a Weibo
handle recorded in the CRM. An identifier shared by different people is demoted (not used to
link): role mailboxes (info@, team@), values on more than `max_records` records, and values
whose records carry names that cannot belong to one person (a family phone). Linked records
form clusters (connected components); a probabilistic matcher adds its links to the same
edge list before clustering.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, permutations

import numpy as np
import pandas as pd
from rapidfuzz.distance import OSA, JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IDENTIFIER_KINDS = ("email_key", "phone_e164", "loyalty_card_number", "weibo_handle")
RECORD_KEY = ["source_system", "source_record_id"]
RULE_NAMES = {
    "email_key": "email",
    "phone_e164": "phone",
    "loyalty_card_number": "loyalty_card",
    "weibo_handle": "weibo_handle",
}


@dataclass(frozen=True)
class Guards:
    max_records: int = 10  # an identifier on more records than this is not personal
    token_similarity: float = 0.85  # Jaro-Winkler for two name tokens to count as one


def _token_matches(token: str, others: list[str], threshold: float) -> bool:
    """A name token matches the other name when it is an initial of one of its tokens, part of
    one, or close (Jaro-Winkler) to one of its tokens or to two or three of them run together
    (pinyin given names are written 'Deyan' as often as 'De Yan')."""
    if len(token) == 1:
        return any(o.startswith(token) for o in others)
    if any(token in o for o in others):
        return True
    candidates = set(others)
    for n in (2, 3):
        candidates.update("".join(p) for p in permutations(others, n))
    return any(
        JaroWinkler.similarity(token, c) >= threshold
        or (min(len(token), len(c)) >= 5 and OSA.distance(token, c) <= 1)
        for c in candidates
    )


def names_compatible(a: str, b: str, threshold: float = Guards.token_similarity) -> bool:
    """Could two order-free name keys belong to one person? Every token of one name must
    match the other name (typos, initials, joined syllables allowed): 'wang wei' ~
    'wnag wei' ~ 'wei', 'deyan he' ~ 'de he yan', 'katherine r' ~ 'katherine reed', but
    'wang wei' !~ 'wang fang'."""
    ta, tb = a.split()[:6], b.split()[:6]  # names are short; bounds the permutations
    return all(_token_matches(t, tb, threshold) for t in ta) or all(
        _token_matches(t, ta, threshold) for t in tb
    )


def identifiers(records: pd.DataFrame) -> pd.DataFrame:
    """Long table: record index, kind, value, name_key, is_role_mailbox."""
    parts = []
    for kind in IDENTIFIER_KINDS:
        part = records.loc[records[kind].notna(), ["name_key", "is_role_mailbox", kind]]
        parts.append(
            pd.DataFrame(
                {
                    "record": part.index.to_numpy(),
                    "kind": kind,
                    "value": part[kind].to_numpy(),
                    "name_key": part["name_key"].to_numpy(),
                    "is_role": part["is_role_mailbox"].eq(True).to_numpy() & (kind == "email_key"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def demoted_identifiers(ids: pd.DataFrame, guards: Guards = Guards()) -> pd.DataFrame:
    """Identifier values that must not link records, with the reason."""
    groups = ids.groupby(["kind", "value"], sort=False)
    stats = groups.agg(records=("record", "size"), is_role=("is_role", "any")).reset_index()
    shared = stats[stats["records"] > 1]
    reasons = pd.Series(pd.NA, index=shared.index, dtype="object")
    reasons[shared["records"] > guards.max_records] = "shared_by_too_many_records"
    reasons[shared["is_role"]] = "role_mailbox"
    # name conflicts: only groups with two or more distinct names need a look
    named = ids.dropna(subset=["name_key"]).drop_duplicates(["kind", "value", "name_key"])
    multi = named[named.duplicated(["kind", "value"], keep=False)]
    conflicts = set()
    for (kind, value), names in multi.groupby(["kind", "value"], sort=False)["name_key"]:
        if any(
            not names_compatible(a, b, guards.token_similarity)
            for a, b in combinations(names.tolist(), 2)
        ):
            conflicts.add((kind, value))
    in_conflict = [(k, v) in conflicts for k, v in zip(shared["kind"], shared["value"])]
    reasons[np.array(in_conflict, dtype=bool) & reasons.isna().to_numpy()] = "different_people"
    out = shared.assign(reason=reasons).dropna(subset=["reason"])
    return out[["kind", "value", "records", "reason"]].reset_index(drop=True)


def cluster(
    records: pd.DataFrame, guards: Guards = Guards(), extra_edges: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign a cluster number to every record.

    `records` needs RECORD_KEY, name_key, is_role_mailbox and the IDENTIFIER_KINDS columns.
    `extra_edges` (columns left, right: record positions, rule) lets a probabilistic matcher
    add its links. Returns (records with `cluster` and `match_rule`, demoted identifiers).
    """
    records = records.reset_index(drop=True)
    ids = identifiers(records)
    demoted = demoted_identifiers(ids, guards)
    usable = ids.merge(demoted[["kind", "value"]], how="left", indicator=True)
    usable = usable[usable["_merge"] == "left_only"]
    # star edges: every record of a group to the group's first record
    first = usable.groupby(["kind", "value"], sort=False)["record"].transform("min")
    edges = pd.DataFrame({"left": first, "right": usable["record"], "rule": usable["kind"]})
    edges = edges[edges["left"] != edges["right"]]
    if extra_edges is not None and len(extra_edges):
        edges = pd.concat([edges, extra_edges[["left", "right", "rule"]]], ignore_index=True)
    n = len(records)
    graph = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges["left"].to_numpy(), edges["right"].to_numpy())),
        shape=(n, n),
    )
    _, labels = connected_components(graph, directed=False)
    touched = pd.concat(
        [
            edges[["left", "rule"]].rename(columns={"left": "record"}),
            edges[["right", "rule"]].rename(columns={"right": "record"}),
        ]
    ).drop_duplicates("record")
    out = records[RECORD_KEY].copy()
    out["cluster"] = labels
    out["match_rule"] = "singleton"
    out.loc[touched["record"].to_numpy(), "match_rule"] = (
        touched["rule"].replace(RULE_NAMES).to_numpy()
    )
    return out, demoted
