"""The schedule of periodic jobs. The system's scheduler (cron or a systemd timer) calls `manage.py enqueue_due`
every few minutes; this module says what is due and queues it. There is no scheduler loop in the app.

A job is due for a period (a business date, or a month) once local time passes its hour; it is queued once per
period, and again after a failure, up to MAX_ATTEMPTS times."""

from datetime import date, timedelta

from django.utils import timezone

from loans import calendar
from organizations.jobs import job_enqueue
from organizations.models import JobRun, ScheduledJob

MAX_ATTEMPTS = 3
# How far back a missed day close is caught up (one day after the other).
CLOSE_CATCH_UP_DAYS = 31


def is_working_day(day):
    """Working days follow the one calendar of the product: weekends, public holidays and the year's decisions."""
    return calendar.is_working_day(day)


def working_days_between(first, last):
    """Working days strictly after `first` and strictly before `last`."""
    return calendar.working_days_between(first, last - timedelta(days=1))


def _latest_period(job, now):
    """The latest period whose hour has passed: a date for daily jobs, a month (yyyy-mm) for monthly ones."""
    local = timezone.localtime(now)
    if job.period == ScheduledJob.Period.DAILY:
        day = local.date() if local.hour >= job.hour else local.date() - timedelta(days=1)
        return day
    # Monthly jobs cover the month that ended: due from the first day of the next month, at their hour.
    first = local.date().replace(day=1)
    if local.day == 1 and local.hour < job.hour:
        first = (first - timedelta(days=1)).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _key(job, period):
    return period.isoformat() if job.period == ScheduledJob.Period.DAILY else f"{period:%Y-%m}"


def last_closed_day():
    keys = JobRun.objects.filter(name="close_day", status=JobRun.Status.DONE).values_list("key", flat=True)
    return max((date.fromisoformat(key) for key in keys), default=None)


def _close_day_due(latest):
    """The oldest business date not closed yet, from the day after the last close; a fresh install starts at the
    latest date due."""
    last = last_closed_day()
    if last is None:
        return latest
    if last >= latest:
        return None
    return max(last + timedelta(days=1), latest - timedelta(days=CLOSE_CATCH_UP_DAYS))


def _due(job, now):
    latest = _latest_period(job, now)
    if job.name == "close_day":
        period = _close_day_due(latest)
        if period is None:
            return None
    else:
        period = latest
    key = _key(job, period)
    runs = JobRun.objects.filter(name=job.name, key=key)
    if runs.filter(status__in=(JobRun.Status.DONE, *JobRun.ACTIVE)).exists():
        return None
    if runs.filter(status=JobRun.Status.FAILED).count() >= MAX_ATTEMPTS:
        return None  # it keeps failing: an admin sees it on the jobs page and retries once the cause is fixed
    return key


def schedule_enqueue_due(*, now=None, only=None):
    """Queue every periodic job that is due; return the runs queued."""
    now = now or timezone.now()
    queued = []
    jobs = ScheduledJob.objects.filter(enabled=True)
    if only:
        jobs = jobs.filter(name__in=only)
    for job in jobs:
        key = _due(job, now)
        if key is None:
            continue
        run = job_enqueue(name=job.name, key=key)
        ScheduledJob.objects.filter(pk=job.pk).update(last_enqueued_at=now)
        queued.append(run)
    return queued


def schedule_overview():
    """Each scheduled job with its last run (for the admin's jobs page)."""
    rows = []
    for job in ScheduledJob.objects.all():
        last = JobRun.objects.filter(name=job.name).order_by("-enqueued_at", "-pk").first()
        rows.append({"job": job, "last": last})
    return rows


def day_close_lateness(today=None):
    """How many working days the day close is behind (0 when on time), or None when it has never run."""
    today = today or timezone.localdate()
    last = last_closed_day()
    if last is None:
        return None
    return working_days_between(last, today)


def day_close_warning(today=None):
    """The dashboard's warning, when the close is more than one working day late (or never ran): the last date
    closed, or None when there is nothing to say."""
    lateness = day_close_lateness(today)
    if lateness is None:
        if not ScheduledJob.objects.filter(name="close_day", enabled=True).exists():
            return None
        return {"never": True, "last": None, "days": None}
    if lateness > 1:
        return {"never": False, "last": last_closed_day(), "days": lateness}
    return None

