"""A reconstructable job over the 14 extraction assets, run with the multiprocess executor.

Child processes load this file by path (``ReconstructableJob.for_file``), so it imports
nothing from the tests package.
"""

import dagster as dg

from orchestration.defs.ingest import ingest_assets
from orchestration.defs.resources import warehouse_resource


def extract_all_multiprocess() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=ingest_assets,
        resources={"warehouse": warehouse_resource()},
        jobs=[dg.define_asset_job("extract_all_multiprocess",
                                  selection=dg.AssetSelection.groups("ingest"),
                                  executor_def=dg.multiprocess_executor)],
    )
    return defs.resolve_job_def("extract_all_multiprocess")
