"""Customer lifetime value: BG/NBD and Gamma-Gamma fitting, the public API (``model``), scoring."""
