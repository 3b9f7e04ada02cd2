"""One definition per KPI: every KPI of the issue is exactly one metric of the dbt semantic
layer, with a description; kpi_daily and kpi_monthly are compiled from that definition by the
kpis macro (changing a metric in the YAML changes the marts, with no SQL edited) and hold the
values it gives (recomputed from the YAML by evaluation.kpi_reference, and by MetricFlow when
dbt-metricflow is installed); the marts' column descriptions are the metrics' descriptions
word for word."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dbt_test_helpers import dbt_env

from evaluation.kpi_reference import SEMANTIC_LAYER_FILE, load_semantic_layer
from warehouse.config import DBT_PROJECT_DIR

# The KPIs named in the issue -> the metric(s) that define them.
ISSUE_KPIS = {
    "revenue": ["revenue"],
    "orders": ["orders"],
    "average order value": ["average_order_value"],
    "active customers": ["active_customers"],
    "new customers": ["new_customers"],
    "returning customers": ["returning_customers"],
    "repeat-purchase rate": ["repeat_purchase_rate"],
    "churn rate": ["churn_rate"],
    "conversion": ["session_conversion_rate"],
    "CSAT": ["csat_average", "csat_satisfied_rate"],
    "NPS": ["nps"],
    "first-response time": ["avg_first_response_minutes"],
    "resolution time": ["avg_resolution_hours"],
    "CLV": ["average_clv_12m"],
}
MF = Path(sys.executable).parent / "mf"
# kpi marts round to at most 1 decimal place for any KPI (e.g. nps, first-response minutes).
ROUNDING_TOLERANCE = 0.051


def _same(mart_value, defined_value) -> bool:
    if defined_value is None or (isinstance(defined_value, float) and math.isnan(defined_value)):
        return mart_value is None or mart_value == 0   # counts are coalesced to 0 in the marts
    if mart_value is None:
        return False
    return math.isclose(float(mart_value), float(defined_value), abs_tol=ROUNDING_TOLERANCE)


def _mart_columns(built_warehouse, model: str) -> dict[str, str]:
    manifest = json.loads((built_warehouse.target_path / "manifest.json").read_text())
    node = manifest["nodes"][f"model.crm_warehouse.{model}"]
    return {name: " ".join(col["description"].split()) for name, col in node["columns"].items()}


def test_every_issue_kpi_has_exactly_one_described_metric():
    raw = yaml.safe_load(SEMANTIC_LAYER_FILE.read_text())
    names = [m["name"] for m in raw["metrics"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"metrics defined more than once: {duplicates}"
    layer = load_semantic_layer()
    for kpi, metrics in ISSUE_KPIS.items():
        for name in metrics:
            assert name in layer.metrics, f"KPI {kpi!r}: no metric {name!r}"
            assert len(layer.metrics[name].description) > 10, f"metric {name!r} has no description"
    # the KPI marts only call the macro that compiles the semantic layer, and that macro
    # writes no aggregate of its own (its only aggregates are the agg -> SQL function map and
    # the first-day rule of semi-additive measures)
    for stem in ("kpi_daily", "kpi_monthly"):
        text = (DBT_PROJECT_DIR / "models" / "marts" / "crm" / f"{stem}.sql").read_text()
        code = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        assert code.strip().startswith("{{ kpis(") and "(" not in code.split("}}", 1)[1], stem
    macro = (DBT_PROJECT_DIR / "macros" / "kpis.sql").read_text()
    for measure in layer.measures.values():
        assert measure.expr not in macro or measure.expr in ("1",), (
            f"macros/kpis.sql repeats the expression of measure {measure.name!r}")


def test_changing_a_metric_in_the_yaml_changes_the_marts(built_warehouse, tmp_path):
    """The marts hold no second copy: edit only the semantic-layer YAML (orders now counts
    cancelled orders too; a new derived metric appears as a documented column) and rebuild
    kpi_monthly: its values follow the edited definitions."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    layer_file = project / "models" / "metrics" / SEMANTIC_LAYER_FILE.name
    text = layer_file.read_text()
    old = "expr: case when not is_cancelled then 1 else 0 end"
    assert text.count(old) == 1
    doc = yaml.safe_load(text.replace(old, "expr: '1'"))
    doc["metrics"].append({
        "name": "orders_per_active_customer", "label": "Orders per active customer",
        "description": "orders / active customers", "type": "derived",
        "type_params": {"expr": "orders / nullif(active_customers, 0)",
                        "metrics": [{"name": "orders"}, {"name": "active_customers"}]}})
    layer_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    models_file = project / "models" / "marts" / "crm" / "_crm__models.yml"
    models = yaml.safe_load(models_file.read_text())
    monthly = next(m for m in models["models"] if m["name"] == "kpi_monthly")
    monthly["columns"].append({"name": "orders_per_active_customer", "data_type": "double",
                               "description": "orders / active customers"})
    models_file.write_text(yaml.safe_dump(models, sort_keys=False))

    warehouse = built_warehouse.copy_to(tmp_path / "wh")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "-s", "kpi_monthly",
         "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project, env=dbt_env(warehouse), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"dbt run failed:\n{proc.stdout[-3000:]}"
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("""
            with o as (select date_trunc('month', order_date)::date as period_start,
                              count(*) as all_orders,
                              count(distinct customer_key) filter (where not is_cancelled)
                                  as active
                       from marts.fct_orders group by 1)
            select k.period_start, k.orders, o.all_orders, k.orders_per_active_customer,
                   o.all_orders / nullif(o.active, 0)
            from marts.kpi_monthly as k join o using (period_start) order by 1""").fetchall()
        cancelled = con.execute(
            "select count(*) from marts.fct_orders where is_cancelled").fetchone()[0]
    finally:
        con.close()
    assert rows and cancelled > 0, "the test needs cancelled orders to tell the definitions apart"
    assert all(r[1] == r[2] for r in rows), f"orders does not follow the edited metric: {rows[:3]}"
    assert all(r[4] is None and r[3] is None or math.isclose(r[3], r[4]) for r in rows), rows[:3]


