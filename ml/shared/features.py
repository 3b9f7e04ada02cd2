"""Per-customer features at an as-of date, computed in DuckDB from the marts, with no leakage.

Why SQL and not pandas: at a million customers the order, session and ticket facts do not fit
comfortably in memory, so every aggregation runs inside DuckDB and only the finished
per-customer table (one row per customer, a few dozen numbers) is pulled into Python.

The as-of rule, which the leakage test checks: a feature at as-of date ``D`` may only use facts
stamped strictly before ``D`` 00:00 UTC. Tickets count as unresolved at ``D`` when they were
opened before ``D`` and not resolved before ``D``, whatever happened later. Returns are the one
fact the marts carry without their own date (``fct_orders.returned_amount``); to keep later
refunds out of a feature, returns are only counted on orders placed at least
``RETURN_SETTLE_DAYS`` before ``D`` (a documented approximation; a dated returns fact would
remove it).

The churn label (see :func:`churn_labels`): among customers with at least one order in the
``active_lookback_days`` before ``D`` (the eligible set), ``churned = 1`` when the customer
places no (non-cancelled) order in ``[D, D + horizon_days)``.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from ml.shared.settings import ChurnWindows

RETURN_SETTLE_DAYS = 30
DEFAULT_WINDOWS = ChurnWindows()
# Ticket categories the business treats as complaints (service-desk contract values).
COMPLAINT_CATEGORIES = ("delivery", "refund", "product_quality", "billing")

# The numeric model features, in a fixed order (models and reason codes rely on it).
FEATURE_COLUMNS: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "frequency_total",
    "frequency_12m",
    "orders_90d",
    "orders_prev_90d",
    "order_trend_90d",
    "avg_days_between_orders",
    "monetary_avg_order",
    "spend_12m",
    "spend_90d",
    "spend_prev_90d",
    "spend_trend_log_ratio",
    "spend_60d_vs_own_avg",
    "return_rate_12m",
    "discount_rate_12m",
    "sessions_90d",
    "sessions_12m",
    "session_conversion_12m",
    "days_since_last_session",
    "tickets_12m",
    "complaints_12m",
    "unresolved_complaints",
    "csat_avg_12m",
    "nps_last",
    "review_rating_avg_12m",
    "web_order_share_12m",
)

# Human wording for reason codes: feature -> phrase shown next to the customer's value.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "days since last purchase",
    "tenure_days": "days since first purchase",
    "frequency_total": "orders ever",
    "frequency_12m": "orders in last 12 months",
    "orders_90d": "orders in last 90 days",
    "orders_prev_90d": "orders in the 90 days before that",
    "order_trend_90d": "change in orders, last 90 days vs previous 90",
    "avg_days_between_orders": "average days between orders",
    "monetary_avg_order": "average order value",
    "spend_12m": "spend in last 12 months",
    "spend_90d": "spend in last 90 days",
    "spend_prev_90d": "spend in the 90 days before that",
    "spend_trend_log_ratio": "spend trend (log ratio, last 90 vs previous 90 days)",
    "spend_60d_vs_own_avg": "spend in last 60 days relative to own average",
    "return_rate_12m": "share of spend returned",
    "discount_rate_12m": "share of spend discounted",
    "sessions_90d": "web sessions in last 90 days",
    "sessions_12m": "web sessions in last 12 months",
    "session_conversion_12m": "share of sessions with a purchase",
    "days_since_last_session": "days since last web session",
    "tickets_12m": "support tickets in last 12 months",
    "complaints_12m": "complaints in last 12 months",
    "unresolved_complaints": "unresolved complaints",
    "csat_avg_12m": "average CSAT score",
    "nps_last": "latest NPS score",
    "review_rating_avg_12m": "average review rating",
    "web_order_share_12m": "share of orders placed online",
    "bg_frequency": "repeat purchase days",
    "bg_recency": "days from first to last purchase",
    "bg_T": "days since first purchase",
}


def as_date(value: dt.date | dt.datetime | str) -> dt.date:
    """Normalize an as-of value; a string must be ISO ``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"as-of date {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def date_literal(day: dt.date) -> str:
    """A DATE literal built from a validated date (never from free text)."""
    return f"DATE '{as_date(day).isoformat()}'"


