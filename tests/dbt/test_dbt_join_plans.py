"""No model joins two relations by comparing every row with every row.

DuckDB plans a join whose ON clause it cannot turn into equalities (for example a condition
on one side only, inside a LEFT JOIN) as a BLOCKWISE_NL_JOIN. At demo size that takes
milliseconds; at 1,000,000 customers ``int_customer_golden`` ran for over 15 minutes on one.
This test EXPLAINs every compiled model of the session's build and fails on such a plan,
so the next one is caught at demo size."""

from __future__ import annotations

from pathlib import Path

NESTED_LOOP_PLANS = ("BLOCKWISE_NL_JOIN",)


def test_no_model_plans_a_blockwise_nested_loop_join(built_warehouse):
    compiled = sorted(Path(built_warehouse.target_path, "compiled").rglob("models/**/*.sql"))
    assert len(compiled) > 50, "the build wrote no compiled models"
    offenders = []
    with built_warehouse.connect() as con:
        for path in compiled:
            plan = "\n".join(row[1] for row in con.execute("explain " + path.read_text())
                             .fetchall())
            offenders += [f"{path.stem}: {kind}" for kind in NESTED_LOOP_PLANS if kind in plan]
    assert not offenders, offenders
