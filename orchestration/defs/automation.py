"""Jobs, schedules and sensors over the assets of every area."""

import dagster as dg

build_everything = dg.define_asset_job(
    "build_everything",
    selection=dg.AssetSelection.all(),
    description="Extract every source, build every dbt model, run checks, score models, publish.",
    executor_def=dg.in_process_executor,
)

defs = dg.Definitions(jobs=[build_everything])
