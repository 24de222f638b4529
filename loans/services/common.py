"""Small checks shared by the capital, approval and disbursement writes, and the wait for SQLite's write lock."""

import functools
import time
from decimal import Decimal

from django.db import OperationalError, connection
from django.utils.translation import gettext as _

from loans.money import COLUMN_MAX, format_vnd, is_whole_dong, to_decimal
from organizations.errors import DomainError


def _whole_positive(amount, field="amount", ceiling=COLUMN_MAX):
    try:
        amount = to_decimal(amount)
    except (TypeError, ValueError):
        raise DomainError(_("Enter an amount in whole đồng."), field=field) from None
    if not amount.is_finite() or amount <= 0 or not is_whole_dong(amount):
        raise DomainError(_("Enter an amount greater than zero, in whole đồng."), field=field)
    if amount > min(Decimal(ceiling), COLUMN_MAX):
        raise DomainError(
            _("The amount cannot be more than %(max)s.") % {"max": format_vnd(min(Decimal(ceiling), COLUMN_MAX))},
            field=field,
        )
    return amount


def _require_reason(reason, field="reason"):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), field=field)
    return reason


#: SQLite's own default busy timeout, in seconds, when the settings give none.
SQLITE_DEFAULT_TIMEOUT = 5


def _is_table_locked(error):
    # SQLITE_LOCKED: another connection to a shared-cache database holds the table. Unlike "database is locked"
    # (SQLITE_BUSY, raised only after the busy timeout was spent waiting), SQLite raises it at once.
    return isinstance(error, OperationalError) and "database table is locked" in str(error)


def waits_for_the_write_lock(service):
    """Run `service`'s transaction once SQLite lets it write, as PostgreSQL's row locks make a colleague wait.

    A file database makes a second writer wait for its busy timeout by itself. A shared-cache database (the in-memory
    one) refuses it at once with "database table is locked"; this tries the whole transaction again until the lock
    is free, within the same timeout, so that the second officer then sees the first one's work and gets the
    service's own refusal. Past the timeout the error goes up (DatabaseBusyMiddleware answers "try again"). Inside a
    caller's transaction it does not retry: that transaction is the caller's to undo.
    """

    @functools.wraps(service)
    def run(*args, **kwargs):
        if connection.in_atomic_block:
            return service(*args, **kwargs)
        deadline = time.monotonic() + connection.settings_dict.get("OPTIONS", {}).get("timeout",
                                                                                      SQLITE_DEFAULT_TIMEOUT)
        pause = 0.005
        while True:
            try:
                return service(*args, **kwargs)
            except OperationalError as error:
                if not _is_table_locked(error) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    return run
