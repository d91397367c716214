"""Load landing files into `raw.<source>__<entity>` according to their source contract.

Every file becomes one batch, written in one transaction: typed rows go to the raw table
with lineage columns, rows that cannot be parsed or typed go to `raw.quarantine` with the
reason and their original text, and the file registry records rows read = loaded +
quarantined. A file that does not meet its contract (undecodable, a required column missing)
raises `ContractError` naming the file, the line and the column; nothing of it is loaded.
Every kind of malformed export and what happens to it: docs/bad_input.md.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from pipelines.ingest import registry
from pipelines.ingest.contracts import Column, Contract, ContractError

LINEAGE = "_source_file varchar, _source_row bigint, _batch_id varchar, _ingested_at timestamptz"


@dataclass(frozen=True)
class FileResult:
    path: Path
    batch_id: str
    status: str  # loaded | skipped | failed | deferred
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()
    rows_suppressed: int = 0


class FileDeferred(Exception):
    """The file is still being written (too fresh, changed or vanished while it was read): it
    is left for the next run."""


# Names that writers use while a file is incomplete (write, then rename into place).
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp")
MAX_LINE_BYTES = 64 << 20  # DuckDB's default (2 MB) would reject a record with a huge field
MAX_ORIGINAL_CHARS = 100_000  # quarantine keeps at most this much of a record's text
MIN_DATE = "1900-01-01"  # default lower bound of date and timestamp columns
NUL = "\x00"


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def is_partial(path: Path) -> bool:
    name = path.name
    return name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES)


def landing_files(contract: Contract, landing_dir: Path) -> list[Path]:
    """The contract's files, without hidden files and names of files still being written."""
    return sorted(
        p for p in landing_dir.glob(contract.files) if p.is_file() and not is_partial(p)
    )


def _decode_error(
    path: Path, encoding: str, before: bytes, e: UnicodeDecodeError, offset: int, line: int
) -> ContractError:
    hint = ""
    if any(ord(ch) > 127 for ch in before.decode(encoding, errors="ignore")):
        hint = (
            f"; earlier lines hold valid {encoding} text, so the file mixes encodings: "
            "re-export it in one encoding"
        )
    elif offset == 0 and e.object[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "; it starts with a UTF-16 byte order mark: set `encoding: utf-16` or re-export"
    elif codecs.lookup(encoding).name == "utf-8":
        hint = "; if it is a Chinese export, set `encoding: gb18030` in its contract"
    return ContractError(
        f"{path}: line {line} (byte {offset}) is not valid {encoding}: {e.reason}{hint}"
    )


@contextmanager
def snapshot(
    path: Path, encoding: str | None, expected_sha256: str | None = None
) -> Iterator[tuple[Path, str]]:
    """The file to read for the landing file `path` and the sha256 of its bytes. Every byte is
    checked first (strictly decoded, no NUL); a UTF-8 file without a byte order mark (and
    Parquet: `encoding` None) is then read where it lies, anything else from a private UTF-8
    copy (BOM removed). If the file changes while it is checked or read (size or modification
    time; or it differs from `expected_sha256`), FileDeferred leaves it for the next run: the
    `with` block raises it on exit, before anything is written (decision 0091)."""
    before = path.stat()
    if before.st_size == 0:
        raise ContractError(f"{path}: empty file (0 bytes): there is no header to check")
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding or "latin-1")(errors="strict")
    with path.open("rb") as f:
        start = f.read(len(codecs.BOM_UTF8))
    in_place = encoding is None or (
        codecs.lookup(encoding).name == "utf-8" and start != codecs.BOM_UTF8
    )

    def unchanged(after) -> bool:
        return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)

    with tempfile.TemporaryDirectory(prefix="c360-ingest-") as tmp:
        copy = Path(tmp) / f"snapshot{path.suffix}"
        lines_before = offset = 0
        seen = b""  # the last MB read, for the mixed-encoding hint
        with path.open("rb") as src, (
            nullcontext() if in_place else copy.open("w", encoding="utf-8", newline="")
        ) as out:
            while block := src.read(1 << 20):
                digest.update(block)
                if encoding is None:
                    continue
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as e:
                    line = lines_before + block.count(b"\n", 0, max(e.start, 0)) + 1
                    raise _decode_error(
                        path, encoding, seen + block[: max(e.start, 0)], e,
                        offset + max(e.start, 0), line,
                    ) from e
                if NUL in text:
                    line = lines_before + text[: text.index(NUL)].count("\n") + 1
                    raise ContractError(
                        f"{path}: line {line} contains NUL bytes: not a text export "
                        "(a spreadsheet, or UTF-16?)"
                    )
                if out is not None:
                    out.write(text[1:] if offset == 0 and text.startswith("\ufeff") else text)
                lines_before += block.count(b"\n")
                offset += len(block)
                seen = (seen + block)[-(1 << 20):]
            try:
                tail = decoder.decode(b"", final=True)
            except UnicodeDecodeError as e:
                raise ContractError(
                    f"{path}: line {lines_before + 1} ends inside a multi-byte {encoding} "
                    "character: the file is truncated"
                ) from e
            if out is not None:
                out.write(tail)
        sha = digest.hexdigest()
        if not unchanged(path.stat()) or (
            expected_sha256 is not None and sha != expected_sha256
        ):
            raise FileDeferred(f"{path}: changed while it was being read")
        yield (path if in_place else copy), sha
        if in_place and not unchanged(path.stat()):
            raise FileDeferred(f"{path}: changed while it was being read")


