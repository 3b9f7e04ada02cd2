"""The benchmark harness: a tool on top of the product, never imported by it.

``cli.bench_command`` is ``crm-warehouse bench`` (a plugin of the product CLI through the
entry-point group ``crm_warehouse.commands``). ``runner.run_benchmark`` generates (or reuses)
simulated sources, runs every pipeline stage as a Dagster materialization in its own child
process (``stage``), measures wall time and the peak resident memory of the child's process
tree (``proctree``), and adds the comparisons: the SQL floor of the marts (``floor``), pandas
RFM (``pandas_rfm``) and ``lifetimes`` for BG/NBD. Two narrower benchmarks run on their own:
``extract_exports`` (the export extractors alone) and ``clv_benchmark`` (the BG/NBD fit
alone). Results are committed under ``results/``; scratch files go to the git-ignored
``work/``.

The harness may import the product (``orchestration``, ``warehouse``, ``ml``); nothing in the
product imports it (an import-linter contract in ``make test`` enforces it).
"""
