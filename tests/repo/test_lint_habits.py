"""The linting habits stay wired: `make test` runs the linters before the tests, pre-commit
runs the same ones, and each linter has its committed configuration.

The linters themselves run in `make lint` (a failing lint stops `make test`); these tests
catch the wiring coming apart (a hook dropped from pre-commit, a linter removed from the
Makefile, a config file deleted), which no linter would report about itself.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
LINTERS = ("ruff check", "sqlfluff lint", "lint-imports", "dg check defs")


def make_target(name: str) -> tuple[list[str], list[str]]:
    """(prerequisites, recipe lines) of a Makefile target."""
    text = (REPO / "Makefile").read_text()
    match = re.search(rf"^{re.escape(name)}:([^\n]*)\n((?:\t[^\n]*\n)*)", text, re.MULTILINE)
    assert match, f"Makefile has no target {name}"
    return match.group(1).split(), [line.strip() for line in match.group(2).splitlines()]


def test_make_test_runs_the_linters_before_pytest():
    prerequisites, recipe = make_target("test")
    assert "lint" in prerequisites
    assert any("pytest" in line for line in recipe)
    _, lint = make_target("lint")
    for linter in LINTERS:
        assert any(linter in line for line in lint), f"make lint does not run {linter}"


def test_ci_runs_make_test():
    assert re.search(r"^make test\s*$", (REPO / ".ci" / "run").read_text(), re.MULTILINE)


def test_pre_commit_runs_the_same_linters():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    for linter in LINTERS:
        assert any(linter in entry for entry in entries), f"pre-commit does not run {linter}"


def test_sqlfluff_uses_duckdb_and_the_dbt_templater():
    config = configparser.ConfigParser()
    config.read(REPO / ".sqlfluff")
    assert config["sqlfluff"]["dialect"] == "duckdb"
    assert config["sqlfluff"]["templater"] == "dbt"


def test_import_contract_forbids_the_product_from_importing_tools():
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    forbidden = [s for s in config.sections() if config[s].get("type") == "forbidden"]
    product_rule = [config[s] for s in forbidden
                    if "orchestration" in config[s]["source_modules"].split()
                    and "evaluation" in config[s]["forbidden_modules"].split()]
    assert product_rule, "no contract keeps orchestration away from evaluation"
    assert {"simulator", "bench"} <= set(product_rule[0]["forbidden_modules"].split())