def csv_header(path: Path, name: Path, delimiter: str) -> list[str]:
    with path.open("r", encoding="utf-8", newline="") as f:
        header = [h.strip() for h in next(csv.reader(f, delimiter=delimiter), [])]
    if dupes := sorted({h for h in header if header.count(h) > 1}):
        raise ContractError(f"{name}: line 1: the header repeats column names {dupes}")
    return header


def check_columns(
    contract: Contract, path: Path, available: list[str]
) -> tuple[list[Column], list[str]]:
    """The contract's columns present in the file, and warnings for missing optional ones; a
    missing required column raises, naming the closest header found."""
    mapped = {c.source for c in contract.columns}
    missing = [c for c in contract.columns if c.source not in set(available)]
    unmapped = [a for a in available if a not in mapped]

    def closest(c: Column) -> str:
        near = difflib.get_close_matches(c.source, unmapped, n=1, cutoff=0.6)
        return f" (renamed to {near[0]!r}?)" if near else ""

    if required := [c for c in missing if c.required]:
        names = ", ".join(f"'{c.source}' (-> {c.name}){closest(c)}" for c in required)
        hint = ""
        if len(available) == 1:
            other = [
                d for d in (",", ";", "\t", "|") if d != contract.delimiter and d in available[0]
            ]
            if other:
                hint = (
                    f"; the header is one column containing {other[0]!r}: the file seems "
                    f"delimited by {other[0]!r}, the contract says {contract.delimiter!r}"
                )
        raise ContractError(
            f"{path}: line 1: required column {names} is missing; found {available}{hint}"
        )
    warnings = [
        f"optional column {c.source!r} (-> {c.name}) is missing{closest(c)}: loaded as NULL"
        for c in missing
    ]
    return [c for c in contract.columns if c.source in set(available)], warnings


NUMERIC = ("integer", "double", "decimal")
NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def typed_expr(col: Column, value: str) -> str:
    """SQL turning the text `value` into the column's type; NULL when it cannot."""
    if col.type == "boolean":
        trues = ", ".join(lit(v) for v in col.true_values)
        falses = ", ".join(lit(v) for v in col.false_values)
        return (
            f"case when lower({value}) in ({trues}) then true "
            f"when lower({value}) in ({falses}) then false end"
        )
    if col.type in ("date", "timestamp"):
        parsers = []
        for fmt in col.formats or ("iso",):
            if fmt == "epoch":
                parsers.append(f"to_timestamp(try_cast({value} as double))")
            elif fmt == "iso":
                parsers.append(
                    f"try_cast({value} as {'timestamp' if col.timezone else col.sql_type})"
                )
            else:
                parsers.append(f"try_strptime({value}, {lit(fmt)})")
        parsed = parsers[0] if len(parsers) == 1 else f"coalesce({', '.join(parsers)})"
        if col.type == "date":
            return f"cast({parsed} as date)"
        if col.timezone:
            return f"timezone({lit(col.timezone)}, cast({parsed} as timestamp))"
        return f"cast({parsed} as timestamptz)"
    if col.type == "varchar":
        return value
    return f"try_cast({value} as {col.sql_type})"


