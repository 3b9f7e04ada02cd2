"""``crm-warehouse bench``: the whole pipeline at one scale, measured stage by stage.

Layout under ``bench/work/<scale>/`` (git-ignored): ``sources/`` (generated once, reused),
``staged/`` (warehouse built stage by stage), ``floor/`` (copy for the SQL floor),
``pipeline/`` (a fresh copy of the sources and a fresh warehouse for the whole pipeline and
the incremental day), ``logs/`` (one log per child process). Every timed step runs in a child
process whose process tree is sampled for memory (see ``proctree``). The result JSON goes to
``bench/results/<date>-<scale>.json`` and a markdown table beside it (``.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from bench.proctree import measure
from bench.stage import STAGE_ORDER
from warehouse.config import REPO_ROOT

BENCH_DIR = Path(__file__).resolve().parent  # results/ and the git-ignored work/ live here
# Settings the children must not inherit from the caller: each points at this run's files.
OVERRIDDEN = ("CRMW_ERP_URL", "CRMW_ECOMMERCE_DIR", "CRMW_SERVICE_DESK_DIR", "CRMW_PII_KEY_FILE",
              "CRMW_PSEUDONYM_KEY_FILE")


class BenchError(RuntimeError):
    """A benchmark step failed; the message names the step and its log file."""


def _env(sources: Path, warehouse: Path, dagster_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN}
    env.update(CRMW_SOURCES_DIR=str(sources), CRMW_WAREHOUSE_PATH=str(warehouse),
               DAGSTER_HOME=str(dagster_home), PYTHONPATH=str(REPO_ROOT))
    return env


DBT_PARSE_COMMAND = [sys.executable, "-c", "from orchestration.defs.dbt.project import "
                     "crm_dbt_project; crm_dbt_project()"]


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


class Bench:
    def __init__(self, customers: int, work_dir: Path, history_days: int | None,
                 seed: int, echo=print) -> None:
        self.customers, self.work, self.seed = customers, work_dir, seed
        self.history_days, self.echo = history_days, echo
        self.logs = work_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def _measure(self, name: str, command: list[str], env: dict[str, str]):
        log = self.logs / f"{name}.log"
        m = measure(command, env=env, cwd=REPO_ROOT, log_path=log)
        if m.returncode != 0:
            raise BenchError(f"benchmark step {name} failed (exit {m.returncode}); see {log}")
        return m, log

    def _say(self, name: str, seconds: float, peak_mb: float) -> None:
        self.echo(f"  {name:22} {seconds:8.1f} s  {peak_mb:8.0f} MB tree peak")

    def _run(self, name: str, command: list[str], env: dict[str, str]) -> dict:
        m, log = self._measure(name, command, env)
        self._say(name, m.seconds, m.peak_tree_rss_mb)
        return {**m.to_dict(), "log": str(log)}

    def _simulate_args(self, out: Path) -> list[str]:
        args = [sys.executable, "-m", "simulator.cli", "--customers", str(self.customers),
                "--seed", str(self.seed), "--out", str(out), "--quiet"]
        if self.history_days:
            args += ["--history-days", str(self.history_days)]
        return args

    def sources(self) -> tuple[Path, dict | None]:
        """Generate the sources once; a later run at the same scale reuses them."""
        sources = self.work / "sources"
        marker = self.work / "sources.json"
        wanted = {"customers": self.customers, "seed": self.seed,
                  "history_days": self.history_days}
        if (sources / "_truth" / "manifest.json").exists() and marker.exists() \
                and json.loads(marker.read_text()) == wanted:
            self.echo(f"reusing sources in {sources}")
            return sources, None
        shutil.rmtree(sources, ignore_errors=True)
        env = _env(sources, self.work / "unused.duckdb", self.work / "unused_dagster")
        step = self._run("generate_sources", self._simulate_args(sources), env)
        marker.write_text(json.dumps(wanted))
        return sources, step

    def stage_command(self, *stages: str) -> list[str]:
        return [sys.executable, "-m", "bench.stage", *stages]

    def staged(self, sources: Path, resume: bool = False,
               from_stage: str | None = None) -> tuple[dict, Path]:
        """Every stage in one child process on a fresh warehouse; with ``from_stage``, the
        stages from that one on, on the warehouse a stopped run left, keeping the earlier
        stages' times (their memory was sampled by the stopped run's parent: not known)."""
        saved = self.work / "staged" / "stages.json"
        if resume and saved.exists():
            self.echo(f"resuming: stage figures from {saved}")
            return json.loads(saved.read_text()), saved.parent / "warehouse.duckdb"
        root = self.work / "staged"
        events = root / "stage_events.jsonl"
        todo = STAGE_ORDER
        if from_stage:
            if from_stage not in STAGE_ORDER or not events.exists():
                raise BenchError(f"cannot continue from stage {from_stage!r}: known stages "
                                 f"{', '.join(STAGE_ORDER)}; {events} must exist")
            todo = STAGE_ORDER[STAGE_ORDER.index(from_stage):]
            kept = [line for line in events.read_text().splitlines()
                    if json.loads(line)["stage"] in {"load_definitions", *STAGE_ORDER} - set(todo)
                    and json.loads(line)["ok"]]
            events.write_text("".join(line + "\n" for line in kept))
        else:
            _fresh(root)
        env = _env(sources, root / "warehouse.duckdb", root / "dagster_home")
        env["CRMW_BENCH_EVENTS"] = str(events)
        resumed_at = time.time()
        m, log = self._measure("staged", self.stage_command(*todo), env)
        stages = {}
        for line in events.read_text().splitlines():
            event = json.loads(line)
            earlier = event["end"] <= resumed_at
            peak = None if earlier else m.peak_between(event["start"], event["end"])
            if event["stage"] == "load_definitions" and earlier and from_stage:
                continue  # the continuing process loaded the definitions again: that counts
            stages[event["stage"]] = {"seconds": event["end"] - event["start"],
                                      "peak_tree_rss_mb": peak, "log": str(log),
                                      "step_seconds": event.get("step_seconds", {}),
                                      **({"memory": "not sampled (run stopped, continued "
                                                    f"from {from_stage})"} if earlier else {})}
            self._say(event["stage"], stages[event["stage"]]["seconds"], peak or 0.0)
        missing = {"load_definitions", *STAGE_ORDER} - stages.keys()
        if missing:
            raise BenchError(f"stages without timings: {sorted(missing)}; see {log}")
        gx = {k: v for k, v in stages["extract"]["step_seconds"].items()
              if k.startswith("gx_suite")}
        stages["extract"]["gx_raw_checks_seconds"] = sum(gx.values())
        if gx:
            self.echo(f"  {'(GX raw checks, in extract)':22} {sum(gx.values()):8.1f} s")
        stages["_process"] = m.to_dict()
        if from_stage:
            stages["_process"]["continued_from_stage"] = from_stage
        (root / "stages.json").write_text(json.dumps(stages, indent=2))
        return stages, root / "warehouse.duckdb"

    def floor(self, staged_warehouse: Path, dbt_marts_seconds: float, sources: Path) -> dict:
        from bench.floor import (
            compile_project,
            marts_before_ml,
            marts_models_in_order,
            run_floor,
        )
        root = _fresh(self.work / "floor")
        copy = root / staged_warehouse.name
        shutil.copy2(staged_warehouse, copy)
        for key in staged_warehouse.parent.glob("*.key"):
            shutil.copy2(key, root / key.name)
        env = _env(sources, copy, root / "dagster_home")
        manifest = compile_project(root / "dbt_target", env)
        models = marts_models_in_order(manifest, marts_before_ml(manifest))
        try:
            result = run_floor(copy, models)
        finally:
            # the copy is as large as the warehouse (16 GB at 1,000,000 customers): left
            # behind, the incremental day's DuckDB spill files filled the disk
            shutil.rmtree(root, ignore_errors=True)
        result["dagster_dbt_seconds"] = dbt_marts_seconds
        result["ratio_dagster_dbt_to_floor"] = dbt_marts_seconds / result["seconds"]
        self.echo(f"  {'floor (marts SQL)':22} {result['seconds']:8.1f} s  ({result['models']} "
                  f"models; dbt+Dagster {result['ratio_dagster_dbt_to_floor']:.2f}x)")
        return result

    def comparisons(self, warehouse: Path, floor: dict) -> dict:
        from bench.pandas_rfm import time_pandas_rfm
        from warehouse.connection import connect

        con = connect(warehouse, read_only=True)
        try:
            rfm = time_pandas_rfm(con)
            sql_seconds = floor["per_model_seconds"].get("customer_rfm")
            rfm["sql_seconds"] = sql_seconds
            rfm["ratio_pandas_to_sql"] = rfm["seconds"] / sql_seconds if sql_seconds else None
            self.echo(f"  {'pandas RFM':22} {rfm['seconds']:8.2f} s  (SQL {sql_seconds:.2f} s)")
            clv = self._bgnbd(con)
        finally:
            con.close()
        return {"pandas_rfm": rfm, "bgnbd": clv}

    def _bgnbd(self, con) -> dict:
        from ml.clv.bgnbd import BetaGeoParams, bgnbd_log_likelihood, fit_bgnbd
        from ml.clv.rfm_summary import rfm_summary_relation

        as_of = con.execute("select max(order_date) from marts.fct_orders").fetchone()[0]
        orders = con.sql("""select customer_key as customer_id, order_date as date,
                                   net_revenue as amount
                            from marts.fct_orders
                            where customer_key is not null and not is_cancelled""")
        summary = rfm_summary_relation(orders, as_of, time_unit_days=7).df()
        x, t_x, t_cap = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        t0 = time.perf_counter()
        ours = fit_bgnbd(x, t_x, t_cap)
        result = {"customers": len(summary), "ours_seconds": time.perf_counter() - t0,
                  "ours_params": ours.params.to_dict(),
                  "ours_log_likelihood": bgnbd_log_likelihood(ours.params, x, t_x, t_cap)}
        try:
            import lifetimes
        except ImportError:
            result["lifetimes"] = "not installed (pip install '.[bench]')"
            return result
        t0 = time.perf_counter()
        ref = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"],
                                            summary["T"])
        result["lifetimes_seconds"] = time.perf_counter() - t0
        params = {k: float(v) for k, v in ref.params_.items()}
        result["lifetimes_params"] = params
        result["lifetimes_log_likelihood"] = bgnbd_log_likelihood(BetaGeoParams(**params),
                                                                  x, t_x, t_cap)
        result["lifetimes_version"] = lifetimes.__version__
        result["ratio_lifetimes_to_ours"] = result["lifetimes_seconds"] / result["ours_seconds"]
        self.echo(f"  {'BG/NBD fit':22} {result['ours_seconds']:8.2f} s  "
                  f"(lifetimes {result['lifetimes_seconds']:.2f} s)")
        return result

    def _one_more_day(self, run_sources: Path, env: dict[str, str]) -> dict:
        day = [sys.executable, "-m", "simulator.cli", "--out", str(run_sources), "--days", "1",
               "--quiet"]
        return self._run("simulate_day", day, env)

    def pipeline(self, sources: Path) -> dict:
        root = _fresh(self.work / "pipeline")
        run_sources = root / "sources"
        shutil.copytree(sources, run_sources)
        env = _env(run_sources, root / "warehouse.duckdb", root / "dagster_home")
        # `make install` parses the dbt project once for the default warehouse; a warehouse
        # at another path needs its own parse (orchestration/defs/dbt/project.py), timed
        # apart so the pipeline's figure is that of a run after installation.
        steps = {"dbt_parse": self._run("dbt_parse", DBT_PARSE_COMMAND, env)}
        steps["pipeline"] = self._run("pipeline", self.stage_command("pipeline"), env)
        steps["simulate_day"] = self._one_more_day(run_sources, env)
        steps["incremental"] = self._run("incremental", self.stage_command("pipeline"), env)
        return steps

    def incremental_on_staged(self, sources: Path, staged_warehouse: Path) -> dict:
        """The incremental day on the warehouse the staged run built, instead of a second
        full build first (at 1,000,000 customers that build alone takes most of an hour).
        The staged warehouse remembers the loaded files by relative path and sha256 and the
        ERP cursors, so a copy of the sources with one more day loads only that day."""
        root = _fresh(self.work / "pipeline")
        run_sources = root / "sources"
        shutil.copytree(sources, run_sources)
        env = _env(run_sources, staged_warehouse, staged_warehouse.parent / "dagster_home")
        steps = {"simulate_day": self._one_more_day(run_sources, env)}
        steps["incremental"] = self._run("incremental", self.stage_command("pipeline"), env)
        return steps


def machine() -> dict:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_gb": round(mem_kb / 2**20, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "load_average_1m_at_start": os.getloadavg()[0]}


def _earlier_result(results: Path, customers: int) -> dict | None:
    """The latest result file at this scale, for ``--resume``: only ``<date>-<scale>.json``
    (``clv-1000000.json`` beside them also ends in the scale, and sorts last)."""
    found = sorted(results.glob(f"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]-{customers}.json"))
    return json.loads(found[-1].read_text()) if found else None


def bench_command(customers: int, history_days: int | None, seed: int, resume: bool,
                  incremental_on_staged: bool, from_stage: str | None) -> str:
    """The command line of a run, flags included, as its result file records it."""
    return " ".join(["crm-warehouse bench", f"--customers {customers}",
                     *([f"--history-days {history_days}"] if history_days else []),
                     *([f"--seed {seed}"] if seed != 42 else []),
                     *(["--resume"] if resume else []),
                     *(["--incremental-on-staged"] if incremental_on_staged else []),
                     *([f"--from-stage {from_stage}"] if from_stage else [])])


def staged_total_seconds(stages: dict) -> float:
    """The staged run's whole-pipeline time: loading the definitions plus every stage."""
    return sum(stages[name]["seconds"] for name in ("load_definitions", *STAGE_ORDER))


