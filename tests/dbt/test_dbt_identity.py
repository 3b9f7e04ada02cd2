"""Identity resolution scored against the simulator's ground truth (default defect rates)."""

from __future__ import annotations

from evaluation.identity import pairwise_score

MIN_PRECISION = 0.99
MIN_RECALL = 0.97


def test_pairwise_precision_and_recall(built_warehouse):
    truth = built_warehouse.truth_person_records
    assert truth.exists(), f"simulator truth missing: {truth}"
    with built_warehouse.connect() as con:
        score = pairwise_score(con, f"select * from read_parquet('{truth}')")
        records = con.execute(
            "select count(*) from intermediate.int_customer_records").fetchone()[0]
    print(f"identity resolution: {score}")
    assert score.records_scored > 0.95 * records  # nearly every staged record has a truth
    assert score.true_pairs > 0
    assert score.precision >= MIN_PRECISION, str(score)
    assert score.recall >= MIN_RECALL, str(score)


def test_every_record_is_mapped_once_with_evidence(built_warehouse):
    with built_warehouse.connect() as con:
        unmapped = con.execute("""
            select count(*) from intermediate.int_customer_records r
            anti join intermediate.int_customer_identity_map m using (record_id)""").fetchone()[0]
        linked_without_evidence = con.execute("""
            select count(*) from intermediate.int_customer_identity_map
            where cluster_size > 1 and link_count = 0""").fetchone()[0]
        customers = con.execute("select count(*) from marts.dim_customer").fetchone()[0]
        keys = con.execute("""select count(distinct customer_key)
                              from intermediate.int_customer_identity_map""").fetchone()[0]
    assert unmapped == 0
    assert linked_without_evidence == 0
    assert customers == keys
