"""File modes by tier: the build database and the vault 0600, the publication 0640 / 0750.

Real files made by the real functions (connect, the vault, publish, the report, the erasure
rewrite) under the usual umask 022, which they must not leave changed.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "pii"))

import serving_warehouse  # noqa: E402

from orchestration.defs.resources import WarehouseResource  # noqa: E402
from warehouse.connection import connect, warehouse  # noqa: E402
from warehouse.filemodes import file_mode  # noqa: E402
from warehouse.pii.erasure import rewrite_database  # noqa: E402
from warehouse.pii.keys import pseudonym_key, vault_key  # noqa: E402
from warehouse.pii.vault import fill_vault, open_vault, vault_path  # noqa: E402
from warehouse.publish import publish  # noqa: E402
from warehouse.report_builder.build import build_report, report_path  # noqa: E402

KEY = bytes.fromhex("5e" * 32)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture(autouse=True)
def usual_umask():
    """Every test starts under umask 022 (files 0644 unless the code says otherwise) and must
    leave it so."""
    saved = os.umask(0o022)
    yield
    try:
        assert _umask() == 0o022, "the umask was left changed"
    finally:
        os.umask(saved)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(data / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("CRMW_PII_KEY", "CRMW_PSEUDONYM_KEY", "CRMW_PII_KEY_FILE",
                 "CRMW_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return data


def test_build_database_and_its_wal_are_private(folder):
    path = folder / "warehouse.duckdb"
    with warehouse() as con:
        con.execute("create table t as select 'ann@example.com' as email")
        con.execute("insert into t values ('bob@example.com')")
        wal = Path(f"{path}.wal")
        assert wal.exists() and file_mode(wal) == 0o600  # written under the private umask
        assert file_mode(path) == 0o600
    assert file_mode(folder) == 0o750  # the data folder: the BI group enters it for marts
    # A file an earlier version left world-readable is fixed at the next writing open.
    os.chmod(path, 0o644)
    connect(path).close()
    assert file_mode(path) == 0o600
    connect(path, read_only=True).close()  # a reader changes nothing
    assert file_mode(path) == 0o600


def test_a_pipeline_step_and_the_dbt_it_starts_write_privately(folder):
    """The warehouse resource holds the private umask for the step; a child (dbt) inherits it."""

    @dg.asset
    def step(warehouse: WarehouseResource) -> str:
        with warehouse.get_connection() as con:
            con.execute("create table t as select 1 as i")
        child = subprocess.run(["sh", "-c", "umask"], capture_output=True, text=True, check=True)
        return child.stdout.strip()

    result = dg.materialize(
        [step], resources={"warehouse": WarehouseResource(
            database=str(folder / "warehouse.duckdb"))})
    assert result.output_for_node("step") == "0077"
    assert file_mode(folder / "warehouse.duckdb") == 0o600


def test_vault_and_keys_are_private(folder):
    build = folder / "warehouse.duckdb"
    folder.mkdir()
    serving_warehouse.build(build, key=pseudonym_key())  # generates data/pseudonym.key
    vault_key()  # generates data/pii.key
    fill_vault(build)
    with open_vault() as con:
        con.execute("insert into customer_records (customer_key) values ('ck_x')")
        assert file_mode(vault_path()) == 0o600
    assert file_mode(vault_path()) == 0o600
    assert file_mode(folder / "pseudonym.key") == 0o600
    assert file_mode(folder / "pii.key") == 0o600
    # The erasure's rewrite into a fresh file keeps the tier.
    rewrite_database(build)
    assert file_mode(build) == 0o600


def test_publication_and_report_are_readable_by_the_bi_group_only(folder, monkeypatch):
    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", KEY.hex())
    folder.mkdir(mode=0o755)
    build = folder / "warehouse.duckdb"
    serving_warehouse.build(build, key=KEY)
    os.chmod(build, 0o600)
    result = publish(build)
    assert file_mode(result.database) == 0o640
    parquet_root = folder / "parquet"
    version_dir = result.parquet_dir.resolve()
    files = [p for p in version_dir.rglob("*") if p.is_file()]
    dirs = [parquet_root, parquet_root / "versions", version_dir,
            *(p for p in version_dir.rglob("*") if p.is_dir())]
    assert len(files) >= 5
    assert {p.name: file_mode(p) for p in files} == {p.name: 0o640 for p in files}
    assert {str(p): file_mode(p) for p in dirs} == {str(p): 0o750 for p in dirs}
    assert file_mode(folder / ".publish_tmp") == 0o700  # spill space of the copy: private
    assert file_mode(build) == 0o600  # publishing reads the build database, leaves it private

    output, _ = build_report(result.database, report_path(build))
    assert file_mode(output) == 0o640 and file_mode(output.parent) == 0o750
    # A BI reader opens the publication read-only, as documented.
    con = duckdb.connect(str(result.database), read_only=True)
    assert con.execute("select count(*) from marts.marts.dim_customer").fetchone()[0] == 60
    con.close()
