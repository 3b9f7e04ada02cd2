"""Early-warning rules fire on a constructed case, and not otherwise."""

from __future__ import annotations

import datetime as dt

import duckdb

from ml.churn import early_warning
from ml.shared.settings import MlSettings

AS_OF = dt.date(2025, 6, 1)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    orders = []
    # steady: 100 every 30 days for a year, including the last two months -> nothing fires
    orders += [("steady", AS_OF - dt.timedelta(days=10 + 30 * i), 100.0) for i in range(12)]
    # dropping: 100 every 30 days until 90 days ago, then one purchase of 20 -> spend rule
    orders += [("dropping", AS_OF - dt.timedelta(days=90 + 30 * i), 100.0) for i in range(10)]
    orders += [("dropping", AS_OF - dt.timedelta(days=20), 20.0)]
    # silent_complainer: last purchase 120 days ago, complaint still open -> complaint rule
    orders += [("silent_complainer", AS_OF - dt.timedelta(days=120), 50.0)]
    # silent_resolved: same, but the complaint was resolved before the as-of date -> no rule 1
    orders += [("silent_resolved", AS_OF - dt.timedelta(days=120), 50.0)]
    # recent_complainer: bought 10 days ago, complaint open -> no complaint rule (recent buyer)
    orders += [("recent_complainer", AS_OF - dt.timedelta(days=10), 50.0)]
    con.execute("""create table marts.fct_orders (customer_key varchar, ordered_at timestamp,
        is_cancelled boolean, channel varchar, gross_revenue double, discount_amount double,
        returned_amount double, net_revenue double)""")
    con.executemany("insert into marts.fct_orders values (?, ?, false, 'store', ?, 0, 0, ?)",
                    [(c, d, v, v) for c, d, v in orders])
    con.execute("""create table marts.fct_tickets (customer_key varchar, category varchar,
        created_at timestamp, resolved_at timestamp, resolution_hours double)""")
    con.executemany("insert into marts.fct_tickets values (?, 'delivery', ?, ?, null)", [
        ("silent_complainer", AS_OF - dt.timedelta(days=115), None),
        ("silent_resolved", AS_OF - dt.timedelta(days=115), AS_OF - dt.timedelta(days=100)),
        ("recent_complainer", AS_OF - dt.timedelta(days=5), None),
        # resolved only after the as-of date: still unresolved at the as-of date
        ("steady", AS_OF - dt.timedelta(days=3), AS_OF + dt.timedelta(days=2)),
    ])
    con.execute("""create table marts.fct_sessions (customer_key varchar, started_at timestamp,
        has_purchase boolean)""")
    con.execute("""create table marts.fct_survey_responses (customer_key varchar,
        survey_type varchar, score integer, responded_at timestamp)""")
    con.execute("""create table marts.fct_reviews (customer_key varchar, rating integer,
        created_at timestamp)""")
    con.execute("""create table marts.customer_rfm as select * from (values
        ('silent_complainer', 'At Risk'), ('dropping', 'Champions')) t(customer_key, segment)""")
    return con


def test_rules_fire_exactly_on_the_constructed_cases():
    con = _warehouse()
    alerts = early_warning.build_alerts(con, settings=MlSettings(as_of=AS_OF))
    fired = set(zip(alerts.customer_key, alerts.rule_id, strict=True))
    assert fired == {
        ("silent_complainer", "no_purchase_90d_with_unresolved_complaint"),
        ("silent_complainer", "spend_last_60d_below_half_own_average"),
        ("silent_resolved", "spend_last_60d_below_half_own_average"),
        ("dropping", "spend_last_60d_below_half_own_average"),
    }
    by = alerts.set_index(["customer_key", "rule_id"])
    complaint = by.loc[("silent_complainer", "no_purchase_90d_with_unresolved_complaint")]
    assert complaint.segment == "At Risk"
    assert complaint.suggested_action.startswith("Resolve the open complaint first")
    assert "win-back voucher of 15%" in complaint.suggested_action
    assert "120 days" in complaint.evidence
    dropping = by.loc[("dropping", "spend_last_60d_below_half_own_average")]
    assert dropping.segment == "Champions" and "thank-you" in dropping.suggested_action
    assert by.loc[("silent_resolved", "spend_last_60d_below_half_own_average")].segment \
        == "unknown"
    assert alerts.churn_probability.isna().all()  # no churn scores yet: column still there


def test_alerts_pick_up_churn_scores_and_table_is_replaced():
    con = _warehouse()
    con.execute("create schema ml")
    con.execute("create table ml.churn_scores as select 'dropping' as customer_key, "
                "0.81 as churn_probability, 'high' as risk_band")
    for _ in range(2):
        rows = early_warning.write_alerts(
            con, early_warning.build_alerts(con, settings=MlSettings(as_of=AS_OF)))
    assert rows == 4 == con.execute("select count(*) from ml.churn_alerts").fetchone()[0]
    assert con.execute("select churn_probability from ml.churn_alerts "
                       "where customer_key = 'dropping'").fetchone()[0] == 0.81