def column_problem(col: Column, raw: str, text: str, typed: str, now: datetime,
                   native: bool = False) -> str:
    """SQL: the reason one column's value makes its row unloadable, or NULL. A `native`
    column is a Parquet number: `text` is the value itself, turned into text for messages."""
    src = repr(col.source)
    as_text = f"cast({text} as varchar)" if native else text
    shown = f"left({as_text}, 200)"

    def says(message: str) -> str:  # 'column <src>: <value> <message>'
        return f"{lit(f'column {src}: ' + chr(39))} || {shown} || {lit(chr(39) + ' ' + message)}"

    branches = [] if native else [
        # strlen (bytes) >= length (characters): only long values are counted in characters
        f"when strlen({raw}) > {col.max_length} and length({raw}) > {col.max_length} "
        f"then {lit(f'column {src}: a value of ')} || "
        f"length({raw}) || {lit(f' characters is longer than {col.max_length}')}",
    ]
    branches += [
        f"when {text} is null and {str(col.required).lower()} "
        f"then {lit(f'required column {src} is empty')}",
        f"when {text} is not null and {typed} is null then "
        f"{lit(f'column {src}: cannot read ' + chr(39))} || {shown} || "
        f"{lit(chr(39) + f' as {col.type}')}",
    ]
    if col.pattern:
        branches.append(
            f"when {text} is not null and not regexp_full_match({as_text}, "
            f"{lit(col.pattern)}) "
            f"then {says(f'does not match {col.pattern}')}"
        )
    if col.type in NUMERIC:
        if col.min is not None:
            branches.append(f"when {typed} < {float(col.min)} then {says(f'is below {col.min}')}")
        if col.max is not None:
            branches.append(f"when {typed} > {float(col.max)} then {says(f'is above {col.max}')}")
    if col.type in ("date", "timestamp"):
        kind = "date" if col.type == "date" else "timestamptz"
        low = str(col.min or MIN_DATE)
        branches.append(
            f"when {typed} < cast({lit(low)} as {kind}) then {says(f'is before {low}')}"
        )
        if col.max is not None:
            branches.append(
                f"when {typed} > cast({lit(str(col.max))} as {kind}) "
                f"then {says(f'is after {col.max}')}"
            )
        if not col.allow_future:
            limit = (now + timedelta(days=1)).isoformat()
            branches.append(
                f"when {typed} > cast({lit(limit)} as {kind}) then {says('is in the future')}"
            )
    return "case " + " ".join(branches) + " end"


def mapped_original(cols: list[Column]) -> str:
    """A quarantined row's original text: the vendor's values of the mapped columns only
    (minimisation: what the contract does not map is not kept, not even in quarantine)."""
    pairs = ", ".join(f"{lit(c.source)}, {q(c.source)}" for c in cols)
    return f"cast(json_object({pairs}) as varchar)"


class Source(NamedTuple):
    sql: str  # the file as columns named by vendor header, plus `_source_row`
    cols: list[Column]  # the contract's columns found in the file
    original: str  # SQL of a row's original text
    checks: list[str]  # row-level checks: SQL `when ... then reason` branches
    warnings: list[str]
    native: frozenset[str] = frozenset()  # source columns read as numbers, not text


