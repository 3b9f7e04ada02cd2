"""The ``crm-warehouse`` command line.

Every command that builds something goes through Dagster on the project's Dagster home, so a
run started here shows up in the UI (``make ui``) with its materializations and checks.
Area commands (``simulate``, ``quality``, ``forget``, ``bench``) are thin wrappers over the
plain-Python modules that own the logic, imported lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import click

from warehouse.config import REPO_ROOT, export_environment, settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """CRM Warehouse: one trusted picture of every customer."""


def _register_simulate() -> None:
    try:
        from simulator.cli import simulate_command as simulate
    except ImportError:  # the simulator area is optional for a user pointing at real sources
        return
    main.add_command(simulate, "simulate")


_register_simulate()


def _prepare_instance():
    """Export the settings and make sure the Dagster home (with its dagster.yaml) exists."""
    s = export_environment()
    from orchestration.instance import ensure_dagster_home

    home = ensure_dagster_home(s.dagster_home)
    os.environ["DAGSTER_HOME"] = str(home)
    return s


def build_everything_job():
    """Module-level factory so Dagster can reconstruct the job in its own process."""
    from orchestration.definitions import defs

    return defs.resolve_job_def("build_everything")


def _follow_progress(instance, tag_value: str, done: threading.Event) -> None:
    """Print one line per finished step, read from the run's event log while it runs.

    Each poll reads only the new records of the three kinds printed (cursor + ``of_type``),
    not the whole log again: a demo run writes about 2,000 events, and re-reading all of
    them every second took CPU from the run itself (both share the process)."""
    from dagster import DagsterEventType, RunsFilter

    run_id, cursor, started = None, None, time.monotonic()
    kinds = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
             DagsterEventType.ASSET_CHECK_EVALUATION}
    while True:
        finished = done.is_set()  # read once more after the run ends: nothing is missed
        if run_id is None:
            runs = instance.get_runs(RunsFilter(tags={"crmw/cli-invocation": tag_value}), limit=1)
            run_id = runs[0].run_id if runs else None
        if run_id is not None:
            page = instance.get_records_for_run(run_id, cursor=cursor, of_type=kinds)
            cursor = page.cursor
            for record in page.records:
                event = record.event_log_entry.dagster_event
                if event is None:
                    continue
                elapsed = time.monotonic() - started
                if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                    evaluation = event.event_specific_data
                    if not evaluation.passed:
                        key = evaluation.asset_key.to_user_string()
                        click.echo(f"  [{elapsed:6.1f}s] check failed: {key} "
                                   f"{evaluation.check_name} ({evaluation.severity.value})")
                    continue
                status = "ok  " if event.event_type == DagsterEventType.STEP_SUCCESS else "FAIL"
                click.echo(f"  [{elapsed:6.1f}s] {status} {event.step_key}")
        if finished:
            break
        done.wait(1.0)


@main.command()
@click.option("--quiet", is_flag=True, help="No per-step progress lines.")
def run(quiet: bool) -> None:
    """Materialize every asset through Dagster (job build_everything) and print a summary."""
    s = _prepare_instance()
    from dagster import DagsterInstance, execute_job, reconstructable

    invocation = uuid.uuid4().hex
    click.echo(f"Running job build_everything (Dagster home {os.environ['DAGSTER_HOME']})")
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        done = threading.Event()
        follower = None
        if not quiet:
            follower = threading.Thread(
                target=_follow_progress, args=(instance, invocation, done), daemon=True
            )
            follower.start()
        result = execute_job(
            reconstructable(build_everything_job),
            instance=instance,
            tags={"crmw/cli-invocation": invocation},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        done.set()
        if follower:
            follower.join(timeout=10)
        run_id = result.run_id
    elapsed = time.monotonic() - started
    from orchestration.summary import summary_text

    click.echo(summary_text(s, run_id=run_id, success=result.success, seconds=elapsed))
    if not result.success:
        sys.exit(1)


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def ui(port: int, host: str) -> None:
    """Open the Dagster UI (webserver + daemon) on the same Dagster home as `run`."""
    _prepare_instance()
    click.echo(f"Dagster UI on http://{host}:{port} (Dagster home {os.environ['DAGSTER_HOME']})")
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "orchestration.definitions",
           "-h", host, "-p", str(port)]
    raise SystemExit(subprocess.call(cmd, cwd=REPO_ROOT))


@main.command()
def quality() -> None:
    """Print the latest data-quality results per table and where the Data Docs are."""
    s = export_environment()
    from expectations.report import latest_results_text

    click.echo(latest_results_text(s.warehouse_path))


@main.command()
@click.option("--customer", required=True, help="customer_key or e-mail of the person")
def forget(customer: str) -> None:
    """Erase a person from every warehouse file (right to erasure), audited without PII."""
    export_environment()
    from warehouse.pii.erasure import forget as erase
    from warehouse.report_builder.build import build_report

    result = erase(customer, rebuild_report=build_report)
    click.echo(result.summary())
    if not result.clean:
        sys.exit(1)


@main.command()
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
def bench(customers, history_days, seed, work_dir, results_dir, resume,
          incremental_on_staged, from_stage) -> None:
    """Time every pipeline stage, the whole pipeline and one incremental day at a scale."""
    from pathlib import Path

    from warehouse.bench.runner import BenchError, run_benchmark

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


@main.command()
def where() -> None:
    """Print where the warehouse, the sources and the Dagster home are."""
    s = settings()
    for name in ("warehouse_path", "sources_dir", "erp_url", "ecommerce_dir",
                 "service_desk_dir", "dagster_home"):
        click.echo(f"{name:18} {getattr(s, name)}")


if __name__ == "__main__":
    main()
