"""The Great Expectations project the checkpoints run in, and the Data Docs it writes.

GX's SQL datasource does not work on DuckDB here (GX issue 11579), so data reaches GX as
pandas DataFrames read from DuckDB through Arrow: one pandas datasource, one dataframe asset
per suite, one whole-dataframe batch definition. The project is a *file* context under
``data/artifacts/gx`` so validation results accumulate across runs and the Data Docs
index lists every run; the Data Docs site itself is written to ``data/data_docs``
(``Settings.data_docs_dir``), where stewards open ``index.html``.

GX's page templates load Bootstrap, jQuery, Font Awesome and Vega from CDNs. This machine and
many stewards' machines are offline, so :func:`make_offline` removes every remote reference
after each build and links a small stylesheet shipped here instead: pages open instantly from
``file://`` without network access and stay readable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import threading
from pathlib import Path

SITE_NAME = "crm_warehouse"
# Validation results the GX index page lists (it loads each one to build the page; without a
# limit every suite run would re-read the whole history). Stewards read the static list that
# make_offline adds (MAX_INDEX_ROWS rows), which needs no JavaScript and no stored result.
GX_INDEX_RESULTS_LIMIT = 20
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


@contextlib.contextmanager
def _no_fingerprint():
    """Skip GX's md5 fingerprint of every pandas batch (``pandas_data_fingerprint``).

    GX hashes every cell of a DataFrame under 1 GB when it makes a batch of it: 0.44 s for the
    177,147 demo events, about 2.5 s per million rows, for a marker nothing here reads (the
    stored result names its scope in ``batch_spec``). The threshold is read at call time.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    with _FINGERPRINT_LOCK:
        saved = engine.HASH_THRESHOLD
        engine.HASH_THRESHOLD = 0
        try:
            yield
        finally:
            engine.HASH_THRESHOLD = saved


_FINGERPRINT_LOCK = threading.RLock()


class GxProject:
    """The GX project of one process: context, batch definitions and Data Docs builder.

    Opening the file context, looking up a batch definition and making a site builder cost
    about a second per suite, and a new site builder compiles GX's Jinja templates again, so
    :func:`gx_project` keeps one per project directory and every suite run reuses it.
    """

    def __init__(self, project_dir: Path, docs_dir: Path):
        self.project_dir, self.docs_dir = Path(project_dir), Path(docs_dir)
        self.context = open_context(self.project_dir, self.docs_dir)
        self._batch_definitions: dict[str, object] = {}
        self._site_builder = None
        self.lock = threading.RLock()

    def usable(self) -> bool:
        """False once the project or docs folder was removed (a test's tmp dir, a reset)."""
        return (self.project_dir / "gx" / "great_expectations.yml").exists() and \
            self.docs_dir.is_dir()

    def batch_definition(self, asset_name: str):
        if asset_name not in self._batch_definitions:
            self._batch_definitions[asset_name] = dataframe_batch_definition(
                self.context, asset_name)
        return self._batch_definitions[asset_name]

    def validate(self, asset_name: str, frame, expectations: list, result_format: dict) -> list:
        """Validate ``expectations`` on one DataFrame in one GX validator pass.

        The same steps as ``Batch.validate`` (one batch, suite parameters processed, metrics
        resolved as one graph) without its second ``get_batch`` of the same frame.
        """
        batch_definition = self.batch_definition(asset_name)
        with _no_fingerprint():
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        try:
            validator = self.context.get_validator_using_batch_list(
                expectation_suite=None, batch_list=[batch])
            configs = validator.process_expectations_for_validation(
                [e.configuration for e in expectations], None)
            return validator.graph_validate(
                configurations=configs,
                runtime_configuration={"result_format": dict(result_format)})
        finally:
            # The data source's execution engine outlives the pass (the project is cached):
            # drop the frame it keeps per asset, or each suite's last chunk stays in memory.
            manager = batch.data.execution_engine.batch_manager
            manager.batch_data_cache.pop(batch.id, None)
            manager.reset_batch_cache()

    @property
    def site_builder(self):
        if self._site_builder is None:
            from great_expectations.render.renderer.site_builder import SiteBuilder

            site = dict(self.context.variables.data_docs_sites[SITE_NAME])
            site.pop("class_name", None)
            self._site_builder = SiteBuilder(
                data_context=self.context, site_name=SITE_NAME,
                runtime_environment={"data_context": self.context,
                                     "root_directory": self.context.root_directory,
                                     "site_name": SITE_NAME}, **site)
            self._site_builder.site_index_builder.validation_results_limit = \
                GX_INDEX_RESULTS_LIMIT
        return self._site_builder

    def render_validation(self, key) -> Path:
        """Write the Data Docs page of stored validation result ``key`` and refresh the index.

        Renders only that page, then the GX index page (bounded by GX_INDEX_RESULTS_LIMIT),
        then makes the written pages offline and adds the page to the static list.
        """
        builder = self.site_builder
        builder.site_section_builders["validations"].build(resource_identifiers=[key])
        if not (self.docs_dir / "static" / "images").exists():
            builder.target_store.copy_static_assets()
        builder.site_index_builder.build()
        url = builder.get_resource_url(resource_identifier=key, only_if_exists=False) or ""
        page = Path(url.removeprefix("file://"))
        make_offline(self.docs_dir, pages=[page, self.docs_dir / "index.html"])
        return page


_PROJECTS: dict[tuple[str, str], GxProject] = {}
_PROJECTS_LOCK = threading.Lock()


