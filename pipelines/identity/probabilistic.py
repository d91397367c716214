"""Probabilistic identity matching with Splink (Fellegi-Sunter) on an in-memory DuckDB, or
on Spark with C360_SPLINK_BACKEND=spark (decision 0105).

The deterministic step links records that share a strong identifier. Many records of one
person share none: a social profile 'Thomas Grace' in Manchester with no email or phone, a
shop account 'Grace Thomas' in Manchester with one; '何德燕' in the CRM and 'He Deyan' in the
shop. This module scores such pairs on names (order-free, pinyin, joined or split
syllables, typos, with term-frequency adjustment so '王伟' counts for less than a rare
name), birth date, email, phone, postcode and city, and returns the confident pairs as extra
edges for `deterministic.cluster`.

`prepare` derives the matching columns, `train` fits a model (u by seeded random sampling,
m by EM, the prior from exact rules) and returns Splink's settings JSON as a dict,
`predict_edges` scores record pairs with a trained model without retraining.

Two things Splink does not do on its own, both learnt on the generated data: name term
frequencies count people (deterministic clusters with contact details) instead of records
(`namesake_frequencies`), and a record linked about equally well to two clusters that are
not linked to each other, typically a bare social profile and two namesakes, links to
neither (`drop_ambiguous`). Measured with `make bench-identity`.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from itertools import permutations
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.identity.clustering import ClusterGuards, values_apart
from pipelines.identity.deterministic import (
    IDENTIFIER_KINDS,
    RECORD_KEY,
    cluster,
    column_values,
    placeholder_dates,
)
from pipelines.standardise import has_cjk, name_key, pinyin_items, split_chinese_name

SPLINK_RULE = "splink"
DEFAULT_THRESHOLD = 0.9
# Columns `prepare` adds; Splink sees only these (plus unique_id).
MATCH_COLUMNS = [
    "unique_id",
    "name_key",
    "name_tokens",
    "name_parts",
    "name_letters",
    "name_joined",
    "name_first_token",
    "name_last_token",
    "name_perms",
    "name_variants",
    "name_forms",
    "surname",
    "given_name",
    "given_letters",
    "email_key",
    "email_local",
    "email_letters",
    "email_anagram",
    "phone",
    "postcode",
    "city_norm",
    "street_norm",
    "birth_date",
    "loyalty_card",
    "name_block",
    "given_block",
    "birth_block",
    "det_cluster",
]
# English exonyms for city names that pinyin or accent folding does not bring together.
CITY_ALIASES = {
    "xianggang": "hongkong",
    "aomen": "macau",
    "macao": "macau",
    "taibei": "taipei",
    "munchen": "munich",
    "koln": "cologne",
    "frankfurtammain": "frankfurt",
    "wien": "vienna",
    "praha": "prague",
    "roma": "rome",
    "milano": "milan",
    "napoli": "naples",
    "firenze": "florence",
    "lisboa": "lisbon",
    "moskva": "moscow",
    "warszawa": "warsaw",
    "kobenhavn": "copenhagen",
    "bruxelles": "brussels",
    "brussel": "brussels",
    "geneve": "geneva",
    "den haag": "thehague",
    "newyorkcity": "newyork",
    "nyc": "newyork",
}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NON_ALPHA = re.compile(r"[^a-z]+")
NAMESAKE_TF_COLUMNS = ("name_letters",)
# Namesakes assumed for a name that no other anchored person goes by: the smaller, the more a
# unique name counts. 0.03 was best on the generated data (0.1 and 0.3 lost recall at the
# same precision).
NAMESAKE_FLOOR = 0.03
NAME_TRAINING_RULES = (("email_key",), ("birth_block",), ("postcode",))
ANCHOR_COLUMNS = ("email_key", "phone", "postcode", "birth_date")
AMBIGUITY_MARGIN = 1.0  # match weight (bits) by which the best of two rival links must win
# A link this sure (Bayes factor 256) is no namesake guess and is never dropped as ambiguous:
# the links the rule drops on the generated data weigh 3-7 bits (bare profiles: a name and a
# city), those it wrongly dropped on FEBRL3 (typo'd copies of one person) 9-24 bits.
AMBIGUITY_MAX_WEIGHT = 8.0
# Blocking: a name on more records than this is compared only within a city (and through the
# other rules); the pairs of a value grow with the square of its records.
BLOCK_NAME_CAP = 30
MAX_NAME_TOKENS = 4  # longer names: no permutations (names are short)
# The model is fitted on at most this many records (a seeded sample above it; decision 0097):
# 500,000 gave a bad fit one time in two or three at 1.74M records (P 0.95 against 0.98).
TRAIN_MAX_RECORDS = 1_000_000


# --------------------------------------------------------------------------- preparation


def _fold(text: str) -> str:
    """Lower-case latin text without accents; characters become pinyin."""
    if has_cjk(text):
        text = " ".join(pinyin_items(text))
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=20_000)
def normalize_city(city: str | None) -> str | None:
    """City name as lower-case latin letters: '上海', 'Shanghai', 'SHANGHAI ' -> 'shanghai';
    '香港' -> 'hongkong', 'München' -> 'munich'."""
    if city is None or not isinstance(city, str) or not city.strip():
        return None
    folded = _NON_ALPHA.sub("", _fold(city.replace("ß", "ss")))
    return CITY_ALIASES.get(folded, folded) or None


def _tokens(key: Any) -> list[str]:
    return key.split() if isinstance(key, str) and key else []


def _name_key_of(row_key: Any, full_name: Any) -> str | None:
    if isinstance(row_key, str) and row_key:
        return row_key
    return name_key(full_name) if isinstance(full_name, str) else None


def _surname_given(first: Any, last: Any, full: Any) -> tuple[str | None, str | None]:
    """(surname, given name) as latin letters when the record says which is which: a name
    in characters (family name first) or separate first/last name fields."""
    if isinstance(full, str) and has_cjk(full):
        family, given = split_chinese_name(full)
        fam = _NON_ALPHA.sub("", _fold(family)) or None
        giv = _NON_ALPHA.sub("", _fold(given)) or None
        return fam, giv
    if isinstance(first, str) and isinstance(last, str) and first.strip() and last.strip():
        return (_NON_ALPHA.sub("", _fold(last)) or None, _NON_ALPHA.sub("", _fold(first)) or None)
    return None, None


def _name_parts(tokens: list[str]) -> list[str]:
    """Tokens, their initials, and adjacent tokens run together ('de yan' -> 'deyan'), so a
    name can be found inside another written with initials or joined syllables."""
    parts = set(tokens) | {t[0] for t in tokens}
    if len(tokens) <= MAX_NAME_TOKENS:
        parts |= {a + b for a, b in permutations(tokens, 2)}
    return sorted(parts)


def _name_perms(tokens: list[str]) -> list[str] | None:
    """Every order of the tokens run together: the forms a name takes in an email address."""
    if not tokens or len(tokens) > MAX_NAME_TOKENS:
        return None
    return sorted({"".join(p) for p in permutations(tokens)})


def _name_variants(tokens: list[str]) -> list[str] | None:
    """Forms of a name in an email address: every order, and with one token cut to its
    initial ('jparker', 'parkerj', 'zhangfq' needs two: not covered)."""
    perms = _name_perms(tokens)
    if perms is None:
        return None
    forms = set(perms)
    for i, t in enumerate(tokens):
        cut = tokens[:i] + [t[0]] + tokens[i + 1 :]
        forms |= {"".join(p) for p in permutations(cut)}
    return sorted(forms)


# Nickname prefixes a handle may carry before a given name ('xiaolong': 小龙), never a name
HANDLE_PREFIXES = frozenset({"xiao", "ah", "lao"})


def completed_by_handle(tokens: list[str], handle: Any) -> list[str] | None:
    """The full name a social profile's handle spells when its display name is short: a
    given name alone ('鹏' + '@peng_song345' -> peng song) or with a token cut to its initial
    ('Sophia G.' + '@sophia.green', '@sophiagreen42' -> sophia green). Each display token
    must be a handle token or its initial, and the handle must add exactly the missing
    letters (an initial grows into one token, a lone token gets one more); None otherwise
    (decision 0092)."""
    if not tokens or not isinstance(handle, str) or len(tokens) > MAX_NAME_TOKENS:
        return None
    initials = [t for t in tokens if len(t) == 1]
    full = [t for t in tokens if len(t) > 1]
    if not initials and len(full) > 1:
        return None  # nothing to complete
    segments = [t for t in _NON_ALPHA.split(_fold(handle)) if t]
    wanted = max(len(tokens), 2)
    found: list[str] | None = None
    if len(segments) == wanted:
        free = list(segments)
        for t in sorted(tokens, key=len, reverse=True):
            hit = next((s for s in free if s == t or (len(t) == 1 and s[0] == t)), None)
            if hit is None:
                return None
            free.remove(hit)
        found = segments
    elif len(segments) == 1 and len(full) == 1 and len(initials) <= 1:
        run, name = segments[0], full[0]
        rests = ([run[len(name):]] if run.startswith(name) else []) + (
            [run[: -len(name)]] if run.endswith(name) else [])
        rest = next((r for r in rests if len(r) > 1 and r not in HANDLE_PREFIXES
                     and (not initials or r[0] == initials[0])), None)
        found = [name, rest] if rest else None
    if found is None or min(map(len, found)) < 2 or sorted(found) == sorted(tokens):
        return None
    return found


def _letters(text: str) -> str:
    return "".join(sorted(text))


def _name_forms(tokens: list[str], given: str | None) -> list[str] | None:
    """Letter keys of the shorter names this person may also go by: the full name, the given
    name alone, and the name with one token cut to its initial ('Michael S.')."""
    if not tokens:
        return None
    forms = {_letters("".join(tokens))}
    if given:
        forms.add(_letters(given))
    if len(tokens) <= MAX_NAME_TOKENS:
        for i, t in enumerate(tokens):
            forms.add(_letters("".join(tokens[:i] + [t[0]] + tokens[i + 1 :])))
    return sorted(forms)


def _each_distinct(fn, values) -> list:
    """`fn` of every value, computed once per distinct value (names, streets and cities
    repeat across one person's records and a household's: pinyin is the costly part)."""
    done: dict = {}
    return [done[v] if v in done else done.setdefault(v, fn(v)) for v in values]


def _name_columns(key: str | None, first: Any, last: Any, full: Any) -> tuple:
    """The name columns of one record, from its name key and name fields."""
    tokens = _tokens(key)
    surname, given = _surname_given(first, last, full)
    return (
        " ".join(tokens) or None,
        tokens or None,
        _name_parts(tokens) if tokens else None,
        "".join(sorted("".join(tokens))) or None,
        "".join(tokens) or None,
        tokens[0] if tokens else None,
        tokens[-1] if len(tokens) > 1 else None,
        _name_perms(tokens),
        _name_variants(tokens),
        surname,
        given,
        "".join(sorted(given)) if given else None,
        _name_forms(tokens, given),
    )


NAME_COLUMNS = ["name_key", "name_tokens", "name_parts", "name_letters", "name_joined",
                "name_first_token", "name_last_token", "name_perms", "name_variants", "surname",
                "given_name", "given_letters", "name_forms"]


def _hashable(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


# Columns of a record that depend on its own fields only (`own_columns`): a weekly run keeps
# them for unchanged records (`match_cache`) and derives them for new and changed ones. The
# email columns are before identifier demotion, the card number before demotion too.
OWN_COLUMNS = [*NAME_COLUMNS, "email_key", "email_local", "email_letters", "email_anagram",
               "postcode", "city_norm", "street_norm", "birth_date", "loyalty_card"]
# The record fields `own_columns` reads.
OWN_INPUTS = ["name_key", "first_name", "last_name", "full_name", "social_handle", "email_key",
              "is_role_mailbox", "postcode", "city", "street", "birth_date", "loyalty_card_number"]


def own_columns(records: pd.DataFrame) -> pd.DataFrame:
    """The OWN_COLUMNS of `records` (positional index): names (per distinct name: pinyin is
    the costly part), the email without role mailboxes and its parts, postcode, city, street,
    birth date and card number normalised."""
    records = records.reset_index(drop=True)
    n = len(records)
    col = records.get
    full = col("full_name", pd.Series([None] * n))
    first, last = col("first_name", pd.Series([None] * n)), col("last_name", pd.Series([None] * n))
    handles = col("social_handle", pd.Series([None] * n))

    def key(row_key: Any, full_name: Any, handle: Any) -> str | None:
        found = _name_key_of(row_key, full_name)
        if isinstance(handle, str) and (done := completed_by_handle(_tokens(found), handle)):
            return " ".join(sorted(done))
        return found

    names = zip(col("name_key", full), first, last, full, handles)
    rows = _each_distinct(
        lambda r: _name_columns(*r),
        [(key(_hashable(k), _hashable(f), _hashable(h)), _hashable(a), _hashable(b), _hashable(f))
         for k, a, b, f, h in names])
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for i, name in enumerate(NAME_COLUMNS):
        out[name] = [r[i] for r in rows]
    email = col("email_key", pd.Series([None] * n)).astype("object")
    role = col("is_role_mailbox", pd.Series([False] * n)).fillna(False).astype(bool)
    email = email.where(~role.to_numpy() & email.notna().to_numpy(), None)
    out["email_key"] = email.to_numpy()
    local = [e.split("@", 1)[0] if isinstance(e, str) else None for e in email]
    out["email_local"] = local
    out["email_letters"] = [
        (_NON_ALPHA.sub("", loc) or None) if isinstance(loc, str) else None for loc in local
    ]
    out["email_anagram"] = [
        "".join(sorted(e)) if isinstance(e, str) else None for e in out["email_letters"]
    ]
    postcode = col("postcode", pd.Series([None] * n)).astype("object")
    out["postcode"] = [
        (_NON_ALNUM.sub("", p.lower()).upper() or None) if isinstance(p, str) else None
        for p in postcode
    ]
    out["city_norm"] = [normalize_city(c) for c in col("city", pd.Series([None] * n))]
    out["street_norm"] = _each_distinct(
        lambda s: " ".join(_NON_ALNUM.sub(" ", _fold(s)).split()) or None
        if isinstance(s, str) else None,
        col("street", pd.Series([None] * n)).map(_hashable))
    birth = pd.to_datetime(col("birth_date", pd.Series([None] * n)), errors="coerce")
    out["birth_date"] = birth.dt.strftime("%Y-%m-%d").astype("object").where(birth.notna(), None)
    cards = col("loyalty_card_number", pd.Series([None] * n)).astype("object")
    out["loyalty_card"] = [
        (_NON_ALNUM.sub("", c.lower()).upper() or None) if isinstance(c, str) else None
        for c in cards.where(cards.notna().to_numpy(), None)
    ]
    return out[OWN_COLUMNS]


def prepare(
    records: pd.DataFrame, own: pd.DataFrame | None = None,
    deterministic: tuple[np.ndarray, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Matching columns for `records` (one row per source record, as in
    `staging.int_customer_records_unioned`); `unique_id` is the row position.

    `own`: the records' `own_columns`, when already known (kept from an earlier run);
    `deterministic`: their `deterministic_clusters`, when already computed. The columns
    that depend on all records (identifier demotions, blocking caps, deterministic
    clusters) are computed here either way."""
    records = records.reset_index(drop=True)
    n = len(records)
    own = own_columns(records) if own is None else own.reset_index(drop=True)
    col = records.get
    out = pd.DataFrame({"unique_id": np.arange(n, dtype=np.int64)})
    for name in NAME_COLUMNS:  # kept lists stay Arrow lists (`match_cache`): no conversion
        values = own[name]
        out[name] = (values.array if isinstance(values.dtype, pd.ArrowDtype)
                     else column_values(values))
    det_clusters, demoted = (deterministic if deterministic is not None
                             else deterministic_clusters(records))
    # a family phone or a shared mailbox says nothing about which family member it is
    shared = _demoted_mask(own["email_key"], "email_key", demoted)
    for name in ("email_key", "email_local", "email_letters", "email_anagram"):
        out[name] = _blanked(own[name], shared)
    out["phone"] = _without_demoted(
        col("phone_e164", pd.Series([None] * n)), "phone_e164", demoted)
    for name in ("postcode", "city_norm", "street_norm"):
        out[name] = column_values(own[name])
    births = own["birth_date"]
    out["birth_date"] = _blanked(births, placeholder_dates(births) | births.isna().to_numpy())
    # a card number kept with a typo ('LC1234567' for 'LC1234568') is compared by the model;
    # a card on too many records is no evidence, one on names the deterministic rule finds
    # incompatible is: the model weighs the names too (a mistyped name keeps its card)
    not_names = demoted[demoted["reason"] != "different_people"] if len(demoted) else demoted
    cards = col("loyalty_card_number", pd.Series([None] * n))
    shared = _demoted_mask(cards, "loyalty_card_number", not_names)
    out["loyalty_card"] = _blanked(own["loyalty_card"], shared)
    out["name_block"] = _capped(out["name_letters"], BLOCK_NAME_CAP)
    out["given_block"] = _capped(out["given_letters"], BLOCK_NAME_CAP)
    # the birth date under another name, to block on: EM on pairs blocked by a column Splink
    # also compares leaves that comparison out (FEBRL3 lost 5 pairs that way)
    out["birth_block"] = out["birth_date"]
    out["det_cluster"] = det_clusters
    return out[MATCH_COLUMNS]


