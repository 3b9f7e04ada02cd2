"""How many native threads (OpenMP, BLAS) the models may use: ``CRMW_ML_THREADS``, default 1.

Why one by default: scikit-learn's K-means and histogram gradient boosting parallelize with
OpenMP, and OpenMP threads spin while they wait for each other. On the two shared cores this
project runs on, with DuckDB and other Dagster steps busy at the same time, that spinning made
the ML stage 10 to 20 times slower than a single thread (K-means at 3,000 customers: 35 s wall
instead of 2 s; churn training: 78 s instead of 3 s). A dedicated many-core machine can raise
it with ``CRMW_ML_THREADS=<n>``. DuckDB's own threads are not affected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from threadpoolctl import threadpool_limits

from warehouse.config import int_setting

THREADS_ENV = "CRMW_ML_THREADS"
F = TypeVar("F", bound=Callable)


def ml_threads() -> int:
    return int_setting(THREADS_ENV, default=1, minimum=1)


@contextmanager
def bounded_threads() -> Iterator[int]:
    """Limit OpenMP and BLAS pools to :func:`ml_threads` inside the block."""
    n = ml_threads()
    with threadpool_limits(limits=n):
        yield n


def with_bounded_threads(fn: F) -> F:
    """Decorator: run ``fn`` inside :func:`bounded_threads`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with bounded_threads():
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]
