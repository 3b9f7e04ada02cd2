"""The CLV API on small hand-checkable inputs: summaries from every input kind, validation
errors, JSON round trips, analytic gradients, weights and the CLV formulas."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.optimize import approx_fprime

from evaluation.clv_simulation import sample_bgnbd_customers
from ml.clv.bgnbd import _BgNbdObjective
from ml.clv.gamma_gamma import _GammaGammaObjective
from ml.clv.model import (
    DAYS_PER_MONTH,
    BetaGeoParams,
    GammaGammaParams,
    bgnbd_expected_purchases,
    bgnbd_probability_alive,
    bgnbd_probability_no_purchases,
    bgnbd_unconditional_expected,
    calibration_holdout_summary,
    discounted_clv,
    expected_lifetime_years,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_result_from_dict,
    gamma_gamma_expected_spend,
    rfm_summary,
    rfm_summary_relation,
    score_customers,
    simple_rule_clv,
    spend_fit_exclusions,
)

CDNOW_LIKE = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = GammaGammaParams(p=6.25, q=3.74, v=15.44)

# A: three purchase days in January (two orders on Jan 1), one in February (holdout);
# B: one purchase in January; C: first purchase after the observation end (excluded).
TRANSACTIONS = pd.DataFrame({
    "customer_id": ["A", "A", "A", "A", "A", "B", "C"],
    "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-15",
                            "2024-02-10", "2024-01-20", "2024-02-05"]),
    "amount": [10.0, 5.0, 20.0, 30.0, 7.0, 50.0, 9.0],
})
EXPECTED_DAYS = {  # customer: (frequency, recency, T, monetary_value), time in days
    "A": (2, 14.0, 30.0, 25.0),
    "B": (0, 0.0, 11.0, 0.0),
}


def as_tuples(summary: pd.DataFrame, scale: float = 1.0) -> dict:
    return {row.customer_id: (int(row.frequency), row.recency * scale, row.T * scale,
                              row.monetary_value) for row in summary.itertuples()}


def test_summary_from_pandas_follows_the_conventions():
    summary = rfm_summary(TRANSACTIONS, "2024-01-31")
    print(f"\n{summary}")
    assert as_tuples(summary) == EXPECTED_DAYS
    weeks = as_tuples(rfm_summary(TRANSACTIONS, dt.date(2024, 1, 31), time_unit_days=7), 7)
    assert weeks.keys() == EXPECTED_DAYS.keys()
    for customer, values in EXPECTED_DAYS.items():
        np.testing.assert_allclose(weeks[customer], values, rtol=1e-12)


def test_summary_from_arrow_relation_and_sql_agree(tmp_path):
    expected = rfm_summary(TRANSACTIONS, "2024-01-31")
    from_arrow = rfm_summary(pa.Table.from_pandas(TRANSACTIONS), "2024-01-31")
    pd.testing.assert_frame_equal(from_arrow, expected)

    con = duckdb.connect(str(tmp_path / "tx.duckdb"))
    # a warehouse-like table: other column names, timestamps, DECIMAL money
    con.execute("CREATE TABLE orders (customer_key VARCHAR, ordered_at TIMESTAMP, "
                "net_revenue DECIMAL(18, 2))")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?)",
                    [(c, d.to_pydatetime() + dt.timedelta(hours=15), a)
                     for c, d, a in TRANSACTIONS.itertuples(index=False)])
    names = {"customer_col": "customer_key", "date_col": "ordered_at",
             "amount_col": "net_revenue", "connection": con}
    for source in ("orders", "SELECT * FROM orders", con.table("orders")):
        got = rfm_summary(source, "2024-01-31", **names)
        assert as_tuples(got) == EXPECTED_DAYS, f"source {source!r}"
    # the relation stays in DuckDB: it can be materialised without going through pandas
    relation = rfm_summary_relation("orders", "2024-01-31", **names)
    relation.create("clv_summary")
    assert con.execute("SELECT count(*), sum(frequency) FROM clv_summary").fetchone() == (2, 2)
    con.close()


def test_calibration_holdout_columns():
    summary = calibration_holdout_summary(TRANSACTIONS, "2024-01-31", "2024-02-29",
                                          time_unit_days=7)
    row_a = summary.set_index("customer_id").loc["A"]
    assert row_a["frequency_holdout"] == 1
    assert row_a["monetary_value_holdout"] == 7.0
    assert row_a["duration_holdout"] == pytest.approx(29 / 7)
    assert summary.set_index("customer_id").loc["B", "frequency_holdout"] == 0
    assert "C" not in set(summary["customer_id"])  # acquired during the holdout
    with pytest.raises(ValueError, match="holdout_end"):
        calibration_holdout_summary(TRANSACTIONS, "2024-01-31", "2024-01-01")


def test_summary_refuses_bad_input():
    with_null = TRANSACTIONS.copy()
    with_null.loc[1, "customer_id"] = None
    with_null.loc[2, "amount"] = None
    with pytest.raises(ValueError, match=r"customer_id \(1 rows\), amount \(1 rows\)"):
        rfm_summary(with_null, "2024-01-31")
    with pytest.raises(ValueError, match="no date column 'when'"):
        rfm_summary(TRANSACTIONS, "2024-01-31", date_col="when")
    with pytest.raises(ValueError, match="observation_end"):
        rfm_summary(TRANSACTIONS, "not a date")
    with pytest.raises(ValueError, match="need a DuckDB connection"):
        rfm_summary("SELECT 1", "2024-01-31")
    with pytest.raises(TypeError, match="list"):
        rfm_summary([1, 2, 3], "2024-01-31")


def test_params_and_fit_results_round_trip_through_json():
    fit = fit_bgnbd([0, 1, 2, 0, 5], [0, 3.0, 8.0, 0, 9.5], [10.0, 10.0, 12.0, 4.0, 10.0])
    stored = json.loads(json.dumps(fit.to_dict(), allow_nan=False))  # strict JSON
    assert BetaGeoParams.from_dict(stored["params"]) == fit.params
    restored = fit_result_from_dict(stored)
    assert restored.params == fit.params and restored.to_dict() == fit.to_dict()
    with pytest.raises(ValueError, match="unknown model"):
        fit_result_from_dict({**stored, "model": "pareto_nbd"})
    assert stored["n"] == 5 and stored["model"] == "bgnbd"
    assert GammaGammaParams.from_dict(json.loads(json.dumps(SPEND.to_dict()))) == SPEND
    with pytest.raises(ValueError, match="missing field"):
        BetaGeoParams.from_dict({"r": 1.0, "alpha": 2.0, "a": 1.0})
    with pytest.raises(ValueError, match="must be > 0"):
        GammaGammaParams.from_dict({"p": 1.0, "q": -2.0, "v": 3.0})


def test_fit_input_errors_name_the_field_and_row():
    with pytest.raises(ValueError, match=r"recency: 1 row\(s\) are larger than T; first at row 1"):
        fit_bgnbd([0, 2], [0, 11.0], [10.0, 10.0])
    with pytest.raises(ValueError, match="frequency: 1 row.*negative.*row 0"):
        fit_bgnbd([-1, 2], [0, 1.0], [10.0, 10.0])
    with pytest.raises(ValueError, match="recency.*non-zero where frequency is 0"):
        fit_bgnbd([0, 2], [3.0, 1.0], [10.0, 10.0])
    with pytest.raises(ValueError, match="T: 1 missing"):
        fit_bgnbd([0, 2], [0, 1.0], [np.nan, 10.0])
    with pytest.raises(ValueError, match="monetary_value.*<= 0 for a repeat buyer.*row 2"):
        fit_gamma_gamma([1, 2, 3, 0], [5.0, 6.0, 0.0, np.nan])


def test_invalid_spend_is_excluded_with_a_reason_when_asked():
    x = [0, 1, 2, 3, 1, 2, 4]
    zbar = [0.0, 12.0, -5.0, 20.0, np.nan, 15.0, 9.0]
    reasons = spend_fit_exclusions(x, zbar)
    assert list(reasons) == ["no repeat purchase", None, "repeat spend <= 0", None,
                             "repeat spend missing", None, None]
    fit = fit_gamma_gamma(x, zbar, on_invalid="exclude")
    assert fit.n == 4
    assert fit.diagnostics["excluded_invalid_spend"] == 2
    assert fit.diagnostics["customers_without_repeat_purchase"] == 1
    with pytest.raises(ValueError, match="on_invalid"):
        fit_gamma_gamma(x, zbar, on_invalid="drop")
    # zero spend is a legal input for the prediction (shrinks towards 0), negative is not
    assert gamma_gamma_expected_spend(SPEND, [2], [0.0])[0] > 0
    with pytest.raises(ValueError, match="negative for a repeat buyer"):
        gamma_gamma_expected_spend(SPEND, [2], [-1.0])


@pytest.mark.parametrize("seed", [0, 1])
def test_analytic_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, size=300).astype(float)
    t_cap = rng.uniform(1, 50, size=300)
    t_x = np.where(x > 0, rng.uniform(0, 1, size=300) * t_cap, 0.0)
    objective = _BgNbdObjective(x, t_x, t_cap, rng.uniform(0.5, 2, size=300))
    theta = rng.uniform(0.3, 3, size=4)
    numeric = approx_fprime(theta, lambda th: objective(th)[0], 1e-7)
    np.testing.assert_allclose(objective(theta)[1], numeric, rtol=1e-4, atol=1e-7)

    repeat = x > 0
    spend = _GammaGammaObjective(x[repeat], rng.gamma(3, 10, size=int(repeat.sum())))
    theta = rng.uniform(1, 5, size=3)
    numeric = approx_fprime(theta, lambda th: spend(th)[0], 1e-7)
    np.testing.assert_allclose(spend(theta)[1], numeric, rtol=1e-4, atol=1e-7)


def test_weights_equal_repeated_rows_and_compression_changes_nothing():
    rng = np.random.default_rng(7)
    sample = sample_bgnbd_customers(CDNOW_LIKE, rng.integers(10, 40, size=400).astype(float),
                                    resolution=1.0, seed=rng)
    x, t_x, t_cap = (sample[c].to_numpy() for c in ("frequency", "recency", "T"))
    counts = rng.integers(1, 4, size=x.size)
    weighted = fit_bgnbd(x, t_x, t_cap, weights=counts, compress=False)
    expanded = fit_bgnbd(np.repeat(x, counts), np.repeat(t_x, counts), np.repeat(t_cap, counts))
    for k, v in expanded.params.to_dict().items():
        assert weighted.params.to_dict()[k] == pytest.approx(v, rel=1e-4)
    assert weighted.log_likelihood == pytest.approx(expanded.log_likelihood, rel=1e-9)
    assert expanded.diagnostics["distinct_rows"] < counts.sum()


def test_prediction_properties():
    x, t_x, t_cap = np.array([0, 3, 3, 10]), np.array([0, 20.0, 35.0, 35.0]), np.full(4, 36.0)
    alive = bgnbd_probability_alive(CDNOW_LIKE, x, t_x, t_cap)
    assert alive[0] == 1.0 and alive[1] < alive[2]  # a recent last purchase means alive
    short = bgnbd_expected_purchases(CDNOW_LIKE, 10, x, t_x, t_cap)
    long = bgnbd_expected_purchases(CDNOW_LIKE, 52, x, t_x, t_cap)
    assert np.all(long > short) and np.all(short > 0)
    assert bgnbd_expected_purchases(CDNOW_LIKE, 0, x, t_x, t_cap) == pytest.approx(0, abs=1e-12)
    silent = bgnbd_probability_no_purchases(CDNOW_LIKE, 52, x, t_x, t_cap)
    assert np.all((silent > 1 - alive - 1e-12) & (silent < 1))
    with pytest.raises(ValueError, match="horizon"):
        bgnbd_expected_purchases(CDNOW_LIKE, -1, x, t_x, t_cap)
    # a customer acquired just now is the unconditional case
    horizons = np.array([1.0, 13.0, 78.0])
    np.testing.assert_allclose(bgnbd_expected_purchases(CDNOW_LIKE, horizons, 0, 0, 0),
                               bgnbd_unconditional_expected(CDNOW_LIKE, horizons), rtol=1e-12)


def test_predictions_stay_finite_for_heavy_buyers_and_at_a_equal_1():
    """Daily data: thousands of purchases. The textbook form gives 0 * inf = NaN there."""
    in_days = BetaGeoParams(CDNOW_LIKE.r, CDNOW_LIKE.alpha * 7, CDNOW_LIKE.a, CDNOW_LIKE.b)
    x, t_x, t_cap = np.array([300, 2000]), np.array([690.0, 700.0]), np.array([700.0, 700.0])
    for t in (30.0, 365.0, 3650.0):
        expected = bgnbd_expected_purchases(in_days, t, x, t_x, t_cap)
        assert np.all(np.isfinite(expected)) and np.all(expected > 0), (t, expected)
    # over a month, a near-certainly alive heavy buyer buys at about her posterior rate
    rate = (in_days.r + 2000) / (in_days.alpha + 700)
    month = bgnbd_expected_purchases(in_days, 30.0, 2000, 700.0, 700.0)[0]
    assert 0.95 * rate * 30 < month <= rate * 30
    # a = 1 is a removable singularity: the value there is the limit from both sides
    values = [bgnbd_expected_purchases(BetaGeoParams(0.243, 4.414, a, 2.426), 39, 2, 30.43,
                                       38.86)[0] for a in (1 - 1e-4, 1.0, 1 + 1e-4)]
    assert np.isfinite(values[1]) and values[0] > values[1] > values[2]
    assert values[1] == pytest.approx(0.5 * (values[0] + values[2]), rel=1e-6)


def test_discounted_clv_formula():
    x, t_x, t_cap = np.array([1, 4]), np.array([10.0, 30.0]), np.array([36.0, 36.0])
    spend = np.array([30.0, 50.0])
    undiscounted = discounted_clv(CDNOW_LIKE, x, t_x, t_cap, spend, margin_rate=0.4,
                                  monthly_discount_rate=0.0)
    year = bgnbd_expected_purchases(CDNOW_LIKE, 12 * DAYS_PER_MONTH / 7, x, t_x, t_cap)
    np.testing.assert_allclose(undiscounted, year * spend * 0.4, rtol=1e-10)
    discounted = discounted_clv(CDNOW_LIKE, x, t_x, t_cap, spend, margin_rate=0.4)
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.01 ** 12)
    per_customer = discounted_clv(CDNOW_LIKE, x, t_x, t_cap, spend, margin_rate=[0.2, 0.4])
    assert per_customer[0] == pytest.approx(discounted[0] / 2)
    in_days = BetaGeoParams(CDNOW_LIKE.r, CDNOW_LIKE.alpha * 7, CDNOW_LIKE.a, CDNOW_LIKE.b)
    days = discounted_clv(in_days, x, t_x * 7, t_cap * 7, spend, margin_rate=0.4,
                          time_unit_days=1)
    np.testing.assert_allclose(days, discounted, rtol=1e-9)  # same model in days
    with pytest.raises(ValueError, match="margin_rate"):
        discounted_clv(CDNOW_LIKE, x, t_x, t_cap, spend, margin_rate=40)


def test_simple_rule_baseline():
    assert expected_lifetime_years(0.75) == pytest.approx(4.0)
    assert simple_rule_clv(1200.0, 3.0, 0.25, acquisition_cost=100.0) == pytest.approx(800.0)
    np.testing.assert_allclose(
        simple_rule_clv([1000.0, 0.0], expected_lifetime_years([0.5, 0.9]), 0.3, [50.0, 50.0]),
        [550.0, -50.0])
    with pytest.raises(ValueError, match="retention"):
        expected_lifetime_years(1.0)


def test_score_customers_table():
    summary = rfm_summary(TRANSACTIONS, "2024-01-31", time_unit_days=7)
    scores = score_customers(summary, CDNOW_LIKE, SPEND, margin_rate=0.3)
    assert list(scores["customer_id"]) == ["A", "B"]
    for column in ("probability_alive", "probability_no_purchase"):
        assert scores[column].between(0, 1).all()
    assert (scores["clv"] > 0).all() and (scores["expected_spend"] > 0).all()
    # B has no repeat purchase: her spend is the population mean p*v/(q-1)
    assert scores.loc[1, "expected_spend"] == pytest.approx(SPEND.population_mean_spend)
    with pytest.raises(ValueError, match="monetary_value"):
        score_customers(summary.drop(columns="monetary_value"), CDNOW_LIKE, SPEND,
                        margin_rate=0.3)


def test_module_docstring_example_runs_on_a_warehouse_table(tmp_path):
    """The example in ml/clv/model.py, run as written against a fct_orders-shaped DuckDB table."""
    rng = np.random.default_rng(3)
    customers = np.repeat(np.arange(400), rng.poisson(3, size=400) + 1)
    first = rng.integers(0, 300, size=400)
    day = first[customers] + (rng.exponential(60, size=customers.size)
                              * (np.arange(customers.size) > np.searchsorted(
                                  customers, customers))).astype(int)
    orders = pd.DataFrame({
        "customer_key": [f"c{c}" for c in customers],
        "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D"),
        # spend level varies by customer (the Gamma-Gamma story): scale 10 / nu, nu ~ Gamma(4, 4)
        "net_revenue": np.round(rng.gamma(4, 10 / rng.gamma(4, 1 / 4, size=400)[customers]), 2),
        "is_cancelled": rng.random(customers.size) < 0.05,
    })
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.fct_orders AS SELECT * FROM orders")
    as_of = dt.date(2025, 3, 31)

    summary = rfm_summary("SELECT customer_key, order_date, net_revenue FROM marts.fct_orders"
                          " WHERE customer_key IS NOT NULL AND NOT is_cancelled", as_of,
                          customer_col="customer_key", date_col="order_date",
                          amount_col="net_revenue", time_unit_days=7, connection=con)
    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gg = fit_gamma_gamma(summary["frequency"], summary["monetary_value"], on_invalid="exclude")
    scores = score_customers(summary, bg.params, gg.params, margin_rate=0.35)
    artifact = {"bgnbd": bg.to_dict(), "gamma_gamma": gg.to_dict()}
    params = BetaGeoParams.from_dict(json.loads(json.dumps(artifact))["bgnbd"]["params"])
    con.close()

    assert params == bg.params and bg.converged and gg.converged
    assert len(scores) == orders.loc[~orders.is_cancelled, "customer_key"].nunique()
    assert scores["clv"].notna().all() and (scores["clv"] >= 0).all()


def test_homogeneous_spend_fit_is_flagged():
    """Every customer with the same spend level: (q, v) run off to infinity along q/v."""
    rng = np.random.default_rng(11)
    x = rng.integers(1, 8, size=3_000)
    zbar = rng.gamma(4.0 * x, 10.0 / x)  # mean of x Gamma(4, scale 10) spends, nu fixed
    fit = fit_gamma_gamma(x, zbar)
    print(f"\nhomogeneous spend: {fit.params.to_dict()}, {fit.diagnostics}")
    assert fit.diagnostics["spend_heterogeneity_log_likelihood_gain"] < 0.5
    assert fit.diagnostics["homogeneous_mean_spend"] == pytest.approx(40.0, rel=0.03)
    spend = gamma_gamma_expected_spend(fit.params, x, zbar)
    assert np.all(np.isfinite(spend)) and np.ptp(spend) < 1.0  # everyone close to 40
    heterogeneous = fit_gamma_gamma(x, zbar * rng.gamma(4, 1 / 4, size=x.size))
    assert heterogeneous.diagnostics["spend_heterogeneity_log_likelihood_gain"] > 10
    assert "homogeneous_mean_spend" not in heterogeneous.diagnostics


def test_quadrature_fallback_agrees_with_the_closed_form():
    """The last-resort integral over p equals the 2F1 closed form where both work."""
    from ml.clv.bgnbd import _expected_if_alive, _expected_if_alive_by_quadrature

    cases = [  # r, alpha, a, b, x, T, t
        (0.243, 4.414, 0.793, 2.426, 2, 38.86, 39.0),
        (0.243, 30.9, 0.793, 2.426, 300, 700.0, 3650.0),
        (0.8, 12.0, 5.0, 3.0, 10, 30.0, 500.0),
        (2.0, 10.0, 430.0, 1018.0, 3, 40.0, 52.0),
    ]
    for r, alpha, a, b, x, t_cap, t in cases:
        closed = _expected_if_alive(r, alpha, a, b, x, t_cap, t)
        integral = _expected_if_alive_by_quadrature(r, alpha, a, b, np.array([float(x)]),
                                                    np.array([t_cap]), np.array([t]))[0]
        assert integral == pytest.approx(float(closed), rel=1e-3), (r, alpha, a, b, x)