REQUIRED_MARTS: dict[str, tuple[str, ...]] = {
    "marts.fct_orders": ("customer_key", "ordered_at", "is_cancelled", "channel", "gross_revenue",
                         "discount_amount", "returned_amount", "net_revenue"),
    "marts.fct_sessions": ("customer_key", "started_at", "has_purchase"),
    "marts.fct_tickets": ("customer_key", "category", "created_at", "resolved_at",
                          "resolution_hours"),
    "marts.fct_survey_responses": ("customer_key", "survey_type", "score", "responded_at"),
    "marts.fct_reviews": ("customer_key", "rating", "created_at"),
}


def check_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """Fail early, naming the table and column, when a mart the features need is missing."""
    for table, columns in REQUIRED_MARTS.items():
        schema, name = table.split(".")
        found = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        }
        if not found:
            raise LookupError(f"features need table {table}, which does not exist (run dbt first)")
        missing = [c for c in columns if c not in found]
        if missing:
            raise LookupError(f"features need columns {missing} in {table}; it has {sorted(found)}")


def feature_sql(as_of: dt.date, windows: ChurnWindows = DEFAULT_WINDOWS,
                eligible_only: bool = True) -> str:
    """SQL returning one row per customer with every feature at ``as_of``.

    ``eligible_only`` keeps customers with an order in the activity lookback (the churn and
    early-warning population); otherwise every customer with an order before ``as_of``.
    """
    d = date_literal(as_of)
    lookback = windows.active_lookback_days
    complaints = ", ".join(f"'{c}'" for c in COMPLAINT_CATEGORIES)
    having = "where o.frequency_12m >= 1" if eligible_only else ""
    return f"""
with
orders as (
    select customer_key, cast(ordered_at as timestamp) as ts,
           lower(coalesce(channel, '')) as channel,
           coalesce(gross_revenue, 0) as gross, coalesce(discount_amount, 0) as discount,
           coalesce(returned_amount, 0) as returned, coalesce(net_revenue, 0) as net
    from marts.fct_orders
    where customer_key is not null and not coalesce(is_cancelled, false)
      and cast(ordered_at as timestamp) < {d}
),
o as (
    select customer_key,
        date_diff('day', max(ts)::date, {d}) as recency_days,
        date_diff('day', min(ts)::date, {d}) as tenure_days,
        count(*) as frequency_total,
        count(*) filter (where ts >= {d} - interval {lookback} day) as frequency_12m,
        count(*) filter (where ts >= {d} - interval 90 day) as orders_90d,
        count(*) filter (where ts >= {d} - interval 180 day and ts < {d} - interval 90 day)
            as orders_prev_90d,
        case when count(*) > 1
             then date_diff('day', min(ts)::date, max(ts)::date) / (count(*) - 1) end
            as avg_days_between_orders,
        avg(net) as monetary_avg_order,
        coalesce(sum(net) filter (where ts >= {d} - interval {lookback} day), 0) as spend_12m,
        coalesce(sum(net) filter (where ts >= {d} - interval 90 day), 0) as spend_90d,
        coalesce(sum(net) filter (where ts >= {d} - interval 180 day
                                    and ts < {d} - interval 90 day), 0) as spend_prev_90d,
        coalesce(sum(net) filter (where ts >= {d} - interval 60 day), 0) as spend_60d,
        coalesce(sum(net) filter (where ts < {d} - interval 60 day), 0) as spend_before_60d,
        date_diff('day', min(ts)::date, {d} - interval 60 day) as days_before_60d,
        sum(returned) filter (where ts >= {d} - interval {lookback} day
                                and ts < {d} - interval {RETURN_SETTLE_DAYS} day)
          / nullif(sum(gross) filter (where ts >= {d} - interval {lookback} day
                                        and ts < {d} - interval {RETURN_SETTLE_DAYS} day), 0)
            as return_rate_12m,
        sum(discount) filter (where ts >= {d} - interval {lookback} day)
          / nullif(sum(gross) filter (where ts >= {d} - interval {lookback} day), 0)
            as discount_rate_12m,
        avg(case when channel = 'web' then 1.0 else 0.0 end)
            filter (where ts >= {d} - interval {lookback} day) as web_order_share_12m
    from orders group by customer_key
),
s as (
    select customer_key,
        count(*) filter (where started_at >= {d} - interval 90 day) as sessions_90d,
        count(*) filter (where started_at >= {d} - interval {lookback} day) as sessions_12m,
        avg(case when has_purchase then 1.0 else 0.0 end)
            filter (where started_at >= {d} - interval {lookback} day) as session_conversion_12m,
        date_diff('day', max(started_at)::date, {d}) as days_since_last_session
    from (select customer_key, cast(started_at as timestamp) as started_at, has_purchase
          from marts.fct_sessions where customer_key is not null) x
    where started_at < {d}
    group by customer_key
),
t as (
    select customer_key,
        count(*) filter (where created_at >= {d} - interval {lookback} day) as tickets_12m,
        count(*) filter (where created_at >= {d} - interval {lookback} day
                           and lower(category) in ({complaints})) as complaints_12m,
        count(*) filter (where lower(category) in ({complaints})
                           and (resolved_at is null or resolved_at >= {d})) as unresolved_complaints
    from (select customer_key, category, cast(created_at as timestamp) as created_at,
                 cast(resolved_at as timestamp) as resolved_at
          from marts.fct_tickets where customer_key is not null) x
    where created_at < {d}
    group by customer_key
),
sv as (
    select customer_key,
        avg(score) filter (where upper(survey_type) = 'CSAT'
                             and responded_at >= {d} - interval {lookback} day) as csat_avg_12m,
        arg_max(score, responded_at) filter (where upper(survey_type) = 'NPS') as nps_last
    from (select customer_key, survey_type, score, cast(responded_at as timestamp) as responded_at
          from marts.fct_survey_responses where customer_key is not null) x
    where responded_at < {d}
    group by customer_key
),
r as (
    select customer_key, avg(rating) as review_rating_avg_12m
    from (select customer_key, rating, cast(created_at as timestamp) as created_at
          from marts.fct_reviews where customer_key is not null) x
    where created_at < {d} and created_at >= {d} - interval {lookback} day
    group by customer_key
)
select
    o.customer_key,
    {d} as as_of_date,
    o.recency_days, o.tenure_days, o.frequency_total, o.frequency_12m,
    o.orders_90d, o.orders_prev_90d, o.orders_90d - o.orders_prev_90d as order_trend_90d,
    o.avg_days_between_orders, o.monetary_avg_order,
    o.spend_12m, o.spend_90d, o.spend_prev_90d,
    ln((greatest(o.spend_90d, 0) + 1) / (greatest(o.spend_prev_90d, 0) + 1))
        as spend_trend_log_ratio,
    o.spend_60d,
    case when o.days_before_60d >= 60
         then o.spend_before_60d / (o.days_before_60d / 60.0) end as own_avg_spend_60d,
    case when o.days_before_60d >= 60 and o.spend_before_60d > 0
         then o.spend_60d / (o.spend_before_60d / (o.days_before_60d / 60.0)) end
        as spend_60d_vs_own_avg,
    o.return_rate_12m, o.discount_rate_12m,
    coalesce(s.sessions_90d, 0) as sessions_90d, coalesce(s.sessions_12m, 0) as sessions_12m,
    s.session_conversion_12m, s.days_since_last_session,
    coalesce(t.tickets_12m, 0) as tickets_12m, coalesce(t.complaints_12m, 0) as complaints_12m,
    coalesce(t.unresolved_complaints, 0) as unresolved_complaints,
    sv.csat_avg_12m, sv.nps_last, r.review_rating_avg_12m,
    o.web_order_share_12m,
    case when o.web_order_share_12m >= 0.7 then 'web'
         when o.web_order_share_12m <= 0.3 then 'store'
         when o.web_order_share_12m is null then null
         else 'mixed' end as preferred_channel
from o
left join s using (customer_key)
left join t using (customer_key)
left join sv using (customer_key)
left join r using (customer_key)
{having}
order by o.customer_key
"""