def _capped(values: pd.Series, cap: float) -> pd.Series:
    """The values held by at most `cap` records (others null): blocking keys whose pairs
    grow linearly with the records."""
    codes, uniques = pd.factorize(values)  # missing: -1
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return values.where((codes >= 0) & (counts[codes] <= cap), None)


def deterministic_clusters(records: pd.DataFrame, links=None) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster of each record under the deterministic rules (each record alone when the
    identifier columns are missing): term frequencies count people, not records. Also the
    demoted identifiers (kind, value): shared by different people, they are no evidence.
    `links`: the records' `deterministic.identifier_links`, when already computed."""
    needed = {*RECORD_KEY, "name_key", "is_role_mailbox", *IDENTIFIER_KINDS}
    if not needed <= set(records.columns):
        return np.arange(len(records), dtype=np.int64), pd.DataFrame(columns=["kind", "value"])
    clusters, demoted, _ = cluster(records, links=links)
    return clusters["cluster"].to_numpy().astype(np.int64), demoted


def _blanked(values: pd.Series, drop: np.ndarray):
    """`column_values` of `values` with the values at `drop` missing."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.where(~drop).array
    return values.astype("object").where(~drop, None).to_numpy()


def _without_demoted(values: pd.Series, kind: str, demoted: pd.DataFrame):
    return _blanked(values, _demoted_mask(values, kind, demoted) | values.isna().to_numpy())


def _demoted_mask(values: pd.Series, kind: str, demoted: pd.DataFrame) -> np.ndarray:
    """Which `values` are demoted identifiers of `kind`."""
    shared = set(demoted.loc[demoted["kind"] == kind, "value"])
    if isinstance(values.dtype, pd.StringDtype):
        return values.isin(shared).to_numpy()
    return values.astype("object").isin(shared).to_numpy()


# --------------------------------------------------------------------------- model spec

# The SQL functions of the custom comparison levels, spelled for each Splink backend
# (decision 0105): DuckDB's own; on Spark its built-ins and the Jaro-Winkler of the jar that
# ships in Splink's wheel. has_all(a, b): every element of b is in a.
SQL_FUNCTIONS = {
    "duckdb": {"jaro_winkler": "jaro_winkler_similarity({}, {})",
               "has_all": "list_has_all({}, {})",
               "contains": "list_contains({}, {})",
               "matches": "regexp_matches({}, {})",
               "numbers": "regexp_extract_all({}, '[0-9]+')"},
    "spark": {"jaro_winkler": "jaro_winkler({}, {})",
              "has_all": "(size(array_except({1}, {0})) = 0)",
              "contains": "array_contains({}, {})",
              "matches": "({} rlike {})",
              "numbers": "regexp_extract_all({}, '[0-9]+', 0)"},
}


def _fn(dialect: str, function: str, *args: str) -> str:
    return SQL_FUNCTIONS[dialect][function].format(*args)


def _close_from_both_ends(threshold: float, label: str, dialect: str = "duckdb"):
    """Jaro-Winkler of the joined names at least `threshold` read forwards and backwards: it
    rewards a common start, and a family name shared by a household ('fischer thomas',
    'fischer hans') makes the start alike, not the name (decision 0103)."""
    import splink.comparison_level_library as cll

    forwards = _fn(dialect, "jaro_winkler", "name_joined_l", "name_joined_r")
    backwards = _fn(dialect, "jaro_winkler", "reverse(name_joined_l)", "reverse(name_joined_r)")
    return cll.CustomLevel(f"{forwards} >= {threshold} and {backwards} >= {threshold}",
                           label_for_charts=label)


def _name_comparison(dialect: str = "duckdb"):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def has_all(a: str, b: str) -> str:
        return _fn(dialect, "has_all", a, b)

    def lacks(tokens: str, surname: str) -> str:
        return f"not {_fn(dialect, 'contains', tokens, surname)}"

    inside = (
        f"({has_all('name_parts_r', 'name_tokens_l')} or "
        f"{has_all('name_parts_l', 'name_tokens_r')})"
    )
    # the shorter name lacks the longer one's family name: a given name alone ('德燕' in a
    # social profile) or a family name written as an initial ('Thomas D.')
    lacks_surname = (
        "(given_letters_l = name_letters_r or given_letters_r = name_letters_l "
        f"or (surname_r is not null and {lacks('name_tokens_l', 'surname_r')} "
        f"and {has_all('name_parts_r', 'name_tokens_l')}) or (surname_l is not null "
        f"and {lacks('name_tokens_r', 'surname_l')} "
        f"and {has_all('name_parts_l', 'name_tokens_r')}))"
    )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="order-free latin name key",
        comparison_levels=[
            cll.NullLevel("name_letters"),
            # same letters in any order: 'Wang Wei' = 'wei wang' = '王伟', 'He Deyan' = '何德燕'
            # ('de he yan'), 'heyingqing' = 'He Yingqing'
            cll.ExactMatchLevel("name_letters").configure(
                tf_adjustment_column="name_letters", label_for_charts="same name (letters)"
            ),
            _close_from_both_ends(0.92, "close from both ends", dialect),
            # namesakes of a short form: everyone going by it (see `namesake_frequencies`)
            cll.CustomLevel(lacks_surname, label_for_charts="given name only / initial").configure(
                tf_adjustment_column="name_letters", disable_tf_exact_match_detection=True
            ),
            cll.CustomLevel(inside, label_for_charts="one name inside the other"),
            _close_from_both_ends(0.8, "similar from both ends", dialect),
            cll.JaroWinklerLevel("name_joined", 0.8).configure(
                label_for_charts="similar start (a family name)"),
            cll.ElseLevel(),
        ],
    )


def _email_comparison(dialect: str = "duckdb"):
    """Same address; same local part at another domain, told apart by whether the local
    part is just the name (then two namesakes share it as easily as one person)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    digit = _fn(dialect, "matches", "email_local_l", "'[0-9]'")
    name_like = (
        f"email_local_l = email_local_r and not {digit} "
        f"and ({_fn(dialect, 'contains', 'name_variants_l', 'email_letters_l')} "
        f"or {_fn(dialect, 'contains', 'name_variants_r', 'email_letters_r')})"
    )
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email_local"),
            cll.ExactMatchLevel("email_key"),
            # namesakes pick the same address at another provider as easily as one person:
            # no evidence either way
            cll.CustomLevel(name_like, label_for_charts="same local part, made of the name")
            .configure(is_null_level=True),
            cll.ExactMatchLevel("email_local"),
            cll.ElseLevel(),
        ],
    )


