"""The ``crm-warehouse`` command line.

Every command that builds something goes through Dagster on the project's Dagster home, so a
run started here shows up in the UI (``make ui``) with its materializations and checks.
Area commands (``quality``, ``forget``) are thin wrappers over the plain-Python modules that
own the logic, imported lazily so ``--help`` stays fast.

The tools on top of the product (the source simulator, the benchmark, the evaluation against
the simulator's truth) add their commands as plugins: every entry point of the group
``crm_warehouse.commands`` (pyproject.toml) is a ``click.Command``, imported only when it is
listed (``--help``) or run, so this module imports none of them. A plugin that fails to import
is left out with a warning naming it; the other commands work. Plugins read the resolved
settings from ``ctx.obj`` (:func:`resolved_settings`), not from the product's modules.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from importlib.metadata import EntryPoint, entry_points

import click

from warehouse.config import REPO_ROOT, export_environment, settings

PLUGIN_GROUP = "crm_warehouse.commands"


class PluginGroup(click.Group):
    """The built-in commands, then one command per entry point of :data:`PLUGIN_GROUP`,
    loaded on first use."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._plugins: dict[str, EntryPoint] | None = None
        self._failed: set[str] = set()

    def plugins(self) -> dict[str, EntryPoint]:
        if self._plugins is None:
            self._plugins = {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}
        return self._plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None or name in self._failed or name not in self.plugins():
            return command
        entry_point = self.plugins()[name]
        try:
            command = entry_point.load()
            if not isinstance(command, click.Command):
                raise TypeError(f"{type(command).__name__} is not a click command")
        except Exception as exc:  # a broken tool must not take the product's commands down
            self._failed.add(name)
            click.echo(f"crm-warehouse: plugin command {name!r} ({entry_point.value}) "
                       f"not loaded: {type(exc).__name__}: {exc}", err=True)
            return None
        self.add_command(command, name)
        return command


def resolved_settings() -> dict:
    """What the group hands every command in ``ctx.obj``: the resolved paths a plugin may
    default to, as plain values, so a plugin needs nothing of the warehouse package."""
    s = settings()
    return {"sources_dir": s.sources_dir, "warehouse_path": s.warehouse_path,
            "truth_dir": s.truth_dir, "dagster_home": s.dagster_home}


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """CRM Warehouse: one trusted picture of every customer."""
    ctx.obj = resolved_settings()


def _export_settings():
    """Export the resolved settings into this process's environment, and return them.

    The one place the product changes ``os.environ``, on purpose: the processes the CLI starts
    read the settings from their environment, not from Python: dbt (``profiles.yml`` reads
    ``CRMW_WAREHOUSE_PATH`` and ``CRMW_DUCKDB_MEMORY_LIMIT``, the pseudonymization key),
    ``dagster dev`` and its code server, the Dagster instance (``DAGSTER_HOME``)."""
    return export_environment()


def _prepare_instance():
    """Export the settings (:func:`_export_settings`) and make sure the Dagster home (with its
    dagster.yaml) exists; ``DAGSTER_HOME`` names it for this process's Dagster instance and
    for ``dagster dev``."""
    s = _export_settings()
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


def _run_id_for(instance, invocation: str) -> str | None:
    """The id of the run this invocation started (tag ``crmw/cli-invocation``), once it
    exists."""
    from dagster import RunsFilter

    runs = instance.get_runs(RunsFilter(tags={"crmw/cli-invocation": invocation}), limit=1)
    return runs[0].run_id if runs else None


def _recover_before_run(instance) -> None:
    """Recover runs whose process died (``orchestration.recovery``), one line each, and say
    who holds the warehouse pool if a live run does (this run will wait for it)."""
    from orchestration.recovery import pool_states, recover_stale_runs, runs_in_progress

    recover_stale_runs(instance, by="crm-warehouse run", log=lambda line: click.echo(f"  {line}"))
    alive = {s.run.run_id: s for s in runs_in_progress(instance)}
    for pool in pool_states(instance):
        for entry in pool.entries:
            if entry.holds_slot and entry.run_id in alive:
                state = alive[entry.run_id]
                click.echo(f"  waiting for pool {pool.pool}: its slot is held by run "
                           f"{entry.run_id} (step {entry.step_key}, "
                           f"{state.process.describe()}); Ctrl-C stops waiting")


