"""GX suites as Dagster asset checks: one ``@multi_asset_check`` per suite file.

Each expectation of a suite is one check on the asset the suite validates (``raw_erp/members``
for ``raw_erp.members.yml``), so the UI lists what was checked. ``error`` expectations are
blocking checks with severity ERROR: when one fails, Dagster does not materialize the assets
downstream in the run. ``warn`` expectations are non-blocking with severity WARN. The check
writes its results to ``quality.check_results``, hence the warehouse writer pool.
"""

import json
from collections.abc import Iterable

import dagster as dg

from contracts.sources import PERSON_ID_COLUMNS
from expectations.results import write_suite_run
from expectations.runner import validate_suite
from expectations.suite_files import Suite
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from warehouse.config import settings

SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}
# Keys that name a person: never in Dagster's event log, which erasure cannot rewrite (the full
# keys stay in quality.check_results of the build database, which `forget` covers).
PERSON_KEYS = frozenset((*PERSON_ID_COLUMNS, "customer_key"))


def dagster_record_keys(keys: list[dict]) -> list[dict]:
    """Failing record keys for the event log: without person ids (file and row locate it)."""
    kept = [{k: v for k, v in key.items() if k not in PERSON_KEYS} for key in keys]
    return [key for key in kept if key]


def _metadata(outcome) -> dict:
    meta = {
        "expectation": dg.MetadataValue.text(outcome.expectation_text),
        "severity": outcome.spec.severity,
        "dimension": outcome.spec.dimension,
        "observed_value": dg.MetadataValue.text(outcome.observed_value or ""),
        "unexpected_count": dg.MetadataValue.int(outcome.unexpected_count or 0),
        "unexpected_percent": dg.MetadataValue.float(float(outcome.unexpected_percent or 0.0)),
        "element_count": dg.MetadataValue.int(outcome.element_count or 0),
        "failing_record_keys_sample": dg.MetadataValue.json(
            dagster_record_keys(json.loads(outcome.failing_keys_json()))),
    }
    if outcome.details:
        meta["details"] = dg.MetadataValue.text(outcome.details)
    if outcome.report_path:
        meta["report"] = dg.MetadataValue.path(outcome.report_path)
    return meta


def build_suite_check(suite: Suite) -> dg.AssetChecksDefinition:
    asset_key = dg.AssetKey(suite.asset_key_path)
    specs = [
        dg.AssetCheckSpec(
            name=e.id, asset=asset_key, blocking=e.severity == "error",
            description=f"[{e.severity}] {e.description or e.type}",
        )
        for e in suite.expectations
    ]

    @dg.multi_asset_check(
        name=f"gx_suite__{suite.schema}__{suite.table}",
        specs=specs,
        pool=WAREHOUSE_WRITER_POOL,
        compute_kind="great_expectations",
        description=f"Great Expectations suite {suite.path.name}: {suite.description}",
    )
    def _suite_check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        s = settings()
        with warehouse.get_connection() as con:
            run = validate_suite(con, suite, run_id=context.op_execution_context.run_id,
                                 gx_dir=s.artifacts_dir / "gx", docs_dir=s.data_docs_dir)
            write_suite_run(con, run, asset_key.to_user_string())
        failed = [o.spec.id for o in run.outcomes if not o.success]
        context.log.info(
            f"{suite.name}: {len(run.outcomes) - len(failed)}/{len(run.outcomes)} passed on "
            f"{run.rows_validated} rows in {run.chunks} chunk(s), {run.seconds:.1f}s; "
            f"failed: {failed or 'none'}; report {run.report_path}")
        for o in run.outcomes:
            yield dg.AssetCheckResult(
                check_name=o.spec.id, asset_key=asset_key, passed=o.success,
                severity=SEVERITY[o.spec.severity], metadata=_metadata(o),
                description=o.details or None,
            )

    return _suite_check


def build_suite_checks(suites: Iterable[Suite]) -> list[dg.AssetChecksDefinition]:
    return [build_suite_check(s) for s in suites]
