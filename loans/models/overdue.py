"""The day close's own record: which business days `close_day` has closed, so that a run knows where to catch up."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DayClose(models.Model):
    """One run of the day close for business day `on`. A missed run loses nothing: instalments become overdue from the
    day after their (working) due date whichever day the run happens, and the next run catches up."""

    on = models.DateField(_("business day closed"), unique=True)
    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)
    instalments_marked = models.PositiveIntegerField(_("instalments that became overdue"), default=0)
    # The newest instalment when the run began. The close after next reads every instalment written since, whatever
    # its due date (imported, rescheduled): a run's margin for instalments still being written while this one ran.
    instalments_seen = models.BigIntegerField(_("newest instalment seen"), null=True, blank=True)

    class Meta:
        verbose_name = _("day close")
        verbose_name_plural = _("day closes")
        ordering = ["-on"]

    def __str__(self):
        return f"{self.on:%d/%m/%Y}"
