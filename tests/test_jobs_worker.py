"""A real worker process, on the database queue and on Redis: killed in the middle of an import, it leaves nothing
half-written, the page says so within seconds, and the retry imports the file once.

The worker is a separate process (tests/job_worker_process.py). On SQLite the test database lives in memory, so it is
copied to a file the worker opens, and copied back to check what the worker left."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from loans.bankfiles.importing import import_upload
from loans.defaults import install_default_programs
from loans.models import ImportBatch, Loan, LoanProgram, Posting
from organizations.jobs import LOST_MESSAGE, job_retry
from organizations.models import JobRun
from tests.test_bank_import import ledger_ok, loan_row, loans_file

ROOT = Path(__file__).resolve().parents[1]

def redis_url():
    """A Redis database of this test process's own: TEST_REDIS_DB (15 unless set) less the xdist worker's number,
    so that parallel workers, and runs side by side with different TEST_REDIS_DB, never share a queue."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return f"redis://127.0.0.1:6379/{int(os.environ.get('TEST_REDIS_DB', '15')) - int(worker or 0)}"


REDIS_URL = redis_url()


def redis_answers():
    host, port = "127.0.0.1", 6379
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def backend_param(name):
    if name != "rq" or redis_answers():
        return name
    marks = [] if os.environ.get("REQUIRE_REDIS") else [pytest.mark.skip(reason="no Redis answers on 127.0.0.1:6379")]
    return pytest.param(name, marks=marks)


class SharedDatabase:
    """The test database as another process sees it: its URL, and for SQLite a file copied to and from memory."""

    def __init__(self, folder):
        self.sqlite = connection.vendor == "sqlite"
        self.path = folder / "jobs.sqlite3"

    def url(self):
        if self.sqlite:
            with sqlite3.connect(self.path) as copy:
                connection.ensure_connection()
                connection.connection.backup(copy)
            return f"sqlite:///{self.path}"
        s = connection.settings_dict
        return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"

    def read_back(self):
        if self.sqlite:
            with sqlite3.connect(self.path) as copy:  # a killed writer's journal is rolled back on opening
                copy.backup(connection.connection)


def run_process(args, env, **kwargs):
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "job_worker_process.py"), *args], env=env, **kwargs)


@pytest.mark.parametrize("backend", [backend_param("database"), backend_param("rq")])
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_an_import_leaves_nothing_and_the_retry_imports_once(
    backend, tmp_path, admin_user, group_a, client_for
):
    install_default_programs(LoanProgram)
    batch = import_upload(
        kind="loans", file_name="a.xlsx", content=loans_file([loan_row(1), loan_row(2)]), actor=admin_user
    )
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors  # checked here (immediate backend)

    shared = SharedDatabase(tmp_path)
    env = {**os.environ, "DATABASE_URL": shared.url(), "TASKS_BACKEND": backend, "TASKS_REDIS_URL": REDIS_URL,
           "DEBUG": "1", "LOG_LEVEL": "ERROR"}
    if backend == "rq":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    assert run_process(["confirm", str(batch.pk)], env).wait(60) == 0
    marker = tmp_path / "inside-the-import"
    log = (tmp_path / "worker.log").open("w")
    worker = run_process(["worker", str(marker)], env, stdout=log, stderr=log)
    try:
        for _ in range(600):
            if marker.exists() and marker.read_text():
                break
            assert worker.poll() is None, "the worker ended before it reached the import"
            time.sleep(0.1)
        else:
            pytest.fail("the worker never reached the import")
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the process running the job (RQ's work horse)
        time.sleep(0.5)
    finally:
        worker.kill()
        worker.wait(30)
        log.close()
    shared.read_back()

    # Nothing of the import was saved.
    assert not Loan.objects.exists() and not Posting.objects.exists()
    # The page polling the import shows it failed, with the reason, at its next poll.
    response = client_for(admin_user).get(reverse("loans:bank_import_progress", args=[batch.pk]))
    assert response["HX-Refresh"] == "true"
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED
    # The reason is written in the language of the page that found the worker gone (the site's, Vietnamese).
    assert str(LOST_MESSAGE) in batch.errors[0]["message"]
    run = JobRun.objects.get(name="import_apply", key=str(batch.pk))
    assert run.status == JobRun.Status.FAILED and str(LOST_MESSAGE) in run.error

    # The admin's retry imports the file, once.
    again = job_retry(run=run, actor=admin_user)
    again.refresh_from_db()
    batch.refresh_from_db()
    assert again.status == JobRun.Status.DONE, again.error
    assert batch.status == ImportBatch.Status.DONE
    assert Loan.objects.count() == 2 and ledger_ok()
