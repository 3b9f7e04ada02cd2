"""Per-customer (frequency, recency, T, monetary_value) summaries for BG/NBD and Gamma-Gamma.

The aggregation is always done by DuckDB, whatever the input: a pandas DataFrame, a pyarrow
Table, a DuckDB relation, or SQL text / a table name run on a given connection. So small
inputs and a warehouse-sized ``marts.fct_orders`` go through the same SQL, and large inputs
never have to be pulled into Python first (``rfm_summary_relation`` even leaves the result in
DuckDB, ready for ``CREATE TABLE ... AS``).

Conventions (those of ``lifetimes`` and of the CDNOW reference summary), with purchases
grouped by calendar day and only transactions on or before the observation end counted:

- ``frequency``: distinct purchase days minus one (repeat purchases);
- ``recency``: time from the first to the last purchase day;
- ``T``: time from the first purchase day to the observation end;
- ``monetary_value``: mean of the daily spend totals over the repeat purchase days
  (the first day's spend is left out); 0 for customers without a repeat purchase.

Times are in days divided by ``time_unit_days`` (7 gives weeks, as in CDNOW). Timestamps are
cast to DATE in the connection's time zone; pass a DATE column to control the day boundary.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

SUMMARY_VIEW = "crmw_clv_transactions"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _date_literal(value: Any, name: str) -> str:
    try:
        day = pd.Timestamp(value).date()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot read {value!r} as a date") from exc
    return f"DATE '{day.isoformat()}'"


def _as_relation(transactions: Any, connection: duckdb.DuckDBPyConnection | None
                 ) -> duckdb.DuckDBPyRelation:
    if isinstance(transactions, duckdb.DuckDBPyRelation):
        return transactions
    if isinstance(transactions, str):
        if connection is None:
            raise ValueError("transactions given as SQL or a table name need a DuckDB connection")
        text = transactions.strip()
        is_query = text.lower().startswith(("select", "with", "from", "(", "table", "values"))
        return connection.sql(text) if is_query else connection.table(text)
    con = connection or duckdb.connect()
    if isinstance(transactions, pd.DataFrame):
        return con.from_df(transactions)
    if isinstance(transactions, pa.Table | pa.RecordBatchReader):
        return con.from_arrow(transactions)
    raise TypeError(
        "transactions must be a pandas DataFrame, a pyarrow Table, a DuckDB relation, or SQL "
        f"text / a table name with a connection; got {type(transactions).__name__}"
    )


def _check_columns(relation: duckdb.DuckDBPyRelation, wanted: dict[str, str | None]) -> None:
    present = set(relation.columns)
    for role, column in wanted.items():
        if column is not None and column not in present:
            raise ValueError(f"transactions: no {role} column {column!r}; columns are "
                             f"{sorted(present)}")


def _check_nulls(relation: duckdb.DuckDBPyRelation, columns: list[str]) -> None:
    """Missing ids, dates or amounts make a summary silently wrong: refuse them by name."""
    counts = ", ".join(f"count(*) FILTER (WHERE {_ident(c)} IS NULL)" for c in columns)
    row = relation.query(SUMMARY_VIEW, f"SELECT {counts} FROM {SUMMARY_VIEW}").fetchone()
    problems = [f"{c} ({n} rows)" for c, n in zip(columns, row, strict=True) if n]
    if problems:
        raise ValueError("transactions: NULL values in " + ", ".join(problems)
                         + "; quarantine or fix these rows before summarising")


def _daily_cte(customer_col: str, date_col: str, amount_col: str | None) -> str:
    amount = f"CAST({_ident(amount_col)} AS DOUBLE)" if amount_col else "0.0"
    return f"""
    daily AS (
        SELECT {_ident(customer_col)} AS customer_id,
               CAST({_ident(date_col)} AS DATE) AS purchase_day,
               sum({amount}) AS amount
        FROM {SUMMARY_VIEW}
        GROUP BY ALL
    )"""


def _summary_select(end: str, unit: float, decimals: int | None, extra: str = "") -> str:
    """One aggregation over the daily rows: no window function, so one pass per customer.

    The repeat-spend mean is (calibration spend - first day's spend) / repeat days, the first
    day's spend taken with arg_min; customers first seen after the end are left out.
    """
    def rounded(expr: str) -> str:
        return f"round({expr}, {int(decimals)})" if decimals is not None else expr

    in_calibration = f"purchase_day <= {end}"
    days = f"count(*) FILTER (WHERE {in_calibration})"
    repeat_spend = (f"CASE WHEN {days} > 1 THEN (sum(amount) FILTER (WHERE {in_calibration})"
                    f" - arg_min(amount, purchase_day)) / ({days} - 1) ELSE 0 END")
    return f"""
    SELECT customer_id,
           CAST({days} - 1 AS BIGINT) AS frequency,
           {rounded(f"date_diff('day', min(purchase_day), max(purchase_day) FILTER "
                    f"(WHERE {in_calibration})) / {unit}")} AS recency,
           {rounded(f"date_diff('day', min(purchase_day), {end}) / {unit}")} AS "T",
           {rounded(repeat_spend)} AS monetary_value{extra}
    FROM daily
    GROUP BY customer_id
    HAVING min(purchase_day) <= {end}
    ORDER BY customer_id"""


def rfm_summary_relation(
    transactions: Any,
    observation_end: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    time_unit_days: float = 1.0,
    decimals: int | None = None,
    holdout_end: Any | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """The summary as a lazy DuckDB relation (see :func:`rfm_summary` for the arguments)."""
    if not time_unit_days > 0:
        raise ValueError(f"time_unit_days must be > 0, got {time_unit_days}")
    relation = _as_relation(transactions, connection)
    _check_columns(relation, {"customer": customer_col, "date": date_col, "amount": amount_col})
    _check_nulls(relation, [c for c in (customer_col, date_col, amount_col) if c])
    end = _date_literal(observation_end, "observation_end")
    extra = ""
    if holdout_end is not None:
        stop = _date_literal(holdout_end, "holdout_end")
        if pd.Timestamp(holdout_end) <= pd.Timestamp(observation_end):
            raise ValueError(f"holdout_end {holdout_end} must be after the observation end "
                             f"{observation_end}")
        in_holdout = f"purchase_day > {end} AND purchase_day <= {stop}"
        extra = f""",
           CAST(count(*) FILTER (WHERE {in_holdout}) AS BIGINT) AS frequency_holdout,
           coalesce(avg(amount) FILTER (WHERE {in_holdout}), 0) AS monetary_value_holdout,
           date_diff('day', {end}, {stop}) / {float(time_unit_days)} AS duration_holdout"""
    sql = "WITH " + _daily_cte(customer_col, date_col, amount_col) + _summary_select(
        end, float(time_unit_days), decimals, extra)
    return relation.query(SUMMARY_VIEW, sql)


def rfm_summary(
    transactions: Any,
    observation_end: dt.date | str | pd.Timestamp,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    time_unit_days: float = 1.0,
    decimals: int | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """One row per customer: ``customer_id, frequency, recency, T, monetary_value``.

    ``transactions`` holds one row per purchase (customer id, date or timestamp, amount): a
    pandas DataFrame, a pyarrow Table, a DuckDB relation, or SQL text / a table name run on
    ``connection``. Customers whose first purchase is after ``observation_end`` are left out.
    ``decimals`` rounds recency, T and monetary_value (CDNOW's published summary uses 2).
    NULL ids, dates or amounts raise a ValueError naming the column and the row count.
    """
    return rfm_summary_relation(
        transactions, observation_end, customer_col=customer_col, date_col=date_col,
        amount_col=amount_col, time_unit_days=time_unit_days, decimals=decimals,
        connection=connection,
    ).df()


def calibration_holdout_summary(
    transactions: Any,
    calibration_end: Any,
    holdout_end: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    time_unit_days: float = 1.0,
    decimals: int | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """:func:`rfm_summary` at ``calibration_end`` plus what each customer did afterwards.

    Extra columns: ``frequency_holdout`` (purchase days in (calibration_end, holdout_end];
    every one of them is a repeat purchase), ``monetary_value_holdout`` (their mean daily
    spend, 0 if none) and ``duration_holdout`` (length of the holdout in the time unit).
    Only customers acquired by ``calibration_end`` are included, as in the literature.
    """
    return rfm_summary_relation(
        transactions, calibration_end, customer_col=customer_col, date_col=date_col,
        amount_col=amount_col, time_unit_days=time_unit_days, decimals=decimals,
        holdout_end=holdout_end, connection=connection,
    ).df()
