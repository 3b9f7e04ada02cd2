"""Features at an as-of date: no leakage, the documented label, clear errors."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from ml.shared.features import (
    FEATURE_COLUMNS,
    build_features,
    check_inputs,
    churn_labels,
    rfm_inputs_sql,
)
from ml.shared.settings import ChurnWindows

AS_OF = dt.date(2025, 6, 1)


def _add_future_facts(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    """Everything that can happen on or after the as-of date, for every customer."""
    d = f"DATE '{as_of.isoformat()}'"
    con.execute(f"""
        insert into marts.fct_orders by name
        select order_key || '-future' as order_key, customer_key, order_source, channel,
               {d} + interval 3 hour as ordered_at, {d} as order_date, status,
               false as is_cancelled, item_count, gross_revenue * 50 as gross_revenue,
               discount_amount, returned_amount, net_revenue * 50 as net_revenue,
               cost_amount, margin_amount
        from marts.fct_orders
    """)
    # returns booked later on old orders are invisible to features (settle window)
    con.execute(f"""update marts.fct_orders set returned_amount = gross_revenue
                    where ordered_at >= {d} - interval 20 day""")
    con.execute(f"""
        insert into marts.fct_sessions by name
        select session_id || '-f' as session_id, customer_key, {d} + interval 1 day as started_at,
               device, channel, event_count, true as has_purchase from marts.fct_sessions
    """)
    # unresolved tickets get resolved after the as-of date, and new complaints arrive
    con.execute(f"update marts.fct_tickets set resolved_at = {d} + interval 5 day "
                "where resolved_at is null")
    con.execute(f"""
        insert into marts.fct_tickets by name
        select ticket_id || '-f' as ticket_id, customer_key, channel, category, priority,
               'open' as status, {d} + interval 2 day as created_at, first_response_at,
               null as resolved_at, first_response_minutes, null as resolution_hours,
               false as is_resolved, order_ref from marts.fct_tickets
    """)
    con.execute(f"""
        insert into marts.fct_survey_responses by name
        select response_id || '-f' as response_id, customer_key, ticket_id, survey_type,
               0 as score, {d} as responded_at from marts.fct_survey_responses
    """)


def test_no_leakage_features_ignore_everything_from_the_as_of_date_on(synthetic_copy):
    db, _ = synthetic_copy
    con = duckdb.connect(str(db))
    before = build_features(con, AS_OF)
    rfm_before = con.execute(rfm_inputs_sql(AS_OF)).df()
    later = AS_OF + dt.timedelta(days=30)
    later_before = build_features(con, later)
    _add_future_facts(con, AS_OF)
    after = build_features(con, AS_OF)
    rfm_after = con.execute(rfm_inputs_sql(AS_OF)).df()
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(rfm_before, rfm_after)
    # the same future facts do change features at a later date: the test can fail
    later_after = build_features(con, later)
    assert not later_before[list(FEATURE_COLUMNS)].equals(later_after[list(FEATURE_COLUMNS)])
    assert (later_after.spend_90d.sum() > later_before.spend_90d.sum())
    con.close()


def _tiny_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema marts")
    con.execute("""create table marts.fct_orders as select * from (values
        ('o1', 'alice', 'erp', 'store', TIMESTAMP '2025-01-10 10:00', false, 100.0, 0, 0, 100.0),
        ('o2', 'alice', 'erp', 'web',   TIMESTAMP '2025-05-20 10:00', false, 50.0, 5.0, 0.0, 45.0),
        ('o3', 'alice', 'erp', 'web',   TIMESTAMP '2025-07-01 10:00', false, 80.0, 0.0, 0.0, 80.0),
        ('o4', 'bob',   'erp', 'store', TIMESTAMP '2025-02-01 10:00', false, 30.0, 0.0, 0.0, 30.0),
        ('o5', 'bob',   'erp', 'store', TIMESTAMP '2025-06-15 10:00', true,  30.0, 0.0, 0.0, 30.0),
        ('o6', 'carol', 'erp', 'store', TIMESTAMP '2023-01-01 10:00', false, 10.0, 0.0, 0.0, 10.0),
        ('o7', 'dave',  'erp', 'web',   TIMESTAMP '2025-06-01 00:00', false, 10.0, 0.0, 0.0, 10.0)
        ) t(order_key, customer_key, order_source, channel, ordered_at, is_cancelled,
            gross_revenue, discount_amount, returned_amount, net_revenue)""")
    con.execute("""create table marts.fct_sessions (customer_key varchar, started_at timestamp,
                   has_purchase boolean)""")
    con.execute("""create table marts.fct_tickets as select * from (values
        ('alice', 'refund', TIMESTAMP '2025-05-25 09:00', TIMESTAMP '2025-06-10 09:00', 384.0),
        ('bob', 'account', TIMESTAMP '2025-03-01 09:00', null, null)
        ) t(customer_key, category, created_at, resolved_at, resolution_hours)""")
    con.execute("""create table marts.fct_survey_responses (customer_key varchar,
                   survey_type varchar, score integer, responded_at timestamp)""")
    con.execute("""create table marts.fct_reviews (customer_key varchar, rating integer,
                   created_at timestamp)""")


def test_label_and_features_on_a_constructed_case():
    con = duckdb.connect()
    _tiny_marts(con)
    windows = ChurnWindows(horizon_days=90, active_lookback_days=365)
    labels = churn_labels(con, AS_OF, windows).set_index("customer_key").churned.to_dict()
    # alice buys on 2025-07-01 (inside 90 days): not churned; bob's only later order is
    # cancelled: churned; carol was inactive for 12 months: not eligible; dave's first order
    # is exactly at the as-of instant: not eligible (it is in the label window, not history).
    assert labels == {"alice": 0, "bob": 1}
    f = build_features(con, AS_OF, windows).set_index("customer_key")
    assert sorted(f.index) == ["alice", "bob"]
    assert f.loc["alice", "recency_days"] == 12
    assert f.loc["alice", "frequency_total"] == 2
    assert f.loc["alice", "spend_12m"] == pytest.approx(145.0)
    assert f.loc["alice", "unresolved_complaints"] == 1  # resolved only after the as-of date
    assert f.loc["bob", "unresolved_complaints"] == 0  # an account question is no complaint
    assert f.loc["alice", "web_order_share_12m"] == pytest.approx(0.5)
    assert f.loc["alice", "preferred_channel"] == "mixed"
    assert f.loc["bob", "preferred_channel"] == "store"
    everyone = build_features(con, AS_OF, windows, eligible_only=False)
    assert sorted(everyone.customer_key) == ["alice", "bob", "carol"]


def test_missing_mart_column_is_named():
    con = duckdb.connect()
    _tiny_marts(con)
    con.execute("alter table marts.fct_tickets drop column resolved_at")
    with pytest.raises(LookupError, match=r"resolved_at.*marts\.fct_tickets"):
        check_inputs(con)
    con = duckdb.connect()  # a fresh, complete set, this time without reviews
    _tiny_marts(con)
    con.execute("drop table marts.fct_reviews")
    with pytest.raises(LookupError, match="marts.fct_reviews"):
        check_inputs(con)
