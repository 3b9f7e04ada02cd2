"""Evaluation against truth and references: never imported by the product.

Scores what the product builds against the simulator's ground truth (identity resolution,
the churn oracle) and against references (CLV simulation). The product path (``warehouse``,
``ml``, ``expectations``, ``orchestration``) never imports this package; an import-linter
contract in ``make test`` enforces it.
"""
