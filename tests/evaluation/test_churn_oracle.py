"""The churn oracle (evaluation/churn_oracle.py): the simulator's truth scored on the
validation window of the latest churn training, recorded as that run's ceiling."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pandas as pd
import pytest

from evaluation.churn_oracle import churn_comparison, oracle_probabilities, record_oracle_run


@pytest.fixture(scope="module")
def evaluated(trained_warehouse, tmp_path_factory):
    """(the oracle's row, the run's comparison table) after evaluation on a copy."""
    import shutil

    db, truth = trained_warehouse
    target = tmp_path_factory.mktemp("oracle") / "warehouse.duckdb"
    shutil.copy(db, target)
    con = duckdb.connect(str(target))
    try:
        oracle = record_oracle_run(con, truth)
        table = churn_comparison(con, oracle.run.run_id)
    finally:
        con.close()
    print("\nchurn validation (synthetic warehouse, 3,000 people), with the oracle:")
    print(table.to_string(index=False))
    return oracle, table


def test_every_candidate_is_compared_and_the_oracle_is_the_ceiling(evaluated):
    _, comparison = evaluated
    table = comparison.set_index("candidate")
    assert set(table.index) == {"recency_only", "bgnbd", "logistic_regression",
                                "gradient_boosting", "oracle"}
    assert table.loc["oracle", "role"] == "ceiling"
    best = table.drop(index="oracle")
    for metric in ("roc_auc", "pr_auc"):
        assert table.loc["oracle", metric] > best[metric].max(), metric
    assert table.loc["oracle", "brier_score"] < best["brier_score"].min()


def test_the_oracle_row_joins_the_training_run(trained_copy, churn_run_id):
    db, truth = trained_copy
    con = duckdb.connect(str(db))
    champion = con.execute("""select model_version, trained_at, validation_as_of, n_validation
        from ml.model_runs where run_id = ? and role = 'champion'""", [churn_run_id]).fetchone()
    for _ in range(2):  # evaluating again replaces the oracle row, never the candidates
        oracle = record_oracle_run(con, truth)
    rows = con.execute("""select model_version, trained_at, validation_as_of, n_validation,
                                 n_train, notes
                          from ml.model_runs where run_id = ? and candidate = 'oracle'""",
                       [churn_run_id]).fetchall()
    assert len(rows) == 1 and oracle.run.run_id == churn_run_id
    assert rows[0][:4] == champion and rows[0][4] is None
    assert "validation customers mapped to a person" in rows[0][5]
    assert con.execute("select count(*) from ml.model_runs where run_id = ?",
                       [churn_run_id]).fetchone()[0] == 5
    con.close()


def test_nothing_is_written_without_truth_or_training(trained_copy, tmp_path):
    db, _ = trained_copy
    con = duckdb.connect(str(db))
    before = con.execute("select count(*) from ml.model_runs").fetchone()[0]
    missing = record_oracle_run(con, tmp_path / "no_truth")
    assert missing.run is None and missing.reason.startswith("not run: no ground-truth file")
    assert con.execute("select count(*) from ml.model_runs").fetchone()[0] == before
    con.close()
    empty = duckdb.connect()
    _, truth = trained_copy
    assert "no churn training" in record_oracle_run(empty, truth).reason


def test_oracle_uses_true_alive_state_and_rate(tmp_path):
    truth = tmp_path / "_truth"
    truth.mkdir()
    (truth / "persons.csv").write_text(
        "person_id,purchase_rate_per_day,dropout_probability,dropout_date\n"
        "P1,0.02,0.1,2025-01-15\nP2,0.01,0.1,\nP3,0.05,0.1,2025-09-01\n")
    (truth / "person_records.csv").write_text(
        "source_system,source_table,source_id,person_id\n"
        "erp,members,1,P1\necommerce,customers,C1,P2\nerp,members,2,P2\nerp,members,3,P3\n")
    con = duckdb.connect()
    con.execute("create schema intermediate")
    con.execute("""create table intermediate.int_customer_identity_map as select * from (values
        ('erp', 'members', '1', 'a'), ('ecommerce', 'customers', 'C1', 'b'),
        ('erp', 'members', '2', 'b'), ('erp', 'members', '3', 'c'))
        t(source_system, source_table, source_id, customer_key)""")
    p = oracle_probabilities(con, truth, dt.date(2025, 6, 1), 90,
                             pd.Series(["a", "b", "c", "zz"]))
    assert p["a"] == 1.0  # dropped out before the as-of date
    assert p["b"] == pytest.approx(math.exp(-0.01 * 90))  # alive: Poisson silence
    assert p["c"] == pytest.approx(math.exp(-0.05 * 90))  # drops out later: alive at as-of
    assert math.isnan(p["zz"])
