"""The HTML report: one self-contained file built from the *published* marts (never the build
database), so it always shows exactly what BI tools see.

Each section reads its tables defensively: a table that has not been built yet (or lacks a
column) renders a clear "not available yet" panel naming what is missing, instead of failing
the whole report. Only pseudonymous keys and masked values appear, as in the marts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape

from warehouse.config import settings
from warehouse.filemodes import SHARED_FILE_MODE, make_shared_dir, set_mode
from warehouse.report_builder import charts

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Section:
    title: str
    anchor: str
    html: str = ""
    missing: str | None = None  # why it is not available yet
    notes: list[str] = field(default_factory=list)


class _Source:
    """The published file, opened read-only, with column look-ups."""

    def __init__(self, path: Path):
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"attach '{path}' as pub (read_only)")

    def columns(self, relation: str) -> set[str]:
        schema, table = relation.split(".")
        return {r[0] for r in self.con.execute(
            "select column_name from duckdb_columns() where database_name = 'pub' and "
            "schema_name = ? and table_name = ?", [schema, table]).fetchall()}

    def require(self, relation: str, *cols: str) -> str | None:
        have = self.columns(relation)
        if not have:
            return f"table {relation} is not published yet"
        lacking = [c for c in cols if c not in have]
        return f"{relation} has no column(s) {', '.join(lacking)}" if lacking else None

    def rows(self, sql: str, params=None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()


def _table(headers: list[str], rows: list[tuple], fmt=None) -> str:
    fmt = fmt or (lambda v: charts._fmt(v) if isinstance(v, float) else escape(str(v)))
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kpi_section(src: _Source) -> Section:
    s = Section("KPI trends", "kpi")
    s.missing = src.require("marts.kpi_daily", "period_start", "revenue", "orders")
    if s.missing:
        return s
    out = []
    for metric in ("revenue", "orders", "active_customers"):
        if metric not in src.columns("marts.kpi_daily"):
            continue
        rows = src.rows(f"""
            with d as (select period_start, {metric}::double as v from pub.marts.kpi_daily),
            w as (select period_start, v,
                    avg(v) over r as m, stddev_samp(v) over r as sd
                  from d window r as (order by period_start rows between 28 preceding
                                      and 1 preceding))
            select strftime(period_start, '%Y-%m-%d'), v, m - 3 * sd, m + 3 * sd,
                   coalesce(v < m - 3 * sd or v > m + 3 * sd, false)
            from w order by period_start""")
        anomalies = sum(1 for r in rows if r[4])
        out.append(charts.band_line(rows, f"{metric.replace('_', ' ')} per day — band: "
                                          f"28-day mean ± 3 sd; {anomalies} anomalies"))
    s.html = "".join(out)
    return s


def rfm_section(src: _Source) -> Section:
    s = Section("RFM segments: size and revenue share", "rfm")
    s.missing = src.require("marts.customer_rfm", "segment", "monetary")
    if s.missing:
        return s
    rows = src.rows("""select segment, count(*) as customers,
                          sum(monetary) / nullif(sum(sum(monetary)) over (), 0) as share
                       from pub.marts.customer_rfm group by segment order by customers desc""")
    s.html = (charts.hbars([(r[0], float(r[1])) for r in rows], "customers per segment")
              + charts.hbars([(r[0], float(r[2] or 0) * 100) for r in rows],
                             "share of revenue (%)", fmt=lambda v: f"{v:.1f}%"))
    return s


def migration_section(src: _Source) -> Section:
    s = Section("Segment migration (latest month)", "migration")
    s.missing = src.require("marts.customer_segment_migration", "from_segment", "to_segment",
                            "to_as_of_date")
    if s.missing:
        return s
    rows = src.rows("""select from_segment, to_segment, count(*) from
                         pub.marts.customer_segment_migration
                       where to_as_of_date = (select max(to_as_of_date)
                                              from pub.marts.customer_segment_migration)
                         and from_segment is not null
                       group by 1, 2""")
    segments = sorted({r[0] for r in rows} | {r[1] for r in rows})
    counts = {(a, b): n for a, b, n in rows}
    top = max(counts.values(), default=1)
    head = "<th>from \\ to</th>" + "".join(f"<th>{escape(x)}</th>" for x in segments)
    body = "".join(
        f"<tr><th>{escape(a)}</th>" + "".join(
            f"<td style='background:{charts.heat_color(counts.get((a, b), 0) / top)}'>"
            f"{counts.get((a, b), 0)}</td>" for b in segments) + "</tr>" for a in segments)
    s.html = f"<table class='heat'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return s


def cohort_section(src: _Source) -> Section:
    s = Section("Cohort retention", "cohorts")
    s.missing = src.require("marts.cohort_retention", "cohort_month", "months_since_first",
                            "retention_rate")
    if s.missing:
        return s
    rows = src.rows("""select strftime(cohort_month, '%Y-%m'), months_since_first,
                              retention_rate from pub.marts.cohort_retention
                       where months_since_first <= 12 order by 1, 2""")
    cohorts = sorted({r[0] for r in rows})[-18:]
    rate = {(c, m): v for c, m, v in rows}
    head = "<th>cohort</th>" + "".join(f"<th>M{m}</th>" for m in range(13))
    body = "".join(
        f"<tr><th>{c}</th>" + "".join(
            f"<td style='background:{charts.heat_color(rate.get((c, m)))}'>"
            + (f"{rate[(c, m)] * 100:.0f}%" if rate.get((c, m)) is not None else "")
            + "</td>" for m in range(13)) + "</tr>" for c in cohorts)
    s.html = f"<table class='heat'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return s


def _clv_column(src: _Source) -> str | None:
    cols = src.columns("ml.clv_scores")
    for name in ("clv_12m", "clv", "predicted_clv", "clv_value", "expected_clv"):
        if name in cols:
            return name
    return next((c for c in sorted(cols) if c.startswith("clv")), None)


def churn_section(src: _Source) -> Section:
    s = Section("Churn risk", "churn")
    s.missing = src.require("ml.churn_scores", "customer_key", "churn_probability")
    if s.missing:
        return s
    rows = src.rows("""select least(floor(churn_probability * 10), 9)::int b, count(*)
                       from pub.ml.churn_scores group by 1 order by 1""")
    counts = [0] * 10
    for b, n in rows:
        counts[b] = n
    html = charts.histogram(counts, [i / 10 for i in range(11)],
                            "customers by churn probability (red: 0.5 and above)")
    clv = _clv_column(src)
    if clv and not src.require("marts.dim_customer", "customer_key", "email_masked"):
        top = src.rows(f"""select left(c.customer_key, 12), d.email_masked, c.churn_probability,
                                  v.{clv}::double
                           from pub.ml.churn_scores c join pub.ml.clv_scores v using (customer_key)
                           join pub.marts.dim_customer d using (customer_key)
                           where c.churn_probability >= 0.5
                           order by v.{clv} desc nulls last limit 15""")
        html += ("<h3>At-risk high-value customers</h3>"
                 + _table(["customer", "e-mail (masked)", "churn probability", clv], top))
    else:
        s.notes.append("At-risk high-value list not available yet: needs ml.clv_scores and "
                       "marts.dim_customer.email_masked.")
    s.html = html
    return s


def clv_section(src: _Source) -> Section:
    s = Section("CLV by segment", "clv")
    clv = _clv_column(src)
    s.missing = (src.require("ml.clv_scores", "customer_key")
                 or ("ml.clv_scores has no CLV column" if not clv else None)
                 or src.require("marts.customer_rfm", "segment"))
    if s.missing:
        return s
    rows = src.rows(f"""select r.segment, count(*), quantile_cont(v.{clv}, 0.1),
                              quantile_cont(v.{clv}, 0.5), quantile_cont(v.{clv}, 0.9)
                       from pub.ml.clv_scores v join pub.marts.customer_rfm r
                         using (customer_key)
                       group by 1 order by 4 desc""")
    s.html = (charts.hbars([(r[0], float(r[3] or 0)) for r in rows], f"median {clv}")
              + _table(["segment", "customers", "p10", "median", "p90"],
                       [(r[0], r[1], float(r[2] or 0), float(r[3] or 0), float(r[4] or 0))
                        for r in rows]))
    return s


def affinity_section(src: _Source) -> Section:
    s = Section("Product affinity: top pairs", "affinity")
    s.missing = src.require("marts.product_affinity", "product_id", "other_product_id", "lift")
    if s.missing:
        return s
    cols = src.columns("marts.product_affinity")
    extra = [c for c in ("orders_with_both", "support", "confidence") if c in cols]
    rows = src.rows(f"""select product_id, other_product_id, lift::double
                               {''.join(f', {c}' for c in extra)}
                        from pub.marts.product_affinity where product_id < other_product_id
                        order by lift desc, product_id limit 12""")
    s.html = _table(["product", "with product", "lift", *extra],
                    [tuple(float(v) if isinstance(v, int | float) and not isinstance(v, bool)
                           and i >= 2 else v for i, v in enumerate(r)) for r in rows])
    return s


def quality_section(src: _Source) -> Section:
    s = Section("Data-quality scorecard", "quality")
    cols = src.columns("quality.scorecard")
    if not cols:
        s.missing = "table quality.scorecard is not published yet"
        return s
    order = next((c for c in ("run_at", "validated_at", "run_id") if c in cols), None)
    keys = [c for c in ("source", "table_name") if c in cols]
    if order and keys:
        sql = (f"select * exclude (_rn) from (select *, row_number() over (partition by "
               f"{', '.join(keys)} order by {order} desc) _rn from pub.quality.scorecard) "
               f"where _rn = 1 order by {', '.join(keys)} limit 40")
    else:
        sql = "select * from pub.quality.scorecard limit 40"
    cursor = src.con.execute(sql)
    headers = [d[0] for d in cursor.description]
    s.html = _table(headers, cursor.fetchall())
    return s


SECTIONS = (kpi_section, rfm_section, migration_section, cohort_section, churn_section,
            clv_section, affinity_section, quality_section)


def report_path(warehouse_path: Path | None = None) -> Path:
    return (warehouse_path or settings().warehouse_path).parent / "report" / "index.html"


def build_report(published: Path | None = None, output: Path | None = None) -> tuple[Path, dict]:
    """Render the report from the published marts into ``data/report/index.html``."""
    from warehouse.publish import publication_paths, read_manifest

    published = Path(published or publication_paths().database)
    output = Path(output or report_path())
    if not published.exists():
        raise FileNotFoundError(f"no publication at {published}: run the publish asset first")
    manifest = read_manifest(published)
    src = _Source(published)
    try:
        sections = [fn(src) for fn in SECTIONS]
    finally:
        src.con.close()
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    html = env.get_template("report.html.j2").render(
        sections=sections, version=manifest[0][0] if manifest else "unknown",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        tables=len(manifest))
    make_shared_dir(output.parent)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    set_mode(tmp, SHARED_FILE_MODE)  # the BI tier: the BI group reads it (warehouse.filemodes)
    os.replace(tmp, output)
    return output, {"sections": len(sections),
                    "not_available": [s.title for s in sections if s.missing]}
