"""Thin Dagster assets over ``warehouse/publish.py``: the BI publication.

The publish asset depends on every BI-facing asset (schemas ``marts``, ``ml``, ``quality``) of
the other areas. Blocking checks (dbt tests with severity ``error`` and the GX raw suites)
stop downstream materialization in Dagster, so a build whose blocking checks failed never
reaches this asset and the last good publication stays in place.
"""


from collections.abc import Iterable, Sequence

import dagster as dg

from orchestration.defs.resources import WAREHOUSE_WRITER_POOL
from warehouse import publish as publishing
from warehouse.config import settings

OWNERS = ["team:serving"]
PUBLICATION_KEY = dg.AssetKey(["publish", "bi_publication"])


def asset_keys_of(definitions: Iterable[dg.Definitions]) -> list[dg.AssetKey]:
    """Keys in the BI-facing schemas among the assets of the given areas' definitions."""
    keys: set[dg.AssetKey] = set()
    for defs in definitions:
        for item in defs.assets or []:
            item_keys = getattr(item, "keys", None) or [getattr(item, "key", None)]
            keys.update(k for k in item_keys if k is not None)
    return sorted((k for k in keys if k.path[0] in publishing.BI_SCHEMAS),
                  key=lambda k: k.to_user_string())


def build_publish_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publish asset over the given upstream keys (a factory so tests can use toy graphs)."""

    @dg.asset(
        key=PUBLICATION_KEY,
        deps=list(deps),
        group_name="publish",
        owners=OWNERS,
        kinds={"duckdb", "parquet"},
        # Reads the build database: no other step may hold its write lock meanwhile.
        pool=WAREHOUSE_WRITER_POOL,
        description=(
            "Copies every table of schemas marts, ml and quality into warehouse/marts.duckdb "
            "and warehouse/parquet/current/, replacing the previous version atomically. BI "
            "tools read only this copy, read-only; the build database is never opened by them."
        ),
    )
    def bi_publication(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = publishing.publish(settings().warehouse_path)
        context.log.info(f"published {len(result.tables)} tables as version {result.version}")
        return dg.MaterializeResult(
            metadata={
                "version": result.version,
                "database": dg.MetadataValue.path(str(result.database)),
                "parquet": dg.MetadataValue.path(str(result.parquet_dir)),
                "tables": len(result.tables),
                "rows": dg.MetadataValue.json(result.tables),
                "seconds": round(result.seconds, 2),
            }
        )

    return bi_publication
