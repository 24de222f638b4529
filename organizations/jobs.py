"""Background jobs on Django's task framework: queue one, run it exactly once, notice a worker that died, retry.

The task backend (the database, or Redis with RQ) only carries a JobRun's id. The JobRun row is the truth an admin
reads: each run moves queued -> running -> done | failed, and the move to running is a conditional UPDATE, so of two
workers handed the same run (a task enqueued twice, a retried delivery) only one runs it. At most one run per
(name, key) is queued or running (a partial unique index): the same import or the same day close is never queued
twice.
"""

import logging
import os
import socket
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from config.tasks import ImmediateBackend
from organizations.errors import DomainError
from organizations.models import JobRun

log = logging.getLogger(__name__)

# Job name -> its task (the function decorated with @task) and its label on the admin's page.
JOB_TASKS = {
    "import_check": "loans.tasks.import_check_task",
    "import_apply": "loans.tasks.import_apply_task",
    "bank_export": "loans.tasks.bank_export_task",
    "exports_cleanup": "loans.tasks.exports_cleanup_task",
    "close_day": "loans.tasks.close_day_task",
    "snapshots": "loans.tasks.snapshots_task",
    "grade_groups": "organizations.tasks.grade_groups_task",
    "backup": "organizations.tasks.backup_task",
}
JOB_LABELS = {
    "import_check": gettext_lazy("Check a bank file"),
    "import_apply": gettext_lazy("Import a bank file"),
    "bank_export": gettext_lazy("Export in the bank's layout"),
    "exports_cleanup": gettext_lazy("Delete prepared exports whose time is over"),
    "close_day": gettext_lazy("Day close (overdue instalments, freezes ending)"),
    "snapshots": gettext_lazy("Report snapshots"),
    "grade_groups": gettext_lazy("Monthly group grades"),
    "backup": gettext_lazy("Database backup"),
}
# Job name -> a function turning the keys of its runs into {key: (what the run is about, its page's url or "")}.
# Jobs not listed here are about a business date (yyyy-mm-dd) or a month (yyyy-mm).
JOB_SUBJECTS = {
    "import_check": "loans.bankfiles.importing.import_job_subjects",
    "import_apply": "loans.bankfiles.importing.import_job_subjects",
    "bank_export": "loans.bankfiles.exports.export_job_subjects",
}
# Called with the failed run before a retry is queued, to put what the run works on back in its starting state.
JOB_RETRY_PREPARE = {
    "import_check": "loans.bankfiles.importing.import_prepare_retry",
    "import_apply": "loans.bankfiles.importing.import_prepare_retry",
}


def worker_identity():
    return f"{socket.gethostname()}:{os.getpid()}"


def _runs_inline(name):
    # The immediate backend runs the task inside enqueue(): used by tests and scripts, where no worker runs.
    return isinstance(import_string(JOB_TASKS[name]).get_backend(), ImmediateBackend)


def job_enqueue(*, name, key="", arguments=None, actor=None, retry_of=None):
    """Queue a job unless the same one (name and key) is already queued or running; return its run.

    The task is handed to the backend once the surrounding transaction commits, so a worker never looks for a row
    it cannot see yet."""
    if name not in JOB_TASKS:
        raise ValueError(f"Unknown job {name!r}")
    key = str(key)
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                name=name, key=key, arguments=arguments or {}, requested_by=actor, retry_of=retry_of
            )
    except IntegrityError:  # the same job is queued or running: that run stands for this request too
        return JobRun.objects.filter(name=name, key=key, status__in=JobRun.ACTIVE).first()
    if _runs_inline(name):
        _send(run.pk, name)
        run.refresh_from_db()
    else:
        transaction.on_commit(lambda: _send(run.pk, name))
    return run


def _send(run_id, name):
    try:
        result = import_string(JOB_TASKS[name]).enqueue(run_id=run_id)
    except Exception as error:  # e.g. Redis unreachable: say so on the run rather than leave it queued forever
        log.exception("Could not queue job run %s", run_id)
        _finish(run_id, JobRun.Status.FAILED, error=_("The job could not be queued: %(error)s") % {"error": error})
        return
    JobRun.objects.filter(pk=run_id).update(task_id=str(result.id)[:64])


def _finish(run_id, status, *, error="", result=None):
    values = {"status": status, "finished_at": timezone.now(), "error": error}
    if result is not None:
        values["result"] = result
    return JobRun.objects.filter(pk=run_id, status__in=JobRun.ACTIVE).update(**values)


def job_claim(run_id):
    """Move a queued run to running for this process; None when another worker has it or it is over."""
    now = timezone.now()
    claimed = JobRun.objects.filter(pk=run_id, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.RUNNING, worker=worker_identity(), started_at=now, heartbeat_at=now
    )
    if not claimed:
        log.info("Job run %s is not queued any more; another worker has it or it is over", run_id)
        return None
    return JobRun.objects.get(pk=run_id)