def source_relation(contract: Contract, path: Path, con, name: Path) -> Source:
    """The file `path` (what to read for the landing file `name`) as columns of text, except
    a Parquet file's numbers."""
    if contract.format == "csv":
        header = csv_header(path, name, contract.delimiter)
        cols, warnings = check_columns(contract, name, header)
        columns = "{" + ", ".join(f"{lit(h)}: 'VARCHAR'" for h in header) + "}"
        sql = (
            f"select row_number() over () as _record, * from read_csv({lit(str(path))}, "
            f"header=true, auto_detect=false, columns={columns}, delim={lit(contract.delimiter)}, "
            f"quote='\"', escape='\"', strict_mode=true, max_line_size={MAX_LINE_BYTES}, "
            "store_rejects=true, rejects_table='_rejects', rejects_scan='_rejects_scan')"
        )
        original = mapped_original(cols)
        repeated_header = " and ".join(f"trim({q(h)}) = {lit(h)}" for h in header)
        return Source(sql, cols, original, [f"when {repeated_header} then 'repeated header row'"],
                      warnings)
    if contract.format == "jsonl":
        lines = (
            f"select line, json_valid(line) as _json from read_csv({lit(str(path))}, "
            "columns={'line': 'VARCHAR'}, header=false, auto_detect=false, delim='\\x1f', "
            f"quote='', escape='', strict_mode=false, max_line_size={MAX_LINE_BYTES}) "
            "where line <> '' and (left(line, 1) <> ' ' or trim(line) <> '')"
        )
        # blank lines are skipped; only lines starting with a space are trimmed to find out
        # (trimming every line took 4.1 of 5.9 s for the 4.8M orders of 1M people).
        # Materialised first, in file order (insertion order is preserved): a line's number
        # is its rowid + 1. JSON functions over a `row_number() over ()` subquery ran on one
        # thread (21 s instead of 4 s for the 271k orders of 100k people)
        con.sql(f"create or replace temp table _lines as {lines}")
        # a valid line is an object when it starts with '{' (no third parse for json_type)
        blank = "' ' || chr(9) || chr(10) || chr(13)"
        is_object = f"_json and left(ltrim(line, {blank}), 1) = '{{'"
        keys = con.sql(
            f"select distinct unnest(json_keys(line)) from _lines where {is_object}"
        ).fetchall()
        cols, warnings = check_columns(contract, name, [k[0] for k in keys])
        # two parses per line: json_valid, and json_extract_string of all mapped paths at
        # once. The values' JSON types (a third parse) are only asked for on an object that
        # could hold a nested value: one with a '[' or a second '{' (decision 0094); on a
        # broken line json_type would raise
        paths = "[" + ", ".join(lit("$." + q(c.source)) for c in cols) + "]"
        extracted = ", ".join(
            f"case when _types[{i}] in ('OBJECT', 'ARRAY') then null else _values[{i}] end "
            f"as {q(c.source)}, _types[{i}] as {q('_t_' + c.name)}"
            for i, c in enumerate(cols, start=1)
        )
        may_nest = "contains(line, '[') or contains(substr(line, strpos(line, '{') + 1), '{')"
        sql = (
            f"select _source_row, _line, _json, _object, {extracted} from ("
            "select _source_row, line as _line, _json, _object, "
            f"case when _object then json_extract_string(line, {paths}) end as _values, "
            f"case when _object and ({may_nest}) then json_type(line, {paths}) end as _types "
            f"from (select rowid + 1 as _source_row, line, _json, {is_object} as _object "
            "from _lines))"
        )
        checks = [
            "when not _json then 'line is not valid JSON'",
            "when not _object then 'line is JSON but not an object'",
        ] + [
            f"when {q('_t_' + c.name)} in ('OBJECT', 'ARRAY') then "
            f"{lit(f'column {c.source!r}: expected a single value, got a JSON ')} || "
            f"lower({q('_t_' + c.name)})"
            for c in cols
        ]
        # a valid object keeps only its mapped keys; a broken line is kept whole to debug it
        return Source(sql, cols, f"case when _object then {mapped_original(cols)} else _line end",
                      checks, warnings)
    # parquet: numbers stay numbers (typed by a cast, decision 0094); anything else is read
    # as text, so it is typed like a text export
    described = con.sql(f"describe select * from read_parquet({lit(str(path))})").fetchall()
    types = {name: duckdb_type for name, duckdb_type, *_ in described}
    cols, warnings = check_columns(contract, name, list(types))
    native = frozenset(n for n, t in types.items() if t.split("(")[0] in NUMBER_TYPES)
    casts = ", ".join(q(n) if n in native else f"cast({q(n)} as varchar) as {q(n)}"
                      for n in types)
    sql = (
        f"select file_row_number + 1 as _source_row, {casts} "
        f"from read_parquet({lit(str(path))}, file_row_number=true)"
    )
    return Source(sql, cols, mapped_original(cols), [], warnings, native)


