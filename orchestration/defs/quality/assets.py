"""Quality assets for stewards and BI: the scorecard and the rejected (quarantined) rows."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from expectations.results import build_rejected_rows, ensure_quality_schema, latest_scorecard
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from warehouse.config import settings

OWNERS = ["team:data-quality"]
REJECTED_ROWS_KEY = dg.AssetKey(["quality", "rejected_rows"])
SCORECARD_KEY = dg.AssetKey(["quality", "scorecard"])


def build_rejected_rows_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """``quality.rejected_rows`` over the given staging ``*_rejected`` assets."""

    @dg.asset(
        key=REJECTED_ROWS_KEY, deps=list(deps), group_name="quality", owners=OWNERS,
        kinds={"duckdb"}, pool=WAREHOUSE_WRITER_POOL,
        description=(
            "Rows quarantined by dbt staging (every staging.stg_<source>__<entity>s_rejected "
            "table, found by name) with their reason code and the lineage that locates the raw "
            "row: source object, row number, batch. No personal data."
        ),
    )
    def rejected_rows(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            n = build_rejected_rows(con)
            by_reason = con.execute(
                "select rejected_table, reason, count(*) from quality.rejected_rows "
                "group by all order by 3 desc limit 50").fetchall()
        table = "\n".join(f"| {t} | {r} | {c} |" for t, r, c in by_reason)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": n,
            "by_reason": dg.MetadataValue.md(
                "| table | reason | rows |\n|---|---|---|\n" + table if table else "none"),
        })

    return rejected_rows


@dg.asset(
    key=SCORECARD_KEY, deps=[REJECTED_ROWS_KEY], group_name="quality", owners=OWNERS,
    kinds={"duckdb"}, pool=WAREHOUSE_WRITER_POOL,
    description=(
        "Data-quality scorecard per source and table and run: completeness, validity, "
        "uniqueness, timeliness, consistency and overall scores (0-100) from "
        "quality.check_results, with the previous run's score, the change and the trend. "
        "Kept current by every checkpoint; Data Docs are under data/data_docs/."
    ),
)
def scorecard(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        ensure_quality_schema(con)
        rows = latest_scorecard(con)
    lines = [f"| {src} | {tbl} | {overall} | {trend} |"
             for src, tbl, *_scores, overall, _change, trend in rows]
    return dg.MaterializeResult(metadata={
        "tables_scored": len(rows),
        "latest": dg.MetadataValue.md(
            "| source | table | overall | trend |\n|---|---|---|---|\n" + "\n".join(lines)),
        "data_docs": dg.MetadataValue.path(str(settings().data_docs_dir / "index.html")),
    })
