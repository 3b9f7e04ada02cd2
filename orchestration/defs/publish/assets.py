"""Thin Dagster assets over ``warehouse/publish.py``: the BI publication.

The publish asset depends on every BI-facing asset (schemas ``marts``, ``ml``, ``outreach``,
``quality``) of the other areas. Blocking checks (dbt tests with severity ``error`` and the
GX raw suites) stop downstream materialization in Dagster, so a build whose blocking checks
failed never reaches this asset and the last good publication stays in place.
"""


from collections.abc import Iterable, Sequence

import dagster as dg

from contracts.outreach import OUTREACH_SCHEMA, OUTREACH_TABLES
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from warehouse import publish as publishing

OWNERS = ["team:serving"]
PUBLICATION_KEY = dg.AssetKey(["publish", "bi_publication"])


def bi_facing(keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """The keys in the BI-facing schemas (``publishing.BI_SCHEMAS``), sorted."""
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
            "Copies every table of schemas marts, ml, outreach and quality into "
            "data/marts.duckdb and data/parquet/current/, replacing the previous version "
            "atomically. BI tools read only this copy, read-only; the build database is never "
            "opened by them."
        ),
    )
    def bi_publication(context: dg.AssetExecutionContext,
                       warehouse: WarehouseResource) -> dg.MaterializeResult:
        result = publishing.publish(warehouse.path)
        if result.removed:
            context.log.warning(
                f"removed {len(result.removed)} leftover(s) of interrupted publications: "
                + ", ".join(str(p) for p in result.removed))
        context.log.info(f"published {len(result.tables)} tables as version {result.version}")
        return dg.MaterializeResult(
            metadata={
                "version": result.version,
                "database": dg.MetadataValue.path(str(result.database)),
                "parquet": dg.MetadataValue.path(str(result.parquet_dir)),
                "tables": len(result.tables),
                "rows": dg.MetadataValue.json(result.tables),
                "seconds": round(result.seconds, 2),
                "leftovers_removed": dg.MetadataValue.json([str(p) for p in result.removed]),
            }
        )

    return bi_publication


VAULT_KEY = dg.AssetKey(["pii", "vault"])
REPORT_KEY = dg.AssetKey(["publish", "html_report"])
CONSENT_KEYS = [dg.AssetKey([OUTREACH_SCHEMA, name]) for name in OUTREACH_TABLES]


def build_vault_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=VAULT_KEY, deps=list(deps), group_name="publish", owners=OWNERS,
        kinds={"duckdb"}, pool=WAREHOUSE_WRITER_POOL,
        description=(
            "data/pii.duckdb: full names, e-mails, phones, addresses and birth dates per "
            "source record and customer_key, encrypted with AES-256-GCM (key CRMW_PII_KEY or "
            "data/pii.key). The only place full PII lives outside staging."
        ),
    )
    def pii_vault(context: dg.AssetExecutionContext,
                  warehouse: WarehouseResource) -> dg.MaterializeResult:
        from warehouse.pii.vault import fill_vault, vault_path

        n = fill_vault(warehouse.path)
        return dg.MaterializeResult(metadata={
            "records": n, "path": dg.MetadataValue.path(str(vault_path())),
            "cipher": "AES-256-GCM (DuckDB database encryption)"})

    return pii_vault


def build_consent_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    descriptions = {
        "contact_suppression_list": "Customers who must not get marketing contact and why: "
        "opted out or unknown consent (kept, never deleted) or at the contact-frequency cap.",
        "winback_contact_list": "Today's win-back contacts: at-risk customers from "
        "ml.churn_alerts (or ml.churn_scores) minus the suppression list; masked e-mail.",
        "contact_history": "Every contact a list issued (customer, list, date, as-of date of "
        "the scores; a re-run on the same data replaces its list): what the "
        "cap of CRMW_CONTACT_CAP_PER_30_DAYS contacts per 30 days counts.",
    }

    @dg.multi_asset(
        specs=[dg.AssetSpec(key, deps=list(deps), group_name=OUTREACH_SCHEMA, owners=OWNERS,
                            kinds={"duckdb"}, description=descriptions[key.path[-1]])
               for key in CONSENT_KEYS],
        pool=WAREHOUSE_WRITER_POOL,
        name="consent_contact_lists",
    )
    def consent_contact_lists(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from warehouse.pii.consent import build_contact_lists

        with warehouse.get_connection() as con:
            lists = build_contact_lists(con)
        meta = {"suppressed": lists.suppressed, "opted_out": lists.opted_out,
                "frequency_capped": lists.capped, "contacts": lists.contacts,
                "candidates": lists.candidates, "source": lists.source}
        for key in CONSENT_KEYS:
            yield dg.MaterializeResult(asset_key=key, metadata=meta)

    return consent_contact_lists


@dg.asset(
    key=REPORT_KEY, deps=[PUBLICATION_KEY], group_name="publish", owners=OWNERS,
    kinds={"html"},
    description=(
        "data/report/index.html: a self-contained HTML report (inline SVG, no scripts, "
        "works offline) built from the published marts.duckdb on every publication."
    ),
)
def html_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warehouse.report_builder.build import build_report

    path, info = build_report()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "not_available_yet": dg.MetadataValue.json(info["not_available"])})
