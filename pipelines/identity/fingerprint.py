"""Fingerprints of the fields a record's matching reads: the value of
`pd.util.hash_pandas_object(frame.astype("string").fillna("\\x00"), index=False, hash_key=...)`,
computed faster. The map (`identity.customer_map.record_hash`) and the matching columns
kept between runs (`identity.match_columns.own_hash`) store these values, so they must not
change: `tests/unit/test_fingerprint.py` compares them with pandas' own on random frames.

pandas hashes each column (SipHash of each distinct string: it factorizes the column
first), then combines the columns' hashes row by row. Here a text column is dictionary-
encoded by Arrow, which keeps its strings (pandas converts a million of them to Python
strings and factorizes those), and only the distinct strings are hashed, by pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MISSING = "\x00"  # what a missing field hashes as


def _column_hashes(column: pd.Series, hash_key: str | None) -> np.ndarray:
    key = {} if hash_key is None else {"hash_key": hash_key}
    if not isinstance(column.dtype, pd.StringDtype):  # booleans, dates...: as pandas does
        values = column.astype("string").fillna(MISSING)
        return pd.util.hash_pandas_object(values, index=False, **key).to_numpy()
    strings = pa.array(column, from_pandas=True)
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(strings.cast(pa.string()), MISSING))
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    hashed = pd.util.hash_array(distinct, categorize=False, **key)
    return hashed[np.asarray(encoded.indices, dtype=np.int64)]


def _combine(arrays: list[np.ndarray], length: int) -> np.ndarray:
    """Row hashes from column hashes, as `pandas.core.util.hashing.combine_hash_arrays`
    (CPython's tuple hash)."""
    if not arrays:
        return np.full(length, 0x345678 + 97531, dtype=np.uint64)
    mult = np.uint64(1000003)
    out = np.zeros_like(arrays[0]) + np.uint64(0x345678)
    for i, a in enumerate(arrays):
        inverse = len(arrays) - i
        out ^= a
        out *= mult
        mult += np.uint64(82520 + inverse + inverse)
    out += np.uint64(97531)
    return out


def row_hashes(frame: pd.DataFrame, hash_key: str | None = None) -> pd.Series:
    """`pd.util.hash_pandas_object(frame.astype("string").fillna("\\x00"), index=False,
    hash_key=hash_key)` (uint64, indexed like `frame`)."""
    arrays = [_column_hashes(frame[c], hash_key) for c in frame.columns]
    return pd.Series(_combine(arrays, len(frame)), index=frame.index, dtype="uint64")
