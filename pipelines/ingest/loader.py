"""Load landing files into `raw.<source>__<entity>` according to their source contract.

Every file becomes one batch, written in one transaction: typed rows go to the raw table
with lineage columns, rows that cannot be parsed or typed go to `raw.quarantine` with the
reason and their original text, and the file registry records rows read = loaded +
quarantined. A file that does not meet its contract (undecodable, a required column missing)
raises `ContractError` naming the file and the column; nothing of it is loaded.
"""

from __future__ import annotations

import codecs
import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.ingest import registry
from pipelines.ingest.contracts import Column, Contract, ContractError

LINEAGE = "_source_file varchar, _source_row bigint, _batch_id varchar, _ingested_at timestamptz"


@dataclass(frozen=True)
class FileResult:
    path: Path
    batch_id: str
    status: str  # loaded | skipped | failed
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    rows_suppressed: int = 0


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def landing_files(contract: Contract, landing_dir: Path) -> list[Path]:
    return sorted(p for p in landing_dir.glob(contract.files) if p.is_file())


@contextmanager
def utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """The file itself when it is UTF-8, else a UTF-8 copy; undecodable bytes raise."""
    if codecs.lookup(encoding).name == "utf-8":
        yield path
        return
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", suffix=path.suffix, delete=True, newline=""
    ) as out:
        with path.open("r", encoding=encoding, newline="") as src:
            line_no = 0
            try:
                for line_no, line in enumerate(src, start=1):  # noqa: B007
                    out.write(line)
            except UnicodeDecodeError as e:
                raise ContractError(
                    f"{path}: cannot decode as {encoding} near line {line_no + 1}: {e.reason}"
                ) from e
        out.flush()
        yield Path(out.name)


def csv_header(path: Path, delimiter: str) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        try:
            return next(csv.reader(f, delimiter=delimiter))
        except StopIteration:
            return []
        except UnicodeDecodeError as e:
            raise ContractError(f"{path}: header is not valid UTF-8: {e.reason}") from e


def check_columns(contract: Contract, path: Path, available: list[str]) -> list[Column]:
    """The contract's columns present in the file; a missing required column raises."""
    present = set(available)
    missing = [c for c in contract.columns if c.source not in present]
    if required := [c for c in missing if c.required]:
        names = ", ".join(f"'{c.source}' (-> {c.name})" for c in required)
        raise ContractError(f"{path}: required column {names} is missing; found {available}")
    return [c for c in contract.columns if c.source in present]


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
    return f"try_cast({value} as {col.sql_type})"


def mapped_original(cols: list[Column]) -> str:
    """A quarantined row's original text: the vendor's values of the mapped columns only
    (minimisation: what the contract does not map is not kept, not even in quarantine)."""
    pairs = ", ".join(f"{lit(c.source)}, {q(c.source)}" for c in cols)
    return f"cast(json_object({pairs}) as varchar)"


def source_relation(
    contract: Contract, path: Path, con, name: Path
) -> tuple[str, list[Column], str]:
    """SQL of the file `path` (a UTF-8 copy of the landing file `name`) as text columns named
    by vendor header plus `_source_row`, the columns found, and the expression of a row's
    original text."""
    if contract.format == "csv":
        header = csv_header(path, contract.delimiter)
        cols = check_columns(contract, name, header)
        columns = "{" + ", ".join(f"{lit(h)}: 'VARCHAR'" for h in header) + "}"
        sql = (
            f"select row_number() over () as _source_row, * from read_csv({lit(str(path))}, "
            f"header=true, auto_detect=false, columns={columns}, delim={lit(contract.delimiter)}, "
            "quote='\"', escape='\"', strict_mode=true, store_rejects=true, "
            "rejects_table='_rejects', rejects_scan='_rejects_scan')"
        )
        return sql, cols, mapped_original(cols)
    if contract.format == "jsonl":
        lines = (
            f"select row_number() over () as _source_row, line from read_csv({lit(str(path))}, "
            "columns={'line': 'VARCHAR'}, header=false, auto_detect=false, delim='\\x1f', "
            "quote='', escape='', strict_mode=false) where trim(coalesce(line, '')) <> ''"
        )
        keys = con.sql(
            f"select distinct unnest(json_keys(line)) from ({lines}) where json_valid(line)"
        ).fetchall()
        cols = check_columns(contract, name, [k[0] for k in keys])
        extracted = ", ".join(
            f"case when _valid then json_extract_string(line, {lit('$.' + q(c.source))}) end "
            f"as {q(c.source)}"
            for c in cols
        )
        sql = (
            f"select _source_row, line as _line, _valid, {extracted} "
            f"from (select *, json_valid(line) as _valid from ({lines}))"
        )
        # a valid line keeps only its mapped keys; a broken one is kept whole to debug it
        return sql, cols, f"case when _valid then {mapped_original(cols)} else _line end"
    # parquet: native types, read as text so typing is the same for every format
    names = [
        r[0]
        for r in con.sql(
            f"select name from parquet_schema({lit(str(path))}) where num_children is null"
        ).fetchall()
    ]
    cols = check_columns(contract, name, names)
    casts = ", ".join(f"cast({q(n)} as varchar) as {q(n)}" for n in names)
    sql = (
        f"select file_row_number + 1 as _source_row, {casts} "
        f"from read_parquet({lit(str(path))}, file_row_number=true)"
    )
    return sql, cols, mapped_original(cols)


def create_raw_table(con, contract: Contract) -> None:
    cols = ", ".join(f"{q(c.name)} {c.sql_type}" for c in contract.columns)
    con.sql(f"create table if not exists {contract.table} ({cols}, {LINEAGE})")


