"""Consent: the suppression list and the contact lists filtered through it, with a cap.

The lists are built here in Python, so they live in their own schema, ``outreach``
(``contracts/outreach.py``), not in dbt's ``marts``:

* ``outreach.contact_suppression_list``: everyone who must not be contacted for marketing, with
  the reason. Customers who opted out (``marketing_opt_in`` false; unknown consent counts as
  no consent) stay on it *and stay in the warehouse*: suppression is not deletion, so a
  re-import of an old opt-in cannot silently make them contactable again. Customers who hit
  the contact-frequency cap are on it too (reason ``frequency_cap``) until the window passes.
* ``outreach.winback_contact_list``: the at-risk customers to contact (from
  ``ml.churn_alerts``, or ``ml.churn_scores`` at or above the risk threshold when no
  alerts exist), minus the suppression list. Masked e-mail only; the marketing tool resolves
  the address from the vault at send time.
* ``outreach.contact_history``: every contact a list issued (customer, list, date, and the
  as-of date of the scores it came from), which is what the cap counts: at most
  ``CRMW_CONTACT_CAP_PER_30_DAYS`` (default 2) contacts per customer within the 30 days
  before the list date. A list is identified by its name and its data, not by the clock:
  building it again for the same as-of date (``as_of_date`` of ``ml.churn_alerts`` or
  ``ml.churn_scores``) or on the same list date replaces those entries, so a re-run is
  idempotent, also when it falls on the next day (a run that crashed before midnight and is
  re-run after it, on the same data, does not contact anyone twice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from contracts.ml_outputs import CHURN_ALERTS
from contracts.outreach import (
    CONTACT_HISTORY,
    OUTREACH_SCHEMA,
    SUPPRESSION_LIST,
    WINBACK_CONTACT_LIST,
)
from warehouse.config import int_setting

CAP_ENV = "CRMW_CONTACT_CAP_PER_30_DAYS"
DEFAULT_CAP = 2
WINDOW_DAYS = 30
RISK_THRESHOLD = 0.5
LIST_NAME = "winback"
SUPPRESSED = f"{OUTREACH_SCHEMA}.{SUPPRESSION_LIST}"
WINBACK = f"{OUTREACH_SCHEMA}.{WINBACK_CONTACT_LIST}"
HISTORY = f"{OUTREACH_SCHEMA}.{CONTACT_HISTORY}"


@dataclass(frozen=True)
class ContactLists:
    suppressed: int
    opted_out: int
    capped: int
    contacts: int
    candidates: int
    source: str


def contact_cap() -> int:
    return int_setting(CAP_ENV, default=DEFAULT_CAP, minimum=0)


def _has(con, schema: str, table: str) -> bool:
    return con.execute("select count(*) from duckdb_tables() where schema_name = ? and "
                       "table_name = ? and database_name = current_database()",
                       [schema, table]).fetchone()[0] > 0


def _candidates_sql(con) -> tuple[str, str]:
    """(SQL of customer_key, churn_probability, reason; source name) for win-back."""
    if _has(con, CHURN_ALERTS.schema, CHURN_ALERTS.name):
        return ("select customer_key, max(churn_probability) as churn_probability, "
                "string_agg(distinct rule_id, ', ' order by rule_id) as reason "
                f"from {CHURN_ALERTS.qualified_name} group by customer_key",
                CHURN_ALERTS.qualified_name)
    if _has(con, "ml", "churn_scores"):
        return (f"select customer_key, churn_probability, 'churn risk >= {RISK_THRESHOLD}' as "
                f"reason from ml.churn_scores where churn_probability >= {RISK_THRESHOLD}",
                "ml.churn_scores")
    return ("select null::varchar as customer_key, null::double as churn_probability, "
            "null::varchar as reason where false", "none (no churn_alerts or churn_scores yet)")


def _scores_as_of(con, source: str) -> dt.date | None:
    """The as-of date of the scores the candidates come from (None: the table has none)."""
    if "." not in source:
        return None
    schema, table = source.split(".", 1)
    has_column = con.execute(
        "select count(*) from duckdb_columns() where database_name = current_database() and "
        "schema_name = ? and table_name = ? and column_name = 'as_of_date'",
        [schema, table]).fetchone()[0]
    if not has_column:
        return None
    return con.execute(f"select max(as_of_date)::date from {schema}.{table}").fetchone()[0]


def build_contact_lists(con: duckdb.DuckDBPyConnection, *, list_date: dt.date | None = None,
                        cap: int | None = None, as_of: dt.date | None = None) -> ContactLists:
    """(Re)build the suppression list, the win-back list and the contact history.

    ``as_of``: the data the list is built from (default: the as-of date of the scores);
    ``list_date``: when it is issued (default today). Entries of an earlier build with the same
    as-of date or list date are replaced, never added to.
    """
    if not _has(con, "marts", "dim_customer"):
        raise LookupError("marts.dim_customer does not exist: build the dbt marts first")
    list_date = list_date or dt.date.today()
    cap = contact_cap() if cap is None else cap
    candidates, source = _candidates_sql(con)
    as_of = as_of or _scores_as_of(con, source)
    con.execute(f"create schema if not exists {OUTREACH_SCHEMA}")
    con.execute(f"""create table if not exists {HISTORY} (
        customer_key varchar, list_name varchar, list_date date, channel varchar,
        as_of_date date)""")
    con.execute(f"alter table {HISTORY} add column if not exists as_of_date date")
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {HISTORY} where list_name = ? and (list_date = ? or "
                    "as_of_date = ?)", [LIST_NAME, list_date, as_of])
        con.execute(f"""
            create or replace temp table _recent as
            select customer_key, count(*) as contacts
            from {HISTORY}
            where list_date > ?::date - interval {WINDOW_DAYS} day and list_date <= ?::date
            group by customer_key""", [list_date, list_date])
        con.execute(f"""
            create or replace table {SUPPRESSED} as
            select customer_key,
                   case when marketing_opt_in is null then 'consent_unknown'
                        else 'opted_out' end as reason,
                   ?::date as listed_on
            from marts.dim_customer where marketing_opt_in is distinct from true
            union all
            select r.customer_key, 'frequency_cap' as reason, ?::date
            from _recent r join marts.dim_customer d using (customer_key)
            where r.contacts >= ? and d.marketing_opt_in""", [list_date, list_date, cap])
        con.execute(f"""
            create or replace table {WINBACK} as
            select c.customer_key, d.email_masked, c.churn_probability, c.reason,
                   ?::date as list_date
            from ({candidates}) c
            join marts.dim_customer d using (customer_key)
            where c.customer_key not in (select customer_key from {SUPPRESSED})
            order by c.churn_probability desc nulls last, c.customer_key""", [list_date])
        con.execute(f"insert into {HISTORY} (customer_key, list_name, list_date, channel, "
                    f"as_of_date) select customer_key, ?, list_date, 'email', ?::date "
                    f"from {WINBACK}", [LIST_NAME, as_of])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    counts = dict(con.execute(f"select reason, count(*) from {SUPPRESSED} "
                              "group by reason").fetchall())
    contacts = con.execute(f"select count(*) from {WINBACK}").fetchone()[0]
    n_candidates = con.execute(f"select count(*) from ({candidates})").fetchone()[0]
    return ContactLists(suppressed=sum(counts.values()),
                        opted_out=counts.get("opted_out", 0) + counts.get("consent_unknown", 0),
                        capped=counts.get("frequency_cap", 0), contacts=contacts,
                        candidates=n_candidates, source=source)
