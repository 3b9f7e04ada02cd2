"""``crm-warehouse bench``: time every pipeline stage at one scale.

A plugin of the ``crm-warehouse`` command line (entry-point group ``crm_warehouse.commands``
in pyproject.toml), so the product CLI never imports the benchmark harness. The harness is
lazily imported inside the command, so ``crm-warehouse --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("bench")
@click.option("--customers", type=click.IntRange(min=1), default=10000, show_default=True,
              help="scale: simulated customers (sources generated once under bench/work/)")
@click.option("--history-days", type=click.IntRange(min=1), default=None,
              help="simulated history (default: the simulator's 730 days)")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="default bench/work/<customers>")
@click.option("--results-dir", type=click.Path(file_okay=False), default=None,
              help="default bench/results")
@click.option("--resume", is_flag=True,
              help="reuse the stage figures and warehouse of an earlier run at this scale")
@click.option("--incremental-on-staged", is_flag=True,
              help="run the incremental day on the staged warehouse instead of a second "
                   "full build first (for the largest scales)")
@click.option("--from-stage", default=None,
              help="continue a stopped staged run from this stage, on the warehouse it left")
def bench_command(customers, history_days, seed, work_dir, results_dir, resume,
                  incremental_on_staged, from_stage) -> None:
    """Time every pipeline stage, the whole pipeline and one incremental day at a scale."""
    from bench.runner import BenchError, run_benchmark

    try:
        _, path = run_benchmark(customers, history_days=history_days, seed=seed,
                                work_dir=Path(work_dir) if work_dir else None,
                                results_dir=Path(results_dir) if results_dir else None,
                                echo=click.echo, resume=resume,
                                incremental_on_staged=incremental_on_staged,
                                from_stage=from_stage)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("")
    click.echo(path.with_suffix(".md").read_text())
    click.echo(f"results: {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    bench_command()
