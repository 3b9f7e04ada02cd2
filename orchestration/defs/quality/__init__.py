"""Dagster definitions for the quality area (filled in by its module)."""

import dagster as dg

defs = dg.Definitions()
