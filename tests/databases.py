"""Test databases built once and copied.

- Migrations run once into a template that every xdist worker clones. The template is named after a digest of the
  code migrations run, so a later run on this machine reuses it until that code changes.
- A costly data set (the seeded demo) is built once per process into a template of its own, then copied for each
  module that needs it, so that no module's data is left behind for the next (on PostgreSQL, rolled-back rows stay
  in the tables as dead rows that every later scan reads until a vacuum).

On PostgreSQL a template is a database (`CREATE DATABASE … TEMPLATE`); on SQLite it is a file, loaded into the
worker's in-memory database with SQLite's backup API.
"""

import fcntl
import hashlib
import os
import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

import django
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

ROOT = Path(__file__).resolve().parent.parent
#: Per process: the migrated template this test database was cloned from, and the databases made from it since.
_made = {"template": None, "databases": []}
#: Each checkout keeps its own templates: a fresh clone starts cold, whatever ran on the machine before.
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]
WORK = Path(tempfile.gettempdir()) / f"uythac-tests-{CHECKOUT}"
#: What migrations read: the apps' models, migrations and the defaults their data migrations install.
MIGRATED_CODE = ("organizations", "borrowers", "loans")
#: File databases of the tests: no waiting for the disk (a crash loses a test database, nothing more).
SQLITE_FILE_OPTIONS = {"init_command": "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY"}


