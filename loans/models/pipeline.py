"""Status pipelines: the abstract bases of models whose status moves along listed transitions."""

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.money import format_vnd
from organizations.errors import DomainError

#: Notes the product writes on a status change, by code. A row stores the code and its parameters (amounts in whole
#: đồng, dates as ISO) and is read in the viewer's language; what an officer types stays free text in `note`.
STATUS_NOTES = {
    "group_approved": _("Approved at the group meeting of %(date)s: %(amount)s"),
    # "submitted" says nothing the status label ("Submitted to <the level above>") does not: no note.
    "approved": _("Approved %(amount)s"),
    "disbursed": _("Loan %(number)s, %(amount)s"),
    "sheet_posted": _("13/TD %(group)s %(date)s"),
    "reopened": _("Reopened: a repayment was reversed (%(reason)s)."),
    "disbursement_reversed": _("Disbursement reversed (%(reason)s)."),
    "disbursement_restored": _("Disbursement entered again (%(reason)s)."),
    "freeze_ended": _("Freeze ended"),
    "reconciled": _("Matched with the bank's records"),
}


def note_params(**values):
    """Parameters as JSON keeps them: amounts as whole đồng, dates as ISO text."""
    return {
        name: value.isoformat() if isinstance(value, date) else int(value) if name == "amount" else value
        for name, value in values.items()
    }


def render_status_note(code, params):
    text = STATUS_NOTES.get(code)
    if text is None:
        return ""
    values = {}
    for name, value in (params or {}).items():
        if name == "amount":
            value = format_vnd(value)
        elif name == "date" and isinstance(value, str):
            value = date.fromisoformat(value).strftime("%d/%m/%Y")
        values[name] = value
    try:
        return str(text) % values
    except (KeyError, TypeError, ValueError):  # a row written by an older wording still shows what it can
        return str(text)


class StatusPipeline(models.Model):
    """A status field whose legal moves are listed in TRANSITIONS; every move writes a status-change row."""

    TRANSITIONS: dict = {}

    class Meta:
        abstract = True

    def can_transition_to(self, status):
        return status in self.TRANSITIONS.get(self.status, ())

    def transition_to(self, status, *, actor, note="", note_code="", note_params=None, on=None):
        if not self.can_transition_to(status):
            raise DomainError(
                _("Cannot move from “%(old)s” to “%(new)s”.")
                % {"old": self.get_status_display(), "new": self.Status(status).label}
            )
        old = self.status
        self.status = status
        self.save(update_fields=["status", "updated_at"])
        return self.status_changes.create(
            from_status=old, to_status=status, actor=actor, note=note, note_code=note_code,
            note_params=note_params or {}, on=on or timezone.localdate(),
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
    note_code = models.CharField(_("note code"), max_length=40, blank=True)
    note_params = models.JSONField(_("note parameters"), default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["at", "pk"]

    @property
    def note_text(self):
        """The note in the viewer's language: the coded note, then anything typed by an officer."""
        parts = [render_status_note(self.note_code, self.note_params), self.note]
        return " – ".join(part for part in parts if part)
