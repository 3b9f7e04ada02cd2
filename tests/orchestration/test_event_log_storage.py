"""The Dagster home stores event logs with KeptOpenSqliteEventLogStorage: same files, same
schema as Dagster's SQLite event log (Dagster's own class reads them), runs and asset
materializations recorded, several processes writing the same home at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dagster as dg
import pytest
import yaml
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.event_log_storage import KeptOpenSqliteEventLogStorage
from orchestration.instance import ensure_dagster_home


@dg.asset
def tiny_number() -> int:
    return 7


@dg.asset_check(asset=tiny_number)
def tiny_number_is_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def test_dagster_home_uses_the_kept_open_event_log(tmp_path):
    home = ensure_dagster_home(tmp_path / "home")
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["event_log_storage"]["class"] == "KeptOpenSqliteEventLogStorage"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, KeptOpenSqliteEventLogStorage)
        for _ in range(3):
            result = dg.materialize([tiny_number, tiny_number_is_positive], instance=instance)
            assert result.success
        latest = instance.get_latest_materialization_event(dg.AssetKey("tiny_number"))
        assert latest is not None and latest.run_id == result.run_id
        logs = instance.all_logs(result.run_id)
        assert any(r.dagster_event and r.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
                   for r in logs)
        run_ids = [r.run_id for r in instance.get_runs()]
        assert len(run_ids) == 3
    # Dagster's own storage class reads what ours wrote: the files are Dagster's format
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    try:
        assert len(plain.get_logs_for_run(result.run_id)) == len(logs)
    finally:
        plain.dispose()


def test_a_user_chosen_storage_is_left_alone(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir: " f"{home}\n")
    ensure_dagster_home(home)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert "event_log_storage" not in config
    assert config["storage"] == {"sqlite": {"base_dir": str(home)}}


@pytest.mark.slow
def test_processes_writing_one_home_at_once(tmp_path):
    """Two processes materialize into the same Dagster home concurrently (the CLI run and the
    UI or the daemon do this): both runs and all their events are stored."""
    home = ensure_dagster_home(tmp_path / "home")
    script = textwrap.dedent(f"""
        import dagster as dg
        @dg.asset
        def a():
            return 1
        @dg.asset(deps=[a])
        def b():
            return 2
        with dg.DagsterInstance.from_config({str(home)!r}) as instance:
            for _ in range(5):
                assert dg.materialize([a, b], instance=instance).success
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 10 and all(r.is_success for r in runs)
        for run in runs:
            materialized = [r for r in instance.all_logs(run.run_id)
                            if r.dagster_event and r.dagster_event.is_step_materialization]
            assert len(materialized) == 2
