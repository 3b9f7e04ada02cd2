"""The quality tables BI tools chart: check results, scorecard, rejected rows.

* ``quality.check_results``: one row per expectation per run (append-only history; re-running
  the same run id for the same suite replaces its rows, so retries are idempotent).
* ``quality.validated_batches``: which raw batches an incremental suite has validated.
* ``quality.scorecard``: a view over the results, per source and table and run: completeness,
  validity, uniqueness, timeliness, consistency and overall scores (0-100), with the previous
  run's overall score and the change, so the trend across runs is one query away.
* ``quality.rejected_rows``: quarantined rows from the dbt staging ``*_rejected`` tables with
  their reason codes and lineage, never their personal data.

These tables are published to BI (``warehouse/publish.py``), so a person's source id (member,
account or contact id, ``contracts.sources.PERSON_ID_COLUMNS``) appears in them only as its
pseudonym, the value the marts carry (``dim_customer.*_id_hashes``): in the failing record
keys as ``<column>_hash``, and as the rejected row's ``record_id``.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb

from contracts.sources import PERSON_ID_COLUMNS
from expectations.outcome import MAX_FAILING_KEYS, Outcome
from expectations.runner import SuiteRun
from warehouse.pii.crypto import pseudonymize, pseudonymize_sql

SOURCE_OF_SCHEMA = {"raw_erp": "erp", "raw_ecommerce": "ecommerce", "raw_service": "service_desk"}

DDL = """
create schema if not exists quality;
create table if not exists quality.check_results (
    run_id varchar not null,
    asset_key varchar not null,
    source_system varchar not null,
    table_name varchar not null,
    suite varchar not null,
    expectation_id varchar not null,
    expectation_type varchar not null,
    expectation varchar not null,
    column_name varchar,
    dimension varchar not null,
    severity varchar not null,
    success boolean not null,
    observed_value varchar,
    element_count bigint,
    unexpected_count bigint,
    unexpected_percent double,
    failing_record_keys varchar,
    details varchar,
    report_path varchar,
    checked_at timestamp not null
);
create table if not exists quality.validated_batches (
    suite varchar not null,
    batch_id varchar not null,
    run_id varchar not null,
    validated_at timestamp not null
);
create or replace view quality.scorecard as
with scored as (
    select run_id, source_system, table_name, checked_at, dimension,
           case when unexpected_percent is not null and success is not null
                     and element_count is not null
                then greatest(0.0, 100.0 - unexpected_percent)
                when success then 100.0 else 0.0 end as score
    from quality.check_results
),
per_run as (
    select run_id, source_system, table_name, max(checked_at) as checked_at,
           avg(score) filter (where dimension = 'completeness') as completeness,
           avg(score) filter (where dimension = 'validity') as validity,
           avg(score) filter (where dimension = 'uniqueness') as uniqueness,
           avg(score) filter (where dimension = 'timeliness') as timeliness,
           avg(score) filter (where dimension = 'consistency') as consistency
    from scored
    group by all
),
overall as (
    select *,
           (coalesce(completeness, 0) + coalesce(validity, 0) + coalesce(uniqueness, 0)
            + coalesce(timeliness, 0) + coalesce(consistency, 0))
           / nullif((completeness is not null)::int + (validity is not null)::int
                    + (uniqueness is not null)::int + (timeliness is not null)::int
                    + (consistency is not null)::int, 0) as overall_score
    from per_run
)
select run_id, source_system, table_name, checked_at,
       round(completeness, 2) as completeness, round(validity, 2) as validity,
       round(uniqueness, 2) as uniqueness, round(timeliness, 2) as timeliness,
       round(consistency, 2) as consistency, round(overall_score, 2) as overall_score,
       round(lag(overall_score) over w, 2) as previous_overall_score,
       round(overall_score - lag(overall_score) over w, 2) as overall_change,
       case when lag(overall_score) over w is null then 'first run'
            when overall_score - lag(overall_score) over w > 0.05 then 'improving'
            when overall_score - lag(overall_score) over w < -0.05 then 'worsening'
            else 'steady' end as trend
