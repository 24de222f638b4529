"""The audit trail: one AuditEvent per recorded change to a domain object."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One recorded change to a domain object: who, when, what (before and after), and from where."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        BULK_CREATE = "bulk_create", _("Created in bulk")
        BULK_UPDATE = "bulk_update", _("Changed in bulk")

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT, verbose_name=_("kind"))
    object_id = models.CharField(_("object"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=300, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    import_batch_id = models.BigIntegerField(_("import batch"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}"
