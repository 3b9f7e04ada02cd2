"""Opted-out customers are suppressed (not deleted) and never contacted; the cap holds."""

import datetime as dt

import duckdb
import pytest
import serving_warehouse

from warehouse.pii.consent import build_contact_lists


@pytest.fixture
def con(synthetic_warehouse):
    con = duckdb.connect(str(synthetic_warehouse))
    # Alerts for every customer, so only consent and the cap decide who is contacted.
    con.execute("""create table ml.churn_alerts as
        select customer_key, 'R1' as rule_id, churn_probability from ml.churn_scores""")
    yield con
    con.close()


def test_opted_out_suppressed_never_contacted(con):
    population = serving_warehouse.people()
    opted_out = {p.customer_key for p in population if not p.opted_in}
    assert opted_out  # the population has some
    result = build_contact_lists(con, list_date=dt.date(2026, 7, 1), cap=2)
    contacted = {r[0] for r in con.execute(
        "select customer_key from outreach.winback_contact_list").fetchall()}
    suppressed = dict(con.execute(
        "select customer_key, reason from outreach.contact_suppression_list").fetchall())
    assert opted_out <= set(suppressed) and not (opted_out & contacted)
    assert {k for k, r in suppressed.items() if r == "opted_out"} == opted_out
    assert contacted == {p.customer_key for p in population} - opted_out
    assert result.contacts == len(contacted) and result.source == "ml.churn_alerts"
    # Suppressed, not deleted: they are still customers in the warehouse.
    assert con.execute("select count(*) from marts.dim_customer where not marketing_opt_in"
                       ).fetchone()[0] == len(opted_out)
    masked = con.execute("select email_masked from outreach.winback_contact_list").fetchall()
    assert all("***@" in m[0] for m in masked)


def test_frequency_cap_and_idempotent_reruns(con):
    day = dt.date(2026, 7, 1)
    first = build_contact_lists(con, list_date=day, cap=2)
    again = build_contact_lists(con, list_date=day, cap=2)  # same day: replaces, not adds
    assert again.contacts == first.contacts and again.capped == 0
    assert build_contact_lists(con, list_date=day + dt.timedelta(days=7), cap=2).capped == 0
    third = build_contact_lists(con, list_date=day + dt.timedelta(days=14), cap=2)
    assert third.contacts == 0 and third.capped == first.contacts  # 2 in 30 days: capped
    per_customer = con.execute("select max(n) from (select customer_key, count(*) n from "
                               "outreach.contact_history where list_date > date '2026-07-15' - "
                               "interval 30 day group by 1)").fetchone()[0]
    assert per_customer <= 2
    # Once the window has passed they may be contacted again.
    later = build_contact_lists(con, list_date=day + dt.timedelta(days=45), cap=2)
    assert later.contacts == first.contacts


def test_missing_dim_customer_is_named(pii_env):
    con = duckdb.connect(str(pii_env / "w.duckdb"))
    with pytest.raises(LookupError, match="marts.dim_customer"):
        build_contact_lists(con)
    con.close()


def test_rerun_after_midnight_on_the_same_data_does_not_double_the_history(con):
    """A run that crashed after building the lists is re-run the next day on the same data:
    the list is the one for that as-of date, replaced, not issued twice."""
    con.execute("""create or replace table ml.churn_alerts as
        select customer_key, 'R1' as rule_id, churn_probability,
               date '2026-06-30' as as_of_date from ml.churn_scores""")
    day = dt.date(2026, 7, 1)
    first = build_contact_lists(con, list_date=day, cap=2)
    again = build_contact_lists(con, list_date=day + dt.timedelta(days=1), cap=2)
    assert again.contacts == first.contacts > 0 and again.capped == 0
    history = "select count(*), count(distinct customer_key) from outreach.contact_history"
    assert con.execute(history).fetchone() == (first.contacts, first.contacts)
    assert con.execute("select distinct as_of_date from outreach.contact_history"
                       ).fetchall() == [(dt.date(2026, 6, 30),)]
    # New data (a later as-of date) is a new list, counted by the cap.
    con.execute("update ml.churn_alerts set as_of_date = date '2026-07-07'")
    later = build_contact_lists(con, list_date=day + dt.timedelta(days=7), cap=2)
    assert later.contacts == first.contacts
    assert con.execute(history).fetchone() == (2 * first.contacts, first.contacts)
