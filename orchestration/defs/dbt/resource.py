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

It also sets one thing dagster-dbt leaves to the environment:

**dbt's indirect test selection**, ``buildable`` for every asset step: a test runs in the step
where all of its parents are built (or upstream), never earlier. A run splits the dbt project
into several steps (``orchestration.defs.dbt.assets``); with dbt's default ``eager`` a
relationships test between two steps ran before its second table existed. dagster-dbt reads
``DBT_INDIRECT_SELECTION`` from the process environment, and setting it there would change
every later dbt command of the process, so the resource passes ``--indirect-selection`` on
the command line of each asset step instead, except when dagster-dbt picks the tests itself:
in a subset whose assets have unselected checks it lists the selected tests and sets the
variable to ``empty`` in the dbt process's environment, and a command-line flag would
override that (dbt reads the flag first, then the environment).

**dbt dies with the run.** :func:`dbt_launch` makes the resource start dbt as
``<python> -m orchestration.dbt_child ...`` (the executable is this Python, the module in
``global_config_flags``, the only place dagster-dbt puts arguments before dbt's own): that
module has Linux kill it when its parent ends, then runs dbt's command line in the same
process, as the ``dbt`` script does. dagster-dbt starts dbt with a plain ``subprocess.Popen``
and offers no hook for it. Without this, ``kill -9`` of a run left dbt running as an orphan
that kept writing the warehouse.

These overrides depend on private names, so dagster-dbt is pinned exactly in
``pyproject.toml``; ``tests/dbt/test_dbt_resource.py`` fails if an upgrade renames them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY,
    DAGSTER_DBT_SELECT_METADATA_KEY,
    DAGSTER_DBT_SELECTOR_METADATA_KEY,
    get_manifest_and_translator_from_dbt_assets,
    get_subset_selection_for_context,
)
from packaging import version
from pydantic import Field

DBT_CHILD_MODULE = "orchestration.dbt_child"


def dbt_launch(dbt_executable: str) -> dict[str, object]:
    """Keyword arguments for :class:`WarehouseDbtCliResource` that start ``dbt_executable``
    through :mod:`orchestration.dbt_child`, so dbt dies with the run (see module): when it is
    the dbt beside this Python (the module runs that dbt in process) and on Linux. Otherwise
    dbt is started as given."""
    if (sys.platform.startswith("linux")
            and Path(dbt_executable).parent == Path(sys.executable).parent):
        return {"dbt_executable": sys.executable, "global_config_flags": ["-m", DBT_CHILD_MODULE]}
    return {"dbt_executable": dbt_executable}


class WarehouseDbtCliResource(DbtCliResource):
    """``DbtCliResource`` that starts dbt without building an adapter in this process,
    without asking the venv's own dbt for its version in a subprocess, and with its own
    indirect test selection for asset steps."""

    indirect_selection: str | None = Field(
        default="buildable",
        description="dbt --indirect-selection for the dbt build of an asset step (None: "
                    "dbt's default or DBT_INDIRECT_SELECTION).",
    )

    def cli(self, args: Sequence[str], *,
            context: dg.AssetExecutionContext | dg.OpExecutionContext | None = None,
            **kwargs) -> DbtCliInvocation:
        if self.indirect_selection and context is not None and not _selects_tests_itself(
                context):
            args = [*args, "--indirect-selection", self.indirect_selection]
        return super().cli(args, context=context, **kwargs)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]):  # noqa: ARG002
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent != Path(sys.executable).parent:
            return super()._cli_version  # some other dbt: ask it
        from dbt.version import __version__

        return version.parse(__version__)


def _selects_tests_itself(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> bool:
    """True when dagster-dbt sets the dbt process's indirect selection for this step itself
    (``empty``: it lists the selected tests explicitly). Asks dagster-dbt's own function, with
    the same arguments ``DbtCliResource.cli`` passes it, rather than repeating its rule."""
    if not context.has_assets_def:
        return False
    assets_def = context.assets_def
    manifest, translator, _ = get_manifest_and_translator_from_dbt_assets([assets_def])
    _, override = get_subset_selection_for_context(
        context=context,
        manifest=manifest,
        select=context.op.tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=context.op.tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY),
        selector=context.op.tags.get(DAGSTER_DBT_SELECTOR_METADATA_KEY),
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=None,
    )
    return override is not None
