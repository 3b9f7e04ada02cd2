"""The benchmark table for a run whose incremental day ran on the staged warehouse."""

from __future__ import annotations

import json

from bench.runner import (
    _earlier_result,
    bench_command,
    markdown_table,
    staged_total_seconds,
)
from bench.stage import STAGE_ORDER


def _result(incremental_base: str) -> dict:
    stages = {name: {"seconds": 10.0 * (i + 1), "peak_tree_rss_mb": 100.0 * (i + 1)}
              for i, name in enumerate(("load_definitions", *STAGE_ORDER))}
    stages["_process"] = {"seconds": 999.0, "peak_tree_rss_mb": 99999.0}
    result = {"customers": 1000, "date": "2026-11-23T07:00:00Z", "complete": True,
              "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 23.5,
                          "load_average_1m_at_start": 0.5},
              "stages": stages, "staged_total_seconds": staged_total_seconds(stages),
              "simulate_day": {"seconds": 3.0, "peak_tree_rss_mb": 50.0},
              "incremental": {"seconds": 36.0, "peak_tree_rss_mb": 700.0},
              "incremental_base": incremental_base}
    result["ratio_incremental_to_pipeline"] = 36.0 / result["staged_total_seconds"]
    return result


def test_the_staged_total_is_the_definitions_load_plus_every_stage():
    stages = _result("staged")["stages"]
    assert staged_total_seconds(stages) == sum(10.0 * (i + 1)
                                               for i in range(len(STAGE_ORDER) + 1))


def test_incremental_on_staged_is_labelled_and_compared_with_the_staged_total():
    result = _result("staged")
    total = result["staged_total_seconds"]
    peak = 100.0 * (len(STAGE_ORDER) + 1)  # the largest stage, not the process (_process)
    table = markdown_table(result)
    assert f"| whole pipeline: sum of the stages above | {total:.1f} | {peak:.0f} |" in table
    assert "| whole pipeline (build_everything) | not run (`--incremental-on-staged`" in table
    assert "| incremental run after one day (on the staged warehouse) | 36.0 | 700 |" in table
    assert f"| incremental / sum of the stages | {36.0 / total:.2f} |" in table


def test_a_full_run_keeps_the_whole_pipeline_row():
    result = _result("pipeline")
    result["pipeline"] = {"seconds": 300.0, "peak_tree_rss_mb": 900.0}
    result["dbt_parse"] = {"seconds": 9.5, "peak_tree_rss_mb": 400.0}
    table = markdown_table(result)
    parse = "| dbt parse for the new warehouse path (`make install` does it) | 9.5 | 400 |"
    assert parse + "\n| whole pipeline (build_everything) | 300.0 | 900 |" in table
    assert "| incremental run after one day | 36.0 | 700 |" in table
    assert "| incremental / whole pipeline |" in table


def test_resume_reads_the_latest_dated_result_not_other_files_of_that_scale(tmp_path):
    """``clv-1000000.json`` (the CLV benchmark) ends in the scale and sorts after the dated
    files: picked as the earlier run, it made ``--resume`` measure the floor again."""
    for name, date in (("2026-11-22-1000000.json", "a"), ("2026-11-23-1000000.json", "b"),
                       ("clv-1000000.json", "clv"), ("2026-11-24-10000.json", "other scale")):
        (tmp_path / name).write_text(json.dumps({"date": date}))
    assert _earlier_result(tmp_path, 1_000_000)["date"] == "b"
    assert _earlier_result(tmp_path, 3_000) is None


def test_the_result_records_the_command_with_its_flags():
    assert bench_command(10000, None, 42, False, False, None) == \
        "crm-warehouse bench --customers 10000"
    assert bench_command(1000000, 30, 7, True, True, "ml") == (
        "crm-warehouse bench --customers 1000000 --history-days 30 --seed 7 --resume "
        "--incremental-on-staged --from-stage ml")
