"""Mart suites on typed tables: clean marts pass; a duplicate key or a bad rate is an error."""

import duckdb
from quality_fixtures import outcome, run_suites

MARTS = ("marts.dim_customer", "marts.fct_orders", "marts.customer_rfm", "marts.kpi_daily")


def _build_marts(path):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""
        create table marts.dim_customer as
        select 'K' || i as customer_key, now()::timestamp - interval 300 day as first_seen_at,
               now()::timestamp - interval 1 hour as last_seen_at, i % 2 = 0 as marketing_opt_in,
               'US' as home_country
        from range(1, 101) t(i)""")
    con.execute("""
        create table marts.fct_orders as
        select 'O' || i as order_key, case when i % 10 = 0 then null else 'K' || (i % 100 + 1)
               end as customer_key, case when i % 2 = 0 then 'erp' else 'ecommerce' end
               as order_source, case when i % 2 = 0 then 'store' else 'web' end as channel,
               now()::timestamp - interval (i) hour as ordered_at,
               (now()::timestamp - interval (i) hour)::date as order_date,
               'completed' as status, false as is_cancelled, 2::bigint as item_count,
               20.00::decimal(18,2) as gross_revenue, 0.00::decimal(18,2) as discount_amount,
               0.00::decimal(18,2) as returned_amount, 20.00::decimal(18,2) as net_revenue,
               9.00::decimal(18,2) as cost_amount, 11.00::decimal(18,2) as margin_amount
        from range(1, 301) t(i)""")
    con.execute("""
        create table marts.customer_rfm as
        select customer_key, current_date as as_of_date, 10 as recency_days, 3 as frequency,
               60.00::decimal(18,2) as monetary, 1 + (row_number() over () % 5)::int as r_score,
               3 as f_score, 4 as m_score, '534' as rfm_score, 'loyal' as segment
        from marts.dim_customer""")
    con.execute("""
        create table marts.kpi_daily as
        select d::date as period_start, d::date as period_end, 100.00::decimal(18,2) as revenue,
               5::bigint as orders, 20.00::decimal(18,2) as average_order_value,
               4::bigint as active_customers, 1::bigint as new_customers, 0.01 as churn_rate,
               0.05 as session_conversion_rate
        from range(current_date - 30, current_date, interval 1 day) t(d)""")
    con.close()


def test_clean_marts_pass_and_defects_fail_with_severity(warehouse, suites):
    _build_marts(warehouse)
    runs = run_suites(warehouse, [suites[m] for m in MARTS], "clean")
    failed = [(r.suite.name, o.spec.id, o.observed_value, o.details)
              for r in runs for o in r.outcomes if not o.success]
    assert not failed
    con = duckdb.connect(str(warehouse))
    con.execute("insert into marts.dim_customer select * from marts.dim_customer limit 1")
    con.execute("update marts.kpi_daily set churn_rate = 1.5 where period_start = current_date - 1")
    con.close()
    dim, kpi = run_suites(warehouse, [suites["marts.dim_customer"], suites["marts.kpi_daily"]],
                          "defects")
    dup = outcome(dim, "customer_key_unique")
    assert not dup.success and dup.spec.severity == "error" and dup.unexpected_count == 2
    rate = outcome(kpi, "churn_rate_is_a_rate")
    assert not rate.success and rate.unexpected_count == 1
    assert not dim.success and not kpi.success
