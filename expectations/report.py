"""Plain-text quality summary for ``crm-warehouse quality``: latest result per table, Data Docs.

Reads the warehouse read-only, so it can run while a pipeline holds nothing but readers.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.config import settings


def _data_docs_index(warehouse_path: Path) -> Path:
    return Path(warehouse_path).parent / "data_docs" / "index.html"


def latest_results_text(warehouse_path: str | Path | None = None) -> str:
    warehouse_path = Path(warehouse_path or settings().warehouse_path)
    docs = _data_docs_index(warehouse_path)
    footer = f"Data Docs: {docs}" + ("" if docs.exists() else " (not built yet)")
    if not warehouse_path.exists():
        return f"No warehouse at {warehouse_path}: run the pipeline first.\n{footer}"
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        has = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'quality' "
            "and table_name = 'check_results'").fetchone()[0]
        if not has:
            return f"No quality results in {warehouse_path} yet.\n{footer}"
        rows = con.execute(
            """
            with latest as (
                select * from quality.check_results
                qualify dense_rank() over (partition by suite order by checked_at desc) = 1
            )
            select suite, any_value(run_id), max(checked_at), count(*),
                   count(*) filter (where success),
                   count(*) filter (where not success and severity = 'error'),
                   count(*) filter (where not success and severity = 'warn'),
                   string_agg(case when not success then
                       expectation_id || ' [' || severity || ']'
                       || coalesce(': ' || round(unexpected_percent, 2) || '% of '
                                   || element_count || ' rows', '')
                       end, '; ' order by severity, expectation_id)
            from latest group by suite order by suite
            """).fetchall()
        scores = {}
        has_view = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'quality' "
            "and table_name = 'scorecard'").fetchone()[0]
        if has_view:
            for suite, score, trend in con.execute(
                "select s.suite, sc.overall_score, sc.trend from quality.scorecard sc join "
                "(select distinct suite, source_system, table_name from quality.check_results) s "
                "using (source_system, table_name) qualify row_number() over "
                "(partition by s.suite order by sc.checked_at desc, sc.run_id desc) = 1"
            ).fetchall():
                scores[suite] = (score, trend)
    finally:
        con.close()
    lines = [f"{'table':34} {'checked at (UTC)':19}  pass  err  warn  score  trend"]
    problems = []
    for suite, _run, at, total, ok, err, warn, failed in rows:
        score, trend = scores.get(suite, (None, ""))
        score_txt = f"{score:5.1f}" if score is not None else "    -"
        lines.append(f"{suite:34} {at:%Y-%m-%d %H:%M:%S}  {ok:>4}/{total:<3} {err:>3}  {warn:>4}"
                     f"  {score_txt}  {trend}")
        if failed:
            problems.append(f"  {suite}: {failed}")
    if problems:
        lines += ["", "Failed expectations (error blocks downstream, warn is recorded):", *problems]
    lines += ["", footer]
    return "\n".join(lines)
