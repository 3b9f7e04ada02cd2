"""Dagster definitions for the quality area: GX suites as asset checks, scorecard, rejects.

Checks are attached only to suites whose asset another area defines (ingest for ``raw_*``,
dbt for ``marts``), so a suite file never conjures a stub asset into the graph; the
rejected-rows asset depends on whichever staging ``*_rejected`` models dbt defines.
"""

import dagster as dg

from expectations.results import rejected_tables_pattern
from expectations.suite_files import load_suites
from orchestration.defs import dbt, ingest
from orchestration.defs.asset_keys import asset_keys
from orchestration.defs.quality.assets import build_rejected_rows_asset, scorecard
from orchestration.defs.quality.checks import build_suite_checks

_defined = asset_keys(ingest.defs, dbt.defs)
_suites = [s for s in load_suites() if dg.AssetKey(s.asset_key_path) in _defined]
_rejected = sorted(
    (k for k in _defined if k.path[0] == "staging" and rejected_tables_pattern().match(k.path[-1])),
    key=lambda k: k.to_user_string(),
)

defs = dg.Definitions(
    assets=[build_rejected_rows_asset(_rejected), scorecard],
    asset_checks=build_suite_checks(_suites),
)
