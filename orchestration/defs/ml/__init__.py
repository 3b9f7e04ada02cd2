"""Dagster definitions for the ml area (filled in by its module)."""

import dagster as dg

defs = dg.Definitions()
