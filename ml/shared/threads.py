"""How many native threads (OpenMP, BLAS) the models may use: ``MlSettings.threads``, default 1.

Why one by default: scikit-learn's K-means and histogram gradient boosting parallelize with
OpenMP, and OpenMP threads spin while they wait for each other. On the two shared cores this
project runs on, with DuckDB and other Dagster steps busy at the same time, that spinning made
the ML stage 10 to 20 times slower than a single thread (K-means at 3,000 customers: 35 s wall
instead of 2 s; churn training: 78 s instead of 3 s). A dedicated many-core machine can raise
it with ``CRMW_ML_THREADS=<n>`` (read into the settings at the orchestration edge). DuckDB's
own threads are not affected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from threadpoolctl import threadpool_limits

from ml.shared.settings import MlSettings

F = TypeVar("F", bound=Callable)


@contextmanager
def bounded_threads(threads: int) -> Iterator[int]:
    """Limit OpenMP and BLAS pools to ``threads`` inside the block."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    with threadpool_limits(limits=threads):
        yield threads


def with_bounded_threads(fn: F) -> F:
    """Decorator for a model entry point with a keyword argument ``settings: MlSettings``:
    run it inside :func:`bounded_threads` with ``settings.threads`` (defaults when omitted)."""
    @functools.wraps(fn)
    def wrapper(*args, settings: MlSettings | None = None, **kwargs):
        settings = settings or MlSettings()
        with bounded_threads(settings.threads):
            return fn(*args, settings=settings, **kwargs)
    return wrapper  # type: ignore[return-value]