def gx_project(project_dir: Path, docs_dir: Path) -> GxProject:
    """This process's :class:`GxProject` for ``project_dir`` (opened on first use)."""
    key = (str(Path(project_dir).resolve()), str(Path(docs_dir).resolve()))
    with _PROJECTS_LOCK:
        project = _PROJECTS.get(key)
        if project is None or not project.usable():
            project = _PROJECTS[key] = GxProject(Path(project_dir), Path(docs_dir))
        return project


_REMOTE_TAG = re.compile(
    r"<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*[\"']https?://[^\"']*[\"'][^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_REMOTE_IMG = re.compile(r"(<img\b[^>]*?src\s*=\s*)[\"']https?://[^\"']*[\"']", re.IGNORECASE)
_REMOTE_URL = re.compile(r"url\(\s*[\"']?https?://[^)]*\)", re.IGNORECASE)


def make_offline(docs_dir: Path, pages: list[Path] | None = None) -> int:
    """Strip CDN references from Data Docs pages and link the local stylesheet.

    ``pages``: only these pages (the ones a build just wrote); None rewrites every page and
    rebuilds the static validation list from the pages on disk. Idempotent: a page already
    rewritten keeps a single link. Returns the pages changed.
    """
    static = docs_dir / "static" / "styles"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OFFLINE_CSS, static / OFFLINE_CSS.name)
    changed = 0
    for css in (docs_dir / "static").rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        if _REMOTE_URL.search(text):
            css.write_text(_REMOTE_URL.sub("none", text), encoding="utf-8")
    index = docs_dir / "index.html"
    targets = list(docs_dir.rglob("*.html")) if pages is None else \
        [Path(p) for p in dict.fromkeys(pages) if Path(p).is_file()]
    targets.sort(key=lambda p: p == index)  # validation pages first, the index lists them
    with _index_lock(docs_dir):
        rows = _scan_validation_pages(docs_dir) if pages is None else _load_rows(docs_dir)
        for page in targets:
            html = page.read_text(encoding="utf-8")
            new = _REMOTE_TAG.sub("", html)
            new = _REMOTE_IMG.sub(r'\1""', new)
            new = _REMOTE_URL.sub("none", new)
            rel = os.path.relpath(static / OFFLINE_CSS.name, page.parent).replace(os.sep, "/")
            link = f'<link rel="stylesheet" href="{rel}" data-crmw-offline="1">'
            if "data-crmw-offline" not in new:
                new = new.replace("</head>", f"{link}\n</head>", 1)
            row = _validation_row(docs_dir, page, new)
            if row:
                rows[row[4]] = row
            if page == index:
                new = _with_static_index(new, rows)
            if new != html:
                page.write_text(new, encoding="utf-8")
                changed += 1
        _save_rows(docs_dir, rows)
    return changed


_STATUS = re.compile(r"Status:</span>.*?(Succeeded|Failed)", re.DOTALL)
_INDEX_START, _INDEX_END = "<!-- crmw-static-index -->", "<!-- /crmw-static-index -->"
MAX_INDEX_ROWS = 500
# The static list's rows (run time, suite, run, status, page), so a suite run adds its page
# without re-reading every earlier page. Names and statuses only: no data values.
ROWS_FILE = "crmw_validation_pages.json"


@contextlib.contextmanager
def _index_lock(docs_dir: Path):
    """Serialize index updates across processes (several Dagster runs may validate at once)."""
    with open(docs_dir / ".crmw_index.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _validation_row(docs_dir: Path, page: Path, html: str) -> tuple | None:
    try:
        rel = page.resolve().relative_to(docs_dir.resolve())
    except ValueError:
        return None
    parts = rel.parts  # validations/<schema>/<table>/<run name>/<run time>/<batch>.html
    if len(parts) < 6 or parts[0] != "validations":
        return None
    match = _STATUS.search(html)
    status = match.group(1) if match else "?"
    return (parts[4], f"{parts[1]}.{parts[2]}", parts[3], status, rel.as_posix())


def _scan_validation_pages(docs_dir: Path) -> dict[str, tuple]:
    rows = {}
    for page in (docs_dir / "validations").rglob("*.html"):
        row = _validation_row(docs_dir, page, page.read_text(encoding="utf-8"))
        if row:
            rows[row[4]] = row
    return rows


def _load_rows(docs_dir: Path) -> dict[str, tuple]:
    path = docs_dir / ROWS_FILE
    if not path.exists():
        return _scan_validation_pages(docs_dir)  # first run of this version: list what exists
    try:
        rows = [tuple(r) for r in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError):
        return _scan_validation_pages(docs_dir)  # unreadable: rebuild it from the pages
    return {r[4]: r for r in rows if len(r) == 5 and (docs_dir / r[4]).exists()}


def _save_rows(docs_dir: Path, rows: dict[str, tuple]) -> None:
    newest = sorted(rows.values(), reverse=True)[:MAX_INDEX_ROWS]
    tmp = docs_dir / f"{ROWS_FILE}.tmp"
    tmp.write_text(json.dumps(newest), encoding="utf-8")
    tmp.replace(docs_dir / ROWS_FILE)


def _with_static_index(html: str, rows: dict[str, tuple]) -> str:
    """Put a plain HTML list of validation pages on the index (GX fills its table by JS)."""
    body = "".join(
        f'<tr><td>{t}</td><td>{suite}</td><td>{run}</td>'
        f'<td class="{"text-success" if st == "Succeeded" else "text-danger"}">{st}</td>'
        f'<td><a href="{href}">open</a></td></tr>'
        for t, suite, run, st, href in sorted(rows.values(), reverse=True)[:MAX_INDEX_ROWS]
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
