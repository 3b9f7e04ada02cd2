"""The one ``--check`` / ``--write`` command line of every file generated from a contract.

Each generator (``contracts.dbt_sources``, ``contracts.ml_outputs``) renders ``{path: text}``
and hands it here, so printing, checking and rewriting behave the same for all of them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def generated_files_main(prog: str, description: str,
                         render: Callable[[], dict[Path, str]],
                         argv: list[str] | None = None) -> int:
    """Print the rendering; with ``--check`` list the committed files that differ (exit 1 if
    any); with ``--write`` rewrite them (exit 0)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="list the committed files that differ; exit status 1 if any")
    mode.add_argument("--write", action="store_true", help="rewrite the files that differ")
    args = parser.parse_args(argv)
    files = render()
    if not (args.check or args.write):
        for path, text in files.items():
            print(f"# --- {path}")
            print(text, end="")
        return 0
    stale = [path for path, text in files.items()
             if not path.exists() or path.read_text() != text]
    for path in stale:
        if args.write:
            path.write_text(files[path])
        print(f"{'rewrote' if args.write else 'differs'}: {path}")
    return 1 if stale and args.check else 0
