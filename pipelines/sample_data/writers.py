"""Writing exports: CSV (minimal quoting, any delimiter and encoding), JSON lines, Parquet.

CSV and JSON lines are assembled with Arrow compute kernels and written straight from the
resulting string buffer, so millions of rows take seconds and the bytes are reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.sample_data.text import cat, num, scatter


def _quoted(values: pa.Array, delimiter: str) -> pa.Array:
    text = pc.fill_null(values.cast(pa.large_string()), "")
    pattern = "[" + "".join("\\" + c for c in (delimiter, '"')) + "\\r\\n]"
    needs = pc.match_substring_regex(text, pattern)
    if not pc.any(needs).as_py():
        return text
    return pc.if_else(needs, cat('"', pc.replace_substring(text, '"', '""'), '"'), text)


def _write_lines(path: Path, lines: pa.Array, prefix: bytes = b"", encoding: str = "utf-8"
                 ) -> None:
    """Write every string of `lines` followed by a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = cat(lines.cast(pa.large_string()), "\n")
    if len(body):
        _, offsets, data = body.buffers()
        start, stop = np.frombuffer(offsets, dtype=np.int64)[[body.offset, body.offset + len(body)]]
        payload = memoryview(data)[start:stop]
    else:
        payload = memoryview(b"")
    with path.open("wb") as f:
        f.write(prefix)
        if encoding == "utf-8":
            f.write(payload)
        else:
            f.write(bytes(payload).decode("utf-8").encode(encoding))


def write_csv(path: Path, columns: dict[str, pa.Array], delimiter: str = ",",
              encoding: str = "utf-8") -> int:
    """CSV with a header; values quoted only when needed. `encoding` 'utf-8-sig' adds a BOM."""
    header = delimiter.join(
        f'"{h}"' if delimiter in h or '"' in h else h for h in columns
    )
    fields = [_quoted(v, delimiter) for v in columns.values()]
    n = len(fields[0]) if fields else 0
    rows = cat(*fields, sep=delimiter) if n else pa.array([], pa.large_string())
    lines = pa.concat_arrays([pa.array([header], pa.large_string()), rows])
    bom = encoding == "utf-8-sig"
    _write_lines(path, lines, prefix=b"\xef\xbb\xbf" if bom else b"",
                 encoding="utf-8" if bom else encoding)
    return n


def json_str(values: pa.Array) -> pa.Array:
    """JSON string literals (null becomes null)."""
    text = values
    if pc.any(pc.match_substring_regex(text, r'["\\\x00-\x1f]')).as_py():
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
        if pc.any(pc.match_substring_regex(text, r"[\x00-\x1f]")).as_py():
            raise ValueError("control characters in a JSON string")
    return pc.fill_null(cat('"', text, '"'), "null")


def json_raw(values: pa.Array) -> pa.Array:
    """Values that already are JSON literals (numbers); null becomes null."""
    return pc.fill_null(values, "null")


def json_lines(fields: dict[str, pa.Array]) -> pa.Array:
    """One JSON object per row from columns of JSON-encoded values."""
    parts: list = []
    for i, (key, values) in enumerate(fields.items()):
        parts += [("{" if i == 0 else ",") + f'"{key}":', values]
    return cat(*parts, "}")


def break_line(lines: pa.Array, row: int) -> pa.Array:
    """Truncate one JSON line mid-object (a broken export line)."""
    text = lines[row].as_py()
    return scatter(lines, np.array([row]), pa.array([text[: max(2, len(text) // 2)]],
                                                    lines.type))


def write_jsonl(path: Path, lines: pa.Array) -> int:
    _write_lines(path, lines)
    return len(lines)


def write_parquet(path: Path, table: pa.Table) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")
    return table.num_rows


def decimal_text(cents: np.ndarray) -> pa.Array:
    """Integer cents as '123.45'."""
    cents = np.asarray(cents, dtype=np.int64)
    return cat(num(cents // 100), ".", num(cents % 100, 2))
