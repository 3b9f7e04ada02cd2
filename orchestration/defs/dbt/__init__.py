"""Dagster definitions for the dbt area (filled in by its module)."""

import dagster as dg

defs = dg.Definitions()
