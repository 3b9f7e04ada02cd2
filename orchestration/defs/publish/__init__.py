"""Dagster definitions for serving: the PII vault, consent lists, the BI publication, report.

The publish asset depends on every BI-facing asset of the dbt, ml and quality areas, read
from their definitions here so a new mart is published without touching this file.
"""

import dagster as dg

from orchestration.defs import dbt, ml, quality
from orchestration.defs.asset_keys import asset_keys
from orchestration.defs.publish.assets import (
    CONSENT_KEYS,
    bi_facing,
    build_consent_asset,
    build_publish_asset,
    build_vault_asset,
    html_report,
)

_known = asset_keys(dbt.defs, ml.defs, quality.defs)
_consent_inputs = [k for k in (dg.AssetKey(["marts", "dim_customer"]),
                               dg.AssetKey(["ml", "churn_alerts"]),
                               dg.AssetKey(["ml", "churn_scores"])) if k in _known]
_vault_inputs = [k for k in (dg.AssetKey(["intermediate", "int_customer_records"]),
                             dg.AssetKey(["intermediate", "int_customer_identity_map"]))
                 if k in _known]

pii_vault = build_vault_asset(_vault_inputs)
consent_contact_lists = build_consent_asset(_consent_inputs)
# the consent lists are built here, in the publish area: published whatever their schema
bi_publication = build_publish_asset(sorted(set(bi_facing(_known)) | set(CONSENT_KEYS),
                                            key=lambda k: k.to_user_string()))

defs = dg.Definitions(assets=[pii_vault, consent_contact_lists, bi_publication, html_report])
