"""The dbt CLI resource, without two costs dagster-dbt adds to every run and dbt step.

**The in-process adapter.**
Before starting each ``dbt`` subprocess, ``DbtCliResource.cli`` builds a dbt adapter in the
Dagster process (profile, project, all base macros) so that ``fetch_row_counts()`` and
``fetch_column_metadata()`` can query the warehouse. We do not use those: on DuckDB they
race the dbt process for the file lock, so ``assets._stream`` reads row counts and column
types itself once dbt has exited. The unused adapter cost 1.3 s of CPU per dbt step (py-spy
on ``crm-warehouse run`` at demo size: 5.3 s in ``_initialize_dbt_core_adapter`` over four
dbt steps, most of it ``ManifestLoader.load_macros``).

dagster-dbt calls the method inside ``try``/``except`` and treats no adapter as "metadata
fetching unavailable", the state it is also in for the dbt Fusion engine.

**``dbt --version`` in a subprocess**, once per run, to tell dbt Core from Fusion: 2.8 s
(``time .venv/bin/dbt --version`` on this machine). When the executable is the dbt beside
this Python, it is the dbt-core package this process imports, so its version is read in
process instead.

Both overrides depend on private names, so dagster-dbt is pinned exactly in
``pyproject.toml``; ``tests/dbt/test_dbt_resource.py`` fails if an upgrade renames them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version


class WarehouseDbtCliResource(DbtCliResource):
    """``DbtCliResource`` that starts dbt without building an adapter in this process and
    without asking the venv's own dbt for its version in a subprocess."""

    def _initialize_dbt_core_adapter(self, args: Sequence[str]):  # noqa: ARG002
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent != Path(sys.executable).parent:
            return super()._cli_version  # some other dbt: ask it
        from dbt.version import __version__

        return version.parse(__version__)
