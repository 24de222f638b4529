"""Backups: `manage.py backup` writes a file that `manage.py restore` puts back into a fresh database, ledger intact."""

import os
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from loans.defaults import install_default_programs
from loans.models import Loan, LoanProgram, Posting
from tests.factories import LoanFactory

ROOT = Path(__file__).resolve().parent.parent
# pg_dump reads from its own connection, so the data must be committed: transactional tests.
pytestmark = pytest.mark.django_db(transaction=True)


def manage(*args, database_url):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          input="")


def backup(folder):
    out = StringIO()
    call_command("backup", output=str(folder), stdout=out)
    return Path(out.getvalue().strip())


@pytest.fixture
def fresh_database(tmp_path):
    """The URL of an empty database of the same kind as the one under test; dropped afterwards on PostgreSQL."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    settings = connection.settings_dict
    name = f"uythac_restore_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
    try:
        yield f"postgres://{auth}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def loans(household_a, household_b):
    # An earlier transactional test may have flushed the programs the data migration installed.
    install_default_programs(LoanProgram)
    first = LoanFactory(household=household_a, amount=40_000_000)
    second = LoanFactory(household=household_b, amount=25_000_000)
    Posting.objects.create(kind=Posting.Kind.PRINCIPAL, household=household_a, loan=first, amount=5_000_000,
                           on=first.disbursed_on)
    from loans.ledger.balances import refresh_loan_balances

    refresh_loan_balances([first.pk])
    return first, second


def test_backup_restores_into_a_fresh_database_with_the_ledger_intact(tmp_path, loans, fresh_database):
    path = backup(tmp_path)
    assert path.is_file() and path.parent == tmp_path
    assert path.suffix == (".sqlite3" if connection.vendor == "sqlite" else ".dump")
    assert path.stat().st_mode & 0o077 == 0, "backups hold personal data: owner only"

    restored = manage("restore", str(path), "--no-input", database_url=fresh_database)
    assert restored.returncode == 0, restored.stderr
    assert "Ledger check passed" in restored.stdout

    checked = manage("check_ledger", database_url=fresh_database)
    assert checked.returncode == 0, checked.stderr
    script = (
        "from loans.models import Loan, Posting; print(Loan.objects.count(), Posting.objects.count(), "
        f"Loan.objects.get(number={loans[0].number!r}).principal_outstanding)"
    )
    counted = manage("shell", "--verbosity=0", "-c", script, database_url=fresh_database)
    assert counted.stdout.split() == ["2", str(Posting.objects.count()), "35000000"]


def test_restore_reports_a_ledger_that_does_not_add_up(tmp_path, loans, fresh_database):
    Loan.objects.filter(pk=loans[0].pk).update(principal_outstanding=1)
    path = backup(tmp_path)
    restored = manage("restore", str(path), "--no-input", database_url=fresh_database)
    assert restored.returncode != 0
    assert "Ledger check failed" in restored.stderr


def test_two_backups_in_the_same_second_do_not_overwrite_each_other(tmp_path):
    assert backup(tmp_path) != backup(tmp_path)
    assert len(list(tmp_path.iterdir())) == 2


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path, fresh_database):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    restored = manage("restore", str(junk), "--no-input", database_url=fresh_database)
    assert restored.returncode != 0
    assert "is not a" in restored.stderr
    missing = manage("restore", str(tmp_path / "missing.dump"), "--no-input", database_url=fresh_database)
    assert "No backup file" in missing.stderr


def test_restore_asks_before_replacing_the_database(tmp_path, fresh_database):
    path = backup(tmp_path)
    restored = manage("restore", str(path), database_url=fresh_database)  # empty answer on standard input
    assert restored.returncode != 0
    assert "Restore cancelled" in restored.stderr


def test_backup_into_an_unwritable_place_fails_plainly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises((CommandError, OSError)):
        call_command("backup", output=str(blocker / "sub"), stdout=StringIO())
