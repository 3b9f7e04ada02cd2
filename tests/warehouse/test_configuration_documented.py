"""Every ``CRMW_*`` variable the code reads is listed in the README's configuration table.

The README promises one source of configuration; a variable read somewhere deep in the code
and documented nowhere is configuration a user cannot find. This test reads every file of
the repository that code or dbt reads settings from (Python, dbt SQL and YAML, the Makefile,
GX suites), collects the ``CRMW_`` names, and fails naming each one the table lacks.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bCRMW_[A-Z0-9_]*[A-Z0-9]\b")
READ_FROM = (".py", ".sql", ".yml", ".yaml", ".toml", ".cfg")
NOT_CODE = ("bench/results/",)  # measured results: they quote commands, they read nothing


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return [REPO / f for f in out
            if (f.endswith(READ_FROM) or Path(f).name == "Makefile")
            and not f.startswith(NOT_CODE)]


def names_in_code() -> dict[str, str]:
    """``{variable: first file that names it}``."""
    found: dict[str, str] = {}
    for path in tracked_files():
        for name in NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, str(path.relative_to(REPO)))
    return found


def names_in_readme_table() -> set[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {m for row in rows for m in NAME.findall(row.split("|")[1])}


def test_the_scan_finds_the_variables_everyone_knows():
    found = names_in_code()
    for name in ("CRMW_WAREHOUSE_PATH", "CRMW_SOURCES_DIR", "CRMW_ERP_URL"):
        assert name in found, name


def test_every_crmw_variable_in_the_code_is_in_the_readme_configuration_table():
    documented = names_in_readme_table()
    missing = {name: where for name, where in names_in_code().items()
               if name not in documented}
    assert not missing, ("CRMW_ variables read by the code but not in the README's "
                         f"configuration table: {missing}")


def test_the_table_lists_nothing_the_code_no_longer_reads():
    stale = names_in_readme_table() - set(names_in_code())
    assert not stale, f"README configuration rows for variables nothing reads: {sorted(stale)}"
