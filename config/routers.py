"""Report reads on a read replica (DATABASE_REPLICA_URL), everything else on the primary.

The report selectors run inside `report_reads()`. While one runs, reads go to the `replica` database, unless the
primary's connection is inside a transaction: a service that wrote (or may write) reads what it wrote, so its reads
stay on the primary. Writes, migrations and every other read always go to the primary. Without a replica in
DATABASES, the router is not installed (config/settings.py) and nothing changes.

A replica lags its primary by a moment: a report opened right after a change may not show it yet. Reports are read
as of a business date, never used to decide a write, so that is acceptable; pages that write read the primary.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

_reporting = ContextVar("report_reads", default=False)


@contextmanager
def report_reads():
    """Reads inside this block (or a function decorated with `@report_reads()`) may go to the replica."""
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def replica_configured():
    return REPLICA in connections.settings


class ReportReplicaRouter:
    """Sends report reads to the replica; see the module's docstring."""

    def db_for_read(self, model, **hints):
        if _reporting.get() and replica_configured() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        # Explicitly the primary: otherwise Django follows an instance's own database, and an object read from the
        # replica would take later reads of its relations there too.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the primary's rows: an object read from either may point at one read from the other.
        databases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in databases and obj2._state.db in databases:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica's schema comes from the primary through replication.
        return db != REPLICA
