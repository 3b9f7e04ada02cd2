"""Benchmark: BG/NBD fit with ml.clv.bgnbd versus lifetimes 0.11.3 on the same synthetic customers.

    .venv/bin/python bench/clv_benchmark.py --customers 1000000

Customers are drawn from CDNOW-like parameters (time in weeks) with daily resolution, as a
warehouse delivers them: T is a whole number of days (acquired over the last year) and
recency is rounded down to the day. Three fits on identical data and machine:

- ``ours``: fit_bgnbd as shipped (identical (x, t_x, T) rows merged into weights first);
- ``ours_uncompressed``: fit_bgnbd(compress=False), every customer its own row;
- ``lifetimes``: BetaGeoFitter().fit with its defaults (Nelder-Mead on rescaled time).

Parameter agreement is reported as relative differences, and each parameter set is scored by
the same log-likelihood so a difference can be told apart from a worse optimum. With
``--summary-transactions N`` it also times ml.clv.rfm_summary turning N random transactions
(made inside DuckDB) into the per-customer summary. Writes
``bench/results/clv-<customers>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation.clv_simulation import sample_bgnbd_customers  # noqa: E402
from ml.clv.bgnbd import BetaGeoParams, bgnbd_log_likelihood, fit_bgnbd  # noqa: E402
from ml.clv.rfm_summary import rfm_summary_relation  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TRUTH = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def synthetic_customers(n: int, seed: int):
    rng = np.random.default_rng(seed)
    t_cap = rng.integers(1, 365 + 1, size=n) / 7  # acquired over the last year, in weeks
    return sample_bgnbd_customers(TRUTH, t_cap, resolution=1 / 7, seed=rng)


def relative_differences(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: abs(a[k] - b[k]) / abs(b[k]) for k in b}


def time_summary(transactions: int, customers: int, seed: int) -> dict:
    """Seconds for the DuckDB summary of ``transactions`` rows over two years of days."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    con.execute(f"""
        CREATE TABLE tx AS
        SELECT CAST(floor(random() * {customers}) AS BIGINT) AS customer_id,
               DATE '2023-01-01' + CAST(floor(random() * 730) AS INTEGER) AS date,
               round(random() * 100, 2) AS amount
        FROM range({transactions})""")
    t0 = time.perf_counter()
    rfm_summary_relation(con.table("tx"), "2024-12-31").create("summary")
    seconds = time.perf_counter() - t0
    rows = con.execute("SELECT count(*) FROM summary").fetchone()[0]
    con.close()
    return {"transactions": transactions, "customers": rows, "seconds": seconds}


def run(customers: int, seed: int, with_lifetimes: bool) -> dict:
    started = time.perf_counter()
    data = synthetic_customers(customers, seed)
    sampled = time.perf_counter() - started
    x, t_x, t_cap = (data[c].to_numpy() for c in ("frequency", "recency", "T"))

    fits: dict[str, dict] = {}
    t0 = time.perf_counter()
    ours = fit_bgnbd(x, t_x, t_cap)
    fits["ours"] = {"seconds": time.perf_counter() - t0, "params": ours.params.to_dict(),
                    "iterations": ours.iterations, "converged": ours.converged,
                    "distinct_rows": ours.diagnostics["distinct_rows"],
                    "standard_errors": ours.standard_errors,
                    "z_vs_truth": {k: (v - TRUTH.to_dict()[k]) / ours.standard_errors[k]
                                   for k, v in ours.params.to_dict().items()}}
    t0 = time.perf_counter()
    plain = fit_bgnbd(x, t_x, t_cap, compress=False)
    fits["ours_uncompressed"] = {"seconds": time.perf_counter() - t0,
                                 "params": plain.params.to_dict(),
                                 "iterations": plain.iterations, "converged": plain.converged}
    if with_lifetimes:
        import lifetimes

        t0 = time.perf_counter()
        reference = lifetimes.BetaGeoFitter().fit(data["frequency"], data["recency"],
                                                  data["T"])
        fits["lifetimes"] = {"seconds": time.perf_counter() - t0,
                             "params": {k: float(v) for k, v in reference.params_.items()},
                             "version": lifetimes.__version__}
    for fit in fits.values():
        fit["log_likelihood"] = bgnbd_log_likelihood(BetaGeoParams(**fit["params"]),
                                                     x, t_x, t_cap)

    result = {
        "benchmark": "BG/NBD maximum-likelihood fit",
        "customers": customers,
        "repeat_buyers": int((x > 0).sum()),
        "seed": seed,
        "truth": TRUTH.to_dict(),
        "sampling_seconds": sampled,
        "fits": fits,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
                    "python": platform.python_version(), "numpy": np.__version__,
                    "scipy": scipy.__version__, "platform": platform.platform()},
        "command": " ".join([".venv/bin/python", "bench/clv_benchmark.py", *sys.argv[1:]]),
    }
    if "lifetimes" in fits:
        result["speedup_vs_lifetimes"] = fits["lifetimes"]["seconds"] / fits["ours"]["seconds"]
        result["speedup_uncompressed_vs_lifetimes"] = (
            fits["lifetimes"]["seconds"] / fits["ours_uncompressed"]["seconds"])
        result["relative_difference_vs_lifetimes"] = relative_differences(
            fits["ours"]["params"], fits["lifetimes"]["params"])
    return result


def markdown(result: dict) -> str:
    lines = [
        f"BG/NBD fit on {result['customers']:,} synthetic customers "
        f"({result['repeat_buyers']:,} repeat buyers), "
        f"{result['machine']['cpus']} CPUs, load {result['machine']['load_average_1m']:.1f}",
        "",
        "| fit | seconds | r | alpha | a | b | log-likelihood |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {"truth": {"params": result["truth"]}, **result["fits"]}
    for name, fit in rows.items():
        p = fit["params"]
        seconds = f"{fit['seconds']:.2f}" if "seconds" in fit else ""
        ll = f"{fit['log_likelihood']:.2f}" if "log_likelihood" in fit else ""
        lines.append(f"| {name} | {seconds} | {p['r']:.5f} | {p['alpha']:.5f} | {p['a']:.5f} "
                     f"| {p['b']:.5f} | {ll} |")
    if "speedup_vs_lifetimes" in result:
        diff = result["relative_difference_vs_lifetimes"]
        lines += ["", f"speedup vs lifetimes: {result['speedup_vs_lifetimes']:.1f}x "
                      f"(uncompressed: {result['speedup_uncompressed_vs_lifetimes']:.1f}x); "
                      "largest relative parameter difference: "
                      f"{max(diff.values()):.2e}"]
    if "summary" in result:
        summary = result["summary"]
        lines += ["", f"RFM summary in DuckDB: {summary['transactions']:,} transactions -> "
                      f"{summary['customers']:,} customers in {summary['seconds']:.2f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-lifetimes", action="store_true",
                        help="skip the lifetimes reference fit")
    parser.add_argument("--summary-transactions", type=int, default=0,
                        help="also time the DuckDB RFM summary of this many transactions")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.customers < 100:
        parser.error("--customers must be at least 100")
    result = run(args.customers, args.seed, with_lifetimes=not args.no_lifetimes)
    if args.summary_transactions:
        result["summary"] = time_summary(args.summary_transactions, args.customers, args.seed)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    out = args.output_dir / f"clv-{args.customers}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