def job_execute(run_id, work):
    """Claim the run and call `work(run)`; record its result, or its error, on the run. Returns the run, or None when
    it was not this worker's to run."""
    run = job_claim(run_id)
    if run is None:
        return None
    try:
        result = work(run)
    except DomainError as error:
        _finish(run_id, JobRun.Status.FAILED, error=str(error))
    except Exception as error:
        log.exception("Job %s (run %s) failed", run.name, run_id)
        _finish(run_id, JobRun.Status.FAILED, error=f"{type(error).__name__}: {error}")
    else:
        _finish(run_id, JobRun.Status.DONE, result=result if isinstance(result, dict) else {})
    return JobRun.objects.get(pk=run_id)


def job_heartbeat(run_id):
    JobRun.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(heartbeat_at=timezone.now())


def _worker_gone(run, now):
    """True when the run's worker process is known to have ended: on this machine, its process id no longer exists;
    elsewhere, it has shown no sign of life for JOB_STALE_SECONDS."""
    host, _sep, pid = run.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # a process of another user has that id now: ours is gone
            return True
        return False
    last = run.heartbeat_at or run.started_at or run.enqueued_at
    return now - last >= timedelta(seconds=settings.JOB_STALE_SECONDS)


LOST_MESSAGE = gettext_lazy(
    "The worker running this job stopped before it finished (it was killed, or the server restarted). "
    "Nothing of this run was saved; it can be run again."
)


def job_check_alive(run, now=None):
    """Mark failed a running run whose worker died; returns the run as it now is."""
    if run.status != JobRun.Status.RUNNING or not run.worker:
        return run
    if _worker_gone(run, now or timezone.now()):
        if JobRun.objects.filter(pk=run.pk, status=JobRun.Status.RUNNING, worker=run.worker).update(
            status=JobRun.Status.FAILED, error=str(LOST_MESSAGE), finished_at=timezone.now()
        ):
            log.warning("Job %s (run %s) lost its worker %s; marked failed", run.name, run.pk, run.worker)
        run.refresh_from_db()
    return run


def jobs_reap():
    """Check every running run; return those found dead."""
    now = timezone.now()
    return [run for run in JobRun.objects.filter(status=JobRun.Status.RUNNING) if
            job_check_alive(run, now).status == JobRun.Status.FAILED]


def job_retry(*, run, actor):
    """Queue a failed run again (a new run pointing at it; the failed one keeps its error)."""
    if run.status != JobRun.Status.FAILED:
        raise DomainError(_("Only a failed job can be run again."))
    if run.name in JOB_RETRY_PREPARE:
        import_string(JOB_RETRY_PREPARE[run.name])(run=run, actor=actor)
    again = job_enqueue(name=run.name, key=run.key, arguments=run.arguments, actor=actor, retry_of=run)
    if again.retry_of_id != run.pk:
        raise DomainError(_("This job is already queued or running."))
    return again


def latest_runs(name, key):
    return JobRun.objects.filter(name=name, key=str(key)).order_by("-enqueued_at", "-pk")


def _period_subject(key):
    """A business date shown dd/mm/yyyy, a month mm/yyyy; any other key as it is."""
    try:
        return date_format(date.fromisoformat(key), "d/m/Y")
    except ValueError:
        pass
    try:
        return date_format(date.fromisoformat(f"{key}-01"), "m/Y")
    except ValueError:
        return key


def job_subjects(runs):
    """Set `subject` (words) and `subject_url` on each run: what it is about, read in one query per kind of job."""
    keys_by_name = {}
    for run in runs:
        keys_by_name.setdefault(run.name, set()).add(run.key)
    found = {}
    for name, keys in keys_by_name.items():
        if name in JOB_SUBJECTS:
            found[name] = import_string(JOB_SUBJECTS[name])(keys)
    for run in runs:
        if not run.key:
            run.subject, run.subject_url = "", ""
        elif run.name in found:
            run.subject, run.subject_url = found[run.name].get(run.key, (run.key, ""))
        else:
            run.subject, run.subject_url = _period_subject(run.key), ""
    return runs


def duration_words(duration):
    """A run's duration in words: "2 minutes 5 seconds", "45 seconds", "1 hour 3 minutes" (seconds dropped past an
    hour)."""
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    if seconds < 1:
        return _("under a second")
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours})
    if minutes:
        parts.append(ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes})
    if seconds and not hours:
        parts.append(ngettext("%(count)s second", "%(count)s seconds", seconds) % {"count": seconds})
    return " ".join(parts)
