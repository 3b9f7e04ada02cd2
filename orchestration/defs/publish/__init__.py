"""Dagster definitions for the publish area (filled in by its module)."""

import dagster as dg

defs = dg.Definitions()