def _name_in_email_comparison(dialect: str = "duckdb"):
    """The name of one record written as the email address of the other, counted only where
    one record has no name (else it repeats the name comparison)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    applies = (
        "((name_letters_l is null and email_letters_l is not null and name_perms_r is not null)"
        " or (name_letters_r is null and email_letters_r is not null "
        "and name_perms_l is not null))"
    )
    found = (
        f"({_fn(dialect, 'contains', 'name_perms_r', 'email_letters_l')} "
        f"or {_fn(dialect, 'contains', 'name_perms_l', 'email_letters_r')})"
    )
    return cl.CustomComparison(
        output_column_name="name_in_email",
        comparison_description="name of one record as the email of the other",
        comparison_levels=[
            cll.CustomLevel(f"not {applies}").configure(is_null_level=True),
            cll.CustomLevel(found, label_for_charts="name is the email"),
            cll.ElseLevel(),
        ],
    )


def _place_comparison():
    """Phone, postcode and city as one ladder (the strongest agreement counts once):
    members of a household share all three, so adding them up would overcount. A shared
    city counts for less when the phones or postcodes differ."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    differ = (
        "(phone_l <> phone_r or postcode_l <> postcode_r)"  # null when either is missing
    )
    return cl.CustomComparison(
        output_column_name="contact_place",
        comparison_description="phone > postcode > city",
        comparison_levels=[
            cll.And(cll.NullLevel("phone"), cll.NullLevel("postcode"), cll.NullLevel("city_norm"))
            .configure(is_null_level=True),
            cll.ExactMatchLevel("phone"),
            cll.ExactMatchLevel("postcode"),
            cll.CustomLevel(
                f"city_norm_l = city_norm_r and coalesce(not {differ}, true)",
                label_for_charts="same city, nothing else to compare",
            ).configure(tf_adjustment_column="city_norm"),
            cll.CustomLevel(
                "city_norm_l = city_norm_r", label_for_charts="same city, other phone/postcode"
            ),
            cll.ElseLevel(),
        ],
    )


