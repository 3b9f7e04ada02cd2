"""Early-warning rules the business asked for, next to the churn model.

A rule is a plain SQL condition over the as-of features of :mod:`ml.shared.features` (so it
uses exactly the same, leakage-free definitions as the model), and each fired rule becomes one
row of ``ml.churn_alerts`` (built in Python, so in the ``ml`` schema, not in dbt's ``marts``)
with the evidence and a suggested win-back action chosen by the customer's RFM segment
(``marts.customer_rfm.segment``). Rules and actions are data, below, so the business can read
and change them without touching the query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from contracts.ml_outputs import CHURN_ALERTS
from ml.shared import model_store
from ml.shared.features import check_inputs, feature_sql, scoring_date
from ml.shared.settings import ChurnWindows, MlSettings


@dataclass(frozen=True)
class Rule:
    rule_id: str
    description: str
    condition: str  # SQL over the feature columns (alias f)
    evidence: str  # SQL text expression explaining why it fired
    action_prefix: str  # said before the segment's win-back action


RULES: tuple[Rule, ...] = (
    Rule(
        "no_purchase_90d_with_unresolved_complaint",
        "No purchase for 90 days or more together with an unresolved complaint",
        "f.recency_days >= 90 and f.unresolved_complaints >= 1",
        "'no purchase for ' || f.recency_days || ' days; ' || f.unresolved_complaints"
        " || ' unresolved complaint(s)'",
        "Resolve the open complaint first (service lead calls within 2 days), then: ",
    ),
    Rule(
        "spend_last_60d_below_half_own_average",
        "Spend over the last two months below half of the customer's own two-month average",
        "f.own_avg_spend_60d > 0 and f.tenure_days >= 120"
        " and f.spend_60d < 0.5 * f.own_avg_spend_60d",
        "'spent ' || round(f.spend_60d, 2) || ' in the last 60 days vs an own average of '"
        " || round(f.own_avg_spend_60d, 2) || ' per 60 days'",
        "",
    ),
    Rule(
        "nps_detractor_without_recent_purchase",
        "Latest NPS answer is a detractor (0-6) and no purchase for 60 days or more",
        "f.nps_last <= 6 and f.recency_days >= 60",
        "'latest NPS ' || f.nps_last || '; no purchase for ' || f.recency_days || ' days'",
        "Ask what went wrong (personal e-mail from customer care), then: ",
    ),
)

# Win-back action by RFM segment: the first keyword found in the segment name wins.
SEGMENT_ACTIONS: tuple[tuple[str, str], ...] = (
    ("champion", "personal thank-you call and early access to new collections"),
    ("loyal", "loyalty points bonus on the next purchase within 30 days"),
    ("can't lose", "account-manager call with a tailored 20% offer"),
    ("cannot lose", "account-manager call with a tailored 20% offer"),
    ("at risk", "win-back voucher of 15% valid for 30 days"),
    ("need attention", "personalized recommendations and a 10% voucher"),
    ("about to sleep", "reminder e-mail with best sellers and free shipping"),
    ("promising", "second-purchase incentive: free shipping on the next order"),
    ("new", "onboarding series: how-to content and a second-purchase voucher"),
    ("potential", "cross-sell recommendations from the customer's favourite category"),
    ("hibernating", "reactivation e-mail with a 20% voucher; stop after two attempts"),
    ("lost", "one last reactivation offer; then suppress from paid campaigns"),
)
DEFAULT_ACTION = "win-back voucher of 10% valid for 30 days"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _action_sql(segment_expr: str) -> str:
    cases = " ".join(
        f"when lower({segment_expr}) like {_quote('%' + keyword + '%')} then {_quote(action)}"
        for keyword, action in SEGMENT_ACTIONS)
    return f"case {cases} else {_quote(DEFAULT_ACTION)} end"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and "
        "table_name = ?", [schema, table]).fetchone()[0])


def alerts_sql(con: duckdb.DuckDBPyConnection, as_of: dt.date, windows: ChurnWindows,
               created_at: dt.datetime) -> str:
    """One row per (customer, fired rule), with segment, action and the model's view."""
    union = "\nunion all\n".join(
        f"select f.customer_key, {_quote(r.rule_id)} as rule_id, "
        f"{_quote(r.description)} as rule_description, {r.evidence} as evidence, "
        f"{_quote(r.action_prefix)} as action_prefix from f where {r.condition}"
        for r in RULES)
    has_rfm = _has_table(con, "marts", "customer_rfm")
    has_scores = _has_table(con, "ml", "churn_scores")
    segment = "coalesce(rfm.segment, 'unknown')" if has_rfm else "'unknown'"
    rfm_join = ("left join marts.customer_rfm rfm on rfm.customer_key = a.customer_key"
                if has_rfm else "")
    score_cols = ("s.churn_probability, s.risk_band" if has_scores
                  else "cast(null as double) as churn_probability, "
                       "cast(null as varchar) as risk_band")
    score_join = ("left join ml.churn_scores s on s.customer_key = a.customer_key"
                  if has_scores else "")
    return f"""
with f as ({feature_sql(as_of, windows)}),
a as ({union})
select a.customer_key, a.rule_id, a.rule_description, a.evidence,
       {segment} as segment,
       a.action_prefix || {_action_sql(segment)} as suggested_action,
       {score_cols},
       DATE '{as_of.isoformat()}' as as_of_date,
       TIMESTAMP '{created_at.isoformat(sep=' ')}' as created_at
from a {rfm_join} {score_join}
order by a.customer_key, a.rule_id
"""


def build_alerts(con: duckdb.DuckDBPyConnection, *,
                 settings: MlSettings | None = None) -> pd.DataFrame:
    """The alerts at the scoring date (``settings.as_of``, else the day after the last order)."""
    settings = settings or MlSettings()
    check_inputs(con)
    as_of = scoring_date(con, settings.as_of)
    return con.execute(alerts_sql(con, as_of, settings.churn_windows,
                                  model_store.utc_now())).df()


def write_alerts(con: duckdb.DuckDBPyConnection, alerts: pd.DataFrame) -> int:
    """Replace ``ml.churn_alerts``."""
    return model_store.replace_table(con, CHURN_ALERTS, alerts)
