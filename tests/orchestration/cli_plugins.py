"""Stand-in plugin commands for tests/orchestration/test_cli.py (entry points made up there)."""

import click


@click.command("echo-settings")
@click.pass_obj
def echo_settings(obj) -> None:
    """Print what the crm-warehouse group put in ctx.obj."""
    for name, value in sorted(obj.items()):
        click.echo(f"{name}={value!r}")


not_a_command = object()
