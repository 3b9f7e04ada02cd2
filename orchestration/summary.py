"""The short summary `crm-warehouse run` prints at the end: what was built and where it is."""

from __future__ import annotations

from warehouse.config import Settings

SCHEMA_ORDER = ("raw_erp", "raw_ecommerce", "raw_service", "staging", "intermediate",
                "snapshots", "marts", "ml", "outreach", "quality")


def table_row_counts(warehouse_path) -> list[tuple[str, str, int]]:
    """(schema, relation, rows) for every table and view of the layers users care about
    (the ``stg_*`` models are views over their ``base_*`` tables)."""
    from orchestration.defs.resources import WarehouseResource

    with WarehouseResource(database=str(warehouse_path)).get_connection(read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type in ('BASE TABLE', 'VIEW') order by table_schema, table_name"
        ).fetchall()
        counts = []
        for schema, table in tables:
            if schema not in SCHEMA_ORDER:
                continue
            n = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            counts.append((schema, table, n))
    return sorted(counts, key=lambda r: (SCHEMA_ORDER.index(r[0]), r[1]))


def summary_text(s: Settings, *, run_id: str, success: bool, seconds: float) -> str:
    lines = [
        "",
        f"Run {run_id} {'succeeded' if success else 'FAILED'} in {seconds:.1f} s.",
    ]
    if s.warehouse_path.exists():
        counts = table_row_counts(s.warehouse_path)
        by_schema: dict[str, list[tuple[str, int]]] = {}
        for schema, table, n in counts:
            by_schema.setdefault(schema, []).append((table, n))
        lines.append(f"Tables and views built: {len(counts)}")
        for schema in SCHEMA_ORDER:
            if schema in by_schema:
                items = ", ".join(f"{t} {n:,}" for t, n in by_schema[schema])
                lines.append(f"  {schema:14} {items}")
    lines.append(f"Warehouse (build database): {s.warehouse_path}")
    published = s.warehouse_path.parent / "marts.duckdb"
    if published.exists():
        lines.append(f"Published for BI (read-only): {published}")
        lines.append(f"Parquet: {s.warehouse_path.parent / 'parquet'}")
    report = s.warehouse_path.parent / "report" / "index.html"
    if report.exists():
        lines.append(f"Report: {report}")
    if s.data_docs_dir.exists():
        lines.append(f"Data Docs: {s.data_docs_dir}")
    lines.append("Open the Dagster UI with: make ui   (http://127.0.0.1:3000)")
    return "\n".join(lines)