def build_features(con: duckdb.DuckDBPyConnection, as_of: dt.date | str,
                   windows: ChurnWindows = DEFAULT_WINDOWS,
                   eligible_only: bool = True) -> pd.DataFrame:
    """The per-customer feature table at ``as_of`` (the only thing pulled into pandas)."""
    check_inputs(con)
    frame = con.execute(feature_sql(as_of_date(as_of), windows, eligible_only)).df()
    for column in FEATURE_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def as_of_date(value: dt.date | dt.datetime | str) -> dt.date:
    return as_date(value)


def churn_labels(con: duckdb.DuckDBPyConnection, as_of: dt.date | str,
                 windows: ChurnWindows = DEFAULT_WINDOWS) -> pd.DataFrame:
    """``customer_key, churned`` for the eligible customers at ``as_of``.

    Uses orders in ``[as_of, as_of + horizon)``: this is the only function that looks past the
    as-of date, and it is never used to build a feature.
    """
    d = date_literal(as_of_date(as_of))
    return con.execute(f"""
        with eligible as (
            select distinct customer_key from marts.fct_orders
            where customer_key is not null and not coalesce(is_cancelled, false)
              and cast(ordered_at as timestamp) < {d}
              and cast(ordered_at as timestamp) >= {d} - interval {windows.active_lookback_days} day
        ),
        future as (
            select distinct customer_key from marts.fct_orders
            where customer_key is not null and not coalesce(is_cancelled, false)
              and cast(ordered_at as timestamp) >= {d}
              and cast(ordered_at as timestamp) < {d} + interval {windows.horizon_days} day
        )
        select e.customer_key,
               case when f.customer_key is null then 1 else 0 end as churned
        from eligible e left join future f using (customer_key)
        order by e.customer_key
    """).df()


