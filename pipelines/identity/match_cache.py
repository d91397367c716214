"""The matching columns of each record kept between runs (`identity.match_columns`).

Deriving a record's own matching columns (`probabilistic.own_columns`: names in pinyin and
letter keys, normalised street, city, postcode...) is most of the cost of preparing records
for Splink, and a weekly export changes a few percent of them. This table keeps them per
record, with a fingerprint of the fields they are derived from and of the code deriving
them: a run reads the columns of records whose fingerprint is unchanged and derives only the
others. The columns that depend on all records (identifier demotions, blocking caps,
deterministic clusters) are never kept: `probabilistic.prepare` computes them every run.
Rows are keyed by source record, so an erasure deletes them with the person's other rows.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.identity import probabilistic as splink
from pipelines.identity.deterministic import RECORD_KEY, arrow_strings
from pipelines.identity.fingerprint import row_hashes
from pipelines.warehouse import table_exists

TABLE = "identity.match_columns"
HASH = "own_hash"


# The code `probabilistic.own_columns` runs: a change to any of it makes the kept rows stale.
_OWN_CODE = ("own_columns", "_name_columns", "_name_key_of", "completed_by_handle", "_tokens",
             "_surname_given", "_name_parts", "_name_perms", "_name_variants", "_name_forms",
             "_letters", "_fold", "normalize_city", "_each_distinct", "_hashable")


def _canonical(value):
    """`value` with every set as a sorted list. A set's order, and so its repr, differs from
    process to process (string hashing is seeded per process): a version built from it
    seldom matched the one an earlier run stored, and a weekly run derived every record again."""
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


@cache
def _code_version() -> bytes:
    """What else the columns depend on: the code that derives them (with its constants and
    `pipelines.standardise`) and the pinyin tables. Any change to it makes every kept row
    stale (they are derived again once). Computed once per process."""
    import inspect

    import pypinyin

    from pipelines import standardise

    parts = [inspect.getsource(getattr(splink, name)).encode() for name in _OWN_CODE]
    constants = (splink.OWN_COLUMNS, splink.OWN_INPUTS, splink.NAME_COLUMNS,
                 splink.CITY_ALIASES, splink.MAX_NAME_TOKENS, splink.HANDLE_PREFIXES,
                 splink._NON_ALNUM.pattern, splink._NON_ALPHA.pattern)
    parts += [repr(_canonical(constants)).encode(), Path(standardise.__file__).read_bytes(),
              pypinyin.__version__.encode(), repr(sys.version_info[:2]).encode()]
    return hashlib.sha256(b"\0".join(parts)).digest()[:8]


def own_hashes(records: pd.DataFrame) -> pd.Series:
    """A fingerprint of what `probabilistic.own_columns` reads from each record (and of the
    code version), as a string."""
    n = len(records)
    columns = {c: (records[c] if c in records else pd.Series([None] * n, index=records.index))
               for c in splink.OWN_INPUTS}
    hashed = row_hashes(pd.DataFrame(columns), hash_key=_code_version().hex()[:16])
    return hashed.astype("string")


def _schema() -> pa.Schema:
    return pa.schema(
        [pa.field(c, pa.string()) for c in [*RECORD_KEY, HASH]]
        + [pa.field(c, pa.list_(pa.string()) if c in splink.LIST_COLUMNS else pa.string())
           for c in splink.OWN_COLUMNS])


def own_columns(con, records: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`probabilistic.own_columns` of `records` (positional), read from the table for
    unchanged records and derived for the others, which are added to the table (rows of
    records gone or changed are deleted). Returns (columns, records derived this run)."""
    records = records.reset_index(drop=True)
    keys = pa.table({**{c: arrow_strings(records[c]) for c in RECORD_KEY},
                     HASH: arrow_strings(own_hashes(records)),
                     "pos": np.arange(len(records), dtype=np.int64)})
    con.register("_match_keys", keys)
    joined = (f"from _match_keys k join {TABLE} c "
              f"using (source_system, source_record_id, {HASH})")
    try:
        found = np.zeros(len(records), dtype=bool)
        if table_exists(con, "identity", TABLE.split(".")[1]):
            found[con.sql(f"select k.pos {joined}").fetchnumpy()["pos"]] = True
        missing = np.flatnonzero(~found)
        derived = splink.own_columns(records.iloc[missing])
        schema = _schema()
        new = pa.Table.from_arrays(
            [keys.column(c).take(pa.array(missing, pa.int64())).combine_chunks()
             for c in [*RECORD_KEY, HASH]]
            + [splink.arrow_column(derived[c], schema.field(c).type)
               for c in splink.OWN_COLUMNS], schema=schema)
        _store(con, new)
        # now the table holds a row for each record: read them in record order
        table = con.execute(f"select {', '.join(f'c.{c}' for c in splink.OWN_COLUMNS)} "
                            f"{joined} order by k.pos").fetch_arrow_table()
        if table.num_rows != len(records):
            raise RuntimeError(f"{TABLE}: {table.num_rows} rows for {len(records)} records")
        # lists as Arrow-backed columns: `prepare` hands them on to Splink's Arrow table as
        # they are (a million rows of Python lists would cost seconds each way)
        own = table.to_pandas(
            types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)
    finally:
        con.unregister("_match_keys")
    return own, len(missing)


def _store(con, new: pa.Table) -> None:
    """Keep the rows of the current records (with their current fingerprint) and add `new`."""
    con.register("_match_new", new)
    try:
        con.sql("begin transaction")
        if table_exists(con, "identity", TABLE.split(".")[1]):
            con.sql(f"delete from {TABLE} c where not exists (select 1 from _match_keys k "
                    "where k.source_system = c.source_system and k.source_record_id = "
                    f"c.source_record_id and k.{HASH} = c.{HASH})")
            con.sql(f"insert into {TABLE} select * from _match_new")
        else:
            con.sql("create schema if not exists identity")
            con.sql(f"create table {TABLE} as select * from _match_new")
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    finally:
        con.unregister("_match_new")
