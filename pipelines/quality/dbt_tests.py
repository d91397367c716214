"""Plain-language descriptions of dbt tests, shown as the description of their Dagster asset
checks (dagster-dbt leaves a check's description empty unless the test's meta has one)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def _ref_name(text: str) -> str:
    match = re.search(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)", text or "")
    return match.group(1) if match else str(text)


def _sql(text: str) -> str:
    """compare_sql with {{ ref('x') }} shown as x, on one line."""
    text = re.sub(r"\{\{\s*ref\(\s*['\"]([^'\"]+)['\"]\s*\)\s*\}\}", r"\1", text or "")
    return " ".join(text.split())


def describe_dbt_test(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, in words, and what a failure does."""
    meta = test.get("test_metadata") or {}
    kind = meta.get("name") or "singular"
    kwargs = {k: v for k, v in (meta.get("kwargs") or {}).items() if k != "model"}
    column = kwargs.get("column_name") or test.get("column_name")
    if kind == "unique":
        what = f"`{column}` is unique"
    elif kind == "not_null":
        what = f"`{column}` is never null"
    elif kind == "accepted_values":
        what = f"`{column}` is one of: {', '.join(map(str, kwargs.get('values', [])))}"
    elif kind == "relationships":
        what = (f"every `{column}` exists in `{_ref_name(kwargs.get('to', ''))}."
                f"{kwargs.get('field')}`")
    elif kind == "expression_is_true":
        what = f"`{kwargs.get('expression')}` holds for every row"
    elif kind == "count_matches":
        what = f"the row count equals `{_sql(kwargs.get('compare_sql', ''))}` (reconciliation)"
    elif kind == "unique_combination":
        what = f"({', '.join(kwargs.get('columns', []))}) is unique"
    elif kind == "singular":
        what = f"the query in `{test.get('original_file_path', test.get('name'))}` returns no rows"
    else:
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        what = f"{kind}({args})"
    severity = str((test.get("config") or {}).get("severity") or "error").lower()
    effect = ("a failure blocks downstream assets" if severity == "error"
              else "a failure only warns")
    text = f"dbt test: {what}; {effect}."
    extra = test.get("description") or (test.get("meta") or {}).get("description")
    return f"{text} {extra}" if extra else text