def csv_rejects(con, path: Path) -> list[tuple[int, str, str]]:
    """(record number, reason, text) of the records DuckDB could not split into columns, and
    `_src` renumbered so `_source_row` counts every record (accepted or rejected). A quote that
    is never closed swallows the rest of the file: that is an error for the whole file."""
    rejects = con.sql(
        "select line, string_agg(coalesce('column ' || column_name || ': ', '') "
        "|| error_message, '; '), first(csv_line), bool_or(error_message ilike "
        "'%unterminated quote%'), first(column_name) from _rejects group by line order by line"
    ).fetchall()
    for line, _, text, unterminated, column in rejects:
        rest = (text or "").rstrip("\r\n").count("\n")
        if unterminated and rest:
            raise ContractError(
                f"{path}: line {line}, column {column!r}: a quote is never closed, so the "
                f"{rest + 1} lines from there on cannot be split into records; fix the export"
            )
    if not rejects:  # every record was split: record k is source row k
        con.sql("alter table _src rename column _record to _source_row")
        return []
    total = con.sql("select count(*) from _src").fetchone()[0] + len(rejects)
    skipped = ", ".join(str(r[0] - 1) for r in rejects) or "0"
    con.sql(
        "create or replace temp table _src as select m.n as _source_row, s.* exclude (_record) "
        "from _src s join (select n, row_number() over (order by n) as k from range(1, "
        f"{total + 1}) t(n) where n not in ({skipped})) m on s._record = m.k"
    )
    return [
        (line - 1, f"unparseable CSV record at line {line}: {message}", text)
        for line, message, text, _, _ in rejects
    ]


def mark_duplicates(con, contract: Contract, original: str) -> None:
    """Among `_typed` rows that would load, an exact copy of an earlier record is quarantined,
    and so is a record whose key appears again later in the file with different content (the
    last one is kept, as staging would keep it). One hash aggregation over the file finds the
    few rows whose key repeats: an exact copy has the same key too, so only those rows are
    looked at further, and only the ones whose text hash repeats get their original text
    (`original`, SQL over `_src`) compared; only their rows are updated (a window over the
    whole row text sorted every row of the file: 3x slower; a second aggregation over every
    row's text hash cost as much as the first)."""
    keys = ", ".join(q(k) for k in contract.key)
    shown = " || ', ' || ".join(
        f"{lit(k + '=')} || coalesce(cast(t.{q(k)} as varchar), 'NULL')" for k in contract.key
    )
    same_key = " and ".join(f"t.{q(k)} is not distinct from l.{q(k)}" for k in contract.key)
    con.sql(
        f"create or replace temp table _same_key as select _source_row, _row_hash, {keys} "
        f"from _typed where _reason is null and hash({keys}) in (select hash({keys}) as _h "
        "from _typed where _reason is null group by _h having count(*) > 1)"
    )
    con.sql(
        "create or replace temp table _dups as with "
        "repeated as (select _source_row as _row from _same_key where _row_hash in "
        "(select _row_hash from _same_key group by _row_hash having count(*) > 1)), "
        f"texts as (select _source_row, {original} as _text from _src "
        "join repeated on _source_row = _row), "
        "firsts as (select _text, min(_source_row) as _first from texts group by _text "
        "having count(*) > 1), "
        "copies as (select t._source_row, 'exact duplicate of row ' || f._first as _why "
        "from texts as t join firsts as f on t._text is not distinct from f._text "
        "where t._source_row > f._first), "
        f"kept as (select _source_row, {keys} from _same_key as t "
        "where not exists (select 1 from copies as c where c._source_row = t._source_row)), "
        f"lasts as (select {keys}, max(_source_row) as _last from kept group by {keys} "
        "having count(*) > 1) "
        "select * from copies union all "
        f"select t._source_row, 'key (' || {shown} || ') appears again in row ' || l._last || "
        "' with different content; the last row is kept' "
        f"from kept as t join lasts as l on {same_key} "
        "where t._source_row < l._last"
    )
    if con.sql("select count(*) from _dups").fetchone()[0]:
        con.sql("update _typed set _reason = d._why from _dups as d "
                "where _typed._source_row = d._source_row")
    con.sql("drop table _dups; drop table _same_key")


def create_raw_table(con, contract: Contract) -> None:
    cols = ", ".join(f"{q(c.name)} {c.sql_type}" for c in contract.columns)
    con.sql(f"create table if not exists {contract.table} ({cols}, {LINEAGE})")


