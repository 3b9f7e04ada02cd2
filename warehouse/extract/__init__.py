"""Raw extraction: ERP tables and export files into ``raw_erp`` / ``raw_ecommerce`` /
``raw_service`` of the build warehouse, incrementally, idempotently, one transaction a batch.

Plain Python with no Dagster imports; ``orchestration/defs/ingest`` wraps :func:`extract` in
one asset per source table. See ``README.md`` beside this file for the design choices.
"""

from warehouse.extract.batch import BatchResult, QuarantinedLine
from warehouse.extract.errors import ExtractionError, MissingColumnError, UnreadableFileError
from warehouse.extract.run import extract

__all__ = [
    "BatchResult",
    "ExtractionError",
    "MissingColumnError",
    "QuarantinedLine",
    "UnreadableFileError",
    "extract",
]
