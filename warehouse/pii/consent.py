"""Consent: the suppression list and the contact lists filtered through it, with a cap.

* ``marts.contact_suppression_list``: everyone who must not be contacted for marketing, with
  the reason. Customers who opted out (``marketing_opt_in`` false; unknown consent counts as
  no consent) stay on it *and stay in the warehouse*: suppression is not deletion, so a
  re-import of an old opt-in cannot silently make them contactable again. Customers who hit
  the contact-frequency cap are on it too (reason ``frequency_cap``) until the window passes.
* ``marts.winback_contact_list``: the at-risk customers to contact (from
  ``marts.churn_alerts``, or ``ml.churn_scores`` at or above the risk threshold when no
  alerts exist), minus the suppression list. Masked e-mail only; the marketing tool resolves
  the address from the vault at send time.
* ``marts.contact_history``: every contact a list issued (customer, list, date), which is
  what the cap counts: at most ``CRMW_CONTACT_CAP_PER_30_DAYS`` (default 2) contacts per
  customer within the 30 days before the list date. Building the same list twice on the same
  day replaces that day's entries, so re-runs are idempotent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from warehouse.config import int_setting

CAP_ENV = "CRMW_CONTACT_CAP_PER_30_DAYS"
DEFAULT_CAP = 2
WINDOW_DAYS = 30
RISK_THRESHOLD = 0.5
LIST_NAME = "winback"


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
    if _has(con, "marts", "churn_alerts"):
        return ("select customer_key, max(churn_probability) as churn_probability, "
                "string_agg(distinct rule_id, ', ' order by rule_id) as reason "
                "from marts.churn_alerts group by customer_key", "marts.churn_alerts")
    if _has(con, "ml", "churn_scores"):
        return (f"select customer_key, churn_probability, 'churn risk >= {RISK_THRESHOLD}' as "
                f"reason from ml.churn_scores where churn_probability >= {RISK_THRESHOLD}",
                "ml.churn_scores")
    return ("select null::varchar as customer_key, null::double as churn_probability, "
            "null::varchar as reason where false", "none (no churn_alerts or churn_scores yet)")


def build_contact_lists(con: duckdb.DuckDBPyConnection, *, list_date: dt.date | None = None,
                        cap: int | None = None) -> ContactLists:
    """(Re)build the suppression list, today's win-back list and the contact history."""
    if not _has(con, "marts", "dim_customer"):
        raise LookupError("marts.dim_customer does not exist: build the dbt marts first")
    list_date = list_date or dt.date.today()
    cap = contact_cap() if cap is None else cap
    candidates, source = _candidates_sql(con)
    con.execute("""create table if not exists marts.contact_history (
        customer_key varchar, list_name varchar, list_date date, channel varchar)""")
    con.execute("begin transaction")
    try:
        con.execute("delete from marts.contact_history where list_name = ? and list_date = ?",
                    [LIST_NAME, list_date])
        con.execute(f"""
            create or replace temp table _recent as
            select customer_key, count(*) as contacts
            from marts.contact_history
            where list_date > ?::date - interval {WINDOW_DAYS} day and list_date <= ?::date
            group by customer_key""", [list_date, list_date])
        con.execute("""
            create or replace table marts.contact_suppression_list as
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
            create or replace table marts.winback_contact_list as
            select c.customer_key, d.email_masked, c.churn_probability, c.reason,
                   ?::date as list_date
            from ({candidates}) c
            join marts.dim_customer d using (customer_key)
            where c.customer_key not in (select customer_key from marts.contact_suppression_list)
            order by c.churn_probability desc nulls last, c.customer_key""", [list_date])
        con.execute("insert into marts.contact_history select customer_key, ?, list_date, "
                    "'email' from marts.winback_contact_list", [LIST_NAME])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    counts = dict(con.execute("select reason, count(*) from marts.contact_suppression_list "
                              "group by reason").fetchall())
    contacts = con.execute("select count(*) from marts.winback_contact_list").fetchone()[0]
    n_candidates = con.execute(f"select count(*) from ({candidates})").fetchone()[0]
    return ContactLists(suppressed=sum(counts.values()),
                        opted_out=counts.get("opted_out", 0) + counts.get("consent_unknown", 0),
                        capped=counts.get("frequency_cap", 0), contacts=contacts,
                        candidates=n_candidates, source=source)