def test_semantic_layer_is_in_the_dbt_manifest(built_warehouse):
    """dbt parsed the semantic models and metrics (the file is valid dbt YAML)."""
    manifest = json.loads((built_warehouse.target_path / "manifest.json").read_text())
    manifest_metrics = {m["name"]: m for m in manifest["metrics"].values()}
    layer = load_semantic_layer()
    assert set(layer.metrics) == set(manifest_metrics)
    assert (built_warehouse.target_path / "semantic_manifest.json").exists()


@pytest.mark.parametrize("model", ["kpi_daily", "kpi_monthly"])
def test_mart_descriptions_are_the_metric_descriptions(built_warehouse, model):
    columns = _mart_columns(built_warehouse, model)
    layer = load_semantic_layer()
    shared = [name for name in layer.metrics if name in columns]
    assert len(shared) >= 20
    for name in shared:
        assert columns[name] == layer.metrics[name].description, (
            f"{model}.{name}: column description differs from metric {name!r} in "
            f"{SEMANTIC_LAYER_FILE.name}")


@pytest.mark.parametrize(("model", "grain"), [("kpi_monthly", "month"), ("kpi_daily", "day")])
def test_marts_equal_the_semantic_definitions(built_warehouse, model, grain):
    layer = load_semantic_layer()
    con = built_warehouse.connect()
    try:
        columns = {r[0] for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ?", [model]).fetchall()}
        checked = 0
        for name in layer.metrics:
            if name not in columns:
                continue
            rows = con.execute(
                f"select k.period_start, k.{name}, d.value from marts.{model} as k "
                f"left join ({layer.metric_sql(name, grain)}) as d using (period_start)"
                " order by 1").fetchall()
            assert rows, f"{model} is empty"
            wrong = [r for r in rows if not _same(r[1], r[2])]
            assert not wrong, f"{model}.{name} differs from its metric definition: {wrong[:5]}"
            assert any(r[2] not in (None, 0) for r in rows), f"{name}: definition gives no data"
            checked += 1
        assert checked >= 20
    finally:
        con.close()


@pytest.mark.skipif(not MF.exists(), reason="dbt-metricflow is not installed (no `mf` CLI)")
def test_metricflow_query_equals_kpi_monthly(built_warehouse, tmp_path):
    """MetricFlow, reading the same semantic manifest, gives kpi_monthly's values."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "target").mkdir()
    for name in ("semantic_manifest.json", "manifest.json"):
        shutil.copy(built_warehouse.target_path / name, project / "target" / name)
    warehouse = built_warehouse.copy_to(tmp_path / "wh")
    con = built_warehouse.connect()
    try:
        columns = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = 'kpi_monthly' order by ordinal_position").fetchall()]
        metrics = [c for c in columns if c in load_semantic_layer().metrics]
        mart = {r[0].isoformat(): r[1:] for r in con.execute(
            f"select period_start, {', '.join(metrics)} from marts.kpi_monthly").fetchall()}
    finally:
        con.close()
    out = tmp_path / "mf.csv"
    proc = subprocess.run(
        [str(MF), "query", "--metrics", ",".join(metrics), "--group-by", "metric_time__month",
         "--csv", str(out)],
        cwd=project, env=dbt_env(warehouse, DBT_PROFILES_DIR=str(project)),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and out.exists(), f"mf query failed:\n{proc.stdout[-3000:]}"
    compared = 0
    with out.open() as f:
        for row in csv.DictReader(f):
            period = row["metric_time__month"][:10]
            if period not in mart:
                continue
            for name, mart_value in zip(metrics, mart[period], strict=True):
                mf_value = float(row[name]) if row[name] not in ("", None) else None
                assert _same(mart_value, mf_value), (
                    f"{period} {name}: kpi_monthly {mart_value} != MetricFlow {mf_value}")
                compared += 1
    assert compared >= len(metrics) * (len(mart) - 1)


def test_unknown_metric_or_grain_is_a_clear_error(capsys):
    from evaluation.kpi_reference import MetricDefinitionError, main

    layer = load_semantic_layer()
    with pytest.raises(MetricDefinitionError, match="no metric named 'profit'"):
        layer.metric_sql("profit")
    with pytest.raises(MetricDefinitionError, match="grain 'hour'"):
        layer.metric_sql("revenue", "hour")
    main(["--sql", "--grain", "month", "average_order_value"])
    sql = capsys.readouterr().out
    assert "marts.fct_orders" in sql and "nullif(den, 0)" not in sql and "/ nullif(" in sql