def _on_sigterm(signum, _frame) -> None:
    """SIGTERM outside the run (Dagster handles it inside): stop like Ctrl-C."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


@main.command()
@click.option("--quiet", is_flag=True, help="No per-step progress lines.")
def run(quiet: bool) -> None:
    """Materialize every asset through Dagster (job build_everything) and print a summary.

    First recovers runs whose process died (marked failed, pool slots freed, leftover dbt
    processes ended). Ctrl-C or SIGTERM stops the run, also while it waits for the pool:
    the run is marked canceled or failed, its slots freed, exit code 130 or 143."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _run(quiet)
    except KeyboardInterrupt as exc:  # outside the run (those during it are handled in _run)
        name = "SIGTERM" if "SIGTERM" in exc.args else "SIGINT"
        click.echo(f"crm-warehouse run: {name} received outside the run; stopped.", err=True)
        sys.exit(143 if name == "SIGTERM" else 130)


def _run(quiet: bool) -> None:
    s = _prepare_instance()
    from dagster import DagsterInstance, execute_job, reconstructable

    from orchestration.interrupts import EXIT_CODES, InterruptWatcher, stop_interrupted_run
    from orchestration.recovery import process_tags

    invocation = uuid.uuid4().hex
    click.echo(f"Running job build_everything (Dagster home {os.environ['DAGSTER_HOME']})")
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        _recover_before_run(instance)
        done = threading.Event()
        follower = None
        if not quiet:
            follower = threading.Thread(
                target=_follow_progress, args=(instance, invocation, done), daemon=True
            )
            follower.start()
        watcher = InterruptWatcher(instance, lambda: _run_id_for(instance, invocation),
                                   lambda line: click.echo(line, err=True))
        watcher.start()
        result, interrupted = None, None
        try:
            result = execute_job(
                reconstructable(build_everything_job),
                instance=instance,
                tags={"crmw/cli-invocation": invocation, **process_tags()},
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
        except KeyboardInterrupt:
            interrupted = watcher.received or signal.SIGINT
        finally:
            done.set()
            watcher.close()
            if follower:
                follower.join(timeout=10)
        run_id = _run_id_for(instance, invocation)
        if interrupted is None and watcher.received is not None and not result.success:
            interrupted = watcher.received  # a step raised it; Dagster failed the run
        if interrupted is not None:
            click.echo(stop_interrupted_run(instance, run_id, interrupted, "during the run"),
                       err=True)
            sys.exit(EXIT_CODES.get(interrupted, 130))
        if run_id:  # every step ran in this process and has ended: nothing may hold a slot
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    elapsed = time.monotonic() - started
    from orchestration.summary import summary_text

    click.echo(summary_text(s, run_id=result.run_id, success=result.success, seconds=elapsed))
    if not result.success:
        sys.exit(1)


@main.command()
@click.option("--recover", is_flag=True,
              help="Recover the runs whose process is gone (and free their pool slots) now.")
def status(recover: bool) -> None:
    """Runs in progress (with their process, alive or gone), pool slots and who holds them,
    runs recovered; exits 1 if something is wedged (a dead run, a slot nobody will free)."""
    _prepare_instance()
    from dagster import DagsterInstance

    from orchestration.recovery import recover_stale_runs, status_report

    click.echo(f"Dagster home: {os.environ['DAGSTER_HOME']}")
    with DagsterInstance.get() as instance:
        if recover:
            done = recover_stale_runs(instance, by="crm-warehouse status --recover",
                                      log=click.echo)
            if not done:
                click.echo("nothing to recover")
        report = status_report(instance)
    click.echo(report.text())
    if report.wedged:
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
    s = _export_settings()
    from expectations.report import latest_results_text

    click.echo(latest_results_text(s.warehouse_path))


@main.command()
@click.option("--customer", required=True, help="customer_key or e-mail of the person")
def forget(customer: str) -> None:
    """Erase a person from every warehouse file (right to erasure), audited without PII.

    Exit codes: 0 erased (or erased before) and verified clean; 1 something of the person was
    found afterwards (listed); 2 nobody to erase (unknown customer, no build database).
    """
    _export_settings()
    from warehouse.pii.erasure import SubjectNotFound
    from warehouse.pii.erasure import forget as erase
    from warehouse.report_builder.build import build_report

    try:
        result = erase(customer, rebuild_report=build_report)
    except (SubjectNotFound, FileNotFoundError) as exc:
        click.echo(f"crm-warehouse forget: {exc.args[0] if exc.args else exc}", err=True)
        sys.exit(2)
    click.echo(result.summary())
    if not result.clean:
        sys.exit(1)


@main.command()
def where() -> None:
    """Print where the warehouse, the sources and the Dagster home are."""
    s = settings()
    for name in ("warehouse_path", "sources_dir", "erp_url", "ecommerce_dir",
                 "service_desk_dir", "dagster_home"):
        click.echo(f"{name:18} {getattr(s, name)}")


if __name__ == "__main__":
    main()
