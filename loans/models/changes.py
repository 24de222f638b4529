"""Changes to a loan: 08/TD term adjustment, extension, freeze and write-off."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models.loans import Loan, RepaymentInstalment
from loans.money import MoneyField


class LoanChange(models.Model):
    """A change to a loan's terms: requested by the ward branch, approved or rejected by district staff."""

    class Kind(models.TextChoices):
        TERM_ADJUSTMENT = "term_adjustment", _("Term adjustment (08/TD)")
        EXTENSION = "extension", _("Extension")
        FREEZE = "freeze", _("Freeze")
        WRITE_OFF = "write_off", _("Write-off")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        ENDED = "ended", _("Freeze ended")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="changes", verbose_name=_("loan"))
    kind = models.CharField(_("change"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    reason = models.TextField(_("reason"))
    requested_on = models.DateField(_("requested on"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    # Term adjustment: which instalment moves, and to when.
    instalment = models.ForeignKey(
        RepaymentInstalment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("instalment"),
    )
    old_due_on = models.DateField(_("old due date"), null=True, blank=True)
    new_due_on = models.DateField(_("new due date"), null=True, blank=True)
    # Extension and freeze: how many months.
    months = models.PositiveSmallIntegerField(_("months"), null=True, blank=True)
    old_maturity_on = models.DateField(_("old maturity date"), null=True, blank=True)
    new_maturity_on = models.DateField(_("new maturity date"), null=True, blank=True)
    frozen_from = models.DateField(_("frozen from"), null=True, blank=True)
    frozen_until = models.DateField(_("frozen until"), null=True, blank=True)
    ended_on = models.DateField(_("freeze ended on"), null=True, blank=True)
    # Write-off: what was written off, recorded here (the ledger keeps the principal as it stood).
    principal_written_off = MoneyField(_("principal written off"), null=True, blank=True)
    interest_written_off = MoneyField(_("interest written off"), null=True, blank=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_note = models.TextField(_("decision note"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("loan change")
        verbose_name_plural = _("loan changes")
        ordering = ["-requested_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(status="requested"), name="one_pending_change_per_loan"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="loan_change_maker_is_not_checker",
            ),
            models.CheckConstraint(
                condition=~Q(kind="term_adjustment") | Q(instalment__isnull=False, new_due_on__isnull=False),
                name="term_adjustment_has_instalment_and_date",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["extension", "freeze"]) | Q(months__gt=0),
                name="extension_and_freeze_have_months",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} – {self.loan_id} – {self.requested_on:%d/%m/%Y}"

    @property
    def is_pending(self):
        return self.status == self.Status.REQUESTED