def _exact_or_one_typo(column: str):
    """A strong identifier: equal, one typo apart (Damerau-Levenshtein), or different."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.DamerauLevenshteinLevel(column, 1).configure(label_for_charts="one typo apart"),
            cll.ElseLevel(),
        ],
    )


def _comparisons(dialect: str = "duckdb") -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return [
        _name_comparison(dialect),
        _exact_or_one_typo("birth_date"),
        cl.CustomComparison(
            output_column_name="street",
            comparison_levels=[
                cll.NullLevel("street_norm"),
                cll.ExactMatchLevel("street_norm"),
                # a typo in the street's name, not another house on it (decision 0103)
                cll.CustomLevel(
                    f"{_fn(dialect, 'jaro_winkler', 'street_norm_l', 'street_norm_r')} >= 0.9 "
                    f"and {_fn(dialect, 'numbers', 'street_norm_l')} "
                    f"= {_fn(dialect, 'numbers', 'street_norm_r')}",
                    label_for_charts="close, same house numbers",
                ),
                cll.JaroWinklerLevel("street_norm", 0.9).configure(
                    label_for_charts="close, other house numbers"),
                cll.ElseLevel(),
            ],
        ),
        _exact_or_one_typo("loyalty_card"),
        _email_comparison(dialect),
        _name_in_email_comparison(dialect),
        _place_comparison(),
    ]


def _prediction_blocking_rules() -> list:
    """Pairs to score. Every rule joins on values that few people share, so the pair count
    grows about linearly with the records: a name, an address, a phone, a card; a postcode
    or birth date only together with a name initial or a second place field (a postcode
    alone, or a first name and a city, join thousands of records each in a million; on the
    generated data the pairs they added were all found by the name rules as well).
    Measured in docs/benchmarks.md (pair counts at 20k / 100k records)."""
    from splink import block_on

    first, last = "substr(name_first_token, 1, 1)", "substr(name_last_token, 1, 1)"
    return [
        block_on("name_block"),
        block_on("name_letters", "city_norm"),
        block_on("email_local"),
        block_on("phone"),
        block_on("loyalty_card"),
        block_on("postcode", first),
        block_on("postcode", last),
        block_on("birth_block", first, last),
        block_on("street_norm", "city_norm", first),
        block_on("street_norm", "city_norm", last),
        # two place or date fields agree: a record whose name is mistyped beyond its initials
        block_on("birth_block", "postcode"),
        block_on("birth_block", "street_norm"),
        block_on("postcode", "street_norm"),
        "l.name_block = r.email_anagram",
        "l.email_anagram = r.name_block",
        "l.given_block = r.name_block",
        "l.name_block = r.given_block",
    ]


def _deterministic_rules() -> list:
    from splink import block_on

    return [block_on("email_key"), block_on("phone"), block_on("name_key", "birth_date")]


# --------------------------------------------------------------------------- Splink runs


def namesake_frequencies(
    prepared: pd.DataFrame, column: str = "name_letters", floor: float = NAMESAKE_FLOOR
) -> pd.DataFrame:
    """Term frequencies of name values counted in people rather than records, for Splink's
    term-frequency adjustment (a lookup: value, tf_<column>).

    Splink divides the records holding a value by all records: a name on one person's three
    records looks as common as a name shared by three people, and the compared pair counts
    as its own namesakes. Here the frequency of a value is (anchored clusters going by it
    - 1, at least `floor`) / clusters, where a cluster is a deterministic cluster, anchored
    when it has an email, phone, postcode or birth date (a bare social profile is more
    likely a part of someone than another person), and goes by a value when the value is
    its full name, its given name alone or its name with a token cut to an initial (so
    '英' (ying) counts everyone called Ying, and 'Michael S.' every Michael S...)."""
    held = prepared[[column, "det_cluster"]].dropna(subset=[column])
    total = max(held["det_cluster"].nunique(), 1)
    anchored = prepared[list(ANCHOR_COLUMNS)].notna().any(axis=1).to_numpy()
    # the distinct (form, cluster) pairs of anchored records, counted per form: Arrow
    # flattens the lists, integer codes find the distinct pairs
    lists = arrow_column(prepared["name_forms"], pa.list_(pa.string()))
    lists = lists.filter(pa.array(anchored))
    forms = pc.list_flatten(lists)
    clusters = prepared["det_cluster"].to_numpy()[anchored][
        np.asarray(pc.list_parent_indices(lists), dtype=np.int64)]
    valid = np.asarray(forms.is_valid(), dtype=bool)
    codes, names = pd.factorize(pd.Series(forms.filter(pa.array(valid)), dtype="str"))
    clusters = pd.factorize(clusters[valid])[0]
    width = int(clusters.max(initial=0)) + 1
    pairs = pd.unique(codes.astype(np.int64) * width + clusters)  # hashing: no sort needed
    people = pd.Series(np.bincount(pairs // width, minlength=len(names)), index=names)
    values = np.sort(held[column].unique())
    people = people.reindex(values, fill_value=0)
    tf = (people.to_numpy() - 1).clip(min=floor) / total
    return pd.DataFrame({column: values, f"tf_{column}": tf})


LIST_COLUMNS = ("name_tokens", "name_parts", "name_perms", "name_variants", "name_forms")
INT_COLUMNS = ("unique_id", "det_cluster")


def _as_arrow(prepared: pd.DataFrame) -> pa.Table:
    """The matching columns with fixed types: a column with no values at all (FEBRL has no
    emails) would otherwise reach DuckDB as INTEGER and break the string functions."""
    fields = [
        pa.field(c, pa.int64() if c in INT_COLUMNS else
                 pa.list_(pa.string()) if c in LIST_COLUMNS else pa.string())
        for c in MATCH_COLUMNS
    ]  # fmt: skip
    arrays = [arrow_column(prepared[f.name], f.type) for f in fields]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def arrow_column(values: pd.Series, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """A matching column as Arrow: lists, strings and integers as they are, anything else
    (None, NaN) null. Column-wise when Arrow can (Python lists computed this run, Arrow lists
    kept from an earlier run by `match_cache`), value by value otherwise (a column with no
    values at all comes as float NaNs)."""
    try:
        return pa.array(values, type=type_, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.array([list(v) if isinstance(v, np.ndarray) else
                         v if isinstance(v, (list, str, int, np.integer)) else None
                         for v in values.tolist()], type=type_)


class _MaxPairsNag(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "default value for `max_pairs`" not in record.getMessage()


@contextmanager
def quiet_max_pairs_warning() -> Iterator[None]:
    """Splink warns whenever max_pairs is 1e6; on this data 1e6 pairs estimate u as well as
    1e7 (STACK_FACTS), so the warning is noise."""
    training_logger = logging.getLogger("splink.internals.linker_components.training")
    nag = _MaxPairsNag()
    training_logger.addFilter(nag)
    try:
        yield
    finally:
        training_logger.removeFilter(nag)


@contextmanager
def matcher_connection(threads: int = 1) -> Iterator[duckdb.DuckDBPyConnection]:
    """The private in-memory DuckDB Splink runs in: `threads` threads and a memory limit of
    its own (C360_MATCHER_MEMORY_LIMIT), beyond which it spills beside the warehouse,
    encrypted when the warehouse is."""
    from pipelines.config import settings as app_settings
    from pipelines.warehouse import encryption_key, extension_directory

    with duckdb.connect(":memory:", config={"extension_directory": extension_directory()}) as con:
        con.sql(f"set threads = {int(threads)}")
        s = app_settings()
        con.sql(f"set memory_limit = '{s.matcher_memory_limit}'")
        spill = s.warehouse_path.parent / "matcher.tmp"
        spill.parent.mkdir(parents=True, exist_ok=True)  # DuckDB makes the last level only
        con.sql(f"set temp_directory = '{spill}'")
        if encryption_key():  # spilled pairs carry names and contacts: encrypted at rest too
            con.sql("load httpfs")  # OpenSSL, as for the encrypted warehouse
            con.sql("set temp_file_encryption = true")
        yield con


def backend() -> str:
    """The Splink backend matching runs on (C360_SPLINK_BACKEND): 'duckdb' or 'spark'."""
    from pipelines.config import settings as app_settings

    return app_settings().splink_backend


@lru_cache(maxsize=1)
def spark_session():
    """The SparkSession Splink's Spark backend runs in: the active one when this process
    runs inside Spark (spark-submit, a cluster's notebook), else a local one on
    C360_SPARK_MASTER with the jar of Splink's Spark functions (it ships in Splink's wheel)
    and Spark's files beside the warehouse."""
    from splink import SparkAPI
    from splink.backends.spark import similarity_jar_location

    from pipelines.config import settings as app_settings
    from pipelines.spark_session import spark_session as session

    s = app_settings()
    scratch = s.warehouse_path.parent / "matcher.spark"
    scratch.mkdir(parents=True, exist_ok=True)
    spark = session("customer360-identity", scratch, s.spark_master, conf={
        "spark.jars": similarity_jar_location(), "spark.local.dir": str(scratch)})
    if spark.sparkContext.getCheckpointDir() is None:  # where Splink writes its steps
        spark.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
    SparkAPI(spark_session=spark)  # registers the jar's functions, once per session
    return spark


