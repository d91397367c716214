"""Deterministic identity resolution: link records that share a strong identifier.

Strong identifiers are a normalised email, an E.164 phone, a loyalty card number and a Weibo
handle recorded in the CRM. An identifier shared by different people is demoted (not used to
link): role mailboxes (info@, team@), business phone numbers (toll-free, shared-cost such as a
shop's 400 hotline typed in for guests), values on more than `max_records` records, and values
whose records carry names that cannot belong to one person (a family phone). The links, with
those of the probabilistic matcher, are clustered with guards (`clustering.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, permutations

import numpy as np
import pandas as pd
import pyarrow as pa
from rapidfuzz.distance import OSA, JaroWinkler

from pipelines.identity.clustering import ClusterGuards, guarded_clusters
from pipelines.standardise import is_business_number

IDENTIFIER_KINDS = ("email_key", "phone_e164", "loyalty_card_number", "weibo_handle")
RECORD_KEY = ["source_system", "source_record_id"]
HOUSEHOLD_KINDS = ("email_key", "phone_e164")  # shared by a family: see `household_members`
RULE_NAMES = {
    "email_key": "email",
    "phone_e164": "phone",
    "loyalty_card_number": "loyalty_card",
    "weibo_handle": "weibo_handle",
}


# A birth date on this many times the median records per date is a form's default ('the
# youngest allowed age'), not a person's: matching treats it as unknown.
PLACEHOLDER_FACTOR = 20


def placeholder_dates(dates: pd.Series) -> np.ndarray:
    """Which records' dates are such a default (dates compared as their date text)."""
    text = pd.Series(dates).astype("string").str.slice(0, 10)
    counts = text.value_counts()
    if counts.empty:
        return np.zeros(len(text), dtype=bool)
    cap = max(PLACEHOLDER_FACTOR * float(counts.median()), 2)
    return text.map(counts).gt(cap).fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class Guards:
    max_records: int = 10  # an identifier on more records than this is not personal
    token_similarity: float = 0.85  # Jaro-Winkler for two name tokens to count as one


def _token_matches(token: str, others: list[str], threshold: float) -> bool:
    """A name token matches the other name when it is an initial of one of its tokens, the
    start of one ('alex' ~ 'alexander'; at least three letters: the pinyin syllable 'yi'
    does not make 'yi yi' a 'yiran'), or close (Jaro-Winkler) to one of its tokens or to two
    or three of them run together (pinyin given names are written 'Deyan' as often as
    'De Yan')."""
    if len(token) == 1:
        return any(o.startswith(token) for o in others)
    if any(o == token or (len(token) >= 3 and o.startswith(token)) for o in others):
        return True
    candidates = set(others)
    for n in (2, 3):
        candidates.update("".join(p) for p in permutations(others, n))
    return any(
        JaroWinkler.similarity(token, c) >= threshold
        or (min(len(token), len(c)) >= 5 and OSA.distance(token, c) <= 1)
        or _swapped(token, c)
        for c in candidates
    )


def _swapped(token: str, other: str) -> bool:
    """Two neighbouring letters swapped ('lni' for 'lin', 'zeo' for 'zoe'): a typo even in a
    short name, where Jaro-Winkler stays under the threshold."""
    return (len(token) >= 3 and len(token) == len(other) and token != other
            and sorted(token) == sorted(other) and OSA.distance(token, other) == 1)


def _repeats_covered(one: list[str], other: list[str], threshold: float) -> bool:
    """A token written k times ('yang yang yang' for 杨洋洋) needs k matching tokens in the
    other name: 'pinggang yang' has one."""
    for token in {t for t in one if one.count(t) > 1}:
        if sum(_token_matches(token, [o], threshold) for o in other) < one.count(token):
            return False
    return True