def typed_sql(contract: Contract, cols: list[Column], checks: list[str], now: datetime,
              native: frozenset[str]) -> str:
    """SQL over `_src`: `_source_row`, `_reason` (NULL when the row loads), `_row_hash` (of
    the mapped columns as read, to find repeated records) and the typed columns. Each value's
    text (`_x<i>`) and typed value (`_v<i>`) are computed once in inner selects and only
    referred to by the checks (4-7x faster than repeating the expressions in every check, on
    the exports of 100k people). A row's original text is only built for the rows that need
    it (quarantined or repeated): building it for every row took half of this query.
    `native` names the source columns that are Parquet numbers: typed by a cast of the number
    (their text is only made for a message), not by reading their text (decision 0094)."""
    nulls = ", ".join(lit(v) for v in contract.null_values) or "''"
    trims, texts, values, problems = [], [], [], []
    for i, c in enumerate(cols):
        raw = q(c.source)
        if c.source in native:
            texts.append(f"{raw} as _x{i}")
            value = (f"try_cast(_x{i} as {c.sql_type})" if c.type in NUMERIC
                     else typed_expr(c, f"cast(_x{i} as varchar)"))
            values.append(f"{value} as _v{i}")
            problems.append(column_problem(c, raw, f"_x{i}", f"_v{i}", now, native=True))
            continue
        trims.append(f"trim({raw}) as _t{i}")
        text = f"nullif(_t{i}, '')"
        if c.required:
            text = f"case when _t{i} in ({nulls}) then null else {text} end"
        texts.append(f"{text} as _x{i}")
        values.append(f"{typed_expr(c, f'_x{i}')} as _v{i}")
        problems.append(column_problem(c, raw, f"_x{i}", f"_v{i}", now))
    reason = f"nullif(concat_ws('; ', {', '.join(problems)}), '')" if problems else "null"
    if checks:
        reason = f"coalesce(case {' '.join(checks)} end, {reason})"
    row_hash = f"hash({', '.join(q(c.source) for c in cols) or 'null'})"
    source = "_src"
    if cols:
        trimmed = f"(select *, {', '.join(trims)} from _src) as trims" if trims else "_src"
        source = (f"(select *, {', '.join(values)} from (select *, {', '.join(texts)} from "
                  f"{trimmed}) as texts) as typed")
    return (
        f"select _source_row, {reason} as _reason, {row_hash} as _row_hash, "
        + ", ".join(f"_v{i} as {q(c.name)}" for i, c in enumerate(cols))
        + f" from {source}"
    )


def suppressed_rejects(contract: Contract, rejects: list, header: list[str]) -> set:
    """Unparseable CSV records (kept whole in quarantine) that carry a suppressed identifier."""
    from pipelines.privacy.identifiers import IDENTIFYING_COLUMNS, identifier_hash
    from pipelines.privacy.secrets import privacy_salt
    from pipelines.privacy.suppression import read_hashes

    hashes, salt = read_hashes(), privacy_salt()
    by_source = {c.source: c.name for c in contract.columns if c.name in IDENTIFYING_COLUMNS}
    out = set()
    for row, _reason, text in rejects:
        fields = next(csv.reader([text or ""], delimiter=contract.delimiter), [])
        for source, value in zip(header, fields, strict=False):
            name = by_source.get(source)
            if name and identifier_hash(IDENTIFYING_COLUMNS[name], value, None, salt) in hashes:
                out.add(row)
    return out