def last_order_date(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The latest order day in the marts: the default scoring date is the day after it."""
    value = con.execute(
        "select max(cast(ordered_at as timestamp))::date from marts.fct_orders"
    ).fetchone()[0]
    if value is None:
        raise LookupError("marts.fct_orders has no orders: nothing to train or score")
    return value


def default_scoring_date(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The day after the last order in the data (used when ``MlSettings.as_of`` is unset)."""
    return last_order_date(con) + dt.timedelta(days=1)


def scoring_date(con: duckdb.DuckDBPyConnection, as_of: dt.date | None) -> dt.date:
    """``as_of`` when given (``MlSettings.as_of``), else :func:`default_scoring_date`."""
    return as_of or default_scoring_date(con)


def rfm_inputs_sql(as_of: dt.date) -> str:
    """BG/NBD and Gamma-Gamma inputs at ``as_of`` in days, one row per purchasing customer.

    The usual convention (Fader, Hardie and Lee): purchases are counted per distinct day;
    ``frequency`` = repeat purchase days, ``recency`` = days from first to last purchase,
    ``T`` = days from first purchase to ``as_of``, ``monetary_value`` = mean spend per repeat
    purchase day (0 without repeats), ``margin_rate`` = margin / net revenue.
    """
    d = date_literal(as_of)
    return f"""
with days as (
    select customer_key, cast(ordered_at as timestamp)::date as day,
           sum(coalesce(net_revenue, 0)) as spend, sum(coalesce(margin_amount, 0)) as margin
    from marts.fct_orders
    where customer_key is not null and not coalesce(is_cancelled, false)
      and cast(ordered_at as timestamp) < {d}
    group by 1, 2
),
ranked as (
    select *, row_number() over (partition by customer_key order by day) as n from days
)
select customer_key,
       count(*) - 1 as frequency,
       date_diff('day', min(day), max(day)) as recency,
       date_diff('day', min(day), {d}) as "T",
       coalesce(avg(spend) filter (where n > 1), 0) as monetary_value,
       sum(spend) as total_spend,
       sum(margin) / nullif(sum(spend), 0) as margin_rate,
       min(day) as first_purchase_date
from ranked
group by customer_key
order by customer_key
"""
