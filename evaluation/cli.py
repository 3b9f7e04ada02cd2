"""``crm-warehouse evaluate``: score the latest churn training against the simulator's truth.

A plugin of the ``crm-warehouse`` command line (entry-point group ``crm_warehouse.commands``
in pyproject.toml), so the product never imports evaluation. It adds the oracle row (the
ceiling) to the latest churn run in ``ml.model_runs`` of the build warehouse and prints that
run's candidates next to the oracle.
"""

from __future__ import annotations

from pathlib import Path

import click


def _default(name: str) -> Path:
    """``name`` from the settings the ``crm-warehouse`` group resolved (``ctx.obj``), else
    from the ``CRMW_*`` environment (the command run on its own)."""
    context = click.get_current_context(silent=True)
    obj = context.find_root().obj if context is not None else None
    if isinstance(obj, dict) and obj.get(name) is not None:
        return Path(obj[name])
    from warehouse.config import settings

    return Path(getattr(settings(), name))


@click.command("evaluate")
@click.option("--warehouse", "warehouse_path", type=click.Path(dir_okay=False), default=None,
              help="build warehouse (default: the configured one)")
@click.option("--truth-dir", type=click.Path(file_okay=False), default=None,
              help="the simulator's ground truth (default: <sources dir>/_truth)")
def evaluate_command(warehouse_path: str | None, truth_dir: str | None) -> None:
    """Add the churn oracle (ceiling) to the latest churn run and print the comparison."""
    from evaluation.churn_oracle import churn_comparison, record_oracle_run
    from ml.shared.model_store import frame_markdown
    from warehouse.connection import connect

    database = Path(warehouse_path) if warehouse_path else _default("warehouse_path")
    truth = Path(truth_dir) if truth_dir else _default("truth_dir")
    if not database.exists():
        raise click.ClickException(f"no build warehouse at {database}: build it first")
    con = connect(database)
    try:
        oracle = record_oracle_run(con, truth)
        if oracle.run is None:
            raise click.ClickException(f"churn oracle {oracle.reason}")
        comparison = churn_comparison(con, oracle.run.run_id)
    finally:
        con.close()
    click.echo(f"churn run {oracle.run.run_id} (model {oracle.run.model_version}), validated "
               f"at {oracle.run.validation_as_of}; the oracle knows the simulator's truth:")
    click.echo(frame_markdown(comparison))
    click.echo(oracle.run.notes or "")


if __name__ == "__main__":
    evaluate_command()
