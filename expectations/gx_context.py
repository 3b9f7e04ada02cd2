"""The Great Expectations project the checkpoints run in, and the Data Docs it writes.

GX's SQL datasource does not work on DuckDB here (GX issue 11579), so data reaches GX as
pandas DataFrames read from DuckDB through Arrow: one pandas datasource, one dataframe asset
per suite, one whole-dataframe batch definition. The project is a *file* context under
``warehouse/artifacts/gx`` so validation results accumulate across runs and the Data Docs
index lists every run; the Data Docs site itself is written to ``warehouse/data_docs``
(``Settings.data_docs_dir``), where stewards open ``index.html``.

GX's page templates load Bootstrap, jQuery, Font Awesome and Vega from CDNs. This machine and
many stewards' machines are offline, so :func:`make_offline` removes every remote reference
after each build and links a small stylesheet shipped here instead: pages open instantly from
``file://`` without network access and stay readable.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

SITE_NAME = "crm_warehouse"
DATASOURCE_NAME = "crm_warehouse_duckdb"
OFFLINE_CSS = Path(__file__).resolve().parent / "static" / "data_docs_offline.css"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def open_context(project_dir: Path, docs_dir: Path):
    """A file data context in ``project_dir`` whose one Data Docs site is ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    project_dir.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = dict(context.variables.data_docs_sites or {})
    if sites != {SITE_NAME: site}:
        context.variables.data_docs_sites = {SITE_NAME: site}
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def dataframe_batch_definition(context, suite_name: str):
    """The whole-dataframe batch definition of ``suite_name``'s asset (created once)."""
    try:
        datasource = context.data_sources.get(DATASOURCE_NAME)
    except (KeyError, ValueError, LookupError):
        datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
    try:
        asset = datasource.get_asset(suite_name)
    except (KeyError, ValueError, LookupError):
        asset = datasource.add_dataframe_asset(suite_name)
    try:
        return asset.get_batch_definition("whole_dataframe")
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole_dataframe")


_REMOTE_TAG = re.compile(
    r"<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*[\"']https?://[^\"']*[\"'][^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_REMOTE_IMG = re.compile(r"(<img\b[^>]*?src\s*=\s*)[\"']https?://[^\"']*[\"']", re.IGNORECASE)
_REMOTE_URL = re.compile(r"url\(\s*[\"']?https?://[^)]*\)", re.IGNORECASE)


def make_offline(docs_dir: Path) -> int:
    """Strip CDN references from every Data Docs page and link the local stylesheet.

    Idempotent: a page already rewritten keeps a single link. Returns the pages changed.
    """
    static = docs_dir / "static" / "styles"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OFFLINE_CSS, static / OFFLINE_CSS.name)
    changed = 0
    for css in (docs_dir / "static").rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        if _REMOTE_URL.search(text):
            css.write_text(_REMOTE_URL.sub("none", text), encoding="utf-8")
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        new = _REMOTE_TAG.sub("", html)
        new = _REMOTE_IMG.sub(r'\1""', new)
        new = _REMOTE_URL.sub("none", new)
        rel = os.path.relpath(static / OFFLINE_CSS.name, page.parent).replace(os.sep, "/")
        link = f'<link rel="stylesheet" href="{rel}" data-crmw-offline="1">'
        if "data-crmw-offline" not in new:
            new = new.replace("</head>", f"{link}\n</head>", 1)
        if page == docs_dir / "index.html":
            new = _with_static_index(new, docs_dir)
        if new != html:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


_STATUS = re.compile(r"Status:</span>.*?(Succeeded|Failed)", re.DOTALL)
_INDEX_START, _INDEX_END = "<!-- crmw-static-index -->", "<!-- /crmw-static-index -->"
MAX_INDEX_ROWS = 500


def _with_static_index(html: str, docs_dir: Path) -> str:
    """Put a plain HTML list of validation pages on the index (GX fills its table by JS)."""
    rows = []
    for page in (docs_dir / "validations").rglob("*.html"):
        rel = page.relative_to(docs_dir)
        parts = rel.parts  # validations/<schema>/<table>/<run name>/<run time>/<batch>.html
        if len(parts) < 6:
            continue
        match = _STATUS.search(page.read_text(encoding="utf-8"))
        status = match.group(1) if match else "?"
        rows.append((parts[4], f"{parts[1]}.{parts[2]}", parts[3], status, rel.as_posix()))
    rows.sort(reverse=True)
    body = "".join(
        f'<tr><td>{t}</td><td>{suite}</td><td>{run}</td>'
        f'<td class="{"text-success" if st == "Succeeded" else "text-danger"}">{st}</td>'
        f'<td><a href="{href}">open</a></td></tr>'
        for t, suite, run, st, href in rows[:MAX_INDEX_ROWS]
    )
    block = (
        f"{_INDEX_START}<div class=\"container-fluid\"><h3>Validation results (newest first)</h3>"
        "<table><tr><th>Run time (UTC)</th><th>Suite</th><th>Run</th><th>Status</th>"
        f"<th>Report</th></tr>{body}</table></div>{_INDEX_END}"
    )
    if _INDEX_START in html:
        start, end = html.index(_INDEX_START), html.index(_INDEX_END) + len(_INDEX_END)
        return html[:start] + block + html[end:]
    body_at = re.search(r"<body[^>]*>", html)
    if not body_at:
        return html + block
    return html[: body_at.end()] + block + html[body_at.end():]
