"""Read the expectation suites that data stewards review: ``expectations/suites/*.yml``.

A suite file names the relation it checks and lists expectations, each with an ``id`` (the
Dagster check name and the key in ``quality.check_results``), a GX expectation ``type`` or one
of the warehouse checks GX lacks (:data:`WAREHOUSE_CHECK_TYPES`), its ``kwargs``, a
``severity`` (``error`` blocks downstream assets, ``warn`` is recorded and the run goes on)
and the scorecard ``dimension`` it counts towards. Parsing is strict so that a typo in a
reviewed file fails loudly with the file and the expectation named, instead of silently
checking nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from warehouse.config import EXPECTATIONS_DIR

SUITES_DIR = EXPECTATIONS_DIR / "suites"

SEVERITIES = ("error", "warn")
DIMENSIONS = ("completeness", "validity", "uniqueness", "timeliness", "consistency")

# Checks computed in DuckDB over the whole table (GX has no built-in for them).
WAREHOUSE_CHECK_TYPES = (
    "table_not_empty",  # kwargs: {}
    "column_types_match",  # kwargs: {types: {column: DUCKDB_TYPE}}
    "freshness",  # kwargs: {column, max_age_hours}
    "volume_within_band",  # kwargs: {min_ratio, max_ratio}
    "foreign_key_exists",  # kwargs: {column, ref_table, ref_column, mostly}
)

# Column names that hold personal data: their values never leave the warehouse in a result.
DEFAULT_PII_COLUMNS = (
    "email", "phone", "first_name", "last_name", "full_name", "street", "birth_date",
    "address", "postal_code",
)

_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SuiteFileError(ValueError):
    """A suite file is malformed; the message names the file and the expectation."""


@dataclass(frozen=True)
class ExpectationSpec:
    id: str
    type: str
    kwargs: dict
    severity: str
    dimension: str
    description: str = ""

    @property
    def is_warehouse_check(self) -> bool:
        return self.type in WAREHOUSE_CHECK_TYPES

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        if col is None and "column_list" in self.kwargs:
            col = ",".join(self.kwargs["column_list"])
        return col


@dataclass(frozen=True)
class Suite:
    name: str  # <schema>.<table>
    path: Path
    description: str
    record_key: tuple[str, ...]  # columns reported for failing rows: never personal data
    expectations: tuple[ExpectationSpec, ...]
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS
    derived_columns: dict = field(default_factory=dict)  # name -> DuckDB SQL expression
    incremental_column: str | None = None  # validate only rows of batches not yet validated
    chunk_rows: int | None = None

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def asset_key_path(self) -> list[str]:
        return [self.schema, self.table]

    def expectation(self, expectation_id: str) -> ExpectationSpec:
        for e in self.expectations:
            if e.id == expectation_id:
                return e
        raise KeyError(f"{self.path}: no expectation {expectation_id!r}")


def _require(cond: bool, path: Path, where: str, message: str) -> None:
    if not cond:
        raise SuiteFileError(f"{path}: {where}: {message}")


def _parse_expectation(raw: dict, path: Path, index: int) -> ExpectationSpec:
    where = f"expectation #{index + 1} ({raw.get('id', 'no id') if isinstance(raw, dict) else raw})"
    _require(isinstance(raw, dict), path, where, "must be a mapping")
    unknown = set(raw) - {"id", "type", "kwargs", "severity", "dimension", "description"}
    _require(not unknown, path, where, f"unknown keys {sorted(unknown)}")
    eid = raw.get("id")
    _require(isinstance(eid, str) and bool(_ID_PATTERN.match(eid)), path, where,
             "id must be lower_snake_case, at most 63 characters")
    etype = raw.get("type")
    _require(isinstance(etype, str) and (etype.startswith("expect_")
                                         or etype in WAREHOUSE_CHECK_TYPES),
             path, where, f"type must be a GX expect_* type or one of {WAREHOUSE_CHECK_TYPES}")
    kwargs = raw.get("kwargs") or {}
    _require(isinstance(kwargs, dict), path, where, "kwargs must be a mapping")
    severity = raw.get("severity")
    _require(severity in SEVERITIES, path, where, f"severity must be one of {SEVERITIES}")
    dimension = raw.get("dimension")
    _require(dimension in DIMENSIONS, path, where, f"dimension must be one of {DIMENSIONS}")
    return ExpectationSpec(eid, etype, dict(kwargs), severity, dimension,
                           str(raw.get("description") or ""))


def load_suite(path: str | Path) -> Suite:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SuiteFileError(f"{path}: not valid YAML: {exc}") from exc
    _require(isinstance(raw, dict), path, "top level", "must be a mapping")
    unknown = set(raw) - {"suite", "description", "record_key", "pii_columns", "derived_columns",
                          "incremental_column", "chunk_rows", "expectations"}
    _require(not unknown, path, "top level", f"unknown keys {sorted(unknown)}")
    name = raw.get("suite")
    _require(isinstance(name, str) and name.count(".") == 1, path, "suite",
             "must be <schema>.<table>")
    _require(path.stem == name, path, "suite", f"file must be named {name}.yml")
    record_key = tuple(raw.get("record_key") or ())
    _require(bool(record_key), path, "record_key", "list the columns that identify a row")
    pii = tuple(raw.get("pii_columns") or DEFAULT_PII_COLUMNS)
    leaked = set(record_key) & set(pii)
    _require(not leaked, path, "record_key", f"must not contain personal data {sorted(leaked)}")
    items = raw.get("expectations")
    _require(isinstance(items, list) and bool(items), path, "expectations", "must be a list")
    specs = tuple(_parse_expectation(item, path, i) for i, item in enumerate(items))
    ids = [s.id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    _require(not dupes, path, "expectations", f"duplicate ids {dupes}")
    chunk_rows = raw.get("chunk_rows")
    _require(chunk_rows is None or (isinstance(chunk_rows, int) and chunk_rows > 0), path,
             "chunk_rows", "must be a positive integer")
    return Suite(
        name=name, path=path, description=str(raw.get("description") or ""),
        record_key=record_key, expectations=specs, pii_columns=pii,
        derived_columns=dict(raw.get("derived_columns") or {}),
        incremental_column=raw.get("incremental_column"), chunk_rows=chunk_rows,
    )


def load_suites(directory: str | Path = SUITES_DIR) -> list[Suite]:
    """Every suite in ``directory``, sorted by name."""
    return [load_suite(p) for p in sorted(Path(directory).glob("*.yml"))]
