"""Loan requests (01/TD), the group review meeting (bình xét) and the 03/TD loan list."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household
from loans.models.pipeline import StatusChange, StatusPipeline
from loans.models.programs import LoanProgram
from loans.money import MoneyField, format_vnd


class ReviewMeeting(models.Model):
    """Họp bình xét: the group votes on its pending requests (minutes 10A/TD)."""

    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.PROTECT, related_name="review_meetings", verbose_name=_("group")
    )
    held_on = models.DateField(_("meeting date"))
    attendee_count = models.PositiveSmallIntegerField(_("households attending"), default=0)
    attendees = models.TextField(_("who attended"), blank=True)
    neighbourhood_head = models.CharField(_("neighbourhood head present"), max_length=200, blank=True)
    branch_officer = models.CharField(_("ward branch officer present"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("group review meeting")
        verbose_name_plural = _("group review meetings")
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"{self.group} – {self.held_on:%d/%m/%Y}"


class LoanList(models.Model):
    """Danh sách 03/TD: the requests a review meeting approved, certified by the ward and submitted upwards."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Awaiting ward certification")
        CERTIFIED = "certified", _("Certified by the ward")
        SUBMITTED = "submitted", _("Submitted to district")
        DECIDED = "decided", _("Decided by district")

    meeting = models.OneToOneField(
        ReviewMeeting, on_delete=models.PROTECT, related_name="loan_list", verbose_name=_("review meeting")
    )
    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.PROTECT, related_name="loan_lists", verbose_name=_("group")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    certified_on = models.DateField(_("certified on"), null=True, blank=True)
    certified_signer = models.CharField(_("signed by"), max_length=200, blank=True)
    certification_ref = models.CharField(_("reference number"), max_length=50, blank=True)
    certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("loan list (03/TD)")
        verbose_name_plural = _("loan lists (03/TD)")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(certified_on__isnull=False),
                name="loan_list_certified_has_date",
            ),
        ]

    def __str__(self):
        return _("03/TD list of %(group)s, %(date)s") % {"group": self.group, "date": f"{self.meeting.held_on:%d/%m/%Y}"}


class LoanApplication(StatusPipeline):
    """Giấy đề nghị vay vốn 01/TD, and its path from draft to disbursement."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        GROUP_APPROVED = "group_approved", _("Approved by the group")
        GROUP_REJECTED = "group_rejected", _("Rejected by the group")
        CERTIFIED = "certified", _("Certified by the ward")
        SUBMITTED = "submitted", _("Submitted to district")
        APPROVED = "approved", _("Approved by district")
        REJECTED = "rejected", _("Rejected by district")
        DISBURSED = "disbursed", _("Disbursed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    TRANSITIONS = {
        Status.DRAFT: {Status.GROUP_APPROVED, Status.GROUP_REJECTED, Status.WITHDRAWN},
        Status.GROUP_APPROVED: {Status.CERTIFIED, Status.WITHDRAWN},
        Status.CERTIFIED: {Status.SUBMITTED, Status.WITHDRAWN},
        Status.SUBMITTED: {Status.APPROVED, Status.REJECTED, Status.WITHDRAWN},
        Status.APPROVED: {Status.DISBURSED, Status.WITHDRAWN},
    }
    OPEN_STATUSES = (
        Status.DRAFT,
        Status.GROUP_APPROVED,
        Status.CERTIFIED,
        Status.SUBMITTED,
        Status.APPROVED,
    )

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="applications", verbose_name=_("household")
    )
    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.PROTECT, related_name="applications", verbose_name=_("group")
    )
    program = models.ForeignKey(
        LoanProgram, on_delete=models.PROTECT, related_name="applications", verbose_name=_("program")
    )
    amount_requested = MoneyField(_("amount requested"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"), validators=[MinValueValidator(1)])
    purpose = models.CharField(_("purpose"), max_length=300)
    planned_use = models.TextField(_("planned use of the money"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    meeting = models.ForeignKey(
        ReviewMeeting, on_delete=models.PROTECT, null=True, blank=True, related_name="applications"
    )
    loan_list = models.ForeignKey(LoanList, on_delete=models.PROTECT, null=True, blank=True, related_name="applications")
    amount_group_approved = MoneyField(_("amount approved by the group"), null=True, blank=True)
    amount_approved = MoneyField(_("amount approved by district"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan request")
        verbose_name_plural = _("loan requests")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_requested__gt=0), name="application_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_group_approved__isnull=True)
                | Q(amount_group_approved__gt=0, amount_group_approved__lte=F("amount_requested")),
                name="application_group_amount_within_request",
            ),
            models.CheckConstraint(
                condition=Q(amount_approved__isnull=True)
                | Q(amount_approved__gt=0, amount_approved__lte=F("amount_requested")),
                name="application_approved_amount_within_request",
            ),
            # The district decides within list 03/TD: never more than the group meeting approved.
            models.CheckConstraint(
                condition=Q(amount_approved__isnull=True)
                | Q(amount_group_approved__isnull=True)
                | Q(amount_approved__lte=F("amount_group_approved")),
                name="application_approved_amount_within_meeting",
            ),
        ]
        indexes = [models.Index(fields=["status", "group"])]

    def __str__(self):
        # Read in the change history of the loan it became: the program by name, the amount the Vietnamese way.
        return f"{self.household} – {self.program.name} – {format_vnd(self.amount_requested)}"


class ApplicationStatusChange(StatusChange):
    application = models.ForeignKey(LoanApplication, on_delete=models.CASCADE, related_name="status_changes")

    class Meta(StatusChange.Meta):
        verbose_name = _("request status change")
        verbose_name_plural = _("request status changes")

    def __str__(self):
        return f"{self.application_id}: {self.from_status} → {self.to_status}"
