"""Record fingerprints are stored between runs: the fast hashing must give pandas' values."""

import numpy as np
import pandas as pd
import pytest

from pipelines.identity.fingerprint import row_hashes


def _pandas(frame: pd.DataFrame, hash_key: str | None = None) -> pd.Series:
    key = {} if hash_key is None else {"hash_key": hash_key}
    values = frame.astype("string").fillna("\x00")
    return pd.util.hash_pandas_object(values, index=False, **key).astype("uint64")


def _frame(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["wang wei", "王伟", "", "zoë", "a@b.cn", "+8613800000000", "\x00", "x" * 40]
    pick = lambda: [None if rng.random() < 0.3 else words[rng.integers(len(words))]  # noqa: E731
                    for _ in range(n)]
    return pd.DataFrame({
        "name": pd.Series(pick(), dtype="str"),
        "email": pd.Series(pick(), dtype="str"),
        "flag": rng.random(n) < 0.5,
        "born": pd.Series([pd.NaT if rng.random() < 0.4 else pd.Timestamp("1985-03-02")
                           + pd.Timedelta(days=int(rng.integers(0, 9000))) for _ in range(n)],
                          dtype="datetime64[us]"),
        "absent": pd.Series([None] * n, dtype=object),
        "plain": pd.Series(pick(), dtype=object),
    }, index=pd.RangeIndex(n) + 7)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("hash_key", [None, "0a1b2c3d4e5f6071"])
def test_row_hashes_equal_pandas(seed, hash_key):
    frame = _frame(seed, 300)
    pd.testing.assert_series_equal(row_hashes(frame, hash_key), _pandas(frame, hash_key))


def test_row_hashes_of_chunked_arrow_strings_and_of_nothing():
    frame = _frame(1, 50)
    chunked = pd.concat([frame.iloc[:20], frame.iloc[20:]])  # two Arrow chunks per column
    pd.testing.assert_series_equal(row_hashes(chunked), _pandas(chunked))
    pd.testing.assert_series_equal(row_hashes(frame.iloc[:0]), _pandas(frame.iloc[:0]))


def test_a_changed_field_changes_the_fingerprint():
    frame = _frame(2, 20)
    changed = frame.copy()
    changed.loc[8, "email"] = "new@example.com"
    differ = row_hashes(frame) != row_hashes(changed)
    assert differ.tolist() == [i == 8 for i in frame.index]