TABLE_PREFIX = "c360_"  # the tables this module registers (on Spark: views of a shared session)


def _register(db_api: Any, table: pa.Table | pd.DataFrame, name: str) -> Any:
    """`table` as a Splink table of `db_api`'s backend (Spark reads Arrow tables natively),
    named TABLE_PREFIX + `name`."""
    name = TABLE_PREFIX + name
    if backend() == "spark":
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        # pyspark cannot read a column of no chunks (what an all-false filter returns)
        table = db_api.spark.createDataFrame(table if table.num_rows else
                                             table.schema.empty_table())
    return db_api.register(table, table_name=name)


@contextmanager
def _database(threads: int) -> Iterator[Any]:
    """Splink's database API on the configured backend: a private in-memory DuckDB, closed
    on exit, or the Spark session."""
    if backend() == "spark":
        import shutil

        from splink import SparkAPI

        spark = spark_session()
        try:
            yield SparkAPI(spark_session=spark, register_udfs_automatically=False)
        finally:  # the session outlives the linker: its tables and Splink's local steps go
            for table in spark.catalog.listTables():
                if table.isTemporary and table.name.startswith(("__splink__", TABLE_PREFIX)):
                    spark.catalog.dropTempView(table.name)
            checkpoints = spark.sparkContext.getCheckpointDir() or ""
            if checkpoints.startswith("file:"):
                for step in Path(checkpoints.removeprefix("file:")).glob("__splink__*"):
                    shutil.rmtree(step, ignore_errors=True)
        return
    from splink import DuckDBAPI

    with matcher_connection(threads) as con:
        yield DuckDBAPI(connection=con)


