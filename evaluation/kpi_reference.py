"""A reference implementation of the KPIs in plain SQL: every metric of the dbt semantic layer
(dbt_project/models/metrics/_kpi__semantic_models.yml) compiled to a DuckDB query per period.

Why: the KPIs are defined once, as dbt semantic models and metrics (queryable with MetricFlow,
``mf query``, when dbt-metricflow is installed); the marts ``kpi_daily`` and ``kpi_monthly``
are compiled from them by the dbt macro ``kpis``. This module reads the same YAML and compiles
it independently, so ``tests/dbt/test_kpi_definitions.py`` can check the marts against a
second reading of the single definition, and a person can query a KPI from Python without
MetricFlow (``python -m evaluation.kpi_reference``). It is evaluation, not product: the
report, the publication and the Dagster assets never import it (they read the marts). It
supports what the YAML uses: simple metrics over sum / average / count_distinct / min / max /
count measures (with a ``min`` window non-additive dimension for stock measures), ratio
metrics and derived metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from warehouse.config import DBT_PROJECT_DIR

SEMANTIC_LAYER_FILE = DBT_PROJECT_DIR / "models" / "metrics" / "_kpi__semantic_models.yml"
GRAINS = ("day", "week", "month", "quarter", "year")
_AGGREGATES = {
    "sum": "sum({})",
    "average": "avg({})",
    "count_distinct": "count(distinct {})",
    "count": "count({})",
    "min": "min({})",
    "max": "max({})",
}
_REF = re.compile(r"""^ref\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)$""")


class MetricDefinitionError(ValueError):
    """The semantic-layer YAML holds something this metrics layer cannot compile."""


@dataclass(frozen=True)
class Measure:
    name: str
    model: str            # dbt model name (all metrics-layer inputs live in schema marts)
    agg: str
    expr: str
    time_expr: str        # SQL expression of the measure's agg_time_dimension
    non_additive_min: bool  # semi-additive: the period's value is its first day's


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    label: str
    description: str
    type_params: dict


@dataclass(frozen=True)
class SemanticLayer:
    measures: dict[str, Measure]
    metrics: dict[str, Metric]
    source: Path

    def metric_sql(self, name: str, grain: str = "month", schema: str = "marts") -> str:
        """A query returning (period_start date, value) per period holding data for ``name``."""
        if grain not in GRAINS:
            raise MetricDefinitionError(f"grain {grain!r} is not one of {GRAINS}")
        metric = self.metrics.get(name)
        if metric is None:
            raise MetricDefinitionError(f"{self.source}: no metric named {name!r}")
        params = metric.type_params
        if metric.type == "simple":
            return self._measure_sql(params["measure"], grain, schema)
        if metric.type == "ratio":
            return self._combine({"num": params["numerator"], "den": params["denominator"]},
                                 "num / nullif(den, 0)", grain, schema)
        if metric.type == "derived":
            inputs = {m["name"]: m["name"] for m in params["metrics"]}
            return self._combine(inputs, params["expr"], grain, schema)
        raise MetricDefinitionError(f"{self.source}: metric {name!r} has unsupported type "
                                    f"{metric.type!r}")

    def _measure_sql(self, measure_name: str, grain: str, schema: str) -> str:
        m = self.measures.get(_name_of(measure_name))
        if m is None:
            raise MetricDefinitionError(f"{self.source}: no measure named {measure_name!r}")
        relation = f"{schema}.{m.model}"
        aggregate = _AGGREGATES[m.agg].format(m.expr)
        if m.non_additive_min:
            return (f"select date_trunc('{grain}', t)::date as period_start, arg_min(v, t) as value"
                    f" from (select ({m.time_expr})::date as t, {aggregate} as v"
                    f" from {relation} group by 1) group by 1")
        return (f"select date_trunc('{grain}', {m.time_expr})::date as period_start,"
                f" {aggregate} as value from {relation} group by 1")

    def _combine(self, inputs: dict[str, str | dict], expr: str, grain: str, schema: str) -> str:
        """Join the input metrics on period and evaluate ``expr`` over them (by alias)."""
        aliases = list(inputs)
        ctes = ", ".join(f"{alias} as ({self.metric_sql(_name_of(metric), grain, schema)})"
                         for alias, metric in inputs.items())
        periods = " union ".join(f"select period_start from {a}" for a in aliases)
        joins = " ".join(f"left join {a} on {a}.period_start = p.period_start" for a in aliases)
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, aliases)) + r")\b")
        value = pattern.sub(lambda mt: self._input_value(mt.group(1), inputs[mt.group(1)]), expr)
        return (f"with {ctes}, p as ({periods}) "
                f"select p.period_start, {value} as value from p {joins}")


    def _input_value(self, alias: str, metric_ref: str | dict) -> str:
        """An input's value; a simple metric with ``fill_nulls_with`` counts that in empty
        periods (as MetricFlow does)."""
        metric = self.metrics.get(_name_of(metric_ref))
        measure = metric.type_params.get("measure") if metric else None
        if isinstance(measure, dict) and measure.get("fill_nulls_with") is not None:
            return f"coalesce({alias}.value, {measure['fill_nulls_with']})::double"
        return f"{alias}.value::double"


def _name_of(ref: str | dict) -> str:
    return ref["name"] if isinstance(ref, dict) else ref


def load_semantic_layer(path: Path = SEMANTIC_LAYER_FILE) -> SemanticLayer:
    """Parse the semantic models and metrics of ``path``; errors name the file and item."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    measures: dict[str, Measure] = {}
    for sm in doc.get("semantic_models", []):
        found = _REF.match(str(sm.get("model", "")).strip())
        if not found:
            raise MetricDefinitionError(f"{path}: semantic model {sm.get('name')!r} needs "
                                        f"model: ref('...'), got {sm.get('model')!r}")
        dims = {d["name"]: d.get("expr", d["name"]) for d in sm.get("dimensions", [])}
        default_time = (sm.get("defaults") or {}).get("agg_time_dimension")
        for raw in sm.get("measures", []):
            time_dim = raw.get("agg_time_dimension", default_time)
            if time_dim not in dims:
                raise MetricDefinitionError(f"{path}: measure {raw['name']!r} of semantic model "
                                            f"{sm['name']!r} has no time dimension {time_dim!r}")
            if raw["agg"] not in _AGGREGATES:
                raise MetricDefinitionError(f"{path}: measure {raw['name']!r}: unsupported agg "
                                            f"{raw['agg']!r}")
            non_additive = raw.get("non_additive_dimension")
            if non_additive and non_additive.get("window_choice", "min") != "min":
                raise MetricDefinitionError(f"{path}: measure {raw['name']!r}: only window_choice "
                                            "min is supported")
            if raw["name"] in measures:
                raise MetricDefinitionError(f"{path}: measure {raw['name']!r} defined twice")
            measures[raw["name"]] = Measure(
                name=raw["name"], model=found.group(1), agg=raw["agg"],
                expr=str(raw.get("expr", raw["name"])), time_expr=dims[time_dim],
                non_additive_min=bool(non_additive))
    metrics: dict[str, Metric] = {}
    for raw in doc.get("metrics", []):
        if raw["name"] in metrics:
            raise MetricDefinitionError(f"{path}: metric {raw['name']!r} defined twice")
        metrics[raw["name"]] = Metric(
            name=raw["name"], type=raw["type"], label=raw.get("label", raw["name"]),
            description=" ".join(str(raw.get("description", "")).split()),
            type_params=raw.get("type_params", {}))
    return SemanticLayer(measures, metrics, Path(path))


