"""Run one suite against the warehouse: GX on bounded pandas chunks, plus warehouse checks.

Memory stays bounded whatever the table size, and GX's fixed cost per validator pass (about
30 ms of CPU per expectation) is paid as few times as possible:

* a scope of at most ``chunk_rows`` rows is read once and every GX expectation of the suite
  runs in one validator pass;
* on a larger scope, row-level ("map") expectations run chunk by chunk on Arrow record batches
  read from DuckDB (``chunk_rows`` rows at a time, one pass per chunk) and their counts are
  summed across chunks; schema expectations run on the first chunk; uniqueness runs per hash
  partition of the checked columns (one scan sorted by partition); other expectations over a
  whole column (row counts, min/max, ...) run on a projection holding only the columns they
  need plus the record key;
* from ``NARROW_FROM_ROWS`` rows, chunks hold only the checked columns and the record key
  (GX filters the whole frame once per row-level expectation) and the column-set expectation
  runs on the table's empty projection;
* suites with ``incremental_column`` (the click-stream tables) validate only rows of batches
  not validated before (``quality.validated_batches``).

Result format: counts and record keys only. GX is asked for ``SUMMARY`` results with
``exclude_unexpected_values``; it reports the first failing rows by position and the runner
looks their record key up in the chunk (:func:`_keys_by_position`), and :func:`scrub` removes
any value field that might still slip through, so neither the stored validation JSON, the Data
Docs, the results table nor the Dagster metadata hold personal data. (GX can look the record
key up itself with ``unexpected_index_column_names``, but it does so for every failing row in
a Python loop before keeping the first 20: 5.6 s under cProfile for 10,260 duplicate ids.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from expectations.gx_context import gx_project
from expectations.outcome import MAX_FAILING_KEYS, Outcome
from expectations.suite_files import ExpectationSpec, Suite
from expectations.warehouse_checks import qualified, run_warehouse_check, table_columns

DEFAULT_CHUNK_ROWS = int(os.environ.get("CRMW_QUALITY_CHUNK_ROWS", "1000000"))

SCHEMA_TYPES = {
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
    "expect_column_to_exist", "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between", "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
}
# Map expectations whose verdict depends on other rows: never split across chunks.
WHOLE_COLUMN_MAP_TYPES = {
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
    "expect_multicolumn_values_to_be_unique", "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
}
# Uniqueness expectations validated per hash partition of the checked columns.
PARTITIONABLE_TYPES = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}
# Result fields that carry data values; never kept.
VALUE_FIELDS = ("partial_unexpected_list", "unexpected_list", "partial_unexpected_counts",
                "unexpected_rows", "unexpected_index_query", "details")


def result_format() -> dict:
    return {
        "result_format": "SUMMARY",
        "exclude_unexpected_values": True,
        "partial_unexpected_count": MAX_FAILING_KEYS,
        "include_unexpected_rows": False,
        "return_unexpected_index_query": False,
    }


@dataclass
class SuiteRun:
    suite: Suite
    run_id: str
    outcomes: list[Outcome]
    rows_validated: int = 0
    chunks: int = 0
    seconds: float = 0.0
    report_path: str | None = None
    new_batches: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes if o.spec.severity == "error")


def _scope(spec: ExpectationSpec) -> str:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    if spec.type in SCHEMA_TYPES:
        return "schema"
    impl = get_expectation_impl(spec.type)
    mapped = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    if issubclass(impl, mapped) and spec.type not in WHOLE_COLUMN_MAP_TYPES:
        return "chunk"
    return "whole"


# Schema expectations answered by the column list alone (an empty frame gives the same result).
COLUMN_SET_TYPES = {
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
    "expect_column_to_exist", "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
}
# From this many rows in scope GX reads only the columns its expectations check (plus the
# record key); below it one pass over every column is cheaper than a second pass.
NARROW_FROM_ROWS = 100_000


def _narrow(scope_rows: int, schema_specs: list[ExpectationSpec],
            gx_specs: list[ExpectationSpec]) -> bool:
    return (scope_rows >= NARROW_FROM_ROWS
            and all(s.type in COLUMN_SET_TYPES for s in schema_specs)
            and not any(k in s.kwargs for s in gx_specs
                        for k in ("row_condition", "condition_parser")))


def _columns_of(spec: ExpectationSpec) -> list[str]:
    kw = spec.kwargs
    cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
    return cols + list(kw.get("column_list") or [])


def _gx_expectation(spec: ExpectationSpec):
    from great_expectations.expectations.registry import get_expectation_impl

    impl = get_expectation_impl(spec.type)
    return impl(**spec.kwargs, severity="critical" if spec.severity == "error" else "warning",
                meta={"id": spec.id, "severity": spec.severity, "dimension": spec.dimension,
                      "notes": spec.description})


def scrub(result: dict, pii_columns: tuple[str, ...], column: str | None) -> dict:
    """Drop every field that can hold data values; keep counts and record keys."""
    clean = {k: v for k, v in (result or {}).items() if k not in VALUE_FIELDS}
    if column and any(c in pii_columns for c in column.split(",")):
        clean.pop("observed_value", None)
    for key in ("partial_unexpected_index_list", "unexpected_index_list"):
        if key in clean:
            clean[key] = [
                {k: v for k, v in item.items() if k not in pii_columns}
                if isinstance(item, dict) else item
                for item in clean[key]
            ]
    return clean


def _plain(value):
    """numpy / pandas scalars to plain Python, so keys serialize as JSON numbers and nulls."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if pd.isna(value) if not isinstance(value, (list, dict)) else False:
        return None
    return value.item() if hasattr(value, "item") else value


