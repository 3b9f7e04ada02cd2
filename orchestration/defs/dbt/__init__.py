"""The dbt area: every dbt model, seed and snapshot as an asset, every dbt test as a check."""

import dagster as dg

from orchestration.defs.dbt.assets import dbt_step_definitions
from orchestration.defs.dbt.project import crm_dbt_project, dbt_executable
from orchestration.defs.dbt.resource import WarehouseDbtCliResource, dbt_launch
from orchestration.defs.resources import WAREHOUSE

defs = dg.Definitions(
    assets=dbt_step_definitions,
    resources={"dbt": WarehouseDbtCliResource(project_dir=crm_dbt_project(),
                                              **dbt_launch(dbt_executable())),
               "warehouse": WAREHOUSE},
)
