"""``crm-warehouse evaluate`` (evaluation/cli.py): the oracle joins the latest churn run and
the comparison table shows it as the ceiling."""

from __future__ import annotations

import duckdb
from click.testing import CliRunner

from evaluation.cli import evaluate_command


def test_evaluate_prints_the_candidates_next_to_the_oracle(trained_copy):
    db, truth = trained_copy
    result = CliRunner().invoke(evaluate_command, [],
                                obj={"warehouse_path": db, "truth_dir": truth})
    assert result.exit_code == 0, result.output
    assert "| oracle | ceiling |" in result.output
    assert "| champion |" in result.output
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from ml.model_runs where candidate = 'oracle'"
                       ).fetchone()[0] == 1
    con.close()


def test_evaluate_reads_the_configured_warehouse_and_explains_a_missing_truth(
        trained_copy, tmp_path, monkeypatch):
    db, _ = trained_copy
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(db))
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "no_sources"))
    result = CliRunner().invoke(evaluate_command, [])
    assert result.exit_code != 0
    assert "no ground-truth file" in result.output


def test_evaluate_is_a_registered_crm_warehouse_command():
    from importlib.metadata import entry_points

    commands = {e.name: e.value for e in entry_points(group="crm_warehouse.commands")}
    assert commands["evaluate"] == "evaluation.cli:evaluate_command"