def suppressed_rejects(contract: Contract, rejects: list, header: list[str]) -> set:
    """Unparseable CSV lines (kept whole in quarantine) that carry a suppressed identifier."""
    from pipelines.privacy.identifiers import IDENTIFYING_COLUMNS, identifier_hash
    from pipelines.privacy.secrets import privacy_salt
    from pipelines.privacy.suppression import read_hashes

    hashes, salt = read_hashes(), privacy_salt()
    by_source = {c.source: c.name for c in contract.columns if c.name in IDENTIFYING_COLUMNS}
    out = set()
    for line, _message, csv_line in rejects:
        fields = next(csv.reader([csv_line or ""], delimiter=contract.delimiter), [])
        for source, value in zip(header, fields, strict=False):
            name = by_source.get(source)
            if name and identifier_hash(IDENTIFYING_COLUMNS[name], value, None, salt) in hashes:
                out.add(line)
    return out


def load_file(
    con, contract: Contract, path: Path, sha256: str, suppress: bool = False
) -> FileResult:
    """Load one file. With `suppress`, rows carrying an identifier on the suppression list
    (loaded on `con` by pipelines.privacy.suppression.active) are skipped and counted."""
    now = datetime.now(UTC)
    batch_id = f"{now:%Y%m%dT%H%M%S}-{sha256[:12]}"
    with utf8_copy(path, contract.encoding) as readable:
        sql, cols, original = source_relation(contract, readable, con, path)
        con.sql("drop table if exists _rejects; drop table if exists _rejects_scan")
        con.sql(f"create or replace temp table _src as {sql}")
        rejects, header = [], []
        if contract.format == "csv":
            header = csv_header(readable, contract.delimiter)
            rejects = con.sql(
                "select line, string_agg(coalesce(column_name || ': ', '') || error_message, "
                "'; '), first(csv_line) from _rejects group by line order by line"
            ).fetchall()
    text = {c.name: f"nullif(trim({q(c.source)}), '')" for c in cols}
    typed = {c.name: typed_expr(c, text[c.name]) for c in cols}
    problems = []
    for c in cols:
        problems.append(
            f"case when {text[c.name]} is null and {str(c.required).lower()} "
            f"then {lit(f'required column {c.source!r} is empty')} "
            f"when {text[c.name]} is not null and {typed[c.name]} is null "
            f"then {lit(f'column {c.source!r}: cannot read ' + chr(39))} || {text[c.name]} "
            f"|| {lit(chr(39) + f' as {c.type}')} end"
        )
    reason = f"nullif(concat_ws('; ', {', '.join(problems)}), '')"
    if contract.format == "jsonl":
        reason = f"case when not _valid then 'line is not valid JSON' else {reason} end"
    con.sql(
        f"create or replace temp table _typed as select _source_row, {reason} as _reason, "
        f"{original} as _original, "
        + ", ".join(f"{typed[c.name]} as {q(c.name)}" for c in cols)
        + " from _src"
    )
    present = {c.name for c in cols}
    suppressed_lines: set = set()
    if suppress:
        from pipelines.config import settings
        from pipelines.privacy.suppression import match_sql

        region = "country_code" if "country_code" in present else None
        condition = match_sql(present, region, settings().default_phone_region)
        con.sql(f"delete from _typed where {condition}")
        suppressed_lines = suppressed_rejects(contract, rejects, header)
        rejects = [r for r in rejects if r[0] not in suppressed_lines]
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
            "from _typed where _reason is null order by _source_row"
        )
        con.sql(
            f"insert into raw.quarantine select {lit(contract.name)}, {', '.join(lineage)}, "
            "_reason, _original from _typed where _reason is not null"
        )
        for line, message, csv_line in rejects:
            con.sql(
                "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?)",
                params=[
                    contract.name,
                    str(path),
                    line,
                    batch_id,
                    now,
                    f"unparseable CSV record: {message}",
                    csv_line,
                ],
            )
        loaded, quarantined, in_src = con.sql(
            "select count(*) filter (where _reason is null), "
            "count(*) filter (where _reason is not null), (select count(*) from _src) "
            "from _typed"
        ).fetchone()
        quarantined += len(rejects)
        suppressed = in_src - loaded - (quarantined - len(rejects)) + len(suppressed_lines)
        result = FileResult(path, batch_id, "loaded", loaded + quarantined + suppressed, loaded,
                            quarantined, rows_suppressed=suppressed)
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
        )
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    finally:
        con.sql("drop table if exists _src; drop table if exists _typed")
    return result


def ingest_contract(con, contract: Contract, landing_dir: Path) -> list[FileResult]:
    """Load every new or changed file of one contract; already loaded files are skipped. A
    file that breaks its contract is registered as failed (and retried next time) while the
    contract's other files still load."""
    from pipelines.privacy.suppression import active

    registry.ensure_tables(con)
    create_raw_table(con, contract)
    suppress = active(con)  # the suppression list is loaded once per contract
    results = []
    for path in landing_files(contract, landing_dir):
        sha = registry.sha256_of(path)
        if registry.already_loaded(con, path, sha):
            results.append(FileResult(path, "", "skipped"))
            continue
        try:
            results.append(load_file(con, contract, path, sha, suppress=suppress))
        except ContractError as e:
            registry.record(con, path=path, contract=contract.name, sha256=sha, batch_id="",
                            status="failed", error=str(e))
            results.append(FileResult(path, "", "failed", error=str(e)))
    return results
