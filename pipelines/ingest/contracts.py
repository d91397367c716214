"""Source contracts: one YAML file per export, mapping a vendor's file to canonical columns.

A contract names the files (glob under the landing folder), their format and encoding, and
for every kept column the vendor header, the type, whether it is required, and, for personal
data, why it is kept. Columns of the export that the contract does not map are not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

TYPES = {
    "varchar": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "decimal": "DECIMAL(18, 2)",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
}
FORMATS = ("csv", "jsonl", "parquet")
KEYS = {
    "from", "type", "required", "formats", "timezone", "true_values", "false_values", "pii",
    "why", "min", "max", "max_length", "pattern", "allow_future",
}


class ContractError(ValueError):
    """A contract file is invalid, or an export does not satisfy its contract."""


@dataclass(frozen=True)
class Column:
    name: str
    source: str
    type: str = "varchar"
    required: bool = False
    formats: tuple[str, ...] = ()
    timezone: str | None = None
    true_values: tuple[str, ...] = ("true", "yes", "y", "1", "t")
    false_values: tuple[str, ...] = ("false", "no", "n", "0", "f")
    pii: bool = False
    why: str | None = None
    # value checks; a value breaking one quarantines its row with the reason
    min: float | str | None = None  # numbers, or an ISO date for dates/timestamps
    max: float | str | None = None
    max_length: int = 10_000  # characters of text; longer values are not a field but a bug
    pattern: str | None = None  # regular expression the whole (trimmed) text must match
    allow_future: bool = False  # dates/timestamps after the load (+1 day) are quarantined

    @property
    def sql_type(self) -> str:
        return TYPES[self.type]


@dataclass(frozen=True)
class Contract:
    source: str
    entity: str
    files: str
    format: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    encoding: str = "utf-8"
    delimiter: str = ","
    description: str = ""
    # texts that mean "no value" in a required column (a key written as NULL is no key)
    null_values: tuple[str, ...] = ("NULL", "null", "None", "N/A", "n/a", "#N/A", "nan", "NaN")
    path: Path | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return f"{self.source}__{self.entity}"

    @property
    def table(self) -> str:
        return f"raw.{self.name}"


def parse_contract(data: dict, path: Path | None = None) -> Contract:
    where = f"contract {path or data.get('source')}"
    for required in ("source", "entity", "files", "format", "columns", "key"):
        if required not in data:
            raise ContractError(f"{where}: missing '{required}'")
    if data["format"] not in FORMATS:
        raise ContractError(f"{where}: format must be one of {FORMATS}, not {data['format']!r}")
    columns = []
    for name, spec in data["columns"].items():
        spec = {"from": spec} if isinstance(spec, str) else dict(spec)
        if spec.get("type", "varchar") not in TYPES:
            raise ContractError(f"{where}: column {name}: unknown type {spec.get('type')!r}")
        if unknown := set(spec) - KEYS:
            raise ContractError(f"{where}: column {name}: unknown settings {sorted(unknown)}")
        if spec.get("pii") and not spec.get("why"):
            raise ContractError(f"{where}: column {name} is personal data: say why it is kept")
        columns.append(
            Column(
                name=name,
                source=str(spec.pop("from")),
                **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()},
            )
        )
    names = {c.name for c in columns}
    key = tuple(data["key"])
    if missing := [k for k in key if k not in names]:
        raise ContractError(f"{where}: key columns {missing} are not mapped")
    return Contract(
        source=data["source"],
        entity=data["entity"],
        files=data["files"],
        format=data["format"],
        columns=tuple(columns),
        key=key,
        encoding=data.get("encoding", "utf-8"),
        delimiter=data.get("delimiter", ","),
        description=data.get("description", ""),
        **({"null_values": tuple(data["null_values"])} if "null_values" in data else {}),
        path=path,
    )


def load_contracts(directory: Path) -> list[Contract]:
    contracts = [
        parse_contract(yaml.safe_load(p.read_text(encoding="utf-8")), p)
        for p in sorted(directory.glob("*.yaml"))
    ]
    names = [c.name for c in contracts]
    if dupes := {n for n in names if names.count(n) > 1}:
        raise ContractError(f"two contracts define {sorted(dupes)}")
    return contracts
