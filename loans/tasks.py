"""The loans app's background jobs. Each task only carries a JobRun id; `organizations.jobs.job_execute` claims the
run (so it runs once), records its outcome, and the work itself is the same service a command or a page calls."""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.tasks import task
from loans.bankfiles.importing import run_job
from loans.models import ImportBatch
from organizations.errors import DomainError
from organizations.jobs import job_execute
from organizations.models import JobRun


def _import_step(run, step):
    batch = run_job(int(run.key), step)
    if batch.status == ImportBatch.Status.FAILED:
        first = batch.errors[0]["message"] if batch.errors else ""
        raise DomainError(
            _("The file was refused: %(count)s error(s). %(first)s") % {"count": batch.error_count, "first": first}
        )
    return {"batch": batch.pk, "status": batch.status}


@task()
def import_check_task(run_id):
    job_execute(run_id, lambda run: _import_step(run, "check"))


@task()
def import_apply_task(run_id):
    job_execute(run_id, lambda run: _import_step(run, "apply"))


@task()
def bank_export_task(run_id):
    from loans.bankfiles.exports import export_write

    job_execute(run_id, export_write)


@task()
def exports_cleanup_task(run_id):
    from loans.bankfiles.exports import exports_delete_expired

    job_execute(run_id, exports_delete_expired)


def day_close(run):
    """Close one business day: freezes whose period is over end, and instalments missed as of that day become
    overdue. One transaction: a worker killed half way leaves the day open, and the close runs again."""
    from loans.services.changes import freezes_end_due
    from loans.services.overdue import overdue_close_day
    from organizations.policy import SYSTEM

    on = date.fromisoformat(run.key)
    if JobRun.objects.filter(name="close_day", key=run.key, status=JobRun.Status.DONE).exists():
        return {"skipped": "already closed"}
    with transaction.atomic():
        ended = freezes_end_due(on=on, actor=SYSTEM)
        marked, refreshed = overdue_close_day(on=on)
    return {"overdue": len(marked), "balances": len(refreshed), "freezes_ended": len(ended)}


@task()
def close_day_task(run_id):
    from organizations.schedule import schedule_enqueue_due

    run = job_execute(run_id, day_close)
    if run is not None and run.status == JobRun.Status.DONE:
        # Catching up after days without a close: the next missing day is queued as soon as this one is done.
        schedule_enqueue_due(only=("close_day",))


def snapshots_refresh(run):
    from loans.ledger.snapshots import refresh_snapshots, snapshots_close_months

    today = timezone.localdate()
    added = snapshots_close_months(today)
    # The month before and this month move most (late postings, corrections); older months are rebuilt on demand.
    refresh_snapshots(since=(today.replace(day=1) - timedelta(days=1)).replace(day=1))
    return {"month_ends_added": [f"{end:%d/%m/%Y}" for end in added]}


@task()
def snapshots_task(run_id):
    job_execute(run_id, snapshots_refresh)
