"""Database sessions that do not fail a page because SQLite is busy when the session's expiry is refreshed.

Sessions slide (SESSION_SAVE_EVERY_REQUEST), so every page writes its session row. While a long write (a bank
import) holds SQLite's write lock past the timeout, skipping one refresh is harmless; failing the page is not.
"""

import logging

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from config.middleware import is_database_busy

logger = logging.getLogger(__name__)


class SessionStore(DatabaseSessionStore):
    def save(self, must_create=False):
        try:
            return super().save(must_create=must_create)
        except UpdateError as error:
            if must_create or not is_database_busy(error.__context__):
                raise
            logger.warning("Session %s not refreshed: the database is busy.", self._get_session_key()[:8])
