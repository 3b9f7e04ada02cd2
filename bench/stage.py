"""Benchmark stages, run as ``python -m bench.stage <stage>...`` in a child process.

Each stage materializes an asset selection of the project's own Definitions through Dagster
on the Dagster home and warehouse named by the environment, as ``crm-warehouse run`` does, so
the measurement includes what a user pays: Dagster start-up, dbt subprocesses, checks.
Stage ``pipeline`` is the job ``build_everything`` itself. Several stages in one call share
one Definitions load (which alone takes tens of seconds); with ``CRMW_BENCH_EVENTS`` set, the
epoch start and end of the load and of every stage are appended there as JSON lines, so the
parent can cut its memory samples into per-stage windows. Exit status 1 if a stage failed
(later stages are not run).
"""

from __future__ import annotations

import json
import os
import sys
import time

PROCESS_STARTED = time.time()  # before importing Dagster: its import is part of the load

import dagster as dg  # noqa: E402

#: The pipeline split by area, in an order where every stage's upstream is already built.
#: The GX checks of the raw tables are built into the ingest assets (not subsettable), so
#: ``extract`` includes them; ``quality`` then holds whatever ingest checks could be split off
#: (none today) and the quality group (scorecard, rejected rows). Three
#: marts read the ML scores (customer_360, the contact lists): they are built after ``ml``.
STAGE_ORDER = ("extract", "dbt_staging", "dbt_marts", "quality", "ml", "dbt_marts_scored",
               "publish")


def stage_selection(stage: str) -> dg.AssetSelection:
    groups = dg.AssetSelection.groups
    after_ml = groups("ml").downstream() - groups("ml")
    # checks built into an ingest asset (line counts) cannot be split from it; the GX checks can
    extract = groups("ingest").without_checks().required_multi_asset_neighbors()
    ingest_checks = groups("ingest") - groups("ingest").without_checks()
    selections = {
        "extract": extract,
        "dbt_staging": groups("staging", "intermediate"),
        "dbt_marts": groups("marts") - after_ml,
        "quality": groups("quality") | (ingest_checks - extract),
        "ml": groups("ml"),
        "dbt_marts_scored": groups("marts") & after_ml,
        "publish": groups("publish"),
    }
    if stage not in selections:
        raise ValueError(f"unknown benchmark stage {stage!r}; known: {', '.join(selections)}")
    return selections[stage]


def _record(name: str, start: float, ok: bool, steps: dict[str, float] | None = None) -> None:
    path = os.environ.get("CRMW_BENCH_EVENTS")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"stage": name, "start": start, "end": time.time(),
                                  "ok": ok, "step_seconds": steps or {}}) + "\n")


def step_seconds(result) -> dict[str, float]:
    """Seconds per finished step of a run (Dagster's own step durations)."""
    seconds = {}
    for event in result.all_events:
        if event.event_type in (dg.DagsterEventType.STEP_SUCCESS,
                                dg.DagsterEventType.STEP_FAILURE):
            duration = getattr(event.event_specific_data, "duration_ms", None)
            if duration is not None:
                seconds[event.step_key] = duration / 1000
    return seconds


def load_definitions() -> dg.Definitions:
    from warehouse.config import export_environment

    export_environment()
    from orchestration.definitions import defs
    from orchestration.instance import ensure_dagster_home

    ensure_dagster_home()
    _record("load_definitions", PROCESS_STARTED, True)
    return defs


def run_stage(defs: dg.Definitions, stage: str) -> bool:
    from orchestration.instance import WAREHOUSE_RUN_TAG

    start = time.time()
    if stage == "pipeline":
        job_defs, job_name = defs, "build_everything"
    else:
        job_name = f"bench_{stage}"
        job = dg.define_asset_job(job_name, selection=stage_selection(stage),
                                  tags=WAREHOUSE_RUN_TAG)
        job_defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    with dg.DagsterInstance.get() as instance:
        result = job_defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False,
            tags={"crmw/bench-stage": stage},
            # as `crm-warehouse run`: the console logger would print every event
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
    _record(stage, start, result.success, step_seconds(result))
    return result.success


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.stage <stage>... | pipeline", file=sys.stderr)
        return 2
    for stage in argv:  # unknown names fail before anything runs
        if stage != "pipeline":
            stage_selection(stage)
    defs = load_definitions()
    for stage in argv:
        ok = run_stage(defs, stage)
        print(f"stage {stage}: {'ok' if ok else 'FAILED'}", flush=True)
        if not ok:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
