"""`make docs`: build the project's documentation site under <data>/docs and serve it locally.

- dbt docs (`dbt docs generate`): models, column descriptions, PII tags (`meta.pii`), tests
  and the exposures of the BI tables, with the warehouse's catalog;
- the Great Expectations Data Docs pages the quality checks wrote (offline HTML);
- an index page linking them, the Dagster and MLflow UIs and the serving files.
dbt's docs page loads its manifest by HTTP, so the site is served (`--no-serve` only builds).
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.config import DBT_PROJECT_DIR, export_env, settings


def generate_dbt_docs(target: Path) -> bool:
    """dbt docs generate into `target`; without a warehouse yet, with an empty catalog."""
    s = settings()
    args = [str(Path(sys.executable).parent / "dbt"), "docs", "generate", "--project-dir",
            str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path",
            str(target), "--target", s.dbt_target, "--quiet"]
    if not s.warehouse_path.exists():
        args.append("--empty-catalog")
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
    return result.returncode == 0 and (target / "index.html").exists()


def index_page(dbt_ok: bool, data_docs: list[str]) -> str:
    s = settings()
    items = []
    if dbt_ok:
        items.append('<li><a href="dbt/index.html">dbt docs</a>: every model and column, '
                     "PII tags, tests, lineage and the exposures of the BI tables</li>")
    if data_docs:
        pages = "".join(f'<li><a href="data_docs/{html.escape(p)}">{html.escape(p[:-5])}</a></li>'
                        for p in data_docs)
        items.append(f"<li>Great Expectations Data Docs (latest validation per suite):"
                     f"<ul>{pages}</ul></li>")
    else:
        items.append("<li>No Data Docs yet: they are written when the quality checks run "
                     "(<code>make demo</code>).</li>")
    items += [
        "<li>Dagster UI: <code>make ui</code>, then "
        '<a href="http://127.0.0.1:3000">http://127.0.0.1:3000</a></li>',
        "<li>MLflow UI (runs, registered models): <code>make mlflow-ui</code>, then "
        '<a href="http://127.0.0.1:5000">http://127.0.0.1:5000</a></li>',
        f"<li>BI tables: <code>{html.escape(str(s.serving_dir / 'customer360.duckdb'))}</code> "
        f"(schema bi, read-only) and <code>{html.escape(str(s.serving_dir / 'parquet'))}</code>"
        "</li>",
    ]
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>customer360 docs</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto}"
            "</style></head><body><h1>customer360 documentation</h1><ul>"
            + "".join(items) + "</ul></body></html>")


def build(out: Path) -> Path:
    export_env()
    out.mkdir(parents=True, exist_ok=True)
    dbt_ok = generate_dbt_docs(out / "dbt")
    source = settings().quality_dir / "data_docs"
    target = out / "data_docs"
    shutil.rmtree(target, ignore_errors=True)
    pages = []
    if source.exists():
        shutil.copytree(source, target)
        pages = sorted(p.name for p in target.glob("*.html"))
    (out / "index.html").write_text(index_page(dbt_ok, pages), encoding="utf-8")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--no-serve", action="store_true")
    args = parser.parse_args(argv)
    index = build(settings().data_dir / "docs")
    print(f"docs built: {index}")
    if args.no_serve:
        return 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=index.parent)
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as httpd:
        print(f"serving on http://127.0.0.1:{args.port}/ (Ctrl-C stops)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