def main(argv: list[str] | None = None) -> None:
    """``python -m evaluation.kpi_reference [--grain month] [--sql] METRIC...``: print each
    metric per period from the warehouse (CRMW_WAREHOUSE_PATH, read-only), or its SQL with
    ``--sql``."""
    import argparse

    from warehouse.connection import connect

    parser = argparse.ArgumentParser(prog="python -m evaluation.kpi_reference",
                                     description=main.__doc__)
    parser.add_argument("metrics", nargs="*", help="metric names (default: list the metrics)")
    parser.add_argument("--grain", default="month", choices=GRAINS)
    parser.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    args = parser.parse_args(argv)
    layer = load_semantic_layer()
    if not args.metrics:
        for m in layer.metrics.values():
            print(f"{m.name:28} {m.type:8} {m.description}")
        return
    for name in args.metrics:
        sql = layer.metric_sql(name, args.grain)
        if args.sql:
            print(f"-- {name} ({args.grain})\n{sql};")
            continue
        con = connect(read_only=True)
        try:
            rows = con.execute(f"select * from ({sql}) order by period_start").fetchall()
        finally:
            con.close()
        print(f"{name} per {args.grain}")
        for period, value in rows:
            print(f"  {period}  {value}")


if __name__ == "__main__":
    main()