@contextmanager
def _linker(
    prepared: pd.DataFrame, settings: Any, threads: int = 1, data: pa.Table | None = None
) -> Iterator[tuple[Any, Any]]:
    """A Splink linker over `prepared` on the configured backend, with namesake term
    frequencies for the name columns; yields (linker, db_api). On DuckDB training runs on
    one thread: float sums in another order would give another model."""
    from splink import Linker

    with _database(threads) as db_api:
        data = _as_arrow(prepared) if data is None else data
        linker = Linker(_register(db_api, data, "records"), settings, log_level=None)
        for column in NAMESAKE_TF_COLUMNS:
            lookup = _register(db_api, namesake_frequencies(prepared, column), f"tf_{column}")
            linker.table_management.register_term_frequency_lookup(lookup, column)
        yield linker, db_api


def _settings(dialect: str | None = None) -> Any:
    """The model's spec in the SQL of `dialect` (default: the configured backend's)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=_comparisons(dialect or backend()),
        blocking_rules_to_generate_predictions=_prediction_blocking_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
        em_convergence=1e-4,
    )


def _spec(settings: dict[str, Any]) -> list:
    """What a model compares and blocks on (its SQL), without what training estimated."""
    levels = [
        (c["output_column_name"],
         [(lv["sql_condition"], lv.get("tf_adjustment_column"), lv.get("is_null_level", False))
          for lv in c["comparison_levels"]])
        for c in settings["comparisons"]
    ]
    rules = [b["blocking_rule"] for b in settings["blocking_rules_to_generate_predictions"]]
    return [levels, rules]


def spec_changed(model: dict[str, Any]) -> bool:
    """Does this code compare or block differently from the saved `model`, or on another
    backend? (A model keeps the SQL it was trained with: a new comparison takes effect only
    when it is retrained; a model trained on DuckDB holds DuckDB's SQL.)"""
    dialect = backend()
    return (model.get("sql_dialect", "duckdb") != dialect
            or _spec(model) != _spec(_settings(dialect).get_settings(dialect).as_dict()))


def train(
    prepared: pd.DataFrame,
    seed: int = 42,
    max_pairs_u: float = 1e6,
    prior_recall: float = 0.7,
    max_records: int = TRAIN_MAX_RECORDS,
) -> dict[str, Any]:
    """Fit a Splink model on `prepared` records and return its settings JSON (a dict).
    Above `max_records` records it is fitted on a seeded random sample of that many
    (decision 0097): a uniform sample keeps the share of matches among the pairs of every
    block, so the estimates stay the same in expectation for far fewer pairs.

    Prior (probability two random records match): pairs found by exact rules (email, phone,
    name + birth date), assumed to find `prior_recall` of all matches. u: random sampling of
    `max_pairs_u` pairs, seeded. m: EM on pairs sharing the name letters (trains all but the
    name; the common names' pairs keep EM's non-match class anchored: on the capped name
    block it converged to namesakes as matches), then on pairs sharing an email (trains the
    name; pairs sharing a phone would teach it that family members are the same person;
    without emails: a birth date, else a postcode).
    Deterministic for a seed (checked on DuckDB, where training runs on one thread)."""
    from splink import block_on

    settings = _settings()
    if len(prepared) > max_records:
        prepared = prepared.sample(n=max_records, random_state=seed).sort_index()
    with _linker(prepared, settings) as (linker, _), quiet_max_pairs_warning():
        linker.training.estimate_probability_two_random_records_match(
            _deterministic_rules(), recall=prior_recall
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_u, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("name_letters"), estimate_without_term_frequencies=True
        )
        # the name's m: pairs sharing an email, or (data without emails) a birth date
        name_rule = next(
            (cols for cols in NAME_TRAINING_RULES if _pairs_sharing(prepared, cols) >= 10),
            NAME_TRAINING_RULES[-1],
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*name_rule), estimate_without_term_frequencies=True
        )
        return linker.misc.save_model_to_json()


