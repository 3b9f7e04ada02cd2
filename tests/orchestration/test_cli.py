"""The ``crm-warehouse`` command line: built-in commands, plugin commands from the entry-point
group ``crm_warehouse.commands``, and what a plugin that does not load does to the rest."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestration import cli
from warehouse.config import REPO_ROOT

TOOLS = ("simulator", "bench", "evaluation")


def test_the_cli_module_names_no_tool_package():
    """Not even a lazy import or an import by name: the tools reach the CLI as plugins."""
    source = Path(cli.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value.split(".")[0] not in TOOLS, f"names a tool: {node.value!r}"
    assert not imported & set(TOOLS)


def test_importing_the_cli_and_running_a_builtin_command_loads_no_tool():
    code = ("import sys; from orchestration.cli import main; "
            "main(['where'], standalone_mode=False); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {TOOLS!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_tools_commands_are_listed_from_their_entry_points():
    result = CliRunner().invoke(cli.main, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("run", "ui", "quality", "forget", "where", "simulate", "bench", "evaluate"):
        assert f"  {command} " in result.output, command


@pytest.fixture
def plugins(monkeypatch):
    """Replace the installed entry points of the group by the given ones (restored after)."""
    monkeypatch.setattr(cli.main, "commands", dict(cli.main.commands))
    monkeypatch.setattr(cli.main, "_failed", set())

    def use(**values: str) -> None:
        points = [EntryPoint(name, value, cli.PLUGIN_GROUP) for name, value in values.items()]
        monkeypatch.setattr(cli.main, "_plugins", {ep.name: ep for ep in points})

    return use


def test_a_plugin_gets_the_resolved_settings_in_ctx_obj(plugins, tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "sources"))
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    plugins(**{"echo-settings": "cli_plugins:echo_settings"})
    result = CliRunner().invoke(cli.main, ["echo-settings"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"dagster_home={tmp_path / 'home'!r}",
        f"sources_dir={tmp_path / 'sources'!r}",
        f"truth_dir={tmp_path / 'sources' / '_truth'!r}",
        f"warehouse_path={tmp_path / 'wh' / 'warehouse.duckdb'!r}",
    ]


def test_a_plugin_that_does_not_load_leaves_the_other_commands_working(plugins):
    plugins(**{"broken": "no_such_module_anywhere:command",
               "not-a-command": "cli_plugins:not_a_command",
               "echo-settings": "cli_plugins:echo_settings"})
    runner = CliRunner()
    listed = runner.invoke(cli.main, ["--help"])
    assert listed.exit_code == 0, listed.output
    assert "echo-settings" in listed.stdout and "where" in listed.stdout
    assert "broken" not in listed.stdout and "not-a-command" not in listed.stdout
    assert "'broken' (no_such_module_anywhere:command) not loaded" in listed.stderr
    assert "'not-a-command' (cli_plugins:not_a_command) not loaded" in listed.stderr
    assert runner.invoke(cli.main, ["where"]).exit_code == 0
    assert runner.invoke(cli.main, ["echo-settings"]).exit_code == 0
    missing = runner.invoke(cli.main, ["broken"])
    assert missing.exit_code != 0 and "No such command 'broken'" in missing.stderr