def load_file(con, contract: Contract, path: Path, sha256: str,
              now: datetime | None = None, warnings: tuple[str, ...] = (),
              suppress: bool = False) -> FileResult:
    """Load one file. With `suppress`, rows carrying an identifier on the suppression list
    (loaded on `con` by pipelines.privacy.suppression.active) are skipped and counted."""
    now = now or datetime.now(UTC)
    batch_id = f"{now:%Y%m%dT%H%M%S}-{sha256[:12]}"
    size = path.stat().st_size
    encoding = None if contract.format == "parquet" else contract.encoding
    with snapshot(path, encoding, sha256) as (readable, _):
        sql, cols, original, checks, found, native = source_relation(
            contract, readable, con, path)
        warnings = (*warnings, *found)
        con.sql("drop table if exists _rejects; drop table if exists _rejects_scan")
        con.sql(f"create or replace temp table _src as {sql}")
        rejects = csv_rejects(con, path) if contract.format == "csv" else []
        header = csv_header(readable, path, contract.delimiter) if rejects else []
    typed = typed_sql(contract, cols, checks, now, native)
    con.sql(f"create or replace temp table _typed as {typed}")
    present = {c.name for c in cols}
    suppressed = 0
    if suppress:
        from pipelines.config import settings
        from pipelines.privacy.suppression import match_sql

        region = "country_code" if "country_code" in present else None
        condition = match_sql(present, region, settings().default_phone_region)
        suppressed = con.sql(f"select count(*) from _typed where {condition}").fetchone()[0]
        con.sql(f"delete from _typed where {condition}")
        skipped = suppressed_rejects(contract, rejects, header)
        rejects = [r for r in rejects if r[0] not in skipped]
        suppressed += len(skipped)
    if all(k in present for k in contract.key):
        mark_duplicates(con, contract, original)
    select_cols = ", ".join(
        q(c.name) if c.name in present else f"cast(null as {c.sql_type}) as {q(c.name)}"
        for c in contract.columns
    )
    lineage = [lit(str(path)), "_source_row", lit(batch_id), lit(now.isoformat())]
    con.sql("begin transaction")
    try:
        create_raw_table(con, contract)
        con.sql(
            f"insert into {contract.table} select {select_cols}, {', '.join(lineage)} "
            "from _typed where _reason is null"  # unsorted: staging orders by batch and row
        )
        shown = (
            f"case when length({original}) > {MAX_ORIGINAL_CHARS} then left({original}, "
            f"{MAX_ORIGINAL_CHARS}) || ' ... (' || length({original}) || ' characters)' "
            f"else {original} end"
        )
        con.sql(
            f"insert into raw.quarantine select {lit(contract.name)}, {', '.join(lineage)}, "
            f"_why, {shown} from _src join (select _source_row as _row, _reason as _why "
            "from _typed where _reason is not null) on _source_row = _row order by _source_row"
        )
        for row, reason, text in rejects:
            con.sql(
                "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?)",
                params=[contract.name, str(path), row, batch_id, now, reason, text],
            )
        loaded, quarantined = con.sql(
            "select count(*) filter (where _reason is null), "
            "count(*) filter (where _reason is not null) from _typed"
        ).fetchone()
        quarantined += len(rejects)
        result = FileResult(path, batch_id, "loaded", loaded + quarantined + suppressed, loaded,
                            quarantined, warnings=tuple(warnings), rows_suppressed=suppressed)
        registry.record(
            con,
            path=path,
            contract=contract.name,
            sha256=sha256,
            batch_id=batch_id,
            status="loaded",
            rows_read=result.rows_read,
            rows_loaded=loaded,
            rows_quarantined=quarantined,
            rows_suppressed=suppressed,
            warnings="; ".join(warnings) or None,
            size_bytes=size,
        )
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    finally:
        con.sql("drop table if exists _src; drop table if exists _typed; "
                "drop table if exists _lines")
    return result


def ingest_contract(con, contract: Contract, landing_dir: Path,
                    settle_seconds: float = 0.0,
                    progress: Callable[[FileResult, float], None] | None = None
                    ) -> list[FileResult]:
    """Load every new or changed file of one contract; already loaded files are skipped. A
    file that breaks its contract is registered as failed (and retried next time) while the
    contract's other files still load. A file modified less than `settle_seconds` ago, or
    that changes or vanishes while it is read, is deferred to the next run (not registered).
    A changed file is loaded again as a new batch; its earlier batch stays in raw and staging
    keeps the newest row per key. `progress` hears of every file loaded, with its seconds."""
    from pipelines.privacy.suppression import active

    registry.ensure_tables(con)
    create_raw_table(con, contract)
    suppress = active(con)  # the suppression list is loaded once per contract
    results = []
    for path in landing_files(contract, landing_dir):
        try:
            if time.time() - path.stat().st_mtime < settle_seconds:
                raise FileDeferred(f"{path}: modified less than {settle_seconds:g} s ago")
            sha = registry.sha256_of(path)
            if registry.already_loaded(con, path, sha, landing_dir):
                results.append(FileResult(path, "", "skipped"))
                continue
            notes = ()
            if earlier := registry.loaded_batches(con, path):
                notes = (
                    f"the file changed since it was loaded as batch {earlier[-1]}: loaded as a "
                    "new batch (the earlier rows stay in raw; staging keeps the newest per key)",
                )
            started = time.perf_counter()
            results.append(load_file(con, contract, path, sha, warnings=notes,
                                     suppress=suppress))
            if progress:
                progress(results[-1], time.perf_counter() - started)
        except (FileDeferred, FileNotFoundError) as e:
            message = str(e) if isinstance(e, FileDeferred) else f"{path}: vanished while read"
            results.append(FileResult(path, "", "deferred", error=message))
        except ContractError as e:
            size = path.stat().st_size if path.exists() else 0
            registry.record(con, path=path, contract=contract.name, sha256=sha, batch_id="",
                            status="failed", error=str(e), size_bytes=size)
            results.append(FileResult(path, "", "failed", error=str(e)))
    return results
