"""Dagster definitions for serving: the PII vault, consent lists, the BI publication, report.

The publish asset depends on every BI-facing asset of the dbt, ml and quality areas, read
from their definitions here so a new mart is published without touching this file.
"""

import dagster as dg

from orchestration.defs import dbt, ml, quality
from orchestration.defs.publish.assets import (
    CONSENT_KEYS,
    asset_keys_of,
    build_consent_asset,
    build_publish_asset,
    build_vault_asset,
    html_report,
)

_AREAS = [dbt.defs, ml.defs, quality.defs]
_known = set(asset_keys_of(_AREAS)) | {
    k for d in _AREAS for a in (d.assets or []) for k in (getattr(a, "keys", None) or [])}
_consent_inputs = [k for k in (dg.AssetKey(["marts", "dim_customer"]),
                               dg.AssetKey(["marts", "churn_alerts"]),
                               dg.AssetKey(["ml", "churn_scores"])) if k in _known]
_vault_inputs = [k for k in (dg.AssetKey(["intermediate", "int_customer_records"]),
                             dg.AssetKey(["intermediate", "int_customer_identity_map"]))
                 if k in _known]

pii_vault = build_vault_asset(_vault_inputs)
consent_contact_lists = build_consent_asset(_consent_inputs)
bi_publication = build_publish_asset(sorted(set(asset_keys_of(_AREAS)) | set(CONSENT_KEYS),
                                            key=lambda k: k.to_user_string()))

defs = dg.Definitions(assets=[pii_vault, consent_contact_lists, bi_publication, html_report])