def run_benchmark(customers: int, *, work_dir: Path | None = None,
                  results_dir: Path | None = None, history_days: int | None = None,
                  seed: int = 42, echo=print, resume: bool = False,
                  incremental_on_staged: bool = False,
                  from_stage: str | None = None) -> tuple[dict, Path]:
    """Run everything at one scale; return the result and the path of its JSON file.

    The JSON is rewritten after every phase with ``"complete": false`` (a run stopped half-way
    keeps what it measured); the markdown table is written once everything is in. ``resume``
    reuses the staged run and its warehouse, and the floor and comparisons of the latest
    result file at this scale. ``incremental_on_staged`` skips the second full build
    (``pipeline``) and runs the incremental day on the staged warehouse; its ratio is then
    taken against the staged run's total. ``from_stage`` continues a stopped staged run from
    that stage on the warehouse it left (see :meth:`Bench.staged`).
    """
    work = (work_dir or BENCH_DIR / "work" / str(customers)).resolve()
    results = (results_dir or BENCH_DIR / "results").resolve()
    results.mkdir(parents=True, exist_ok=True)
    bench = Bench(customers, work, history_days, seed, echo)
    earlier = _earlier_result(results, customers) if resume else None
    started = time.perf_counter()
    result = {
        "benchmark": "crm-warehouse pipeline at scale", "complete": False,
        "customers": customers, "seed": seed, "history_days": history_days,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": bench_command(customers, history_days, seed, resume,
                                 incremental_on_staged, from_stage),
        "memory_measure": "peak_tree_rss_mb = max over 0.2 s samples of the summed VmRSS of "
                          "the child and all its descendants; max_process_rss_mb = ru_maxrss",
        "machine": machine(),
    }
    path = results / f"{result['date'][:10]}-{customers}.json"

    def save(**measured) -> None:
        result.update(measured, benchmark_seconds=time.perf_counter() - started)
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")

    echo(f"benchmark at {customers:,} customers in {work}")
    sources, generated = bench.sources()
    if generated is None and earlier and earlier.get("sources_generation"):
        generated = {**earlier["sources_generation"], "measured_by_run_of": earlier["date"]}
    save(sources_generation=generated)
    stages, warehouse = bench.staged(sources, resume=resume, from_stage=from_stage)
    save(stages=stages, resumed_stages=resume, staged_continued_from=from_stage,
         staged_total_seconds=staged_total_seconds(stages))
    if earlier and earlier.get("floor") and earlier.get("pandas_rfm") \
            and earlier.get("bgnbd"):
        echo(f"resuming: floor and comparisons of the run of {earlier['date']}")
        save(floor=earlier["floor"], pandas_rfm=earlier["pandas_rfm"],
             bgnbd=earlier["bgnbd"], resumed_from=earlier["date"])
        floor = earlier["floor"]
    else:
        floor = bench.floor(warehouse, stages["dbt_marts"]["seconds"], sources)
        save(floor=floor)
        save(**bench.comparisons(warehouse, floor))
    if incremental_on_staged:
        steps = bench.incremental_on_staged(sources, warehouse)
        save(**steps, incremental_base="staged",
             ratio_incremental_to_pipeline=steps["incremental"]["seconds"]
             / result["staged_total_seconds"], complete=True)
    else:
        steps = bench.pipeline(sources)
        save(**steps, incremental_base="pipeline",
             ratio_incremental_to_pipeline=steps["incremental"]["seconds"]
             / steps["pipeline"]["seconds"], complete=True)
    path.with_suffix(".md").write_text(markdown_table(result))
    return result, path


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def markdown_table(result: dict) -> str:
    """The table of a result, complete or not (what was not measured shows as n/a or is left
    out, and a failed stage is marked FAILED)."""
    m = result["machine"]
    state = "" if result.get("complete") else " **(incomplete run: later phases not measured)**"
    lines = [f"Benchmark at {result['customers']:,} customers, {result['date']} "
             f"({m['cpus']} CPUs {m['cpu_model']}, {m['memory_gb']} GB; load "
             f"{m['load_average_1m_at_start']:.1f} at start){state}", "",
             "| step | wall time (s) | peak memory, process tree (MB) |", "|---|---:|---:|",
             "| *stages, one process (Dagster materializations of asset groups)* | | |"]
    stages = result.get("stages", {})
    rows = [(name, stages.get(name)) for name in ("load_definitions", *STAGE_ORDER)]
    on_staged = result.get("incremental_base") == "staged"
    total = result.get("staged_total_seconds")
    if total is not None:
        peak = max((s.get("peak_tree_rss_mb") or 0) for n, s in stages.items()
                   if n != "_process")
        rows.append(("whole pipeline: sum of the stages above",
                     {"seconds": total, "peak_tree_rss_mb": peak}))
    rows += [("*whole pipeline, own process each* | | |", None)]
    if result.get("dbt_parse"):  # runs before the pipeline, as `make install` does
        rows.append(("dbt parse for the new warehouse path (`make install` does it)",
                     result["dbt_parse"]))
    rows += [("whole pipeline (build_everything)", result.get("pipeline")),
             ("simulate --days 1", result.get("simulate_day")),
             ("incremental run after one day" + (" (on the staged warehouse)" if on_staged
                                                 else ""), result.get("incremental"))]
    for name, step in rows:
        if name.startswith("*"):
            lines.append(f"| {name}")
            continue
        if step is None:
            note = ("not run (`--incremental-on-staged`: the staged run is the full build)"
                    if on_staged and name.startswith("whole pipeline (") else "not measured")
            lines.append(f"| {name} | {note} | |")
            continue
        label = name if step.get("ok", True) else f"{name} (FAILED)"
        lines.append(f"| {label} | {_cell(step['seconds'], '.1f')} | "
                     f"{_cell(step.get('peak_tree_rss_mb'), '.0f')} |")
        if name == "extract" and step.get("gx_raw_checks_seconds"):
            lines.append(f"| &nbsp;&nbsp;of which quality checkpoints (GX suites on raw, "
                         f"sum of step times) | {step['gx_raw_checks_seconds']:.1f} | |")
    lines += ["", "| comparison | figure |", "|---|---|"]
    if "ratio_incremental_to_pipeline" in result:
        base = "sum of the stages" if on_staged else "whole pipeline"
        lines.append(f"| incremental / {base} | "
                     f"{result['ratio_incremental_to_pipeline']:.2f} |")
    f = result.get("floor")
    if f:
        lines.append(f"| marts via dbt+Dagster / SQL floor ({f['models']} models) | "
                     f"{f['dagster_dbt_seconds']:.1f} s / {f['seconds']:.1f} s = "
                     f"{f['ratio_dagster_dbt_to_floor']:.2f}x |")
    r = result.get("pandas_rfm")
    if r:
        lines.append(f"| RFM: pandas (read+compute) / customer_rfm SQL | {r['seconds']:.2f} s / "
                     f"{_cell(r['sql_seconds'], '.2f')} s = "
                     f"{_cell(r['ratio_pandas_to_sql'], '.2f')}x "
                     f"({r['rows_agreeing_with_mart']:,} of {r['mart_customers']:,} rows agree) |")
    b = result.get("bgnbd")
    if b and "lifetimes_seconds" in b:
        lines.append(f"| BG/NBD fit ({b['customers']:,} customers): lifetimes / ours | "
                     f"{b['lifetimes_seconds']:.2f} s / {b['ours_seconds']:.2f} s = "
                     f"{b['ratio_lifetimes_to_ours']:.1f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m bench.runner RESULT.json: print + write table
    target = Path(sys.argv[1])
    table = markdown_table(json.loads(target.read_text()))
    target.with_suffix(".md").write_text(table)
    print(table)