def _pairs_sharing(prepared: pd.DataFrame, columns: tuple[str, ...]) -> int:
    counts = prepared.dropna(subset=list(columns)).groupby(list(columns)).size()
    return int((counts * (counts - 1) // 2).sum())


def predict_edges(
    prepared: pd.DataFrame,
    model: dict[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    margin: float | None = AMBIGUITY_MARGIN,
    delta: np.ndarray | None = None,
    threads: int = 2,
) -> pd.DataFrame:
    """Record pairs the model links with at least `threshold` match probability, as extra
    edges for `deterministic.cluster`: left, right (row positions), match_probability,
    match_weight, rule ('splink') and strength (= match_probability, the order in which
    the guarded clustering applies them). `score_pairs` then `select_edges`."""
    scored = score_pairs(prepared, model, threshold, delta=delta, threads=threads)
    return select_edges(scored, prepared["det_cluster"].to_numpy(), threshold, margin)


def score_pairs(
    prepared: pd.DataFrame,
    model: dict[str, Any],
    threshold: float,
    delta: np.ndarray | None = None,
    threads: int = 2,
) -> pd.DataFrame:
    """Blocked record pairs scored by the model, at least `threshold`: left < right (row
    positions), match_probability, match_weight; pairs in one deterministic cluster left out.

    With `delta` (a boolean mask of new or changed records) only pairs with at least one
    delta record are scored: Splink's `predict_within` the delta and `predict_between` the
    rest and the delta, the same blocking rules and term frequencies as a full run."""
    data = _as_arrow(prepared)
    with _linker(prepared, model, threads, data) as (linker, db_api):
        if delta is None:
            pairs = linker.inference.predict(
                threshold_match_probability=threshold, warning_mode="never"
            ).as_pandas_dataframe()
        else:
            for column in sorted(_tf_columns(model) - set(NAMESAKE_TF_COLUMNS)):
                lookup = _register(db_api, _term_frequencies(prepared, column), f"tf_{column}")
                linker.table_management.register_term_frequency_lookup(lookup, column)
            known = ~delta & _may_block_with(prepared, delta, model)
            new = _register(db_api, data.filter(pa.array(delta)), "delta_records")
            old = _register(db_api, data.filter(pa.array(known)), "known_records")
            found = [linker.inference.predict_within(
                new, threshold_match_probability=threshold, warning_mode="never")]
            if known.any():
                found.append(linker.inference.predict_between(
                    old, new, threshold_match_probability=threshold, warning_mode="never"))
            pairs = pd.concat([f.as_pandas_dataframe() for f in found], ignore_index=True)
    ids = pairs[["unique_id_l", "unique_id_r"]].astype(np.int64).to_numpy().reshape(-1, 2)
    scored = pd.DataFrame({
        "left": ids.min(axis=1),
        "right": ids.max(axis=1),
        "match_probability": pairs["match_probability"].astype(float).to_numpy(),
        "match_weight": pairs["match_weight"].astype(float).to_numpy(),
    })
    det = prepared["det_cluster"].to_numpy()
    return scored[det[scored["left"].to_numpy()] != det[scored["right"].to_numpy()]]


def _term_frequencies(prepared: pd.DataFrame, column: str) -> pd.DataFrame:
    """Splink's term frequencies of `column` over all records (the values of its
    `compute_tf_table`: records holding a value / records holding any), from that one
    column: Splink's own query reads every column of the records (a million rows of name
    lists: 2 s for a city lookup), and the delta run registers only some records."""
    held = prepared[column].dropna()
    counts = held.value_counts(sort=False)
    return pd.DataFrame({column: counts.index.astype(object),
                         f"tf_{column}": counts.to_numpy() / len(held)})


_FIRST_EQUALITY = re.compile(r'^\(?l\."?(\w+)"?\s*=\s*r\."?(\w+)"?\)?(\s+and\s|$)', re.I)


def _may_block_with(prepared: pd.DataFrame, delta: np.ndarray, model: dict[str, Any]
                    ) -> np.ndarray:
    """Records that may form a blocked pair with a `delta` record: for every blocking rule
    of the model, those whose value in the column of the rule's first equality (`l.a = r.b
    and ...`) is a value a delta record holds in the other column, either way round. Pairs
    between the other records and the delta records satisfy no rule: leaving those records
    out of `predict_between` scores the same pairs, with less work. All records when a rule
    does not start with such an equality or has an `or`."""
    every = np.ones(len(prepared), dtype=bool)
    wanted: dict[str, set] = {}  # column -> the delta records' values to look for in it
    for rule in model.get("blocking_rules_to_generate_predictions", []):
        sql = rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        match = _FIRST_EQUALITY.match(sql.strip())
        if match is None or re.search(r"\bor\b", sql, re.I):
            return every
        left, right = match.group(1), match.group(2)
        if left not in prepared or right not in prepared:
            return every
        for mine, theirs in ((left, right), (right, left)):
            wanted.setdefault(mine, set()).update(prepared[theirs][delta].dropna())
    # one look-up per column (rules share their first column: name_block, postcode...)
    found = np.zeros(len(prepared), dtype=bool)
    for column, values in wanted.items():
        found |= prepared[column].isin(values).to_numpy()
    return found


def select_edges(
    scored: pd.DataFrame,
    det_clusters: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    margin: float | None = AMBIGUITY_MARGIN,
) -> pd.DataFrame:
    """The scored pairs at or above `threshold` without the ambiguous links (see
    `drop_ambiguous`; `margin=None` keeps them), as edges."""
    edges = scored[scored["match_probability"] >= threshold]
    if margin is not None:
        edges = drop_ambiguous(edges, det_clusters, margin)
    edges = edges.assign(rule=SPLINK_RULE, strength=edges["match_probability"])
    return edges.sort_values(["left", "right"], ignore_index=True)


def _tf_columns(model: dict[str, Any]) -> set[str]:
    return {
        level["tf_adjustment_column"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }


def drop_ambiguous(
    edges: pd.DataFrame, clusters: np.ndarray, margin: float = AMBIGUITY_MARGIN,
    max_weight: float = AMBIGUITY_MAX_WEIGHT,
) -> pd.DataFrame:
    """Drop links that would make one cluster the only bridge between two others.

    A social profile 'Sophie Martin' in Paris links as well to one Sophie Martin of Paris as
    to another: joined through it, two namesakes would become one customer. For each
    cluster (of `clusters`, by record position) with links to several other clusters that
    are not linked to each other, only the best link is kept, and only when its match
    weight beats the rival's by `margin` bits; the others go. A link of at least
    `max_weight` bits is kept whatever its rivals: the model is sure of it."""
    if edges.empty:
        return edges
    a = clusters[edges["left"].to_numpy()]
    b = clusters[edges["right"].to_numpy()]
    pair_lo, pair_hi = np.minimum(a, b), np.maximum(a, b)
    best = (
        pd.DataFrame({"x": pair_lo, "y": pair_hi, "w": edges["match_weight"].to_numpy()})
        .groupby(["x", "y"], sort=True)["w"]
        .max()
        .reset_index()
    )
    linked = set(zip(best["x"].tolist(), best["y"].tolist()))
    both_ways = pd.concat([best, best.rename(columns={"x": "y", "y": "x"})], ignore_index=True)
    both_ways = both_ways.sort_values(["x", "w", "y"], ascending=[True, False, True])
    dropped: set[tuple[int, int]] = set()
    for x, group in both_ways.groupby("x", sort=True):
        if len(group) < 2:
            continue
        ys, ws = group["y"].tolist(), group["w"].tolist()
        top = ys[0]
        for y, w in zip(ys[1:], ws[1:]):
            if (min(top, y), max(top, y)) in linked:
                continue  # the two candidates are linked themselves: one person
            dropped.add((min(x, y), max(x, y)))
            if w >= ws[0] - margin:
                dropped.add((min(x, top), max(x, top)))
    sure = edges["match_weight"].to_numpy() >= max_weight
    keep = [(lo, hi) not in dropped for lo, hi in zip(pair_lo.tolist(), pair_hi.tolist())]
    keep = np.array(keep, dtype=bool) | sure
    return edges[keep]


# Model comparison -> (matching column, record column whose values the guarded clustering
# keeps apart).
CONFLICT_COMPARISONS = {"birth_date": ("birth_date", "birth_date"),
                        "loyalty_card": ("loyalty_card", "loyalty_card_number")}
# A kind is a conflict only when true matches disagree on it (beyond one typo) at most this
# often: about 0 for birth dates on the generated data, 0.07 on FEBRL3.
CONFLICT_MAX_DISAGREEMENT = 0.01
# Shared identifier values with two records holding a kind, needed to measure how often
# linked records disagree on it (`disagreement`); with fewer, the model's estimate decides.
CONFLICT_MIN_LINKS = 30


# The identifiers whose shared values `disagreement` looks through (matching columns, after
# demotion: a family phone or role mailbox links no one).
LINKING_COLUMNS = ("email_key", "phone", "loyalty_card")


def disagreement(prepared: pd.DataFrame, column: str, kind: str) -> tuple[int, int]:
    """(identifier values shared by two or more records that hold `column`, how many of them
    join values the guard of `kind` keeps apart (`clustering.values_apart`)): how often
    records an exact identifier link joins disagree on the column. Read from the identifiers
    themselves, not the deterministic clusters, which the guard already kept apart."""
    groups = apart = 0
    for key in LINKING_COLUMNS:
        if key == column or key not in prepared:
            continue
        held = prepared[[key, column]].dropna()
        held = held[held[key].duplicated(keep=False)]
        values = held.drop_duplicates().groupby(key, sort=False)[column].agg(list)
        groups += len(values)
        apart += sum(
            any(values_apart(kind, a, b) for i, a in enumerate(v) for b in v[i + 1:])
            for v in values if len(v) > 1
        )
    return groups, apart


def cluster_guards(model: dict[str, Any], base: ClusterGuards | None = None,
                   prepared: pd.DataFrame | None = None) -> ClusterGuards:
    """Guards for `deterministic.cluster` with the conflict kinds the data supports: a birth
    date or card number counts as one-per-person only where true matches disagree on it at
    most CONFLICT_MAX_DISAGREEMENT of the time. Measured on the identifier links of
    `prepared` (`disagreement`) when they join enough pairs of values; else the model's m
    probability of the 'all other' level. Kinds the model does not compare keep their
    default. The EM estimate alone is not enough: on a million records its match class took
    in namesakes and put birth-date disagreement at 0.41, which turned every guard off
    (decision 0093)."""
    base = base or ClusterGuards()
    kinds = set(base.conflict_kinds)
    for comparison in model["comparisons"]:
        column, kind = CONFLICT_COMPARISONS.get(comparison["output_column_name"], (None, None))
        if column is None:
            continue
        rate = comparison["comparison_levels"][-1].get("m_probability")
        if prepared is not None and column in prepared:
            links, apart = disagreement(prepared, column, kind)
            if links >= CONFLICT_MIN_LINKS:
                rate = apart / links
        if rate is not None and rate > CONFLICT_MAX_DISAGREEMENT:
            kinds.discard(kind)
    return replace(base, conflict_kinds=tuple(k for k in base.conflict_kinds if k in kinds))


def save_model(model: dict[str, Any], path: str | Path) -> Path:
    """Write the model (Splink settings JSON) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2, sort_keys=True), encoding="utf-8")
    return path


def load_model(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def model_charts(model: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Splink's match-weights and m/u parameter charts of `model` as self-contained HTML
    (Vega libraries inlined: they open offline) and Vega-Lite JSON specs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in MATCH_COLUMNS})
    written = []
    with _linker(empty, model) as (linker, _):
        charts = {
            "match_weights": linker.visualisations.match_weights_chart(),
            "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
        }
        for name, chart in charts.items():
            html = out_dir / f"{name}.html"
            chart.save(str(html), inline=True)
            spec = out_dir / f"{name}.vl.json"
            spec.write_text(json.dumps(chart.chart_dict, default=str), encoding="utf-8")
            written += [html, spec]
    return written