from overall
window w as (partition by source_system, table_name order by checked_at, run_id);
"""


def ensure_quality_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def write_suite_run(con: duckdb.DuckDBPyConnection, run: SuiteRun, asset_key: str) -> int:
    """Record ``run``'s outcomes (replacing any earlier rows of the same run and suite)."""
    ensure_quality_schema(con)
    suite = run.suite
    source = SOURCE_OF_SCHEMA.get(suite.schema, suite.schema)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        (run.run_id, asset_key, source, suite.table, suite.name, o.spec.id, o.spec.type,
         o.expectation_text, o.spec.column, o.spec.dimension, o.spec.severity, o.success,
         o.observed_value, o.element_count, o.unexpected_count, o.unexpected_percent,
         published_keys_json(o), o.details or None, o.report_path, now)
        for o in run.outcomes
    ]
    con.execute("begin transaction")
    try:
        con.execute("delete from quality.check_results where run_id = ? and suite = ?",
                    [run.run_id, suite.name])
        if rows:
            con.executemany(
                "insert into quality.check_results values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        for batch in run.new_batches:
            con.execute(
                "insert into quality.validated_batches "
                "select ?, ?, ?, ? where not exists (select 1 from quality.validated_batches "
                "where suite = ? and batch_id = ?)",
                [suite.name, str(batch), run.run_id, now, suite.name, str(batch)])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(rows)


_REJECTED = re.compile(
    r"^stg_(?P<source>[a-z0-9]+(?:_[a-z0-9]+)*)__(?P<entity>[a-z0-9_]+)_rejected$")
_LINEAGE = ("_source_system", "_source_object", "_source_row_number", "_batch_id")
_REASON_COLUMNS = ("_reject_reason", "reason", "reject_reason", "rejection_reason", "reason_code",
                   "reasons")


def rejected_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Staging tables of quarantined rows, by name: ``stg_<source>__<entity>s_rejected``."""
    names = [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'staging' "
        "order by table_name").fetchall()]
    return [n for n in names if _REJECTED.match(n)]


def published_keys_json(outcome: Outcome) -> str:
    """The failing record keys as ``quality.check_results`` keeps them: a person's source id
    replaced by its pseudonym under ``<column>_hash`` (the other key columns, e.g. the source
    object and row number, still locate the raw row)."""
    keys = outcome.failing_record_keys[:MAX_FAILING_KEYS]
    if any(isinstance(row, dict) and set(row) & set(PERSON_ID_COLUMNS) for row in keys):
        keys = [{(f"{k}_hash" if k in PERSON_ID_COLUMNS else k):
                 (pseudonymize(str(v).strip()) if k in PERSON_ID_COLUMNS and v is not None
                  else v)
                 for k, v in row.items()} if isinstance(row, dict) else row
                for row in keys]
    return json.dumps(keys, default=str)


def build_rejected_rows(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)build ``quality.rejected_rows`` from every staging ``*_rejected`` table.

    Each row keeps the rejecting table, source and entity, the reason code, the lineage that
    locates the raw row (object, row number, batch) and the record id when the table has one
    (the first column ending in ``_id``; a person's source id as its pseudonym); personal data
    never leaves staging.
    """
    ensure_quality_schema(con)
    parts = []
    for table in rejected_tables(con):
        m = _REJECTED.match(table)
        cols = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'staging' "
            "and table_name = ? order by ordinal_position", [table]).fetchall()]
        reason = next((c for c in _REASON_COLUMNS if c in cols), None)
        if reason is None:
            raise ValueError(f"staging.{table} has no reason column (expected one of "
                             f"{_REASON_COLUMNS}); cannot list its rows as rejected")
        record_id = next((c for c in cols if c.endswith("_id") and not c.startswith("_")), None)
        lineage = [f'"{c}"::varchar as {c}' if c in cols else f"null::varchar as {c}"
                   for c in _LINEAGE]
        rid = f'"{record_id}"::varchar' if record_id else "null::varchar"
        if record_id in PERSON_ID_COLUMNS:
            rid = pseudonymize_sql(f"trim({rid})")
        parts.append(
            f"select '{table}' as rejected_table, '{m['source']}' as source, "
            f"'{m['entity']}' as entity, \"{reason}\"::varchar as reason, {rid} as record_id, "
            f"{', '.join(lineage)} from staging.\"{table}\""
        )
    if parts:
        body = " union all ".join(parts)
    else:
        body = ("select null::varchar as rejected_table, null::varchar as source, "
                "null::varchar as entity, null::varchar as reason, null::varchar as record_id, "
                + ", ".join(f"null::varchar as {c}" for c in _LINEAGE) + " where false")
    con.execute(f"create or replace table quality.rejected_rows as {body}")
    return con.execute("select count(*) from quality.rejected_rows").fetchone()[0]


def latest_scorecard(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The newest scorecard row per source and table (the quality schema must exist)."""
    return con.execute(
        "select source_system, table_name, completeness, validity, uniqueness, timeliness, "
        "consistency, overall_score, overall_change, trend from quality.scorecard "
        "qualify row_number() over (partition by source_system, table_name "
        "order by checked_at desc, run_id desc) = 1 order by 1, 2").fetchall()


def rejected_tables_pattern() -> re.Pattern:
    """The name pattern of staging tables holding quarantined rows."""
    return _REJECTED