def _record_keys(result: dict, record_key: tuple[str, ...]) -> list[dict]:
    """GX pandas reports failing keys as ``[{col: [v1, v2, ...]}]``; turn them into rows."""
    rows: list[dict] = []
    for item in result.get("partial_unexpected_index_list") or []:
        if not isinstance(item, dict):
            rows.append({"index": item})
            continue
        values = {k: v if isinstance(v, list) else [v] for k, v in item.items()
                  if k in record_key}
        n = max((len(v) for v in values.values()), default=0)
        for i in range(n):
            rows.append({k: _plain(v[i]) if i < len(v) else None for k, v in values.items()})
    return rows[:MAX_FAILING_KEYS]


def _keys_by_position(result: dict | None, frame: pd.DataFrame, record_key: list[str]) -> None:
    """Replace GX's failing row positions in ``result`` by those rows' record keys.

    Without ``unexpected_index_column_names`` GX pandas lists the index labels of the first
    failing rows; the chunk's index is a RangeIndex, so they locate the rows in ``frame``.
    """
    if not result or "partial_unexpected_index_list" not in result:
        return
    labels = result["partial_unexpected_index_list"] or []
    if record_key and labels and all(isinstance(i, (int, np.integer)) for i in labels):
        rows = frame.loc[list(labels), record_key]
        result["partial_unexpected_index_list"] = [{k: rows[k].tolist() for k in record_key}]
    elif not labels:
        result["partial_unexpected_index_list"] = []
    result["unexpected_index_column_names"] = list(record_key)


class _Accumulator:
    """Sums a map expectation's counts across chunks."""

    def __init__(self, spec: ExpectationSpec):
        self.spec = spec
        self.element = self.unexpected = self.missing = 0
        self.has_missing = False
        self.keys: list[dict] = []
        self.error: str | None = None
        self.all_success = True
        self.last_result: dict = {}

    def add(self, evr, record_key) -> None:
        error = _exception_message(evr)
        if error:
            self.error = error
            return
        r = evr.result or {}
        self.all_success &= bool(evr.success)
        self.element += r.get("element_count") or 0
        self.unexpected += r.get("unexpected_count") or 0
        if r.get("missing_count") is not None:
            self.has_missing = True
            self.missing += r["missing_count"]
        if len(self.keys) < MAX_FAILING_KEYS:
            self.keys += _record_keys(r, record_key)
        self.last_result = r

    def merged_result(self) -> dict:
        denominator = self.element - self.missing if self.has_missing else self.element
        pct = 100.0 * self.unexpected / denominator if denominator else 0.0
        out = {"element_count": self.element, "unexpected_count": self.unexpected,
               "unexpected_percent": pct,
               "unexpected_percent_total":
                   100.0 * self.unexpected / self.element if self.element else 0.0}
        if self.has_missing:
            out["missing_count"] = self.missing
            out["missing_percent"] = 100.0 * self.missing / self.element if self.element else 0.0
            out["unexpected_percent_nonmissing"] = pct
        return out

    def success(self) -> bool:
        if self.error:
            return False
        mostly = self.spec.kwargs.get("mostly")
        result = self.merged_result()
        if mostly is None:
            return self.unexpected == 0 and self.all_success
        return (100.0 - result["unexpected_percent"]) / 100.0 >= float(mostly)


