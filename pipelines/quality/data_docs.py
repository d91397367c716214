"""Great Expectations Data Docs pages for validation results, readable without internet.

GE's page template loads Bootstrap, jQuery, Font Awesome and Vega from CDNs; offline the page
shows unstyled and its scripts fail (STACK_FACTS). Here a validation result is rendered with
GE's own renderer and page view, then every remote stylesheet and script is removed and a
small local stylesheet is inlined: one self-contained HTML file per suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

REMOTE_TAG = re.compile(
    r"<link\b[^>]*href=[\"']https?://[^>]*>|<script\b[^>]*src=[\"']https?://[^>]*>\s*</script>"
    r"|<img\b[^>]*src=[\"']https?://[^>]*>",
    re.IGNORECASE,
)
# what Bootstrap did for these pages: layout, tables, badges, collapsed sections shown
OFFLINE_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
.container-fluid, .row { display: block; padding: 0 16px; }
nav, .navbar { background: #f5f5f5; padding: 8px 16px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.collapse { display: block !important; }
.badge, .badge-secondary { background: #e9ecef; border-radius: 4px; padding: 1px 6px; }
.text-danger, .fa-times { color: #b00020; }
.text-success, .fa-check-circle { color: #1b7f3b; }
.card { border: 1px solid #ddd; border-radius: 4px; margin: 12px 0; padding: 8px 12px; }
.ge-walkthrough-modal, .modal, #ge-walkthrough-modal, .cooltip { display: none !important; }
button { display: none; }
"""


def make_offline(html: str) -> str:
    """Drop remote stylesheets and scripts; inline the local stylesheet."""
    html = REMOTE_TAG.sub("", html)
    return html.replace("</head>", f"<style>{OFFLINE_CSS}</style>\n</head>", 1)


def _builtin(value):
    """numpy scalars as Python ones, inside lists and dicts too: GE's renderer formats
    observed values with repr(), which reads 'np.float64(0.3)' under numpy 2 and fails."""
    if isinstance(value, dict):
        return {k: _builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_builtin(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def render_validation(result) -> str:
    """A GE ExpectationSuiteValidationResult as a self-contained offline HTML page."""
    from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer
    from great_expectations.render.view.view import DefaultJinjaPageView

    for r in result.results:
        r.result = _builtin(r.result or {})
    document = ValidationResultsPageRenderer().render(result)
    return make_offline(DefaultJinjaPageView().render(document))


def write_validation_page(result, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_validation(result), encoding="utf-8")
    tmp.replace(path)
    return path
