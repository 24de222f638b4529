"""Exports in the bank's layout prepared by a worker: one file for one user, for a stated time."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PreparedExport(models.Model):
    """The file a `bank_export` job writes for the user who asked. Its status is the job's; the file lives under
    EXPORT_ROOT (never MEDIA_ROOT), readable by the app's user only, until `expires_at`, then the `exports_cleanup`
    job deletes it and clears `path`."""

    run = models.OneToOneField(
        "organizations.JobRun",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="prepared_export",
        verbose_name=_("job"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("asked by")
    )
    kind = models.CharField(_("kind"), max_length=20)
    fmt = models.CharField(_("format"), max_length=4)
    rows_total = models.PositiveIntegerField(_("rows in the file"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    # Relative to EXPORT_ROOT; empty until the file is written, and again once it is deleted.
    path = models.CharField(_("file"), max_length=255, blank=True)
    file_name = models.CharField(_("file name"), max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("bytes"), default=0)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True, db_index=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("prepared export")
        verbose_name_plural = _("prepared exports")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.kind}.{self.fmt} ({self.owner_id})"

    @property
    def available(self):
        return bool(self.path) and self.expires_at is not None and self.expires_at > timezone.now()