def names_compatible(a: str, b: str, threshold: float = Guards.token_similarity) -> bool:
    """Could two order-free name keys belong to one person? Every token of one name must
    match the other name (typos, initials, joined syllables allowed): 'wang wei' ~
    'wnag wei' ~ 'wei', 'deyan he' ~ 'de he yan', 'katherine r' ~ 'katherine reed', but
    'wang wei' !~ 'wang fang' and 'wu yi yi' !~ 'wu yiran'."""
    ta, tb = a.split()[:6], b.split()[:6]  # names are short; bounds the permutations
    for one, other in ((ta, tb), (tb, ta)):
        if all(_token_matches(t, other, threshold) for t in one) and _repeats_covered(
                one, other, threshold):
            return True
        # syllables run together must spell a token (or joined tokens) of the other exactly,
        # or with two neighbouring letters swapped ('ekjing' for 'ke jing')
        spelled = set(other) | {"".join(p) for n in (2, 3) for p in permutations(other, n)}
        for variant in _segmentations(one)[1:]:
            if all(_spells(t, spelled) if t not in one else _token_matches(t, other, threshold)
                   for t in variant):
                return True
    return False


def _spells(token: str, spelled: set[str]) -> bool:
    return token in spelled or any(_swapped(token, s) for s in spelled)


def _segmentations(tokens: list[str]) -> list[list[str]]:
    """The name with neighbouring tokens run together in every way, the name itself first:
    'bin wen' is also 'binwen' (a pinyin given name split into syllables)."""
    out = [[tokens[0]]] if tokens else [[]]
    for token in tokens[1:]:
        out = [v + [token] for v in out] + [v[:-1] + [v[-1] + token] for v in out]
    return out


def column_values(column: pd.Series):
    """The values of a column to build a frame of: strings as the Arrow array they are
    (converting a million of them to Python objects and back costs a second)."""
    return column.array if isinstance(column.dtype, pd.StringDtype) else column.to_numpy()


