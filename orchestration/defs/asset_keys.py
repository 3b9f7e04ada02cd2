"""The asset keys other areas define, read from their ``Definitions``.

An area whose assets depend on another area's (quality checks on the raw and mart tables,
the publication over every BI-facing table) reads the keys here rather than listing them, so
a new model or score joins the graph without touching the area that consumes it. One helper,
so every area sees the same set: multi-assets (dbt, consent lists) contribute all their keys,
single assets and specs their one key.
"""

from __future__ import annotations

import dagster as dg


def asset_keys(*areas: dg.Definitions) -> set[dg.AssetKey]:
    """Every asset key defined by the given areas' ``Definitions``."""
    keys: set[dg.AssetKey] = set()
    for area in areas:
        for item in area.assets or []:
            if isinstance(item, dg.AssetsDefinition):
                keys.update(item.keys)
            elif isinstance(item, dg.AssetSpec | dg.SourceAsset):
                keys.add(item.key)
    return keys
