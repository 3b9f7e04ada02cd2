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


VAULT_KEY = dg.AssetKey(["pii", "vault"])
REPORT_KEY = dg.AssetKey(["publish", "html_report"])
CONSENT_KEYS = [dg.AssetKey(["marts", name]) for name in
                ("contact_suppression_list", "winback_contact_list", "contact_history")]


def build_vault_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=VAULT_KEY, deps=list(deps), group_name="publish", owners=OWNERS,
        kinds={"duckdb"}, pool=WAREHOUSE_WRITER_POOL,
        description=(
            "warehouse/pii.duckdb: full names, e-mails, phones, addresses and birth dates per "
            "source record and customer_key, encrypted with AES-256-GCM (key CRMW_PII_KEY or "
            "warehouse/pii.key). The only place full PII lives outside staging."
        ),
    )
    def pii_vault(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from warehouse.pii.vault import fill_vault, vault_path

        n = fill_vault(settings().warehouse_path)
        return dg.MaterializeResult(metadata={
            "records": n, "path": dg.MetadataValue.path(str(vault_path())),
            "cipher": "AES-256-GCM (DuckDB database encryption)"})

    return pii_vault


def build_consent_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    descriptions = {
        "contact_suppression_list": "Customers who must not get marketing contact and why: "
        "opted out or unknown consent (kept, never deleted) or at the contact-frequency cap.",
        "winback_contact_list": "Today's win-back contacts: at-risk customers from "
        "marts.churn_alerts (or ml.churn_scores) minus the suppression list; masked e-mail.",
        "contact_history": "Every contact a list issued (customer, list, date): what the "
        "cap of CRMW_CONTACT_CAP_PER_30_DAYS contacts per 30 days counts.",
    }

    @dg.multi_asset(
        specs=[dg.AssetSpec(key, deps=list(deps), group_name="marts", owners=OWNERS,
                            kinds={"duckdb"}, description=descriptions[key.path[-1]])
               for key in CONSENT_KEYS],
        pool=WAREHOUSE_WRITER_POOL,
        name="consent_contact_lists",
    )
    def consent_contact_lists(context: dg.AssetExecutionContext):
        from warehouse.connection import connect
        from warehouse.pii.consent import build_contact_lists

        con = connect()
        try:
            lists = build_contact_lists(con)
        finally:
            con.close()
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
        "warehouse/report/index.html: a self-contained HTML report (inline SVG, no scripts, "
        "works offline) built from the published marts.duckdb on every publication."
    ),
)
def html_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from warehouse.report_builder.build import build_report

    path, info = build_report()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "not_available_yet": dg.MetadataValue.json(info["not_available"])})
