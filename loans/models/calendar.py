"""The government's yearly calendar decisions: days off and make-up working days beyond the public holidays.

The fixed and lunar public holidays come from the `holidays` package (loans/calendar.py); this table holds only what
each year's decision adds or moves, edited by an admin.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CalendarException(models.Model):
    """One day whose working status differs from the week and the public holidays: an extra day off (a bridge day
    decided by the government) or a make-up working day (usually a Saturday worked in exchange)."""

    class Kind(models.TextChoices):
        OFF = "off", _("Day off")
        WORKING = "working", _("Working day")

    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    note = models.CharField(
        _("decision"), max_length=200, blank=True, help_text=_("The decision that sets it, e.g. its number and date.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["day"]

    def __str__(self):
        return f"{self.day:%d/%m/%Y} – {self.get_kind_display()}"