def code_digest():
    digest = hashlib.sha256(django.__version__.encode())
    for app in MIGRATED_CODE:
        for path in sorted((ROOT / app).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def worker_name():
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def exclusive(name):
    """A lock shared by every process of every test run on this machine."""
    WORK.mkdir(exist_ok=True)
    with open(WORK / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def pointed_at(settings_dict, alias=DEFAULT_DB_ALIAS):
    """Point `alias` at another database for a while; the test database's own connection is kept aside (closing an
    in-memory SQLite connection would destroy its database)."""
    from django.contrib.contenttypes.models import ContentType

    original = connections[alias]
    replacement = connections.create_connection(alias)
    replacement.settings_dict = settings_dict
    connections[alias] = replacement
    # The content-type cache is kept per alias, not per database: an id cached from the other database (a type a
    # test created there) would not exist here, and the audit trail's rows would point at nothing.
    ContentType.objects.clear_cache()
    try:
        yield replacement
    finally:
        replacement.close()
        connections[alias] = original
        ContentType.objects.clear_cache()


# --- PostgreSQL ----------------------------------------------------------------------------------------------------


def _pg(connection, sql, params=None):
    with connection._nodb_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def pg_exists(connection, name):
    return bool(_pg(connection, "SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def pg_clone(connection, *, source, target):
    qn = connection.ops.quote_name
    _pg(connection, f"DROP DATABASE IF EXISTS {qn(target)} WITH (FORCE)")
    _pg(connection, f"CREATE DATABASE {qn(target)} WITH TEMPLATE {qn(source)}")


def pg_drop(connection, name):
    _pg(connection, f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)} WITH (FORCE)")


def pg_migrated_template(connection, base):
    """The migrated template database's name; built under the machine-wide lock if it does not exist yet."""
    qn = connection.ops.quote_name
    name = f"test_{base}_migrated_{CHECKOUT}_{code_digest()}"
    with exclusive(f"pg-{base}"):
        if pg_exists(connection, name):
            return name
        building = f"{name}_building"
        pg_drop(connection, building)
        _pg(connection, f"CREATE DATABASE {qn(building)}")
        with pointed_at({**connection.settings_dict, "NAME": building}):
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
        _pg(connection, f"ALTER DATABASE {qn(building)} RENAME TO {qn(name)}")
        for (old,) in _pg(connection, "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                          [f"test\\_{base}\\_migrated\\_{CHECKOUT}\\_%", name]):
            pg_drop(connection, old)  # an earlier code's template
    return name


# --- SQLite --------------------------------------------------------------------------------------------------------


def migrated_sqlite_file():
    """A migrated SQLite file; built under the machine-wide lock if it does not exist yet."""
    path = WORK / f"migrated-{code_digest()}.sqlite3"
    with exclusive("sqlite"):
        if path.exists():
            return path
        building = WORK / f"migrated-{os.getpid()}.building"
        building.unlink(missing_ok=True)
        with pointed_at({**connections[DEFAULT_DB_ALIAS].settings_dict, "NAME": str(building), "OPTIONS": {}}):
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
        building.replace(path)
        for old in WORK.glob("migrated-*.sqlite3"):
            if old != path:
                old.unlink(missing_ok=True)  # an earlier code's template
    return path


def sqlite_load(connection, path):
    """Replace the content of `connection`'s database with the file at `path`."""
    connection.ensure_connection()
    with sqlite3.connect(path) as source:
        source.backup(connection.connection)


# --- The session's test database -------------------------------------------------------------------------------


def setup_test_database(alias=DEFAULT_DB_ALIAS):
    """Make this process's test database a copy of the migrated template; returns the name teardown restores."""
    connection = connections[alias]
    original = connection.settings_dict["NAME"]
    test_name = connection.creation._get_test_db_name()
    if connection.vendor == "sqlite":
        template = migrated_sqlite_file()
        connection.close()
        connection.settings_dict["NAME"] = settings.DATABASES[alias]["NAME"] = test_name
        if connection.is_in_memory_db():
            sqlite_load(connection, template)
        else:
            shutil.copyfile(template, test_name)
    else:
        _made["template"] = pg_migrated_template(connection, original)
        pg_clone(connection, source=_made["template"], target=test_name)
        connection.close()
        connection.settings_dict["NAME"] = settings.DATABASES[alias]["NAME"] = test_name
    return original


def teardown_test_database(original, alias=DEFAULT_DB_ALIAS):
    connection = connections[alias]
    for made in _made["databases"]:
        if isinstance(made, Path):
            made.unlink(missing_ok=True)
        else:
            pg_drop(connection, made)
    if connection.vendor == "sqlite":
        connection.creation.destroy_test_db(original, verbosity=0, keepdb=False)
        return
    # A live server's thread may still hold a connection: the database is dropped whoever is connected.
    test_name = connection.settings_dict["NAME"]
    connections.close_all()
    connection.settings_dict["NAME"] = settings.DATABASES[alias]["NAME"] = original
    pg_drop(connection, test_name)


# --- Data sets built once, copied for each use -------------------------------------------------------------------


def _file_settings(connection, path):
    return {**connection.settings_dict, "NAME": str(path), "OPTIONS": SQLITE_FILE_OPTIONS}


def _pg_settings(connection, name):
    return {**connection.settings_dict, "NAME": name}


@contextmanager
def database_copy(build, *, name, alias=DEFAULT_DB_ALIAS):
    """Point the default connection at a copy of a database that `build()` fills once per process (starting from the
    migrated template), until the block ends; then drop the copy. Yields the copy's connection."""
    connection = connections[alias]
    if connection.vendor == "sqlite":
        own = WORK / f"{name}-{worker_name()}-{os.getpid()}"
        template, copy = own.with_suffix(".sqlite3"), own.with_suffix(".copy.sqlite3")
        if template not in _made["databases"]:
            shutil.copyfile(migrated_sqlite_file(), template)
            _made["databases"].append(template)
            with pointed_at(_file_settings(connection, template)):
                build()
        shutil.copyfile(template, copy)
        try:
            with pointed_at(_file_settings(connection, copy)) as copied:
                yield copied
        finally:
            copy.unlink(missing_ok=True)
    else:
        test_name = connection.settings_dict["NAME"]
        template, copy = f"{test_name}_{name}", f"{test_name}_{name}_copy"
        if template not in _made["databases"]:
            pg_clone(connection, source=_made["template"], target=template)
            _made["databases"].append(template)
            with pointed_at(_pg_settings(connection, template)):
                build()
        pg_clone(connection, source=template, target=copy)
        try:
            with pointed_at(_pg_settings(connection, copy)) as copied:
                yield copied
        finally:
            pg_drop(connection, copy)
