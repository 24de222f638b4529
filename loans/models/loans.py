"""The loan itself (khế ước): Loan, its repayment schedule and its status history."""

import calendar
from datetime import date

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household
from loans.models.pipeline import StatusChange, StatusPipeline
from loans.models.programs import LoanProgram
from loans.models.requests import LoanApplication
from loans.money import MoneyField

loan_number_validator = RegexValidator(r"^\d{16}$", _("A bank loan number (số khế ước) has exactly 16 digits."))


def add_months(day, months):
    """The same day `months` later, clamped to the month's last day (31/01 + 1 month = 28/02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_rows(amount, disbursed_on, term_months, frequency):
    """(seq, due date, principal) for a loan: equal whole-đồng instalments, the last absorbing the remainder."""
    amount = int(amount)
    step = frequency or term_months
    count = max(1, -(-term_months // step))
    share = amount // count
    rows = []
    for seq in range(1, count + 1):
        months = min(seq * step, term_months)
        principal = share if seq < count else amount - share * (count - 1)
        rows.append((seq, add_months(disbursed_on, months), principal))
    return rows


class Loan(StatusPipeline):
    """Khế ước: one disbursed loan of one household under one program."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")
        WRITTEN_OFF = "written_off", _("Written off")
        CLOSED = "closed", _("Closed")

    class Frequency(models.IntegerChoices):
        MONTHLY = 1, _("Monthly")
        QUARTERLY = 3, _("Quarterly")
        HALF_YEARLY = 6, _("Half-yearly")
        YEARLY = 12, _("Yearly")
        AT_MATURITY = 0, _("All at maturity")

    TRANSITIONS = {
        Status.ACTIVE: {Status.FROZEN, Status.WRITTEN_OFF, Status.CLOSED},
        Status.FROZEN: {Status.ACTIVE, Status.WRITTEN_OFF},
    }

    number = models.CharField(_("loan number"), max_length=16, unique=True, validators=[loan_number_validator])
    # household and group: no index of their own, the (household, status) and (group, status) indexes serve them.
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="loans", verbose_name=_("household"), db_index=False
    )
    program = models.ForeignKey(LoanProgram, on_delete=models.PROTECT, related_name="loans", verbose_name=_("program"))
    group = models.ForeignKey(
        "organizations.SavingsGroup",
        on_delete=models.PROTECT,
        db_index=False,
        related_name="loans",
        verbose_name=_("group at disbursement"),
    )
    application = models.OneToOneField(
        LoanApplication, on_delete=models.PROTECT, null=True, blank=True, related_name="loan"
    )
    amount = MoneyField(_("amount disbursed"))
    disbursed_on = models.DateField(_("disbursement date"))
    maturity_on = models.DateField(_("maturity date"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"), validators=[MinValueValidator(1)])
    frequency = models.PositiveSmallIntegerField(
        _("repayment frequency"), choices=Frequency.choices, default=Frequency.QUARTERLY
    )
    annual_rate = models.DecimalField(_("annual rate (%)"), max_digits=6, decimal_places=3)
    overdue_multiplier = models.DecimalField(_("overdue rate multiplier"), max_digits=4, decimal_places=2)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Cached from postings and the schedule; `check_ledger` verifies both.
    principal_outstanding = MoneyField(_("outstanding"), default=0)
    overdue_principal = MoneyField(_("overdue"), default=0)
    # Interest due but not collected (lãi tồn), carried by the collection sheets.
    interest_arrears = MoneyField(_("interest arrears"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    import_batch = models.ForeignKey(
        "loans.ImportBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="loans"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-disbursed_on", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{16}$"), name="loan_number_16_digits"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="loan_amount_positive"),
            models.CheckConstraint(condition=Q(maturity_on__gt=F("disbursed_on")), name="loan_matures_after_disbursement"),
            models.CheckConstraint(
                condition=Q(principal_outstanding__gte=0, principal_outstanding__lte=F("amount")),
                name="loan_outstanding_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(overdue_principal__gte=0, overdue_principal__lte=F("principal_outstanding")),
                name="loan_overdue_within_outstanding",
            ),
            models.CheckConstraint(condition=Q(interest_arrears__gte=0), name="loan_interest_arrears_not_negative"),
        ]
        indexes = [models.Index(fields=["group", "status"]), models.Index(fields=["household", "status"])]

    def __str__(self):
        return self.number

    @property
    def monthly_rate(self):
        return self.annual_rate / 12

    def build_schedule(self):
        """Equal principal instalments in whole đồng; the last one absorbs the rounding."""
        return schedule_instalments(
            self, schedule_rows(self.amount, self.disbursed_on, self.term_months, self.frequency)
        )

    @property
    def overdue_rate_monthly(self):
        return self.monthly_rate * self.overdue_multiplier


class LoanStatusChange(StatusChange):
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="status_changes")

    class Meta(StatusChange.Meta):
        verbose_name = _("loan status change")
        verbose_name_plural = _("loan status changes")
        # The day close looks up the changes booked since the last close.
        indexes = [models.Index(fields=["at"], name="loan_status_change_at")]

    def __str__(self):
        return f"{self.loan_id}: {self.from_status} → {self.to_status}"


class RepaymentInstalment(models.Model):
    """One principal instalment of a loan's schedule. close_day stamps `overdue_since` when it is missed."""

    # No index of its own: the unique (loan, seq) constraint's index serves it.
    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, related_name="instalments", verbose_name=_("loan"), db_index=False
    )
    seq = models.PositiveSmallIntegerField(_("instalment"))
    due_on = models.DateField(_("due date"))
    principal = MoneyField(_("principal due"))
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    # The principal scheduled up to and including this instalment (repayments settle the earliest first), so that the
    # day close reads it with the instalment instead of summing the schedule. Empty where a schedule was written
    # without it; the close sums the schedule then.
    scheduled_through = MoneyField(_("principal scheduled through"), null=True, blank=True)

    class Meta:
        verbose_name = _("repayment instalment")
        verbose_name_plural = _("repayment instalments")
        ordering = ["loan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "seq"], name="instalment_seq_unique_per_loan"),
            models.CheckConstraint(condition=Q(principal__gt=0), name="instalment_principal_positive"),
        ]
        indexes = [
            models.Index(fields=["due_on", "overdue_since"]),
            # What the day close reads of the instalments that fell due since the last close, without their rows.
            models.Index(
                fields=["due_on"],
                include=["id", "loan", "seq", "scheduled_through"],
                name="instalment_open",
                condition=Q(overdue_since__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.loan_id} #{self.seq} {self.due_on:%d/%m/%Y}"


def schedule_instalments(loan, rows):
    """Unsaved instalments of `loan` from (seq, due date, principal[, overdue since]) rows in seq order, each with the
    principal scheduled through it."""
    instalments, through = [], 0
    for seq, due_on, principal, *since in rows:
        through += int(principal)
        instalments.append(
            RepaymentInstalment(
                loan=loan, seq=seq, due_on=due_on, principal=principal, scheduled_through=through,
                overdue_since=since[0] if since else None,
            )
        )
    return instalments
