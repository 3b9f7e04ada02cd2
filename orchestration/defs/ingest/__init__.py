"""Dagster definitions for the ingest area (filled in by its module)."""

import dagster as dg

defs = dg.Definitions()
