"""dbt, in a process that dies with the run that started it.

The dbt resource (``orchestration/defs/dbt/resource.py``) starts dbt as
``<python> -m orchestration.dbt_child <dbt arguments>`` instead of ``dbt <dbt arguments>``:
this module asks Linux to kill it when its parent ends (:func:`die_with_parent`), then runs
dbt's own command line in this process, exactly what the ``dbt`` script beside this Python
does. Without it, ``kill -9`` of a run (or the OOM killer) left dbt running as an orphan that
kept writing the warehouse while the next run started.

If the parent is already gone when this starts (it died between starting us and the
``prctl`` call), dbt is not started at all.

Imports nothing of the project but :mod:`orchestration.processes`, so it starts as fast as
``dbt`` itself.
"""

from __future__ import annotations

import os
import sys

from orchestration.processes import die_with_parent

EXIT_PARENT_GONE = 3


def main() -> int:
    parent = os.getppid()
    die_with_parent()
    if parent == 1 or os.getppid() != parent:
        print("dbt not started: the run that started it has ended", file=sys.stderr)
        return EXIT_PARENT_GONE
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    return cli()


if __name__ == "__main__":
    sys.exit(main())