def _read_sql(suite: Suite, columns: dict[str, str], con, projection: list[str] | None,
              where: str) -> str:
    derived = {}
    for name, expr in suite.derived_columns.items():
        try:
            con.execute(f"select {expr} as x from {qualified(suite.name)} limit 0")
            derived[name] = expr
        except duckdb.Error:
            pass  # the source column is missing: the columns-present expectation says so
    if projection is None:
        select = ["*"] + [f"{expr} as \"{name}\"" for name, expr in derived.items()]
    else:
        select = []
        for col in dict.fromkeys(projection):
            if col in columns:
                select.append(f'"{col}"')
            elif col in derived:
                select.append(f'{derived[col]} as "{col}"')
        select = select or ["1 as _row"]
    return f"select {', '.join(select)} from {qualified(suite.name)} {where}"


def _incremental_filter(con, suite: Suite, columns: dict) -> tuple[str, list[str]]:
    col = suite.incremental_column
    if not col or col not in columns:
        return "", []
    done = set()
    if table_columns(con, "quality.validated_batches"):
        done = {r[0] for r in con.execute(
            "select batch_id from quality.validated_batches where suite = ?", [suite.name]
        ).fetchall()}
    batches = [r[0] for r in con.execute(
        f'select distinct "{col}" from {qualified(suite.name)} order by 1').fetchall()]
    new = [b for b in batches if b not in done]
    if not new:
        return "where false", []
    quoted = ", ".join("'" + str(b).replace("'", "''") + "'" for b in new)
    return f'where "{col}" in ({quoted})', new


def _chunks(con, sql: str, chunk_rows: int):
    reader = con.execute(sql).fetch_record_batch(chunk_rows)
    first = True
    for batch in reader:
        first = False
        yield batch.to_pandas()
    if first:
        yield reader.schema.empty_table().to_pandas()


def _hash_partitions(con, sql: str, cols: list[str], parts: int, batch_rows: int):
    """The rows of ``sql`` as DataFrames, one per hash partition of ``cols``."""
    import pyarrow as pa

    hashed = "hash(" + ", ".join(f'"{c}"' for c in cols) + f") % {parts}"
    reader = con.execute(f"select *, {hashed} as __crmw_part from ({sql}) order by "
                         "__crmw_part").fetch_record_batch(batch_rows)
    pending: list = []
    current = None

    def flush():
        table = pa.Table.from_batches(pending).drop_columns(["__crmw_part"])
        pending.clear()
        return table.to_pandas()

    for batch in reader:
        part = batch.column("__crmw_part").to_numpy()
        starts = [0, *(np.flatnonzero(part[1:] != part[:-1]) + 1).tolist(), len(part)]
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            if current is not None and part[a] != current and pending:
                yield flush()
            current = part[a]
            pending.append(batch.slice(a, b - a))
    if pending:
        yield flush()


def _frame(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).arrow().read_all().to_pandas()


def _exception_message(evr) -> str | None:
    """GX reports a raised exception flat or keyed by metric; None when nothing was raised."""
    info = evr.exception_info or {}
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for item in candidates:
        if item.get("raised_exception"):
            return str(item.get("exception_message"))[:500]
    return None


def _failed(suite: Suite, spec: ExpectationSpec, details: str) -> Outcome:
    return Outcome(suite, spec, False, details=details)


def _evr_to_outcome(suite: Suite, spec: ExpectationSpec, evr) -> Outcome:
    error = _exception_message(evr)
    if error:
        return _failed(suite, spec, error)
    r = scrub(evr.result or {}, suite.pii_columns, spec.column)
    observed = r.get("observed_value")
    return Outcome(
        suite, spec, bool(evr.success),
        observed_value=None if observed is None else json.dumps(observed, default=str),
        element_count=r.get("element_count"), unexpected_count=r.get("unexpected_count"),
        unexpected_percent=r.get("unexpected_percent"),
        failing_record_keys=_record_keys(r, suite.record_key),
    )


