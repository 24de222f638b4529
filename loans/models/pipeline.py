"""Status pipelines: the abstract bases of models whose status moves along listed transitions."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.errors import DomainError


class StatusPipeline(models.Model):
    """A status field whose legal moves are listed in TRANSITIONS; every move writes a status-change row."""

    TRANSITIONS: dict = {}

    class Meta:
        abstract = True

    def can_transition_to(self, status):
        return status in self.TRANSITIONS.get(self.status, ())

    def transition_to(self, status, *, actor, note="", on=None):
        if not self.can_transition_to(status):
            raise DomainError(
                _("Cannot move from “%(old)s” to “%(new)s”.")
                % {"old": self.get_status_display(), "new": self.Status(status).label}
            )
        old = self.status
        self.status = status
        self.save(update_fields=["status", "updated_at"])
        return self.status_changes.create(
            from_status=old, to_status=status, actor=actor, note=note, on=on or timezone.localdate()
        )


class StatusChange(models.Model):
    from_status = models.CharField(_("from"), max_length=20)
    to_status = models.CharField(_("to"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    on = models.DateField(_("business date"), default=timezone.localdate)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        abstract = True
        ordering = ["at", "pk"]
