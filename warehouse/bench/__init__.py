"""The scale benchmark behind ``crm-warehouse bench`` (plain Python; Dagster runs in children).

``runner.run_benchmark`` generates (or reuses) simulated sources, runs every pipeline stage as
a Dagster materialization in its own child process (``stage``), measures wall time and the peak
resident memory of the child's process tree (``proctree``), and adds the comparisons: the SQL
floor of the marts (``floor``), pandas RFM (``pandas_rfm``) and ``lifetimes`` for BG/NBD.
"""
