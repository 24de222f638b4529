"""A real background worker for tests/test_jobs_worker.py, run as its own process.

`python tests/job_worker_process.py worker MARKER`: a worker on the configured backend (TASKS_BACKEND), whose bank-file
import stops half way, after it has written its rows and before its commit: it writes its process id to MARKER and
waits there to be killed. `python tests/job_worker_process.py confirm BATCH_ID`: confirm a checked batch, which queues
its import on the configured backend."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def worker(marker):
    from loans.bankfiles import loan_plan

    original = loan_plan.LoanPlan.apply

    def apply_then_hang(self, tracker):
        written = original(self, tracker)
        Path(marker).write_text(str(os.getpid()))
        time.sleep(120)  # killed here, inside the import's transaction
        return written

    loan_plan.LoanPlan.apply = apply_then_hang
    call_command("run_worker")


def confirm(batch_id):
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from loans.bankfiles.importing import import_confirm
    from loans.models import ImportBatch

    with transaction.atomic():
        batch = ImportBatch.objects.get(pk=batch_id)
        import_confirm(batch=batch, actor=get_user_model().objects.get(pk=batch.created_by_id))


if __name__ == "__main__":
    {"worker": worker, "confirm": confirm}[sys.argv[1]](sys.argv[2])
