"""Jobs, schedules and sensors over the assets of every area.

The business asks for data no more than 10 minutes old: the export sensor looks for new
export files every 30 seconds and starts a run within a minute of a file landing. Every
extraction is incremental (new files, ERP rows past the cursor), so a run of the whole graph
after a new file loads only that file and rebuilds downstream models from it.

The sensor (every tick) and the schedule (every evaluation) first recover runs whose process
died (``orchestration/recovery.py``), so a run killed by ``kill -9``, the OOM killer or a
reboot does not wedge the nightly build and the deliveries after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from orchestration.instance import WAREHOUSE_RUN_TAG
from warehouse.config import settings

build_everything = dg.define_asset_job(
    "build_everything",
    selection=dg.AssetSelection.all(),
    description=(
        "Extract every source incrementally, build every dbt model, run the quality "
        "checkpoints, score the models and publish for BI."
    ),
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_RUN_TAG,
)


def _recover(context, by: str) -> None:
    """Recover runs whose process died before asking for a new one (``orchestration/
    recovery.py``): a dead run would hold the warehouse pool, and in the daemon it also holds
    the run queue, so the requested run would never start. Never fails the tick."""
    from orchestration.recovery import recover_quietly

    try:
        instance = context.instance
    except Exception:  # a test context built without an instance
        return
    recover_quietly(instance, by=by, log=context.log.warning, warn=context.log.warning)


@dg.schedule(
    name="nightly_build",
    job=build_everything,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="The nightly build: picks up the ERP's changes of the day and all new exports.",
)
def nightly_build(context: dg.ScheduleEvaluationContext):
    _recover(context, "schedule nightly_build")
    return dg.RunRequest()


def export_files() -> list[Path]:
    """Every e-commerce and service-desk export file currently delivered."""
    s = settings()
    files: list[Path] = []
    for root, pattern in ((s.ecommerce_dir, "*/*.jsonl.gz"), (s.service_desk_dir, "*/*.csv")):
        if root.exists():
            files.extend(root.glob(pattern))
    return sorted(files)


def newest_mtime_ns(files: list[Path]) -> int:
    return max((f.stat().st_mtime_ns for f in files), default=0)


@dg.sensor(
    job=build_everything,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts an incremental run when new export files arrive. The cursor holds the newest "
        "modification time seen, so each delivery triggers exactly one run."
    ),
)
def new_export_files(context: dg.SensorEvaluationContext):
    _recover(context, "sensor new_export_files")
    files = export_files()
    newest = newest_mtime_ns(files)
    state = json.loads(context.cursor) if context.cursor else None
    if state is None and settings().warehouse_path.exists():
        # First tick on an existing warehouse: what is there now was loaded by the build
        # that created it (extraction is idempotent anyway); only later files trigger runs.
        context.update_cursor(json.dumps({"newest_mtime_ns": newest, "files": len(files)}))
        return dg.SkipReason(f"Watching {len(files)} export files for new deliveries.")
    seen = state["newest_mtime_ns"] if state else -1
    fresh = [f for f in files if f.stat().st_mtime_ns > seen]
    if not fresh:
        return dg.SkipReason("No new export files.")
    context.update_cursor(json.dumps({"newest_mtime_ns": newest, "files": len(files)}))
    names = sorted(f.name for f in fresh)
    return dg.RunRequest(
        run_key=f"exports-{newest}",
        tags={"crmw/new-files": str(len(fresh)), "crmw/first-new-file": names[0]},
    )


defs = dg.Definitions(
    jobs=[build_everything], schedules=[nightly_build], sensors=[new_export_files]
)
