"""Background jobs: one JobRun per job asked for (an import step, an export, a day close...), and the schedule of the
periodic ones. The task backend (database or Redis) only carries the run's id; what an admin reads is here."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class JobRun(models.Model):
    """One run of a background job. A (name, key) pair is queued or running at most once: that is what stops two
    workers from importing the same file or closing the same day twice."""

    class Status(models.TextChoices):
        # Their own context: "Done" alone is also an inspection follow-up's status ("fixed").
        QUEUED = "queued", pgettext_lazy("job status", "Queued")
        RUNNING = "running", pgettext_lazy("job status", "Running")
        DONE = "done", pgettext_lazy("job status", "Done")
        FAILED = "failed", pgettext_lazy("job status", "Failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    name = models.CharField(_("job"), max_length=40, db_index=True)
    # What the run is about: the business date of a day close, the month of the grades, the import batch...
    key = models.CharField(_("about"), max_length=100, blank=True)
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("retry of")
    )
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    worker = models.CharField(_("worker"), max_length=100, blank=True)
    enqueued_at = models.DateTimeField(_("queued at"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    # Where exports kept their file before loans.PreparedExport (under MEDIA_ROOT); the exports_cleanup job deletes
    # those files. Prepared exports now live under EXPORT_ROOT.
    file = models.FileField(_("file"), upload_to="jobs/%Y/%m/", blank=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-enqueued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "key"],
                condition=Q(status__in=["queued", "running"]),
                name="jobrun_one_active_per_key",
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.key}".strip()

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class ScheduledJob(models.Model):
    """A periodic job: how often it is due and when `manage.py enqueue_due` last queued it."""

    class Period(models.TextChoices):
        DAILY = "daily", _("Every day")
        MONTHLY = "monthly", _("Every month")

    name = models.CharField(_("job"), max_length=40, unique=True)
    period = models.CharField(_("period"), max_length=10, choices=Period.choices)
    # Due once local time passes this hour (of the day, or of the month's first day).
    hour = models.PositiveSmallIntegerField(_("hour"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    last_enqueued_at = models.DateTimeField(_("last queued at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(hour__lte=23), name="scheduledjob_hour_of_day")]

    def __str__(self):
        return self.name