def validate_suite(con: duckdb.DuckDBPyConnection, suite: Suite, *, run_id: str,
                   gx_dir: Path, docs_dir: Path, chunk_rows: int | None = None) -> SuiteRun:
    """Validate ``suite`` on the warehouse behind ``con`` and build its Data Docs page.

    Reads only; the caller writes the outcomes (see :mod:`expectations.results`). A scope of
    at most ``chunk_rows`` rows (every demo-size table) is read once and validated in one GX
    pass; a larger one is validated chunk by chunk (one GX pass per chunk), then per hash
    partition for uniqueness, then on a projection for whole-column expectations.
    """
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    started = time.perf_counter()
    columns = table_columns(con, suite.name)
    if columns is None:
        outcomes = [_failed(suite, s, f"relation {suite.name} does not exist")
                    for s in suite.expectations]
        return SuiteRun(suite, run_id, outcomes, seconds=time.perf_counter() - started)

    chunk_rows = chunk_rows or suite.chunk_rows or DEFAULT_CHUNK_ROWS
    where, new_batches = _incremental_filter(con, suite, columns)
    gx_specs = [s for s in suite.expectations if not s.is_warehouse_check]
    scopes = {s.id: _scope(s) for s in gx_specs}
    record_key = [k for k in suite.record_key if k in columns]
    rf = result_format()

    project = gx_project(gx_dir, docs_dir)
    expectations = {s.id: _gx_expectation(s) for s in gx_specs}
    evrs: dict[str, ExpectationValidationResult] = {}

    def run_group(specs: list[ExpectationSpec], frame: pd.DataFrame) -> dict:
        if not specs:
            return {}
        results = project.validate(suite.name, frame, [expectations[s.id] for s in specs], rf)
        for r in results:
            _keys_by_position(r.result, frame, record_key)
        return {r.expectation_config.meta["id"]: r for r in results}

    chunk_specs = [s for s in gx_specs if scopes[s.id] == "chunk"]
    schema_specs = [s for s in gx_specs if scopes[s.id] == "schema"]
    whole_specs = [s for s in gx_specs if scopes[s.id] == "whole"]
    unique_specs = [s for s in whole_specs if s.type in PARTITIONABLE_TYPES]
    whole_specs = [s for s in whole_specs if s.type not in PARTITIONABLE_TYPES]
    accumulators = {s.id: _Accumulator(s) for s in chunk_specs + unique_specs}

    def accumulate(results: dict) -> None:
        for eid, evr in results.items():
            if eid in accumulators:
                accumulators[eid].add(evr, tuple(record_key))
                evrs.setdefault(eid, evr)
            else:
                evrs[eid] = evr

    scope_rows = con.execute(
        f"select count(*) from {qualified(suite.name)} {where}").fetchone()[0]
    full_sql = _read_sql(suite, columns, con, None, where)
    if _narrow(scope_rows, schema_specs, gx_specs):
        # GX filters the whole DataFrame once per row-level expectation (one Arrow take per
        # column): on a large scope read only the checked columns and the record key, and
        # check the column set on the table's empty projection.
        accumulate(run_group(schema_specs, _frame(con, f"{full_sql} limit 0")))
        schema_specs = []
        needed = record_key + [c for s in gx_specs for c in _columns_of(s)]
        read_sql = _read_sql(suite, columns, con, needed, where)
    else:
        read_sql = full_sql
    if scope_rows <= chunk_rows:
        # One chunk holds the whole scope: every GX expectation in one validator pass.
        frame = _frame(con, read_sql)
        accumulate(run_group(schema_specs + chunk_specs + unique_specs + whole_specs, frame))
        rows, chunks = len(frame), 1
        del frame
    else:
        rows = chunks = 0
        for frame in _chunks(con, read_sql, chunk_rows):
            accumulate(run_group((schema_specs if chunks == 0 else []) + chunk_specs, frame))
            rows += len(frame)
            chunks += 1
            del frame
        # Uniqueness over a large scope: hash-partition on the checked columns, so every
        # duplicate lands in the same partition and each partition fits in one chunk. One
        # scan sorted by partition, not one scan per partition.
        for spec in unique_specs:
            parts = max(1, -(-rows // chunk_rows))
            sql = _read_sql(suite, columns, con, record_key + _columns_of(spec), where)
            validated = False
            for frame in _hash_partitions(con, sql, _columns_of(spec), parts, chunk_rows):
                accumulate(run_group([spec], frame))
                validated = True
                del frame
            if not validated:
                accumulate(run_group([spec], _frame(con, sql)))
        if whole_specs:
            needed = record_key + [c for s in whole_specs for c in _columns_of(s)]
            frame = _frame(con, _read_sql(suite, columns, con, needed, where))
            accumulate(run_group(whole_specs, frame))
            del frame

    outcomes: list[Outcome] = []
    gx_results = []
    for spec in suite.expectations:
        if spec.is_warehouse_check:
            outcomes.append(run_warehouse_check(con, suite, spec, columns=columns, run_id=run_id))
            continue
        evr = evrs[spec.id]
        if spec.id in accumulators:
            acc = accumulators[spec.id]
            if acc.error:
                outcomes.append(_failed(suite, spec, acc.error))
                evr.exception_info = {"raised_exception": True, "exception_message": acc.error,
                                      "exception_traceback": ""}
            else:
                merged = acc.merged_result()
                merged["unexpected_index_column_names"] = record_key
                merged["partial_unexpected_index_list"] = [
                    {k: [row.get(k) for row in acc.keys] for k in record_key}
                ] if acc.keys else []
                evr.result, evr.success = merged, acc.success()
                o = Outcome(suite, spec, evr.success, element_count=merged["element_count"],
                            unexpected_count=merged["unexpected_count"],
                            unexpected_percent=merged["unexpected_percent"],
                            failing_record_keys=acc.keys[:MAX_FAILING_KEYS])
                outcomes.append(o)
        else:
            outcomes.append(_evr_to_outcome(suite, spec, evr))
        evr.result = scrub(evr.result, suite.pii_columns, spec.column)
        gx_results.append(evr)

    report = None
    if gx_results:
        report = _store_and_render(project, suite, run_id, gx_results,
                                   ExpectationSuiteValidationResult, rows, where)
    for o in outcomes:
        o.report_path = report
    return SuiteRun(suite, run_id, outcomes, rows_validated=rows, chunks=chunks,
                    seconds=time.perf_counter() - started, report_path=report,
                    new_batches=new_batches)


def _store_and_render(project, suite: Suite, run_id: str, results: list, result_cls,
                      rows: int, where: str) -> str:
    """Store one merged validation result for the suite and build its Data Docs page."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = project.context
    gx_suite = gx.ExpectationSuite(
        name=suite.name, meta={"notes": suite.description},
        expectations=[_gx_expectation(_spec_of(suite, r)) for r in results])
    with project.lock:
        try:
            context.suites.delete(suite.name)
        except Exception:  # noqa: BLE001 - absent on the first run
            pass
        context.suites.add(gx_suite)
    run_time = dt.datetime.now(dt.UTC)
    run_identifier = RunIdentifier(run_name=run_id, run_time=run_time)
    batch_id = f"{suite.name}{'-new-batches' if where else ''}"
    evaluated = len(results)
    successful = sum(1 for r in results if r.success)
    merged = result_cls(
        success=all(r.success for r in results),
        results=results,
        suite_name=suite.name,
        statistics={"evaluated_expectations": evaluated,
                    "successful_expectations": successful,
                    "unsuccessful_expectations": evaluated - successful,
                    "success_percent": 100.0 * successful / evaluated if evaluated else 100.0},
        meta={"run_id": {"run_name": run_id, "run_time": run_time.isoformat()},
              "batch_spec": {"relation": suite.name, "rows_validated": rows,
                             "scope": where or "whole table"},
              "active_batch_definition": {"datasource_name": "crm_warehouse_duckdb",
                                          "data_asset_name": suite.name,
                                          "batch_definition_name": "whole_dataframe"},
              "validation_time": run_time.isoformat()},
        batch_id=batch_id,
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=run_identifier, batch_identifier=batch_id,
    )
    with project.lock:
        context.validation_results_store.set(key, merged)
        return str(project.render_validation(key))


def _spec_of(suite: Suite, evr) -> ExpectationSpec:
    return suite.expectation(evr.expectation_config.meta["id"])
