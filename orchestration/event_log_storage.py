"""Dagster's SQLite event log, with one kept-open connection per database file.

Why: a run of ``build_everything`` writes about 2,000 events (every dbt test and every GX
expectation is an asset check: planned, output and evaluation events). Dagster's
``SqliteEventLogStorage`` creates a SQLAlchemy engine, opens the file, commits with an fsync
and disposes the engine for every single event. Profiled at 300 customers
(``python -c "...cProfile.run('main()')"`` around ``crm-warehouse run``), storing events took
119 s of a 452 s run; the data work was the smaller part. This subclass changes only how
connections are made:

* one engine per shard (a run's file, or the cross-run ``index`` file), created on first use
  and kept, with a single connection (``StaticPool``). Dagster already serializes every use of
  the storage in a process with its lock, so one connection per file is never shared at once;
* ``PRAGMA synchronous=NORMAL`` on those connections. The files are in WAL mode (Dagster sets
  it); with NORMAL a commit no longer waits for an fsync. SQLite's documentation: the
  database stays consistent, and only the last transactions before a power loss (not a
  process crash) can be lost, which for an event log means the last few log lines.

Everything else (schema, migrations, the UI's file watchers, concurrency slots, other
processes reading the same files) is Dagster's own code. ``orchestration/instance.py``
configures it in ``dagster.yaml``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_SECONDS = 30
# a process that reads many runs (the UI) keeps at most this many files open
MAX_OPEN_SHARDS = 32


def _tune(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose connections stay open between events (see module)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _tune)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > MAX_OPEN_SHARDS:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().dispose()
