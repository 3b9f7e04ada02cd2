"""How dbt nodes become Dagster assets: keys ``[schema, name]`` (the DuckDB relation), one
group per dbt folder (staging, intermediate, marts), dbt sources keyed by their
``meta.dagster.asset_key`` so they are the extraction assets, and an owner on every asset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

OWNERS = ["team:data-engineering"]
GROUPS = ("staging", "intermediate", "marts")


class CrmDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if len(fqn) > 1 and fqn[1] in GROUPS:
            return fqn[1]
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        return "marts"  # snapshots: the history of a mart

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        return OWNERS

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return (dbt_resource_props.get("description") or "").strip() or (
            f"dbt {dbt_resource_props['resource_type']} {dbt_resource_props['name']}"
        )
