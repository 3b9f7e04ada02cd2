"""The ingest assets in Dagster: definitions, metadata, checks, and the one-writer instance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from contracts.sources import SOURCE_TABLES, source_table
from ingest import ingest_sources as src
from ingest.erp_backends import fill, make_backend
from orchestration.defs.ingest import ingest_assets
from orchestration.defs.resources import WarehouseResource
from orchestration.instance import ensure_dagster_home

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2024, 3, 1)


def write_sources(env, tmp_path, n: int = 3) -> dict:
    fill(make_backend("sqlite", tmp_path), ids=range(1, n + 1))
    return src.write_day(env.ecommerce_dir, env.service_desk_dir, DAY, n=n)


def raw_counts(env) -> dict[str, int]:
    con = duckdb.connect(str(env.warehouse_path), read_only=True)
    try:
        return {t.qualified_raw_name: con.execute(
            f"SELECT count(*) FROM {t.qualified_raw_name}").fetchone()[0] for t in SOURCE_TABLES}
    finally:
        con.close()


def test_one_asset_per_source_table_with_contract_keys():
    specs = {spec.key: spec for a in ingest_assets for spec in a.specs}
    assert set(specs) == {dg.AssetKey([t.raw_schema, t.name]) for t in SOURCE_TABLES}
    assert len(specs) == 14
    for key, spec in specs.items():
        assert spec.group_name == "ingest", key
        assert spec.owners == ["team:data-engineering"], key
        assert spec.description and len(spec.description) > 40, key
        assert "duckdb" in spec.kinds and len(spec.kinds) == 2, key
    assert {frozenset(specs[dg.AssetKey(["raw_erp", "members"])].kinds),
            frozenset(specs[dg.AssetKey(["raw_ecommerce", "events"])].kinds),
            frozenset(specs[dg.AssetKey(["raw_service", "tickets"])].kinds)} == {
        frozenset({"duckdb", "sqlite"}), frozenset({"duckdb", "json"}),
        frozenset({"duckdb", "csv"})}
    assert {a.op.pool for a in ingest_assets} == {"duckdb_warehouse"}
    checks = {(c.asset_key, c.name) for a in ingest_assets for c in a.check_specs}
    assert checks == {(k, name) for k in specs if k.path[0] != "raw_erp"
                      for name in ("no_quarantined_lines", "no_empty_files")}


@pytest.mark.slow
def test_materialize_all_records_metadata_and_quarantine_check(env, tmp_path):
    write_sources(env, tmp_path)
    events = source_table("ecommerce", "events")
    src.write_jsonl(src.export_path(env.ecommerce_dir, events, DAY, suffix="late"),
                    src.export_records(events, 2, DAY, start=100),
                    extra_lines={2: "{not json"})
    tickets = source_table("service_desk", "tickets")
    src.export_path(env.service_desk_dir, tickets, DAY, suffix="partial").write_bytes(b"")
    resources = {"warehouse": WarehouseResource(database=str(env.warehouse_path))}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(ingest_assets, resources=resources, instance=instance)
        assert result.success
        mats = {e.materialization.asset_key: e.materialization.metadata
                for e in result.get_asset_materialization_events()}
        assert len(mats) == 14
        ev = mats[dg.AssetKey(["raw_ecommerce", "events"])]
        assert ev["rows_loaded"].value == 5 and ev["rows_quarantined"].value == 1
        assert ev["files_loaded"].value == 2 and ev["dagster/row_count"].value == 5
        assert ev["batch_id"].value.startswith("ecommerce.events.")
        members = mats[dg.AssetKey(["raw_erp", "members"])]
        assert members["cursor"].value == "2024-03-01 09:30:00"
        assert members["rows_read"].value == 3 and members["duration_seconds"].value > 0

        checks = {(c.asset_key.path[-1], c.check_name): c
                  for c in result.get_asset_check_evaluations()}
        failed = checks["events", "no_quarantined_lines"]
        assert not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
        assert "events/events_2024-03-01_late.jsonl.gz:2" in failed.description
        assert checks["tickets", "no_quarantined_lines"].passed
        # a zero-byte file is loaded as empty and named by a WARN check, not taken as data
        empty = checks["tickets", "no_empty_files"]
        assert not empty.passed and empty.severity == dg.AssetCheckSeverity.WARN
        assert "tickets/tickets_2024-03-01_partial.csv" in empty.description
        assert checks["events", "no_empty_files"].passed
        assert mats[dg.AssetKey(["raw_service", "tickets"])]["files_empty"].value == 1

        again = dg.materialize(ingest_assets, resources=resources, instance=instance)
        assert again.success
        loaded = [e.materialization.metadata["rows_loaded"].value
                  for e in again.get_asset_materialization_events()]
        assert loaded == [0] * 14
    assert sum(raw_counts(env).values()) == 14 * 3 + 2


def test_missing_required_column_fails_the_asset_naming_file_and_column(env):
    contacts = source_table("service_desk", "contacts")
    records = [{k: v for k, v in r.items() if k != "contact_id"}
               for r in src.export_records(contacts, 2, DAY)]
    src.write_csv(src.export_path(env.service_desk_dir, contacts, DAY), records)
    asset = next(a for a in ingest_assets if a.key == dg.AssetKey(["raw_service", "contacts"]))
    result = dg.materialize(
        [asset], raise_on_error=False,
        resources={"warehouse": WarehouseResource(database=str(env.warehouse_path))})
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    message = (error.cause or error).message
    assert "contacts/contacts_2024-03-01.csv" in message and "'contact_id'" in message


def test_ensure_dagster_home_limits_the_warehouse_pool(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("retention:\n  schedule:\n    purge_after_days: 30\n")
    assert ensure_dagster_home(home) == home
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["retention"]["schedule"]["purge_after_days"] == 30  # user settings kept
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    before = (home / "dagster.yaml").read_text()
    ensure_dagster_home(home)
    assert (home / "dagster.yaml").read_text() == before  # idempotent
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info("duckdb_warehouse").slot_count == 1
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


@pytest.mark.slow
def test_all_fourteen_assets_at_once_with_multiprocess_executor(env, tmp_path, monkeypatch):
    """Parallel step processes on the project's instance: no DuckDB lock error, all loaded.

    Dagster re-polls a blocked pool claim with a back-off of up to 15 s per step, which only
    makes this run slow (about 5 minutes for 14 steps); the test shortens the poll interval to
    1 s. Slot claiming itself is Dagster's real implementation on the instance's storage.
    """
    from dagster._core.definitions.reconstruct import ReconstructableJob
    from dagster._core.execution.plan import instance_concurrency_context

    monkeypatch.setattr(instance_concurrency_context, "MAX_CONCURRENCY_CLAIM_BLOCKED_INTERVAL", 1)
    write_sources(env, tmp_path, n=4)
    home = ensure_dagster_home(env.dagster_home)
    job = ReconstructableJob.for_file(str(Path(__file__).with_name("ingest_job_target.py")),
                                      "extract_all_multiprocess")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.execute_job(job, instance=instance)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert len(result.get_asset_materialization_events()) == 14
        # the pool serialized the writers: no two steps' executions overlapped
        spans = {}
        for record in instance.all_logs(result.run_id):
            event = record.dagster_event
            if event and event.step_key and event.event_type_value in (
                    "STEP_START", "STEP_SUCCESS"):
                spans.setdefault(event.step_key, []).append(record.timestamp)
        intervals = sorted(tuple(v) for v in spans.values())
        assert len(intervals) == 14 and all(len(i) == 2 for i in intervals)
        assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:], strict=False))
    counts = raw_counts(env)
    assert all(n == 4 for n in counts.values()), counts
