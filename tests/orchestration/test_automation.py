"""The new-export-file sensor and the nightly schedule."""

import json
import os
import time

import dagster as dg

from orchestration.defs.automation import build_everything, new_export_files, nightly_build


def _touch(path, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))


def test_sensor_requests_one_run_per_new_delivery(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "src"))
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "wh" / "warehouse.duckdb"))
    base = time.time_ns() - 10_000_000_000
    _touch(tmp_path / "src/ecommerce/orders/orders_2025-01-01.jsonl.gz", base)

    # No warehouse yet: the first delivery starts a run.
    first = new_export_files(dg.build_sensor_context())
    assert isinstance(first, dg.RunRequest)
    assert first.run_key == f"exports-{base}"
    cursor = {"newest_mtime_ns": base}

    ctx = dg.build_sensor_context(cursor=json.dumps(cursor))
    assert isinstance(new_export_files(ctx), dg.SkipReason), "same files must not trigger again"

    _touch(tmp_path / "src/service_desk/tickets/tickets_2025-01-02.csv", base + 5_000_000_000)
    ctx = dg.build_sensor_context(cursor=json.dumps(cursor))
    second = new_export_files(ctx)
    assert isinstance(second, dg.RunRequest)
    assert second.tags["crmw/new-files"] == "1"
    assert second.tags["crmw/first-new-file"] == "tickets_2025-01-02.csv"
    assert json.loads(ctx.cursor)["newest_mtime_ns"] == base + 5_000_000_000


def test_sensor_on_existing_warehouse_starts_watching_without_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "src"))
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    warehouse.write_bytes(b"")
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(warehouse))
    _touch(tmp_path / "src/ecommerce/events/events_2025-01-01.jsonl.gz")
    ctx = dg.build_sensor_context()
    assert isinstance(new_export_files(ctx), dg.SkipReason)
    assert json.loads(ctx.cursor)["files"] == 1


def test_schedule_and_job_are_wired():
    assert nightly_build.cron_schedule == "0 2 * * *"
    assert nightly_build.job_name == build_everything.name == "build_everything"
    assert new_export_files.minimum_interval_seconds <= 60, "data must be <10 minutes old"
