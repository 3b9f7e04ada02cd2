"""publish(): what it copies, and what makes it refuse while keeping the last good version."""

import duckdb
import pytest

from warehouse.publish import PublishRefused, publication_paths, publish, read_manifest


def _build(path, email_value):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts; create schema if not exists ml; "
                "create schema if not exists staging")
    con.execute("create or replace table staging.stg_people as select 'ann@example.com' as email")
    con.execute(f"create or replace table marts.dim_customer as select 'c1' as customer_key, "
                f"'{email_value}' as email_masked")
    con.execute("create or replace view ml.scores_v as select 'c1' as customer_key, 0.3 as p")
    con.close()


def test_publish_copies_only_bi_schemas_and_materializes_views(tmp_path):
    build = tmp_path / "warehouse.duckdb"
    _build(build, "a***@example.com")
    result = publish(build)
    assert set(result.tables) == {"marts.dim_customer", "ml.scores_v"}
    con = duckdb.connect(str(result.database), read_only=True)
    kinds = dict(con.execute("select table_name, table_type from information_schema.tables "
                             "where table_schema in ('marts','ml','staging')").fetchall())
    con.close()
    assert kinds == {"dim_customer": "BASE TABLE", "scores_v": "BASE TABLE"}  # no staging
    assert (result.parquet_dir / "ml" / "scores_v.parquet").exists()


def test_unmasked_email_refuses_and_keeps_previous(tmp_path):
    build = tmp_path / "warehouse.duckdb"
    _build(build, "a***@example.com")
    publish(build)
    paths = publication_paths(build)
    before = read_manifest(paths.database)
    current_before = paths.parquet_current.resolve()

    _build(build, "ann.smith@example.com")
    with pytest.raises(PublishRefused, match=r"marts\.dim_customer\.email_masked"):
        publish(build)
    assert read_manifest(paths.database) == before
    assert paths.parquet_current.resolve() == current_before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert b"ann.smith@example.com" not in paths.database.read_bytes()


def test_missing_build_is_refused(tmp_path):
    with pytest.raises(PublishRefused, match="no build database"):
        publish(tmp_path / "nothing.duckdb")
