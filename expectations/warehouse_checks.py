"""Checks GX has no built-in for, computed in DuckDB over the whole table.

Freshness against a configured age, volume against the previous successful run, referential
integrity between tables, column types as stored, and "the table is not empty". They are
recorded exactly like GX results (same severity semantics, same results table). Failing rows
are identified by the suite's record key only; no column value is ever returned.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import duckdb

from expectations.outcome import MAX_FAILING_KEYS, Outcome
from expectations.suite_files import ExpectationSpec, Suite
from warehouse.config import settings


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(name: str) -> str:
    schema, table = name.split(".", 1)
    return f"{_q(schema)}.{_q(table)}"


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str] | None:
    """Column -> DuckDB type of ``schema.table``, or None when the relation does not exist."""
    schema, table = name.split(".", 1)
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return {c: t for c, t in rows} or None


def as_of() -> tuple[dt.datetime, str]:
    """The time freshness is measured against, and where it came from.

    ``CRMW_QUALITY_AS_OF`` when set; for the demo sources, the end of the simulated world's
    last day (the simulator's ``_truth/manifest.json``: its clock is not the wall clock);
    otherwise now (UTC).
    """
    value = os.environ.get("CRMW_QUALITY_AS_OF")
    if value:
        return dt.datetime.fromisoformat(value).replace(tzinfo=None), "CRMW_QUALITY_AS_OF"
    manifest = settings().truth_dir / "manifest.json"
    if manifest.exists():
        try:
            end = json.loads(manifest.read_text())["world_end_date"]
            day = dt.date.fromisoformat(end)
            return dt.datetime.combine(day, dt.time(23, 59, 59)), "end of the simulated world"
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{manifest}: no valid world_end_date ({exc})") from exc
    return dt.datetime.now(dt.UTC).replace(tzinfo=None), "now"


def _count(con, suite: Suite) -> int:
    return con.execute(f"select count(*) from {qualified(suite.name)}").fetchone()[0]


def table_not_empty(con, suite: Suite, spec: ExpectationSpec, **_) -> Outcome:
    n = _count(con, suite)
    return Outcome(suite, spec, n > 0, observed_value=f"{n} rows", element_count=n,
                   details="" if n else "the table holds no rows")


def column_types_match(con, suite: Suite, spec: ExpectationSpec, columns: dict, **_) -> Outcome:
    expected = spec.kwargs.get("types") or {}
    mismatches = []
    for col, allowed in expected.items():
        if col not in columns:
            continue  # absence is the columns-present expectation's finding
        options = [a.strip().upper() for a in str(allowed).split("|")]
        if columns[col].upper() not in options:
            mismatches.append(f"{col}: {columns[col]} (expected {allowed})")
    checked = sum(1 for c in expected if c in columns)
    return Outcome(
        suite, spec, not mismatches,
        observed_value="; ".join(mismatches) or f"{checked} columns have the expected types",
        element_count=checked, unexpected_count=len(mismatches),
        unexpected_percent=100.0 * len(mismatches) / checked if checked else 0.0,
    )


_TZ_SUFFIX = r"(Z|[+-]\d{2}:?\d{2})$"


def freshness(con, suite: Suite, spec: ExpectationSpec, columns: dict, **_) -> Outcome:
    col = spec.kwargs["column"]
    max_age = float(os.environ.get("CRMW_QUALITY_MAX_AGE_HOURS") or spec.kwargs["max_age_hours"])
    if col not in columns:
        return Outcome(suite, spec, False, details=f"column {col} is missing")
    newest = con.execute(
        f"select max(try_cast(regexp_replace(trim({_q(col)}::varchar), '{_TZ_SUFFIX}', '') "
        f"as timestamp)) from {qualified(suite.name)}"
    ).fetchone()[0]
    if newest is None:
        return Outcome(suite, spec, False, observed_value="no parseable timestamp",
                       details=f"no row has a parseable {col}")
    reference, source = as_of()
    age_hours = (reference - newest).total_seconds() / 3600
    return Outcome(
        suite, spec, age_hours <= max_age,
        observed_value=f"newest {col} {newest.isoformat(sep=' ')} is {age_hours:.1f} h old "
                       f"at {reference.isoformat(sep=' ')} ({source}; limit {max_age:g} h)",
    )


def volume_within_band(con, suite: Suite, spec: ExpectationSpec, run_id: str, **_) -> Outcome:
    n = _count(con, suite)
    lo, hi = float(spec.kwargs.get("min_ratio", 0.5)), float(spec.kwargs.get("max_ratio", 2.0))
    previous = None
    if table_columns(con, "quality.check_results"):
        row = con.execute(
            "select element_count from quality.check_results where suite = ? and "
            "expectation_id = ? and success and run_id <> ? and element_count is not null "
            "order by checked_at desc limit 1",
            [suite.name, spec.id, run_id],
        ).fetchone()
        previous = row[0] if row else None
    if previous is None:
        return Outcome(suite, spec, True, observed_value=f"{n} rows (first run: no baseline)",
                       element_count=n)
    ok = previous * lo <= n <= previous * hi if previous else n >= 0
    return Outcome(suite, spec, ok, element_count=n,
                   observed_value=f"{n} rows; previous successful run {previous} "
                                  f"(band {lo:g}x to {hi:g}x)")


def foreign_key_exists(con, suite: Suite, spec: ExpectationSpec, columns: dict, **_) -> Outcome:
    col, ref_table, ref_col = (spec.kwargs[k] for k in ("column", "ref_table", "ref_column"))
    mostly = float(spec.kwargs.get("mostly", 1.0))
    if col not in columns:
        return Outcome(suite, spec, False, details=f"column {col} is missing")
    ref_columns = table_columns(con, ref_table)
    if not ref_columns or ref_col not in ref_columns:
        return Outcome(suite, spec, False, details=f"referenced {ref_table}.{ref_col} is missing")
    child = f"trim({_q(col)}::varchar)"
    orphan_filter = (
        f"{child} <> '' and {child} not in "
        f"(select trim({_q(ref_col)}::varchar) from {qualified(ref_table)} "
        f"where {_q(ref_col)} is not null)"
    )
    total, orphans = con.execute(
        f"select count(*) filter (where {child} <> ''), count(*) filter (where {orphan_filter}) "
        f"from {qualified(suite.name)}"
    ).fetchone()
    keys = [k for k in suite.record_key if k in columns]
    sample = []
    if orphans and keys:
        cur = con.execute(
            f"select {', '.join(_q(k) for k in keys)} from {qualified(suite.name)} "
            f"where {orphan_filter} limit {MAX_FAILING_KEYS}"
        )
        sample = [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]
    pct = 100.0 * orphans / total if total else 0.0
    return Outcome(
        suite, spec, (1 - pct / 100) >= mostly, element_count=total, unexpected_count=orphans,
        unexpected_percent=pct, failing_record_keys=sample,
        observed_value=f"{orphans} of {total} rows reference a missing {ref_table}.{ref_col}",
    )


CHECKS = {
    "table_not_empty": table_not_empty,
    "column_types_match": column_types_match,
    "freshness": freshness,
    "volume_within_band": volume_within_band,
    "foreign_key_exists": foreign_key_exists,
}


def run_warehouse_check(con, suite: Suite, spec: ExpectationSpec, *, columns: dict,
                        run_id: str) -> Outcome:
    try:
        return CHECKS[spec.type](con, suite, spec, columns=columns, run_id=run_id)
    except duckdb.Error as exc:
        return Outcome(suite, spec, False, details=f"{type(exc).__name__}: {exc}")
