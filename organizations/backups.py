"""Database backups and restores: pg_dump/pg_restore (custom format) for PostgreSQL, the online backup API for SQLite.

Backups hold citizen IDs and incomes: each file is created readable by its owner only (mode 0600, in a folder of mode
0700) before a byte is written, and the nightly job deletes those older than BACKUP_KEEP_DAYS, keeping the newest.
"""

import os
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

from django.db import connection, connections
from django.utils import timezone

from organizations.errors import DomainError

POSTGRES_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(DomainError):
    pass


def _postgres_env(settings_dict):
    env = os.environ.copy()
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    if settings_dict.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = settings_dict["OPTIONS"]["sslmode"]
    env["PGDATABASE"] = settings_dict["NAME"]
    return env


def _run(command, settings_dict):
    try:
        result = subprocess.run(command, env=_postgres_env(settings_dict), capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} was not found: install the PostgreSQL client (postgresql-client).") from None
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip() or result.stdout.strip()}")


BACKUP_SUFFIXES = (".dump", ".sqlite3")


def _new_path(folder, suffix):
    """A new, empty file of mode 0600: pg_dump and SQLite write into it and keep its mode."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    path = folder / f"uythac-{stamp}{suffix}"
    number = 1
    while True:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            path = folder / f"uythac-{stamp}-{number}{suffix}"
            number += 1
            continue
        os.fchmod(descriptor, 0o600)
        os.close(descriptor)
        return path


def database_backup(*, folder: Path) -> Path:
    """Write a consistent copy of the default database into `folder` and return the file's path."""
    folder = Path(folder)
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
        folder.chmod(0o700)  # the umask may have taken bits from the mode asked for, never added any
    vendor = connection.vendor
    if vendor == "postgresql":
        path = _new_path(folder, ".dump")
        try:
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={path}"],
                 connection.settings_dict)
        except BackupError:
            path.unlink(missing_ok=True)
            raise
    elif vendor == "sqlite":
        path = _new_path(folder, ".sqlite3")
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            # The online backup API copies a consistent snapshot while the app keeps running.
            connection.connection.backup(target)
        except sqlite3.Error:
            target.close()
            path.unlink(missing_ok=True)
            raise
        finally:
            target.close()
    else:
        raise BackupError(f"Backups are not supported for the {vendor} database.")
    path.chmod(0o600)
    return path


def backups_prune(*, folder: Path, keep_days: int, now=None) -> list[Path]:
    """Delete the backups in `folder` older than `keep_days`, always keeping the newest; return what was deleted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    backups = sorted(
        (path for path in folder.glob("uythac-*") if path.suffix in BACKUP_SUFFIXES and path.is_file()),
        key=lambda path: path.stat().st_mtime,
    )
    oldest = ((now or timezone.now()) - timedelta(days=keep_days)).timestamp()
    deleted = []
    for path in backups[:-1]:
        if path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


def database_restore(*, path: Path) -> None:
    """Replace every table of the default database with the backup at `path`."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    with path.open("rb") as handle:
        magic = handle.read(16)
    vendor = connection.vendor
    if vendor == "postgresql":
        if not magic.startswith(POSTGRES_MAGIC):
            raise BackupError(f"{path} is not a PostgreSQL backup (pg_dump custom format).")
        connections.close_all()
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", f"--dbname={connection.settings_dict['NAME']}", str(path)], connection.settings_dict)
    elif vendor == "sqlite":
        if magic != SQLITE_MAGIC:
            raise BackupError(f"{path} is not a SQLite backup.")
        target_name = str(connection.settings_dict["NAME"])
        connections.close_all()
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(target_name)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    else:
        raise BackupError(f"Restores are not supported for the {vendor} database.")
