"""Dagster definitions for the ml area: churn, CLV, clusters, model runs, churn alerts."""

import dagster as dg

from orchestration.defs.ml.assets import ML_ASSETS

defs = dg.Definitions(assets=ML_ASSETS)