def arrow_strings(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column as Arrow strings, as `astype("string")` writes its values (pandas' own Arrow
    strings as they are: a million keys converted to Python strings and back cost 0.4 s)."""
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype("string")
    return pa.array(column, from_pandas=True).cast(pa.string())


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
                    "value": column_values(part[kind]),
                    "name_key": column_values(part["name_key"]),
                    "is_role": part["is_role_mailbox"].eq(True).to_numpy() & (kind == "email_key"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def demoted_identifiers(
    ids: pd.DataFrame, guards: Guards = Guards(), earlier: pd.DataFrame | None = None,
    changed: np.ndarray | None = None,
) -> pd.DataFrame:
    """Identifier values that must not link records, with the reason.

    Incremental, with `earlier` (the last run's demotions: kind, value, records, reason) and
    `changed` (per record position: new or changed since that run): a value none of whose
    records changed keeps its earlier verdict, unless it was demoted and has lost records
    since. The verdicts only grow with a value's records (more records, names, role flags),
    so a value that lost records without gaining any cannot have become demoted. Decision
    0084."""
    return _demotions(ids, *_grouped(ids), guards, earlier, changed)[0]


def _grouped(ids: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """The group number of each row of `ids` (one group per kind and value, numbered as
    they appear) and the groups: kind, value, records."""
    codes = ids.groupby(["kind", "value"], sort=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]  # ngroup numbers groups as they appear
    groups = pd.DataFrame({"kind": column_values(ids["kind"].iloc[first]),
                           "value": column_values(ids["value"].iloc[first]),
                           "records": np.bincount(codes)})
    return codes, groups


def _demotions(
    ids: pd.DataFrame, codes: np.ndarray, groups: pd.DataFrame, guards: Guards,
    earlier: pd.DataFrame | None, changed: np.ndarray | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """`demoted_identifiers` of `ids` grouped by `_grouped`, and which groups they are."""
    shared = groups["records"].to_numpy() > 1
    judge = shared.copy()  # the values judged now
    reasons = np.full(len(groups), None, dtype=object)
    if earlier is not None and changed is not None:
        touched = np.zeros(len(groups), dtype=bool)
        touched[codes[changed[ids["record"].to_numpy()]]] = True
        # only a value on several records can be demoted: look up the earlier verdicts of
        # those alone
        before = groups.loc[shared, ["kind", "value"]].merge(
            earlier[["kind", "value", "records", "reason"]], how="left", on=["kind", "value"])
        same = ~touched[shared] & (before["reason"].isna().to_numpy() | before["records"].eq(
            groups["records"].to_numpy()[shared]).to_numpy())
        kept = np.flatnonzero(shared)[same]
        judge[kept] = False
        reasons[kept] = before["reason"].to_numpy(dtype=object)[same]
    reasons[judge] = _verdicts(ids[judge[codes]], codes[judge[codes]], groups, guards)[judge]
    demoted = shared & pd.notna(reasons)
    out = groups.assign(reason=reasons)[demoted]
    return out[["kind", "value", "records", "reason"]].reset_index(drop=True), demoted


def _verdicts(ids: pd.DataFrame, codes: np.ndarray, groups: pd.DataFrame,
              guards: Guards) -> np.ndarray:
    """Why each group (row of `groups`, of which `ids` holds the records with group number
    `codes`) is demoted, or None."""
    reasons = np.full(len(groups), None, dtype=object)
    judged = np.zeros(len(groups), dtype=bool)
    judged[codes] = True
    reasons[judged & (groups["records"] > guards.max_records).to_numpy()] = \
        "shared_by_too_many_records"
    role = np.zeros(len(groups), dtype=bool)
    role[codes[ids["is_role"].to_numpy(dtype=bool)]] = True
    reasons[role] = "role_mailbox"
    phones = judged & (groups["kind"] == "phone_e164").to_numpy()  # only phones are parsed
    business = np.zeros(len(groups), dtype=bool)
    business[phones] = groups["value"][phones].map(is_business_number).to_numpy(dtype=bool)
    reasons[business] = "business_number"
    # name conflicts: only groups with two or more distinct names need a look
    named = pd.DataFrame({"group": codes, "name_key": ids["name_key"].to_numpy()}).dropna()
    named = named.drop_duplicates()
    multi = named[named.duplicated("group", keep=False)]
    for group, names in multi.groupby("group", sort=False)["name_key"]:
        if reasons[group] is None and any(
            not names_compatible(a, b, guards.token_similarity)
            for a, b in combinations(names.tolist(), 2)
        ):
            reasons[group] = "different_people"
    return reasons


def household_members(
    records: pd.DataFrame, demoted: pd.DataFrame, guards: Guards = Guards(),
    ids: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Records (record, value, name_key) carrying a phone or mailbox demoted because
    different people use it (a family phone, a shared mailbox): the clustering keeps its
    differently named holders apart. Not card numbers: a card on two names is as often one
    person's card under a mistyped name, and the model weighs both. `ids`: the records'
    `identifiers`, when already listed."""
    family = demoted.loc[(demoted["reason"] == "different_people")
                         & demoted["kind"].isin(HOUSEHOLD_KINDS), ["kind", "value"]]
    if family.empty:
        return pd.DataFrame(columns=["record", "value", "name_key"])
    ids = identifiers(records) if ids is None else ids
    ids = ids[ids["value"].isin(family["value"]).to_numpy()]  # the few candidates first
    held = ids.dropna(subset=["name_key"]).merge(family, on=["kind", "value"])
    held = held.assign(value=held["kind"] + ":" + held["value"].astype(str))
    return held[["record", "value", "name_key"]].reset_index(drop=True)


DETERMINISTIC_STRENGTH = 2.0  # above any match probability: identifier links apply first


@dataclass(frozen=True)
class IdentifierLinks:
    """What the identifiers say about `records`: edges between records (positional) sharing
    a usable identifier (star edges: every record of a group links to the group's first
    record), the demoted identifiers, and the holders of family phones and mailboxes."""

    edges: pd.DataFrame
    demoted: pd.DataFrame
    households: pd.DataFrame


def identifier_links(
    records: pd.DataFrame, guards: Guards = Guards(), earlier: pd.DataFrame | None = None,
    changed: np.ndarray | None = None,
) -> IdentifierLinks:
    """The identifier links of `records` (positional index); `earlier` and `changed` make the
    demotions incremental (`demoted_identifiers`)."""
    records = records.reset_index(drop=True)
    ids = identifiers(records)
    codes, groups = _grouped(ids)
    demoted, is_demoted = _demotions(ids, codes, groups, guards, earlier, changed)
    usable = ~is_demoted[codes]
    record = ids["record"].to_numpy()
    first = pd.Series(record).groupby(codes, sort=False).transform("min").to_numpy()
    edges = pd.DataFrame({
        "left": first[usable], "right": record[usable],
        "rule": pd.Series(ids["kind"].to_numpy()[usable]).map(RULE_NAMES).to_numpy(),
        "strength": DETERMINISTIC_STRENGTH,
    })
    edges = edges[edges["left"] != edges["right"]].reset_index(drop=True)
    return IdentifierLinks(edges, demoted, household_members(records, demoted, guards, ids))


KEPT_RULE = "kept"  # an unchanged record stays with the customer it had (incremental runs)
KEPT_STRENGTH = 3.0  # above every other link


def kept_edges(known_ids: pd.Series) -> pd.DataFrame:
    """Star edges that hold the records of each earlier customer together: `known_ids` is the
    customer id per record position, missing for new or changed records."""
    known = known_ids.dropna()
    frame = pd.DataFrame({"record": known.index.to_numpy(), "customer": known.to_numpy()})
    first = frame.groupby("customer", sort=False)["record"].transform("min")
    edges = pd.DataFrame({"left": first.to_numpy(), "right": frame["record"].to_numpy(),
                          "rule": KEPT_RULE, "strength": KEPT_STRENGTH})
    return edges[edges["left"] != edges["right"]].reset_index(drop=True)


def cluster(
    records: pd.DataFrame,
    guards: Guards = Guards(),
    extra_edges: pd.DataFrame | None = None,
    cluster_guards: ClusterGuards | None = None,
    known_ids: pd.Series | None = None,
    links: IdentifierLinks | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assign a cluster number to every record.

    `records` needs RECORD_KEY, name_key, is_role_mailbox and the IDENTIFIER_KINDS columns
    (birth_date too, for the conflict guard). `extra_edges` (left, right: record positions,
    rule, strength = match probability) lets a probabilistic matcher add its links. Returns
    (records with `cluster` and `match_rule`, demoted identifiers, refused edges).

    Incremental: with `known_ids` (the earlier customer id of each unchanged record, missing
    for new and changed ones) unchanged records stay together as they were, and only links
    that touch a new or changed record are applied. `links`: the `identifier_links` of
    `records`, when already computed.
    """
    records = records.reset_index(drop=True)
    if "birth_date" in records:  # a form's default date is no evidence of a second person
        records = records.assign(birth_date=records["birth_date"].mask(
            placeholder_dates(records["birth_date"])))
    links = links or identifier_links(records, guards)
    edges, demoted, households = links.edges, links.demoted, links.households
    if known_ids is not None:
        delta = known_ids.isna().to_numpy()
        edges = edges[delta[edges["left"].to_numpy()] | delta[edges["right"].to_numpy()]]
        edges = pd.concat([kept_edges(known_ids.reset_index(drop=True)), edges],
                          ignore_index=True)
    if extra_edges is not None and len(extra_edges):
        edges = pd.concat([edges, extra_edges[list(edges.columns)]], ignore_index=True)
    labels, refused = guarded_clusters(records, edges, cluster_guards,
                                       households=households,
                                       compatible=lambda a, b: names_compatible(
                                           a, b, guards.token_similarity))
    kept = edges.merge(refused[["left", "right"]], how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"]
    touched = pd.concat([
        kept[["left", "rule"]].rename(columns={"left": "record"}),
        kept[["right", "rule"]].rename(columns={"right": "record"}),
    ]).drop_duplicates("record")
    out = records[RECORD_KEY].copy()
    out["cluster"] = labels
    out["match_rule"] = "singleton"
    out.loc[touched["record"].to_numpy(), "match_rule"] = touched["rule"].to_numpy()
    return out, demoted, refused
