"""One checked expectation, as stored in ``quality.check_results`` and shown in Dagster.

GX expectations and the warehouse checks computed in DuckDB end up in the same shape, so the
results table, the scorecard and the Dagster check results treat them alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from expectations.suite_files import ExpectationSpec, Suite

MAX_FAILING_KEYS = 20


@dataclass
class Outcome:
    suite: Suite
    spec: ExpectationSpec
    success: bool
    observed_value: str | None = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    failing_record_keys: list[dict] = field(default_factory=list)
    details: str = ""
    report_path: str | None = None

    @property
    def expectation_text(self) -> str:
        """What was checked, readable without the suite file."""
        kwargs = {k: v for k, v in self.spec.kwargs.items() if k != "batch_id"}
        return f"{self.spec.type}({json.dumps(kwargs, default=str, sort_keys=True)})"

    def failing_keys_json(self) -> str:
        return json.dumps(self.failing_record_keys[:MAX_FAILING_KEYS], default=str)
