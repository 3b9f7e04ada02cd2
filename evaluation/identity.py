"""Identity resolution scored against the simulator's ground truth: pairwise precision and
recall of the identity map.

Two source records form a *pair* when they belong to the same person (truth) or the same
customer_key (prediction). Precision = correct predicted pairs / predicted pairs; recall =
correct predicted pairs / true pairs. Pairs are counted set-based in DuckDB (per cluster,
n*(n-1)/2 and the pairs shared by a customer and a person), so scoring a million records
needs no pair list in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

IDENTITY_MAP = "intermediate.int_customer_identity_map"


@dataclass(frozen=True)
class PairwiseScore:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    records_scored: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    def __str__(self) -> str:
        return (f"pairwise precision {self.precision:.4f} ({self.correct_pairs}/"
                f"{self.predicted_pairs}), recall {self.recall:.4f} ({self.correct_pairs}/"
                f"{self.true_pairs}) over {self.records_scored} records")


def pairwise_score(con: duckdb.DuckDBPyConnection, truth_sql: str,
                   identity_map: str = IDENTITY_MAP) -> PairwiseScore:
    """Score ``identity_map`` against ``truth_sql`` (a query or relation with columns
    source_system, source_table, source_id, person_id). Only records present in both are
    scored, so records staging rejected do not count as misses of the matcher."""
    row = con.execute(f"""
        with truth as (
            select source_system, source_table, source_id::varchar as source_id, person_id
            from ({truth_sql})
        ),
        joined as (
            select m.customer_key, t.person_id
            from {identity_map} as m
            join truth as t using (source_system, source_table, source_id)
        ),
        by_customer as (select count(*) as n from joined group by customer_key),
        by_person as (select count(*) as n from joined group by person_id),
        by_both as (select count(*) as n from joined group by customer_key, person_id)
        select
            (select coalesce(sum(n * (n - 1) / 2), 0) from by_person),
            (select coalesce(sum(n * (n - 1) / 2), 0) from by_customer),
            (select coalesce(sum(n * (n - 1) / 2), 0) from by_both),
            (select count(*) from joined)
    """).fetchone()
    return PairwiseScore(*(int(v) for v in row))
